"""What runs on a dask worker for a run of the ``dask`` executor (sent to the workers by value).

The task copies the notebook and parameters into a folder of its own on the worker, runs papermill
there as a child process that dies with the worker (``PR_SET_PDEATHSIG``), and returns the exit code,
the executed notebook and provenance. While it runs, the service asks the worker for progress
(:func:`progress`: the cells' papermill states and the new log bytes) and, to stop it, calls
:func:`kill` — both through ``Client.run``, so nothing accumulates on the scheduler.

This module imports only the standard library at the top: a worker needs papermill and a Python
kernel, not the workbench.
"""

from __future__ import annotations

# The worker side of workbench.jobs.executors.dask: sent to the workers by value (cloudpickle), so it
# imports nothing of the workbench.
import contextlib
import ctypes
import hashlib
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any

REGISTRY = "_s2p_workbench_runs"
"""Attribute of the dask worker holding attempt key -> {"proc", "folder", "log_offset"} of the runs
executing there (on the worker object: this module is sent by value, so its globals are not shared
between the task and the functions ``Client.run`` calls)."""


def _running(worker: Any) -> dict[str, dict[str, Any]]:
    if not hasattr(worker, REGISTRY):
        setattr(worker, REGISTRY, {})
    return getattr(worker, REGISTRY)


MAX_LOG_CHUNK = 256 << 10
"""Log bytes one progress call returns at most [bytes]."""

PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # runs in the child between fork and exec
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def environment_lock() -> str:
    """``env:sha256:<hex>`` of the sorted ``name==version`` of the worker's distributions."""
    names = {
        f"{(d.metadata['Name'] or '').lower()}=={d.version}"
        for d in metadata.distributions()
        if d.metadata["Name"]
    }
    return "env:sha256:" + hashlib.sha256(("\n".join(sorted(names)) + "\n").encode()).hexdigest()


def _s2p_version() -> str | None:
    try:
        return metadata.version("s2p-workbench")
    except metadata.PackageNotFoundError:
        return None


def run_notebook(
    key: str,
    notebook: bytes,
    parameters: bytes,
    *,
    kernel: str = "python3",
    environment: dict[str, str] | None = None,
    python: str | None = None,
    work_dir: str | None = None,
    run_as: tuple[int, int] | None = None,
    max_notebook_bytes: int = 256 << 20,
) -> dict[str, Any]:
    """Run papermill on ``notebook`` with ``parameters`` (JSON); the dask task of one attempt.

    Parameters
    ----------
    environment
        The whole environment of papermill and the kernel (``HOME`` is set to the run's folder);
        None: the worker's own.
    python
        The interpreter of papermill (default: the worker's).
    work_dir
        Where the run's folder is made (default: the worker's local directory).
    run_as
        ``(uid, gid)`` papermill and the kernel run as (the worker must be root), in a folder they own.

    Returns
    -------
    dict
        ``code`` (papermill's exit code; negative: killed by that signal), ``notebook`` (the executed
        notebook's text, or None), ``log`` (the log bytes not yet fetched by :func:`progress`),
        ``worker`` and ``provenance``.
    """
    from distributed import get_worker

    worker = get_worker()
    running = _running(worker)
    if key in running:
        raise RuntimeError(f"{key} is already running on this worker")
    base = work_dir or getattr(worker, "local_directory", None)
    folder = Path(tempfile.mkdtemp(prefix=f"dask-{key}-", dir=base))
    (folder / "input.ipynb").write_bytes(notebook)
    (folder / "parameters.json").write_bytes(parameters)
    identity: dict[str, Any] = {}
    if run_as is not None:
        for path in (folder, folder / "input.ipynb", folder / "parameters.json"):
            os.chown(path, *run_as)
        identity = {"user": run_as[0], "group": run_as[1], "extra_groups": [], "umask": 0o077}
    argv = [
        python or sys.executable, "-m", "papermill", str(folder / "input.ipynb"), str(folder / "output.ipynb"),
        "-f", str(folder / "parameters.json"), "-k", kernel, "--cwd", str(folder),
        "--log-output", "--no-progress-bar", "--request-save-on-cell-execute",
    ]  # fmt: skip
    env = (
        {**os.environ, "PYTHONUNBUFFERED": "1"}
        if environment is None
        else {**environment, "HOME": str(folder)}
    )
    entry: dict[str, Any] = {"folder": folder, "log_offset": 0}
    running[key] = entry
    try:
        with open(folder / "run.log", "wb") as logf:
            proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT, cwd=folder, env=env,
                start_new_session=True, preexec_fn=_die_with_parent, **identity,
            )  # fmt: skip
            entry["proc"] = proc
            code = proc.wait()
        text = _read_plain(folder / "output.ipynb", max_notebook_bytes)
        log_bytes = (folder / "run.log").read_bytes()[entry["log_offset"] :]
        return {
            "code": code,
            "notebook": text,
            "log": log_bytes.decode(errors="replace"),
            "worker": worker.address,
            "provenance": {
                "environment": environment_lock(),
                "s2p_version": _s2p_version(),
                "python": sys.version.split()[0],
                "host": os.uname().nodename,
                "worker": worker.address,
            },
        }
    finally:
        running.pop(key, None)
        shutil.rmtree(folder, ignore_errors=True)


def _read_plain(path: Path, max_bytes: int) -> str | None:
    """A plain file the run wrote (no link followed, bounded), as text, or None."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fh.fileno())
        if not stat.S_ISREG(st.st_mode) or st.st_nlink != 1 or st.st_size > max_bytes:
            return None
        return fh.read(max_bytes).decode(errors="replace")


def worker_provenance() -> dict[str, Any]:
    """On a worker (``Client.run``): what its runs execute in."""
    return {"environment": environment_lock(), "s2p_version": _s2p_version(), "python": sys.version.split()[0],
            "host": os.uname().nodename}  # fmt: skip


def progress(key: str, dask_worker: Any = None) -> dict[str, Any] | None:
    """On a worker (``Client.run``): the run's cells' papermill states and its new log bytes, or None
    if the run is not here."""
    entry = _running(dask_worker).get(key)
    if entry is None:
        return None
    folder: Path = entry["folder"]
    cells = None
    with contextlib.suppress(OSError, ValueError, TypeError):
        nb = json.loads(_read_plain(folder / "output.ipynb", 256 << 20) or "")
        cells = [c.get("metadata", {}).get("papermill", {}).get("status") for c in nb.get("cells", [])
                 if c.get("cell_type") == "code"]  # fmt: skip
    chunk = b""
    with contextlib.suppress(OSError), open(folder / "run.log", "rb") as fh:  # the worker's own file
        fh.seek(entry["log_offset"])
        chunk = fh.read(MAX_LOG_CHUNK)
    entry["log_offset"] += len(chunk)
    return {"cells": cells, "log": chunk.decode(errors="replace")}


def kill(key: str, grace_s: float = 3.0, dask_worker: Any = None) -> bool:
    """On a worker (``Client.run``): end the run's papermill and kernel; True if the run was here."""
    entry = _running(dask_worker).get(key)
    if entry is None or entry.get("proc") is None:
        return False
    proc = entry["proc"]
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)
        _kill_kernels(entry["folder"], sig)
        deadline = time.monotonic() + grace_s
        while proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        if proc.poll() is not None and sig == signal.SIGTERM:
            _kill_kernels(entry["folder"], signal.SIGKILL)
            break
    return True


def _kill_kernels(folder: Path, sig: int) -> None:
    """Signal the kernels papermill started for the run (their own sessions; found by working folder)."""
    for pid_dir in Path("/proc").iterdir():
        if not pid_dir.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if os.readlink(pid_dir / "cwd") == str(folder):
                os.kill(int(pid_dir.name), sig)
