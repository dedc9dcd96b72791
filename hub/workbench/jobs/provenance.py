"""Where a run came from: the notebook's sha256, the environment it ran in, the ``s2p`` version.

The environment is an image id for the executors that run the lab image, else a lock of the Python
environment: ``env:sha256:<hex>`` of the sorted ``name==version`` lines of every installed
distribution, so two runs with the same lock ran with the same packages.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any


def file_sha256(path: Path) -> str:
    """The sha256 of a file's bytes, as hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def environment_lines() -> list[str]:
    """``name==version`` of every distribution installed in this interpreter, sorted."""
    found = {
        f"{(d.metadata['Name'] or '').lower()}=={d.version}"
        for d in metadata.distributions()
        if d.metadata["Name"]
    }
    return sorted(found)


@lru_cache(maxsize=1)
def environment_lock() -> str:
    """``env:sha256:<hex>`` of :func:`environment_lines` (computed once per process)."""
    text = "\n".join(environment_lines()) + "\n"
    return "env:sha256:" + hashlib.sha256(text.encode()).hexdigest()


@lru_cache(maxsize=1)
def s2p_version() -> str | None:
    """The version of the ``s2p`` library installed here (None if it is not)."""
    try:
        import s2p

        return str(s2p.__version__)
    except ImportError:
        return None


def provenance_columns(reported: dict[str, Any]) -> dict[str, Any]:
    """The store's provenance columns and the attempt's worker, from what an executor reported.

    ``environment`` is the image id of container runs, the environment lock a dask worker computed,
    else (local runs: this interpreter, or one over its site-packages) the lock of this environment; the
    ``s2p`` version is the image's version label, the worker's, or the run interpreter's package.
    """
    environment = reported.get("image_id") or reported.get("environment")
    if environment is None and reported.get("executor") == "local":
        # Local runs use this interpreter, or one over this interpreter's site-packages: same packages.
        environment = environment_lock()
    packages = reported.get("packages") or {}
    version = reported.get("s2p_version") or packages.get("s2p-workbench")
    if version is None and reported.get("executor") == "local":
        version = s2p_version()
    worker = (
        reported.get("worker") or reported.get("node") or reported.get("container") or reported.get("user")
    )
    return {
        "notebook_sha256": reported.get("notebook_sha256"),
        "environment": environment,
        "s2p_version": version,
        "worker": str(worker)[:200] if worker else None,
    }
