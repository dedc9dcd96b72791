"""The hub's proxy: configurable-http-proxy, kept across hub restarts.

JupyterHub's own :class:`~jupyterhub.proxy.ConfigurableHTTPProxy` kills any proxy it finds from an
earlier hub and starts a new one with an empty route table, so every lab is unreachable until the new
hub has started all its services and put the routes back (about a minute on a loaded 2-core machine).
:class:`WorkbenchProxy` adopts that proxy instead when it is ours — the PID of ``proxy.pid`` runs
configurable-http-proxy on our public and API ports, and its API answers our token — so the labs, whose
routes it still holds, stay reachable while the hub restarts. The hub then checks the routes as usual.

A proxy that died (``proxy.pid`` names no process) or that is not ours is handled as JupyterHub
does: removed, and a new one started. The hub's periodic check restarts an adopted proxy that dies,
exactly as one it started (``check_running_interval``).
"""

from __future__ import annotations

import contextlib
import os
import signal
from urllib.parse import urlsplit

import psutil
from jupyterhub.proxy import ConfigurableHTTPProxy


class AdoptedProcess:
    """The part of :class:`subprocess.Popen` the proxy class uses, for a process we did not start."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        """``None`` while it runs; a zombie (not reaped yet) has exited."""
        try:
            if psutil.Process(self.pid).status() != psutil.STATUS_ZOMBIE:
                return None
        except psutil.NoSuchProcess:
            pass
        self.returncode = -1 if self.returncode is None else self.returncode
        return self.returncode

    def terminate(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGTERM)

    def __enter__(self) -> AdoptedProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def ports_of(url: str) -> int:
    """The TCP port of a URL (80 when none is written)."""
    return urlsplit(url).port or 80


class WorkbenchProxy(ConfigurableHTTPProxy):
    """configurable-http-proxy, adopted from the previous hub when it still runs (see module doc)."""

    def _ours(self, pid: int) -> bool:
        """Whether ``pid`` is a configurable-http-proxy on our public and API ports."""
        try:
            proc = psutil.Process(pid)
            if proc.status() == psutil.STATUS_ZOMBIE:
                return False
            argv = proc.cmdline()
        except psutil.Error:
            return False
        if not any("configurable-http-proxy" in a for a in argv):
            return False

        def option(name: str) -> str | None:
            return argv[argv.index(name) + 1] if name in argv[:-1] else None

        return option("--port") == str(ports_of(self.public_url)) and option("--api-port") == str(
            ports_of(self.api_url)
        )

    async def start(self) -> None:
        pid = self._previous_pid()
        if pid is not None and self._ours(pid):
            try:
                routes = await self.get_all_routes()  # our token: it is ours indeed
            except Exception as exc:
                self.log.warning("Proxy at pid=%s does not answer its API (%s): replacing it", pid, exc)
            else:
                self.proxy_process = AdoptedProcess(pid)
                self.log.info("Adopted the running proxy at pid=%s with its %d routes", pid, len(routes))
                self._start_checking()
                return
        await super().start()

    def _previous_pid(self) -> int | None:
        if not self.pid_file or not os.path.exists(self.pid_file):
            return None
        try:
            with open(self.pid_file) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def _start_checking(self) -> None:
        from tornado.ioloop import PeriodicCallback

        pc = PeriodicCallback(self.check_running, 1e3 * self.check_running_interval)
        self._check_running_callback = pc
        pc.start()
