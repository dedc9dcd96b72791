"""The Voila server behind one tool's gateway: configured from the tool's ``kernels``, reachable only
from the gateway.

Voila listens on 127.0.0.1 on a free port with ``base_url=/services/<name>/`` (so the links and
websocket URLs of its pages are the public ones) and requires a random token that only the gateway
knows: another local process cannot reach the kernels around the access policy. The token and the
rest of the configuration go through a ``voila.json`` in a private directory, never the command line
(which ``ps`` shows).
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
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from workbench.apps.spec import AppSpec

START_TIMEOUT = 120.0
"""Seconds Voila may take to listen [s] (imports, kernel specs; the pool fills in the background)."""
STOP_TIMEOUT = 10.0


def _free_port() -> int:
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
    """One Voila process serving ``spec``'s notebook under ``prefix``."""

    def __init__(self, spec: AppSpec, prefix: str) -> None:
        self.spec = spec
        self.prefix = prefix if prefix.endswith("/") else prefix + "/"
        self.port = _free_port()
        self.token = secrets.token_urlsafe(32)
        self.process: subprocess.Popen[bytes] | None = None
        self._config_dir: Path | None = None

    @property
    def url(self) -> str:
        """Origin of the Voila server (the gateway appends the request's path, prefix included)."""
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        assert self._config_dir is not None
        return [
            sys.executable,
            "-m",
            "voila",
            # The tool's folder, not its notebook: the page is then voila/render/app.ipynb, and the
            # tool's URL itself is the gateway's (a redirect that health checks can call for free).
            str(self.spec.directory),
            "--no-browser",
            f"--port={self.port}",
            f"--base_url={self.prefix}",
            f"--Voila.config_file_paths={self._config_dir}",
        ]

    def start(self) -> None:
        """Write the private configuration and start Voila (returns at once; see :meth:`wait_ready`)."""
        self._config_dir = Path(tempfile.mkdtemp(prefix=f"voila-{self.spec.name}-"))
        os.chmod(self._config_dir, 0o700)
        config = self._config_dir / "voila.json"
        config.touch(mode=0o600)
        config.write_text(json.dumps(voila_config(self.spec, self.token)))
        # The kernels run the tool's code: they get no hub credentials.
        env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTERHUB_")}
        self.process = subprocess.Popen(
            self.command(),
            cwd=self.spec.directory,
            env=env,
            stdin=subprocess.DEVNULL,
            preexec_fn=die_with_parent,
        )

    async def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        """Wait until Voila accepts connections.

        Raises
        ------
        RuntimeError
            If Voila exits or does not listen within ``timeout`` [s].
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"Voila for {self.spec.name} exited with code {self.process.returncode}")
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", self.port)
            except OSError:
                await asyncio.sleep(0.2)
                continue
            writer.close()
            return
        raise RuntimeError(f"Voila for {self.spec.name} not listening after {timeout:.0f} s")

    def stop(self) -> None:
        """Stop Voila (it shuts its kernels down on SIGTERM) and remove the private configuration."""
        proc = self.process
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        if self._config_dir is not None:
            shutil.rmtree(self._config_dir, ignore_errors=True)
