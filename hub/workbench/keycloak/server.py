"""A real Keycloak on 127.0.0.1, started from the prepared distribution with realm files imported.

::

    from workbench.keycloak import KeycloakServer, prepare

    dist = prepare(cache_dir)                                   # once per machine (minutes), then instant
    with KeycloakServer(dist, run_dir, realm_files=[realm], env={"WORKBENCH_OIDC_CLIENT_SECRET": s}) as kc:
        kc.issuer("s2p")          # http://127.0.0.1:PORT/realms/s2p
        kc.admin("s2p")           # KeycloakAdmin on the Admin REST API

The server runs Keycloak's production command ``start --optimized`` (no re-augmentation) with HTTP on
127.0.0.1 only, a fixed hostname (so the issuer is the same however it is reached), a local cache (no
cluster ports) and ``--import-realm``: the realm files are copied unchanged into ``data/import`` and
imported at the first start, with ``${VAR}`` placeholders resolved from the server's environment. Its
database is an H2 file in ``run_dir`` copied from the distribution's template, so a fresh server skips
the schema and master-realm initialisation; a ``run_dir`` that already holds a database (``workbench up``
with ``WORKBENCH_AUTH=keycloak-local``) keeps its users and sessions across restarts.

The process is stopped with its group (SIGTERM, then SIGKILL), and dies with the Python process that
started it (``PR_SET_PDEATHSIG``), so a killed test run leaves no Java behind.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING

import requests

from workbench.keycloak.distribution import RUNTIME_OPTIONS, Distribution, KeycloakError, run_home

if TYPE_CHECKING:
    from workbench.keycloak.admin import KeycloakAdmin

START_TIMEOUT = 300.0  # [s] a fresh import on a loaded 2-core machine takes 20–90 s
_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _die_with_parent() -> None:  # runs in the child between fork and exec
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        # kc.sh traps SIGTERM and forwards it to its java child.
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _realm_of(path: Path) -> str:
    try:
        name = json.loads(path.read_text())["realm"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise KeycloakError(f"{path} is not a Keycloak realm export with a 'realm' name ({exc})") from None
    return str(name)


class KeycloakServer:
    """One Keycloak process serving the realms of ``realm_files`` on a loopback port.

    Parameters
    ----------
    distribution
        The prepared distribution (:func:`workbench.keycloak.prepare`).
    run_dir
        The server's own folder: its Keycloak home (database, import folder) and ``keycloak.log``.
        Reused as it is when it already holds a database.
    realm_files
        Realm exports imported at the first start (copied unchanged; realms that exist are kept).
    port
        HTTP port on 127.0.0.1 (default: a free one chosen now).
    env
        Extra environment of the server, e.g. ``WORKBENCH_OIDC_CLIENT_SECRET`` for the realm file's
        ``${WORKBENCH_OIDC_CLIENT_SECRET}`` placeholder.
    log_file
        Where Keycloak's output goes (default ``run_dir/keycloak.log``).
    """

    def __init__(
        self,
        distribution: Distribution,
        run_dir: Path,
        *,
        realm_files: Sequence[Path] = (),
        port: int | None = None,
        env: Mapping[str, str] | None = None,
        log_file: Path | None = None,
    ) -> None:
        self.distribution = distribution
        self.run_dir = Path(run_dir)
        self.realm_files = [Path(p).resolve() for p in realm_files]
        self.realms = [_realm_of(p) for p in self.realm_files]
        self.port = port if port is not None else _free_port()
        self.env = dict(env or {})
        self.log_file = Path(log_file) if log_file is not None else self.run_dir / "keycloak.log"
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        #: Seconds the last :meth:`start` took until the realms answered.
        self.start_seconds: float | None = None

    # -- addresses ------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:8080``."""
        return f"http://127.0.0.1:{self.port}"

    def issuer(self, realm: str | None = None) -> str:
        """OIDC issuer of ``realm`` (default: the first imported realm)."""
        name = realm or (self.realms[0] if self.realms else "master")
        return f"{self.url}/realms/{name}"

    @property
    def home(self) -> Path:
        return self.run_dir / "home"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def admin_credentials(self) -> tuple[str, str]:
        """(username, password) of the master realm's admin of this server's database."""
        path = self.run_dir / "admin.json"
        data = json.loads(path.read_text())
        return str(data["username"]), str(data["password"])

    def admin(self, realm: str | None = None) -> KeycloakAdmin:
        """An Admin REST API client for ``realm`` (default: the first imported realm)."""
        from workbench.keycloak.admin import KeycloakAdmin

        username, password = self.admin_credentials()
        return KeycloakAdmin(self.url, username, password, realm=realm or self.realms[0])

    def command(self) -> list[str]:
        """The ``kc.sh`` command line :meth:`start` runs."""
        return [
            str(self.home / "bin" / "kc.sh"),
            "start",
            "--optimized",
            *RUNTIME_OPTIONS,
            "--http-enabled=true",
            "--http-host=127.0.0.1",
            f"--http-port={self.port}",
            f"--hostname={self.url}",
            "--import-realm",
        ]

    # -- life cycle -----------------------------------------------------------------------------

    def _prepare_home(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.run_dir, 0o700)  # the database and the admin password live here
        home = run_home(self.distribution.home, self.home)
        if not (home / "data" / "h2").is_dir():
            shutil.copytree(self.distribution.template / "h2", home / "data" / "h2")
            shutil.copy2(self.distribution.template / "admin.json", self.run_dir / "admin.json")
            os.chmod(self.run_dir / "admin.json", 0o600)
        imports = home / "data" / "import"
        shutil.rmtree(imports, ignore_errors=True)
        imports.mkdir()
        for path in self.realm_files:
            shutil.copyfile(path, imports / path.name)

    def start(self, timeout: float = START_TIMEOUT) -> KeycloakServer:
        """Start Keycloak and wait until every imported realm answers its discovery document.

        Raises
        ------
        KeycloakError
            When the port is taken, or Keycloak exits or does not answer within ``timeout`` [s];
            the message ends with the tail of its log.
        """
        if self.running:
            return self
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", self.port))
            except OSError:
                raise KeycloakError(f"port {self.port} on 127.0.0.1 is already in use") from None
        self._prepare_home()
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_file, "ab")  # noqa: SIM115 - closed in stop()
        env = self.distribution.java_env()
        env.update(self.env)
        t0 = time.monotonic()
        self._proc = subprocess.Popen(
            self.command(),
            env=env,
            cwd=self.home,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        deadline = t0 + timeout
        pending = list(self.realms or ["master"])
        last = "no answer yet"
        while pending:
            if self._proc.poll() is not None:
                code = self._proc.returncode
                self.stop()
                raise KeycloakError(f"Keycloak exited with status {code} while starting\n{self.log_tail()}")
            try:
                r = requests.get(f"{self.issuer(pending[0])}/.well-known/openid-configuration", timeout=5)
                if r.status_code == 200:
                    pending.pop(0)
                    continue
                last = f"HTTP {r.status_code}"
            except requests.RequestException as exc:
                last = type(exc).__name__
            if time.monotonic() > deadline:
                self.stop()
                raise KeycloakError(
                    f"Keycloak did not answer at {self.issuer(pending[0])} within {timeout:.0f} s ({last})\n"
                    f"{self.log_tail()}"
                )
            time.sleep(0.5)
        self.start_seconds = time.monotonic() - t0
        return self

    def stop(self, timeout: float = 30.0) -> int | None:
        """Stop Keycloak: SIGTERM to its process group, then SIGKILL after ``timeout`` [s]. Idempotent."""
        proc, self._proc = self._proc, None
        code = None
        if proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                code = proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                code = proc.wait(10)
            # kc.sh may be gone while java is still finishing: wait for the whole group.
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                try:
                    os.killpg(proc.pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.1)
            else:
                os.killpg(proc.pid, signal.SIGKILL)
        if self._log is not None:
            self._log.close()
            self._log = None
        return code

    def log_tail(self, lines: int = 40) -> str:
        """Last lines of Keycloak's log."""
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def __enter__(self) -> KeycloakServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"pid={self.pid}" if self.running else "stopped"
        return f"KeycloakServer({self.url}, realms={self.realms}, {state})"
