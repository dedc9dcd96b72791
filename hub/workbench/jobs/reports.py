"""What a run leaves for people: progress and first error read from the executed notebook, the HTML report.

The report is the output notebook rendered without code (nbconvert, the ``report`` template in
``templates/``: JupyterLab's look, no script), headed by a section that says which job, run, parameters
and outcome it shows and ended by a table of the recorded values. Header and table never pass through
Markdown: they are rendered by :mod:`workbench.jobs.pages` (Jinja2, autoescape), so a parameter value,
description, error or scrap such as ``<img src=x onerror=alert(1)>`` is text. What the notebook itself
displays is the notebook's; the service serves reports sandboxed (see :mod:`workbench.jobs.api`).
"""

from __future__ import annotations

import functools
import json
import logging
import threading
from pathlib import Path
from typing import Any

from workbench.jobs.scraps import SCRAP_MIME, read_scraps
from workbench.jobs.store import Run


def read_json(path: Path) -> dict[str, Any] | None:
    """A JSON file, or None while it is missing or half-written."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def notebook_progress(notebook: dict[str, Any]) -> tuple[int, int]:
    """(code cells completed, code cells in total) from papermill's per-cell metadata."""
    code = [c for c in notebook.get("cells", []) if c.get("cell_type") == "code"]
    done = sum(1 for c in code if c.get("metadata", {}).get("papermill", {}).get("status") == "completed")
    return done, len(code)


def notebook_error(notebook: dict[str, Any]) -> str | None:
    """``ename: evalue (cell N)`` of the first error output of an executed notebook."""
    code_index = 0
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        code_index += 1
        for out in cell.get("outputs", []) or []:
            if out.get("output_type") == "error":
                return f"{out.get('ename')}: {out.get('evalue')} (code cell {code_index})"
    return None


def log_tail(path: Path, lines: int = 1) -> str:
    try:
        text = [ln for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    return "\n".join(text[-lines:])


def _short(value: Any) -> str:
    if isinstance(value, list | dict):
        return f"{len(value)} items (see the scraps)"
    return str(value)


log = logging.getLogger(__name__)

_EXPORTER_LOCK = threading.Lock()
"""Reports are written from worker threads; one exporter converts one notebook at a time."""


@functools.cache
def _exporter() -> Any:
    """The report's HTML exporter, made once per process: making one loads its templates and styles
    (0.15 s here), converting a small notebook with it takes 0.02 s."""
    from nbconvert import HTMLExporter

    from workbench.jobs import pages

    return HTMLExporter(
        extra_template_basedirs=[str(pages.TEMPLATES)],
        template_name="report",
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )


def prepare_reports() -> None:
    """Import nbconvert and make the exporter now (the service calls it at start, not on a first run)."""
    try:
        _exporter()
    except Exception:  # the first report says what is wrong, with its run
        log.warning("the report exporter could not be prepared", exc_info=True)


def write_report(run: Run, run_dir: Path, description: str = "") -> None:
    """``report.html`` from ``output.ipynb`` (or ``input.ipynb`` if nothing ran): outputs only, no code.

    Parameters
    ----------
    run
        The run, with its final status and error.
    run_dir
        Its record folder.
    description
        The job's description, shown under the header.
    """
    import nbformat

    from workbench.jobs import pages

    source = run_dir / "output.ipynb"
    if read_json(source) is None:
        source = run_dir / "input.ipynb"
    nb = nbformat.read(source, as_version=4)
    # Scraps have no HTML form: leave their outputs out and list the recorded values at the end.
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.outputs if SCRAP_MIME not in o.get("data", {})]
    scraps = read_scraps(read_json(source) or {})
    parts = {
        "header": pages.render(
            "report_header.html",
            run=run,
            description=description,
            parameters=[(k, repr(v)) for k, v in run.parameters.items()],
        ),
        "footer": pages.render("report_footer.html", scraps=[(k, _short(v)) for k, v in scraps.items()]),
    }
    with _EXPORTER_LOCK:
        body, _ = _exporter().from_notebook_node(
            nb, resources={"metadata": {"name": f"{run.job} run {run.id}"}, "workbench": parts}
        )
    (run_dir / "report.html").write_text(body)
