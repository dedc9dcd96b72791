"""The Voila server behind one tool's gateway: its configuration, and what every launcher shares.

Voila listens on 127.0.0.1 on a free port with ``base_url=/services/<name>/`` (so the links and
websocket URLs of its pages are the public ones) and requires a random token that only the gateway
knows: another local process cannot reach the kernels around the access policy. The token and the
rest of the configuration go through a ``voila.json`` in a private directory, never the command line
(which ``ps`` shows).

Two launchers start it (:func:`launcher_for`):

- :class:`workbench.apps.launch_local.LocalVoila` (local spawner, development): a child process of
  the gateway; when the hub runs as root, under a uid of the tool's own, without the state directory
  in reach;
- :class:`workbench.apps.launch_container.ContainerVoila` (Docker and Swarm spawners, production): a
  container of the lab image, unprivileged, with only the tool's folder and the data, read-only.
"""

from __future__ import annotations

import asyncio
import ctypes
import json
import os
import secrets
import shutil
import signal
import socket
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from workbench.apps.handover import Launch
from workbench.apps.spec import AppSpec
from workbench.runas import hand_over

START_TIMEOUT = 120.0
"""Seconds Voila may take to listen [s] (imports, kernel specs; the pool fills in the background)."""
STOP_TIMEOUT = 10.0
"""Seconds Voila gets to shut its kernels down before it is killed [s]."""


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def voila_config(spec: AppSpec, token: str) -> dict[str, Any]:
    """The traitlets configuration (``voila.json``) of the tool's Voila server."""
    k = spec.kernels
    return {
        "Voila": {"token": token, "ip": "127.0.0.1"},
        "VoilaConfiguration": {
            "preheat_kernel": k.preheat > 0,
            "default_pool_size": k.preheat,
            "show_tracebacks": False,
            "strip_sources": True,
        },
        # Kernels of closed pages (no websocket) are shut down after idle_timeout.
        "MappingKernelManager": {
            "cull_idle_timeout": k.idle_timeout,
            "cull_interval": min(60, k.idle_timeout),
            "cull_connected": False,
        },
    }


def die_with_parent() -> None:
    """Ask for SIGTERM when the parent process dies, even by SIGKILL (Linux ``prctl``; elsewhere a no-op).

    Called in Voila's process before it runs (its parent is the gateway) and by the gateway itself (its
    parent is the hub), so no tool outlives the hub that started it.
    """
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class VoilaServer:
    """One Voila server serving ``spec``'s folder under ``prefix``; subclasses say where it runs."""

    def __init__(self, spec: AppSpec, prefix: str, launch: Launch) -> None:
        self.spec = spec
        self.launch = launch
        self.prefix = prefix if prefix.endswith("/") else prefix + "/"
        self.port = free_port()
        self.token = secrets.token_urlsafe(32)
        self._config_dir: Path | None = None

    @property
    def url(self) -> str:
        """Origin of the Voila server (the gateway appends the request's path, prefix included)."""
        return f"http://127.0.0.1:{self.port}"

    def voila_args(self, folder: str, config_dir: str) -> list[str]:
        """Voila's arguments, after ``python -m voila``, for the tool's folder as Voila sees it."""
        return [
            # The tool's folder, not its notebook: the page is then voila/render/app.ipynb, and the
            # tool's URL itself is the gateway's (a redirect that health checks can call for free).
            folder,
            "--no-browser",
            f"--port={self.port}",
            f"--base_url={self.prefix}",
            f"--Voila.config_file_paths={config_dir}",
        ]

    def write_config(
        self, user: tuple[int, int] | None = None, *, owner_dir: bool = False, parent: Path | None = None
    ) -> Path:
        """Write ``voila.json`` in a private directory (0700) and return it.

        The file is 0400, handed over to ``user`` (uid, gid; :func:`workbench.runas.hand_over`;
        default: this process's), and so is the directory when ``owner_dir``: only Voila's user and
        root can read the token. The directory is made in ``parent`` (created 0700 if missing;
        default: the system's temporary folder).
        """
        if parent is not None:
            parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._config_dir = Path(tempfile.mkdtemp(prefix=f"voila-{self.spec.name}-", dir=parent))
        os.chmod(self._config_dir, 0o700)
        config = self._config_dir / "voila.json"
        fd = os.open(config, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(voila_config(self.spec, self.token), f)
        if user is not None:
            hand_over(config, user)
            if owner_dir:
                hand_over(self._config_dir, user)
        os.chmod(config, 0o400)
        return config

    def remove_config(self) -> None:
        if self._config_dir is not None:
            shutil.rmtree(self._config_dir, ignore_errors=True)
            self._config_dir = None

    # -- what a launcher implements -------------------------------------------------------------

    @property
    def where(self) -> str:
        """Where the kernels run, in words for the log (``uid 1900000003``, ``container …``)."""
        raise NotImplementedError

    async def start(self) -> None:
        """Start Voila (returns once it is launched; see :meth:`wait_ready`)."""
        raise NotImplementedError

    def exit_code(self) -> int | None:
        """Voila's exit code once it has ended, None while it runs (may block briefly)."""
        raise NotImplementedError

    def stop(self) -> None:
        """Stop Voila (it shuts its kernels down on SIGTERM) and remove the private configuration."""
        raise NotImplementedError

    async def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        """Wait until Voila accepts connections.

        Raises
        ------
        RuntimeError
            If Voila exits or does not listen within ``timeout`` [s].
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            code = await asyncio.to_thread(self.exit_code)
            if code is not None:
                raise RuntimeError(f"Voila for {self.spec.name} exited with code {code}")
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", self.port)
            except OSError:
                await asyncio.sleep(0.2)
                continue
            writer.close()
            return
        raise RuntimeError(f"Voila for {self.spec.name} not listening after {timeout:.0f} s")


def launcher_for(spec: AppSpec, prefix: str, launch: Launch, inherited: Mapping[str, str]) -> VoilaServer:
    """The Voila server of ``spec`` for the runtime ``launch`` names (``local`` or ``container``).

    ``inherited`` is the gateway's own environment, of which a local Voila keeps a few variables
    (``PATH``, ``LANG``…; never the hub's credentials).
    """
    if launch.runtime == "container":
        from workbench.apps.launch_container import ContainerVoila

        return ContainerVoila(spec, prefix, launch)
    from workbench.apps.launch_local import LocalVoila

    return LocalVoila(spec, prefix, launch, inherited)
