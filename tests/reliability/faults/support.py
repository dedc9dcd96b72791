"""What the fault tests share: bounded waits, the PIDs a workbench records, the recovery figures."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

from tests.e2e.harness import Workbench

FIGURES = Path(os.environ.get("RELIABILITY_FIGURES", "")) if os.environ.get("RELIABILITY_FIGURES") else None
"""When set (a file path), each recovery time measured is appended to it as a JSON line (docs figures)."""


def wait_until(check: Callable[[], Any], bound: float, what: str, *, every: float = 0.25) -> float:
    """Call ``check`` until it returns a true value; return the seconds it took [s].

    Exceptions from ``check`` count as "not yet" (a connection refused while a process restarts).

    Raises
    ------
    AssertionError
        Naming ``what`` and the last exception, after ``bound`` seconds.
    """
    t0 = time.monotonic()
    last: object = None
    while time.monotonic() - t0 < bound:
        try:
            if check():
                return time.monotonic() - t0
            last = None
        except Exception as exc:  # any failure of the check means "not yet"
            last = exc
        time.sleep(every)
    raise AssertionError(f"{what}: not within {bound:.0f} s (last error: {last!r})")


def recorded_pid(wb: Workbench, name: str) -> int:
    """The PID the hub wrote in ``<state>/<name>`` (``jupyterhub.pid``, ``proxy.pid``)."""
    return int((wb.state_dir / name).read_text().strip())


def listener_pid(port: int) -> int:
    """The PID of the process listening on 127.0.0.1:``port``."""
    for conn in psutil.net_connections(kind="tcp"):
        if conn.status == psutil.CONN_LISTEN and conn.laddr.port == port and conn.pid:
            return int(conn.pid)
    raise AssertionError(f"nothing listens on port {port}")


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie does not)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def record(fault: str, **figures: Any) -> None:
    """Print a fault's figures (seen with ``pytest -s``) and append them to :data:`FIGURES` if set."""
    line = json.dumps(
        {"fault": fault, **{k: round(v, 2) if isinstance(v, float) else v for k, v in figures.items()}}
    )
    print(f"\nFIGURES {line}")
    if FIGURES is not None:
        with FIGURES.open("a") as fh:
            fh.write(line + "\n")


def lab_process(wb: Workbench, name: str) -> psutil.Process:
    """The user's local server: the jupyterhub-singleuser running in the user's directory."""
    home = str(wb.state_dir / "users" / name)
    for p in wb.processes():
        try:
            if "jupyterhub-singleuser" in " ".join(p.cmdline()) and p.cwd() == home:
                return p
        except psutil.Error:
            continue
    raise AssertionError(f"no server process of {name}")
