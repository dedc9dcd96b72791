"""Launcher of the dev identity provider: a Keycloak-shaped OpenID Connect provider in Node.

The server (``server.js`` next to this file, built on the npm package ``oidc-provider``) reads a
Keycloak realm export such as ``deploy/keycloak/realm-s2p.json`` and serves Keycloak's URL layout
under ``/realms/<realm>/`` on 127.0.0.1. This module starts and stops it from Python::

    from workbench.devidp import DevIdP
    with DevIdP(ROOT / "deploy/keycloak/realm-s2p.json", env={"WORKBENCH_OIDC_CLIENT_SECRET": s}) as idp:
        print(idp.issuer)        # http://127.0.0.1:PORT/realms/s2p

``python -m workbench.devidp REALM_FILE [--port N] [--realm NAME]`` runs it in the foreground.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO

import requests

__all__ = ["DevIdP", "DevIdPError", "REPO_ROOT", "SERVER_JS", "find_node", "find_node_modules"]

SERVER_JS = Path(__file__).resolve().parent / "server.js"
#: The repository root (``hub/workbench/devidp`` -> repo), where ``make install`` puts node_modules.
REPO_ROOT = Path(__file__).resolve().parents[3]
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}
_LOG_TAIL_LINES = 40
#: oidc-provider 8.x (pinned in package.json) supports Node.js 18 LTS and later; the project uses 20.
MIN_NODE_MAJOR = 20


class DevIdPError(RuntimeError):
    """The dev IdP cannot start: missing Node/npm packages, bad realm file, or no answer in time."""


def find_node() -> str:
    """Path of a ``node`` executable of version 20 or later.

    Raises
    ------
    DevIdPError
        When ``node`` is not on ``PATH`` or is older than Node.js 20.
    """
    node = shutil.which("node")
    if node is None:
        raise DevIdPError(
            f"the dev identity provider needs Node.js {MIN_NODE_MAJOR} or later (`node` is not on PATH); "
            "install Node.js, then run `make install`"
        )
    version = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30).stdout.strip()
    try:
        major = int(version.lstrip("v").split(".")[0])
    except ValueError:
        major = 0
    if major < MIN_NODE_MAJOR:
        raise DevIdPError(
            f"{node} is Node.js {version or '?'}; the dev identity provider needs {MIN_NODE_MAJOR}+"
        )
    return node


def find_node_modules(root: Path | None = None) -> Path:
    """The project's ``node_modules`` directory holding ``oidc-provider``.

    Parameters
    ----------
    root
        Directory that contains ``node_modules`` (default: the repository root).

    Raises
    ------
    DevIdPError
        When ``node_modules/oidc-provider`` is missing (``make install`` was not run).
    """
    modules = (root or REPO_ROOT) / "node_modules"
    if not (modules / "oidc-provider" / "package.json").is_file():
        raise DevIdPError(
            f"npm package oidc-provider not found in {modules}; run `make install` "
            "(or `npm ci` at the repository root) to install the project's Node packages"
        )
    return modules


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _realm_name_of(realm_file: Path) -> str:
    try:
        data = json.loads(realm_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DevIdPError(f"cannot read realm file {realm_file}: {exc}") from exc
    name = data.get("realm") if isinstance(data, dict) else None
    if not isinstance(name, str) or not name:
        raise DevIdPError(f"realm file {realm_file} has no 'realm' name")
    return name


class DevIdP:
    """One dev identity provider process serving one realm on a loopback port.

    Parameters
    ----------
    realm_file
        Keycloak realm export (JSON) with users, groups, roles and clients; re-read by the server
        whenever its modification time changes.
    port
        TCP port on ``host`` (default: a free port chosen at construction).
    host
        Loopback address to bind (``127.0.0.1``, ``localhost`` or ``::1``).
    realm
        Realm name served in the URLs and the issuer (default: the file's ``realm``).
    redirect_uris
        ``clientId -> redirect URIs`` replacing the file's (tests run hubs on free ports).
    post_logout_uris
        ``clientId -> post-logout redirect URIs`` replacing the file's ``post.logout.redirect.uris``
        (a trailing ``*`` matches any suffix, as in Keycloak).
    env
        Extra environment for the server, e.g. ``WORKBENCH_OIDC_CLIENT_SECRET`` for the
        ``${WORKBENCH_OIDC_CLIENT_SECRET}`` placeholder of the realm file.
    state_dir
        Directory where signing keys are kept (mode 0600) so tokens survive restarts; default:
        fresh keys at every start.
    log_file
        File receiving the server's output (one line per login/refresh); default: a temporary
        ``state_dir/devidp.log``, else a new file in the system temp dir.
    """

    def __init__(
        self,
        realm_file: Path,
        *,
        port: int | None = None,
        host: str = "127.0.0.1",
        realm: str | None = None,
        redirect_uris: Mapping[str, Sequence[str]] | None = None,
        post_logout_uris: Mapping[str, Sequence[str]] | None = None,
        env: Mapping[str, str] | None = None,
        state_dir: Path | None = None,
        log_file: Path | None = None,
    ) -> None:
        if host not in _LOOPBACK:
            raise ValueError(f"the dev IdP binds loopback addresses only, not {host!r}")
        self.realm_file = Path(realm_file).resolve()
        if not self.realm_file.is_file():
            raise DevIdPError(f"realm file not found: {self.realm_file}")
        self.host = host
        self.port: int = port if port is not None else _free_port(host)
        self.realm: str = realm or _realm_name_of(self.realm_file)
        self.redirect_uris = {k: list(v) for k, v in (redirect_uris or {}).items()}
        self.post_logout_uris = {k: list(v) for k, v in (post_logout_uris or {}).items()}
        self.env = dict(env or {})
        self.state_dir = Path(state_dir) if state_dir is not None else None
        self.log_file = Path(log_file) if log_file is not None else None
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_handle: IO[bytes] | None = None
        #: Exit status of the last server process once it has ended (0 after a clean stop).
        self.returncode: int | None = None

    # -- addresses -------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """Base URL of the server, e.g. ``http://127.0.0.1:8081``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def issuer(self) -> str:
        """OIDC issuer, e.g. ``http://127.0.0.1:8081/realms/s2p`` (same shape as Keycloak's)."""
        return f"{self.url}/realms/{self.realm}"

    @property
    def discovery_url(self) -> str:
        """The issuer's ``.well-known/openid-configuration`` URL."""
        return f"{self.issuer}/.well-known/openid-configuration"

    @property
    def pid(self) -> int | None:
        """Process id of the running server, or None."""
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        """True while the server process is alive."""
        return self._proc is not None and self._proc.poll() is None

    def command(self) -> list[str]:
        """The ``node`` command line that :meth:`start` runs."""
        cmd = [
            find_node(),
            str(SERVER_JS),
            str(self.realm_file),
            "--port",
            str(self.port),
            "--host",
            self.host,
            "--realm",
            self.realm,
            "--node-modules",
            str(find_node_modules()),
        ]
        if self.redirect_uris:
            cmd += ["--redirect-uris", json.dumps(self.redirect_uris)]
        if self.post_logout_uris:
            cmd += ["--post-logout-uris", json.dumps(self.post_logout_uris)]
        if self.state_dir is not None:
            cmd += ["--state-dir", str(self.state_dir)]
        # The server exits by itself if this process dies without calling stop(): no orphans.
        cmd += ["--parent-pid", str(os.getpid())]
        return cmd

    # -- life cycle ------------------------------------------------------------------------
    def start(self, timeout: float = 30) -> DevIdP:
        """Spawn the server and wait until its discovery document answers.

        Parameters
        ----------
        timeout
            Seconds to wait for the discovery document.

        Raises
        ------
        DevIdPError
            When Node or the npm packages are missing, or the server exits or does not answer
            within ``timeout``; the message ends with the tail of the server's log.
        """
        if self.running:
            return self
        cmd = self.command()
        self.returncode = None
        if self.log_file is None:
            if self.state_dir is not None:
                self.log_file = self.state_dir / "devidp.log"
            else:
                fd, name = tempfile.mkstemp(prefix=f"devidp-{self.realm}-", suffix=".log")
                os.close(fd)
                self.log_file = Path(name)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        self._log_handle = open(self.log_file, "ab")  # noqa: SIM115 - kept open for the child's life
        env = {**os.environ, **self.env}
        self._proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=self._log_handle,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=str(REPO_ROOT),
            start_new_session=True,  # Ctrl-C of a parent does not reach it twice; stop() ends it
        )
        deadline = time.monotonic() + timeout
        last_error = "no answer yet"
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                code = self._proc.returncode
                self._close()
                raise DevIdPError(f"dev IdP exited with status {code} before answering\n{self.log_tail()}")
            try:
                r = requests.get(self.discovery_url, timeout=2)
                if r.status_code == 200 and r.json().get("issuer") == self.issuer:
                    return self
                last_error = f"HTTP {r.status_code}"
            except (requests.RequestException, ValueError) as exc:
                last_error = str(exc)
            time.sleep(0.1)
        self.stop()
        raise DevIdPError(
            f"dev IdP did not answer at {self.discovery_url} within {timeout:g} s ({last_error})\n"
            f"{self.log_tail()}"
        )

    def stop(self, timeout: float = 10) -> None:
        """Stop the server: SIGTERM, wait up to ``timeout`` seconds, then SIGKILL. Idempotent."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=timeout)
        self._close()

    def _close(self) -> None:
        if self._proc is not None and self._proc.poll() is not None:
            self.returncode = self._proc.returncode
            self._proc = None
        if self._log_handle is not None:
            self._log_handle.close()
            self._log_handle = None

    def log_tail(self, lines: int = _LOG_TAIL_LINES) -> str:
        """Last ``lines`` lines of the server's log (empty when there is none)."""
        if self.log_file is None or not self.log_file.exists():
            return ""
        text = self.log_file.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def __enter__(self) -> DevIdP:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"pid={self.pid}" if self.running else "stopped"
        return f"DevIdP(issuer={self.issuer!r}, {state})"
