"""Start and stop child processes so that nothing is left behind.

Every child gets its own session (so it is the leader of its own process group and a Ctrl-C in the
terminal reaches only ``workbench up``, which then shuts the children down in order), and stopping a
child signals its whole group: a hub takes its proxy with it, a lab takes its kernels.

Processes that escape their group (the hub puts each user's server in a new session) are still found:
:func:`become_subreaper` makes orphans re-parent to us instead of to init, and :func:`stop_descendants`
ends whatever of our descendants is still alive at shutdown.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

import psutil

log = logging.getLogger(__name__)

_PR_SET_CHILD_SUBREAPER = 36  # linux/prctl.h
_PR_SET_PDEATHSIG = 1


def become_subreaper() -> bool:
    """Make orphaned descendants re-parent to this process (Linux); return whether it worked."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def die_with_parent(sig: int = signal.SIGTERM) -> bool:
    """Ask the kernel for ``sig`` when our parent dies, even by SIGKILL (Linux); return whether it worked.

    For services the hub starts (the jobs service): when the hub is killed, they end with it rather
    than run on beside the next hub's copy of themselves.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


class ManagedProcess:
    """A child process in its own session, stopped with its whole process group.

    Parameters
    ----------
    name
        Short label used in messages (``hub``, ``idp``…).
    argv
        Command and arguments.
    env
        Complete environment of the child.
    cwd
        Working directory.
    log_file
        Where stdout and stderr go (appended); ``None`` inherits ours.
    json_service
        With no ``log_file``: every line the child writes becomes a JSON line of the workbench's log
        schema on our stdout, with this as its default service (:mod:`workbench.logs`).
    """

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        log_file: Path | None = None,
        json_service: str | None = None,
    ) -> None:
        self.name = name
        self.json_service = json_service if log_file is None else None
        self.argv = list(argv)
        self.env = dict(env) if env is not None else None
        self.cwd = cwd
        self.log_file = log_file
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def start(self) -> ManagedProcess:
        """Start the process (returns self)."""
        if self.log_file is not None:
            self.log_file.parent.mkdir(parents=True, exist_ok=True)
            self._log = open(self.log_file, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            self.argv,
            env=self.env,
            cwd=self.cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE if self.json_service else self._log,
            stderr=subprocess.STDOUT if self._log or self.json_service else None,
            start_new_session=True,
        )
        if self.json_service and self.proc.stdout is not None:
            from workbench.logs import LinePump

            LinePump(self.proc.stdout, self.json_service).start()
        log.debug("started %s (pid %d): %s", self.name, self.proc.pid, " ".join(self.argv))
        return self

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def poll(self) -> int | None:
        """Exit code, or ``None`` while running."""
        return None if self.proc is None else self.proc.poll()

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the process to exit and return its exit code."""
        assert self.proc is not None, "not started"
        return self.proc.wait(timeout)

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM the process group, wait up to ``timeout`` s, then SIGKILL it; return the exit code."""
        if self.proc is None:
            return None
        code = stop_group(self.proc.pid, timeout=timeout, popen=self.proc)
        if self._log is not None:
            self._log.close()
            self._log = None
        return code


def _signal_group(pgid: int, sig: int) -> bool:
    try:
        os.killpg(pgid, sig)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return False


def _group_alive(pgid: int) -> bool:
    return _signal_group(pgid, 0)


def stop_group(
    pid: int, *, timeout: float = 10.0, popen: subprocess.Popen[bytes] | None = None
) -> int | None:
    """Stop the process group led by ``pid``: SIGTERM, wait, SIGKILL.

    Parameters
    ----------
    pid
        Leader of the group (a process started with ``start_new_session=True``).
    timeout
        Seconds to wait after SIGTERM before SIGKILL [s].
    popen
        The :class:`subprocess.Popen` of the leader when it is our child, to reap it and get its code.

    Returns
    -------
    The leader's exit code when known.
    """
    _signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    code = None
    while time.monotonic() < deadline:
        if popen is not None:
            code = popen.poll()
        if (popen is None or code is not None) and not _group_alive(pid):
            return code
        time.sleep(0.1)
    if _group_alive(pid):
        log.warning("process group %d did not stop after SIGTERM within %.0f s: killing it", pid, timeout)
        _signal_group(pid, signal.SIGKILL)
    if popen is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            code = popen.wait(5)
    return code


def stop_descendants(timeout: float = 10.0) -> list[int]:
    """Terminate every process still descending from this one; return the pids found.

    With :func:`become_subreaper` in effect this includes orphans of children that already exited
    (e.g. a user's server whose hub was killed).
    """
    me = psutil.Process()
    children = me.children(recursive=True)
    if not children:
        return []
    for child in children:
        with contextlib.suppress(psutil.Error):
            child.terminate()
    _, alive = psutil.wait_procs(children, timeout=timeout)
    for child in alive:
        with contextlib.suppress(psutil.Error):
            child.kill()
    psutil.wait_procs(alive, timeout=5)
    return [c.pid for c in children]


def wait_for_http(
    url: str, *, timeout: float, process: ManagedProcess | None = None, status: int | None = 200
) -> None:
    """Poll ``url`` until it answers with ``status`` (any status below 500 when ``None``).

    Raises
    ------
    RuntimeError
        If ``process`` exits first, or after ``timeout`` seconds.
    """
    import requests

    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{process.name} exited with code {process.poll()} while starting")
        try:
            r = requests.get(url, timeout=2, allow_redirects=False)
            if r.status_code == status or (status is None and r.status_code < 500):
                return
            last = f"HTTP {r.status_code}"
        except requests.RequestException as exc:
            last = exc
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s (last: {last})")
