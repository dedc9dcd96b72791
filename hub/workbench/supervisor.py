"""Keep the hub running under ``workbench up``: restart it when it exits unasked, stop it for good on request.

The hub is configured to leave the users' servers and its proxy running when it stops
(``cleanup_servers`` and ``cleanup_proxy`` off, :mod:`workbench.hubconfig`): a hub that crashed, or that
an admin restarted (``kill $(cat <state>/jupyterhub.pid)``), comes back to find every lab where it was
and resumes them from its database; users keep their kernels and their login (cookie secret and
tokens are in the state directory). Until it is back, the proxy keeps serving the labs.

:class:`HubSupervisor` starts the hub, waits until it answers, and when it exits without having been
asked to, starts it again (at most :data:`MAX_RESTARTS` times in :data:`RESTART_WINDOW_S`; a hub that
dies before it answers is not restarted: that is a configuration error for a human to read). A
deliberate stop (Ctrl-C) goes through the hub's ``/hub/api/shutdown`` with the servers and the proxy,
so nothing is left behind; a hub that does not answer it is stopped with signals.

Labs started by a hub that has exited re-parent to ``workbench up`` (a child subreaper, see
:mod:`workbench.process`). When they exit they must be reaped at once: the next hub's poll asks the
kernel whether the pid exists, and a zombie exists. :class:`OrphanReaper` does that in a thread.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable
from typing import Any

import psutil

from workbench.process import ManagedProcess, wait_for_http

MAX_RESTARTS = 5
RESTART_WINDOW_S = 600.0
"""At most this many restarts in this window [s]; beyond, ``workbench up`` gives up (exit code 1)."""
SHUTDOWN_TIMEOUT_S = 60.0
"""How long a deliberate stop waits for the hub to stop the servers and itself [s]."""


class OrphanReaper:
    """Reap exited children of this process that no :class:`subprocess.Popen` of ours waits for.

    Parameters
    ----------
    owned
        Returns the pids whose exit status belongs to a ``Popen`` (the hub, the IdP): never reaped here.
    interval
        Seconds between two looks [s].
    """

    def __init__(self, owned: Callable[[], set[int]], interval: float = 0.2) -> None:
        self.owned = owned
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="orphan-reaper", daemon=True)
        self.reaped: list[int] = []

    def start(self) -> OrphanReaper:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def reap_once(self) -> list[int]:
        """Reap the zombies among our children now; return their pids."""
        owned = self.owned()
        done = []
        for child in psutil.Process().children():
            if child.pid in owned:
                continue
            with contextlib.suppress(psutil.Error):
                if child.status() != psutil.STATUS_ZOMBIE:
                    continue
            with contextlib.suppress(ChildProcessError, OSError):
                pid, _ = os.waitpid(child.pid, os.WNOHANG)
                if pid:
                    done.append(pid)
        self.reaped += done
        return done

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            with contextlib.suppress(Exception):  # never let the reaper die: it is best effort
                self.reap_once()


class HubSupervisor:
    """Start the hub, restart it when it exits unasked, stop it with its servers on request.

    Parameters
    ----------
    make_hub
        Returns a new, not yet started, :class:`ManagedProcess` of the hub.
    hub_url
        The hub's local URL (``http://127.0.0.1:8000``): health is polled at ``/hub/health``.
    admin_token
        A hub API token holding the ``shutdown`` scope (the workbench-admin service's).
    start_timeout
        How long a start may take until ``/hub/health`` answers [s].
    say
        Where notices go (a line each).
    """

    def __init__(
        self,
        make_hub: Callable[[], ManagedProcess],
        hub_url: str,
        admin_token: str,
        *,
        start_timeout: float,
        say: Callable[[str], Any] = print,
    ) -> None:
        self.make_hub = make_hub
        self.hub_url = hub_url.rstrip("/")
        self.admin_token = admin_token
        self.start_timeout = start_timeout
        self.say = say
        self.hub: ManagedProcess | None = None
        self.restarts: list[float] = []

    def start(self) -> ManagedProcess:
        """Start the hub and wait until it answers (RuntimeError if it exits or times out first)."""
        self.hub = self.make_hub().start()
        wait_for_http(f"{self.hub_url}/hub/health", timeout=self.start_timeout, process=self.hub)
        return self.hub

    def _may_restart(self) -> bool:
        now = time.monotonic()
        self.restarts = [t for t in self.restarts if now - t < RESTART_WINDOW_S]
        return len(self.restarts) < MAX_RESTARTS

    def watch(self, poll: float = 0.5) -> int:
        """Block while the hub runs, restarting it when it exits; return its last exit code.

        Returns only when the hub exited and may not be restarted (too many restarts, or it failed
        to come up again: the RuntimeError of :meth:`start` propagates then).
        """
        assert self.hub is not None, "start() first"
        while True:
            code = self.hub.poll()
            if code is None:
                time.sleep(poll)
                continue
            self.hub.stop(timeout=5)  # closes its log; the group is gone already or goes now
            if not self._may_restart():
                self.say(
                    f"workbench: the hub exited with code {code}, the {MAX_RESTARTS + 1}th time in "
                    f"{RESTART_WINDOW_S / 60:.0f} minutes: giving up"
                )
                return code
            self.restarts.append(time.monotonic())
            self.say(f"workbench: the hub exited with code {code}; restarting it (the labs keep running)")
            t0 = time.monotonic()
            self.start()
            self.say(f"workbench: the hub is back after {time.monotonic() - t0:.1f} s")

    def shutdown(self, timeout: float = SHUTDOWN_TIMEOUT_S, *, servers: bool = True) -> int | None:
        """Stop the hub, its proxy and (unless ``servers`` is false) the users' servers; return the hub's
        exit code.

        Asks the hub's API first (the hub stops the servers through their spawners, containers
        included); a hub that does not answer, or does not exit in time, is stopped with signals.
        """
        hub = self.hub
        if hub is None or hub.poll() is not None:
            return None if hub is None else hub.stop(timeout=5)
        import requests

        try:
            r = requests.post(
                f"{self.hub_url}/hub/api/shutdown",
                json={"servers": servers, "proxy": True},
                headers={"Authorization": f"token {self.admin_token}"},
                timeout=10,
            )
            asked = r.status_code == 202
        except requests.RequestException:
            asked = False
        if asked:
            deadline = time.monotonic() + timeout
            while hub.poll() is None and time.monotonic() < deadline:
                time.sleep(0.2)
        else:
            self.say("workbench: the hub did not answer its shutdown request: stopping it with signals")
        return hub.stop(timeout=30)
