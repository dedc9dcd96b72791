"""Scraps: named values a production notebook records for the jobs service to read back.

The convention is scrapbook's display format, so notebooks written for scrapbook work unchanged: an
output of MIME type ``application/scrapbook.scrap.json+json`` whose data is
``{"name": ..., "data": <JSON value>, "encoder": "json", "version": 1}``. In a notebook::

    from workbench.jobs.scraps import glue
    glue("max_pc", float(pc.max()))

The service reads every such output of the executed notebook; a later scrap with the same name replaces
an earlier one (as scrapbook does).
"""

from __future__ import annotations

import json
import math
from typing import Any

SCRAP_MIME = "application/scrapbook.scrap.json+json"


def _plain(value: Any) -> Any:
    """A JSON-serialisable copy of ``value`` (numpy scalars and arrays, tuples, NaN -> None)."""
    if hasattr(value, "tolist"):  # numpy scalar or array
        value = value.tolist()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def glue(name: str, value: Any) -> None:
    """Record ``value`` under ``name`` in the running notebook's outputs (JSON; numpy values converted).

    Parameters
    ----------
    name
        Scrap name (any string; by convention snake_case with units, e.g. ``max_pc`` or ``max_kp``).
    value
        A JSON-serialisable value, numpy scalar or array; non-finite floats are recorded as null.
    """
    from IPython.display import display

    payload = {"name": name, "data": _plain(value), "encoder": "json", "version": 1}
    json.dumps(payload)  # fail in the notebook, where the author sees it, not later in the service
    display({SCRAP_MIME: payload}, raw=True, metadata={"scrapbook": {"name": name}})


def read_scraps(notebook: dict[str, Any]) -> dict[str, Any]:
    """Name -> value of every scrap in an executed notebook (nbformat JSON as a dict)."""
    scraps: dict[str, Any] = {}
    for cell in notebook.get("cells", []):
        for output in cell.get("outputs", []) or []:
            payload = (output.get("data") or {}).get(SCRAP_MIME)
            if isinstance(payload, str):  # nbformat may keep JSON MIME bundles as text
                try:
                    payload = json.loads(payload)
                except ValueError:
                    continue
            if isinstance(payload, dict) and "name" in payload:
                scraps[str(payload["name"])] = payload.get("data")
    return scraps
