"""Multi-process test harness: a real ``workbench up`` (IdP + hub + proxy) driven like a user would.

Nothing here is mocked: the harness runs the ``workbench up`` command as a subprocess on free ports of
127.0.0.1 in a temporary state directory, logs users in through the IdP's real redirect flow with an
HTTP client, starts and stops their servers through the hub's REST API, and runs code in a kernel
through the server's REST and websocket API.

Stable API (other test packages build on it)::

    from tests.e2e.harness import start_workbench, start_idp, free_ports

    with start_workbench(tmp_path, env={"WORKBENCH_SPAWNER": "docker"}) as wb:   # or wb = ...; wb.stop()
        login = wb.login("swe-scientist", "dev-swe-scientist")   # Login: .ok, .session, .response
        assert wb.user("swe-scientist")["groups"] == ["swe"]    # hub REST API, admin service token
        wb.start_server("swe-scientist")                        # polls until ready; returns its URL
        out = wb.run_code("swe-scientist", "print(1 + 1)")      # stdout (+ text/plain results)
        wb.stop_server("swe-scientist")
        wb.api("GET", "/users")                                 # any hub API call -> requests.Response
        wb.processes()                                          # psutil.Process of everything it runs
        wb.stop(sig=signal.SIGINT)                              # as Ctrl-C; returns the exit code

``start_workbench(state_dir, env=None, *, realm_file=None, ports=None, timeout=120)``
    ``env``: extra ``WORKBENCH_*`` variables (the harness fills the four ports and the state
    directory unless given). With ``WORKBENCH_AUTH=keycloak`` no IdP is started: pass the issuer and
    client secret of one started with :func:`start_idp` (its redirect URI must name the hub's port:
    choose ``ports`` first with :func:`free_ports`).
``start_idp(realm_file, state_dir, *, hub_url, client_secret, client_id="workbench", realm=None)``
    A dev IdP (``workbench.devidp.DevIdP``) accepting ``hub_url``'s callback; stop it with ``.stop()``.
``login_via_idp(hub_url, username, password)``, ``login_via_partner(hub_url, alias, username, password)``
    The redirect flow through the IdP's form (dev IdP or Keycloak), or through Keycloak's button for
    a brokered partner IdP and that IdP's form.
``browser_session()``
    A ``requests.Session`` that keeps cookies as a browser does on http://127.0.0.1 (Keycloak sets
    ``Secure`` cookies there, which browsers accept on loopback and plain ``requests`` would drop).

The identity tests run against both IdPs with the same code: :mod:`tests.e2e.idps`.

A test workbench publishes no tools unless its settings name ``WORKBENCH_APPS_DIR`` (each tool starts a
Voila and pre-heats a kernel): pass ``{"WORKBENCH_APPS_DIR": str(SHIPPED_TOOLS)}`` for the shipped ones.
"""

from __future__ import annotations

import contextlib
import http.cookiejar
import ipaddress
import json
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import psutil
import requests

from tests.support import ROOT, free_port

WORKBENCH = ROOT / ".venv" / "bin" / "workbench"
LOGIN_FORM_ID = "kc-form-login"

# Bounds of the waits, generous for a 2-core machine shared by other work [s].
START_TIMEOUT = 240.0
SPAWN_TIMEOUT = 180.0
STOP_TIMEOUT = 60.0
KERNEL_TIMEOUT = 120.0


class HarnessError(AssertionError):
    """Something the harness waited for did not happen; the message carries the relevant log tail."""


# ------------------------------------------------------------------------------------------------
# ports


@dataclass(frozen=True)
class Ports:
    """The four TCP ports of one workbench on 127.0.0.1."""

    hub: int
    hub_api: int
    proxy_api: int
    idp: int

    def env(self) -> dict[str, str]:
        return {
            "WORKBENCH_HUB_PORT": str(self.hub),
            "WORKBENCH_HUB_API_PORT": str(self.hub_api),
            "WORKBENCH_PROXY_API_PORT": str(self.proxy_api),
            "WORKBENCH_IDP_PORT": str(self.idp),
        }


def free_ports() -> Ports:
    """Four distinct free ports."""
    chosen: set[int] = set()
    while len(chosen) < 4:
        chosen.add(free_port())
    hub, hub_api, proxy_api, idp = sorted(chosen)
    return Ports(hub, hub_api, proxy_api, idp)


# ------------------------------------------------------------------------------------------------
# the IdP's login form


class _FormParser(HTMLParser):
    """Collects the action and inputs of the form with a given id."""

    def __init__(self, form_id: str) -> None:
        super().__init__()
        self.form_id = form_id
        self.inside = False
        self.found = False
        self.action = ""
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and a.get("id") == self.form_id:
            self.inside = self.found = True
            self.action = a.get("action", "")
        elif tag == "input" and self.inside and a.get("name"):
            if a.get("type") in {"checkbox", "radio"} and "checked" not in a:
                return
            self.fields[a["name"]] = a.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False


def find_login_form(html: str) -> tuple[str, dict[str, str]] | None:
    """(action, fields) of the IdP's ``form#kc-form-login``, or None if the page has none."""
    parser = _FormParser(LOGIN_FORM_ID)
    parser.feed(html)
    return (parser.action, parser.fields) if parser.found else None


class _LinkParser(HTMLParser):
    """The ``href`` of the ``<a>`` with a given id."""

    def __init__(self, link_id: str) -> None:
        super().__init__()
        self.link_id = link_id
        self.href: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "a" and a.get("id") == self.link_id and self.href is None:
            self.href = a.get("href", "")


def find_link(html: str, link_id: str) -> str | None:
    """``href`` of ``<a id=link_id>`` (e.g. Keycloak's ``social-<alias>`` button), or None."""
    parser = _LinkParser(link_id)
    parser.feed(html)
    return parser.href


class _LoopbackSecureCookies(http.cookiejar.DefaultCookiePolicy):
    """Send ``Secure`` cookies to loopback hosts over http, as browsers treat them as secure contexts."""

    def return_ok_secure(self, cookie: http.cookiejar.Cookie, request: Any) -> bool:
        host = urlsplit(request.get_full_url()).hostname or ""
        try:
            loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
        return loopback or bool(super().return_ok_secure(cookie, request))


class BrowserSession(requests.Session):
    """A ``requests.Session`` whose cookie handling matches a browser's on http://127.0.0.1."""

    def prepare_request(self, request: requests.Request) -> requests.PreparedRequest:
        prepared = super().prepare_request(request)
        # requests copies the cookies into a jar with the default policy: redo the header with ours,
        # and keep our jar for the redirects it follows (resolve_redirects reuses it).
        jar = requests.cookies.RequestsCookieJar()
        jar.set_policy(_LoopbackSecureCookies())
        jar.update(prepared._cookies)  # type: ignore[attr-defined]
        prepared._cookies = jar  # type: ignore[attr-defined]
        prepared.headers.pop("Cookie", None)
        prepared.prepare_cookies(jar)
        return prepared


def browser_session() -> requests.Session:
    """A fresh :class:`BrowserSession`."""
    return BrowserSession()


@dataclass
class Login:
    """Outcome of a login through the redirect flow."""

    session: requests.Session
    response: requests.Response
    """The last page: the hub's home page, the IdP's form again (wrong password) or a refusal."""

    @property
    def ok(self) -> bool:
        return self.response.status_code == 200 and "/hub/" in urlsplit(self.response.url).path

    @property
    def on_idp_form(self) -> bool:
        return find_login_form(self.response.text) is not None


def login_via_idp(
    hub_url: str, username: str, password: str, *, session: requests.Session | None = None
) -> Login:
    """Log in at ``hub_url`` the way a browser does: follow redirects to the IdP, submit its form.

    Returns
    -------
    Login
        Whatever page the flow ends on; a test asserts on it (``.ok``, status code, text).
    """
    s = session or browser_session()
    r = s.get(f"{hub_url}/hub/login", timeout=30)
    form = find_login_form(r.text)
    if form is None:
        if r.status_code == 200 and "/hub/" in urlsplit(r.url).path:
            return Login(s, r)  # single sign-on: the IdP session was still valid
        raise HarnessError(f"no login form at {r.url} (HTTP {r.status_code}):\n{r.text[:2000]}")
    return submit_login_form(s, r, username, password)


def submit_login_form(s: requests.Session, page: requests.Response, username: str, password: str) -> Login:
    """Fill ``form#kc-form-login`` of ``page`` and follow the redirects it leads to."""
    form = find_login_form(page.text)
    if form is None:
        raise HarnessError(f"no login form at {page.url} (HTTP {page.status_code}):\n{page.text[:2000]}")
    action, fields = form
    fields.update({"username": username, "password": password})
    r = s.post(urljoin(page.url, action), data=fields, timeout=60)
    return Login(s, r)


def login_via_partner(
    hub_url: str, alias: str, username: str, password: str, *, session: requests.Session | None = None
) -> Login:
    """Log in at ``hub_url`` through Keycloak's button for partner ``alias``, then the partner's form.

    Keycloak's first-login pages for a brokered user (review profile…) would stop here with their
    page as ``.response``: a partner user whose claims are complete never sees one.
    """
    s = session or browser_session()
    r = s.get(f"{hub_url}/hub/login", timeout=30)
    href = find_link(r.text, f"social-{alias}")
    if href is None:
        raise HarnessError(
            f"no button for partner {alias!r} at {r.url} (HTTP {r.status_code}):\n{r.text[:2000]}"
        )
    r = s.get(urljoin(r.url, href), timeout=30)
    if find_login_form(r.text) is None:
        return Login(s, r)  # the partner's session was still valid (its single sign-on), or an error page
    return submit_login_form(s, r, username, password)


# ------------------------------------------------------------------------------------------------
# the dev IdP, when a test needs one of its own (WORKBENCH_AUTH=keycloak against it)


def start_idp(
    realm_file: Path,
    state_dir: Path,
    *,
    hub_url: str,
    client_secret: str,
    client_id: str = "workbench",
    realm: str | None = None,
    port: int | None = None,
) -> Any:
    """Start a dev IdP for a hub at ``hub_url`` (its callback is the client's redirect URI)."""
    from workbench.devidp import DevIdP

    state_dir.mkdir(parents=True, exist_ok=True)
    idp = DevIdP(
        realm_file,
        port=port,
        realm=realm,
        redirect_uris={client_id: [f"{hub_url}/hub/oauth_callback"]},
        post_logout_uris={client_id: [f"{hub_url}/hub/*"]},
        env={"WORKBENCH_OIDC_CLIENT_SECRET": client_secret},
        state_dir=state_dir,
        log_file=state_dir / "idp.log",
    )
    idp.start(timeout=30)
    return idp


# ------------------------------------------------------------------------------------------------
# kernels


class KernelError(AssertionError):
    """The code raised in the kernel (ename, evalue and traceback in the message)."""


def _execute_request(code: str, *, username: str, store_history: bool) -> tuple[str, dict[str, Any]]:
    msg_id = uuid.uuid4().hex
    msg = {
        "header": {
            "msg_id": msg_id,
            "username": username,
            "session": uuid.uuid4().hex,
            "msg_type": "execute_request",
            "version": "5.3",
            "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        },
        "parent_header": {},
        "metadata": {},
        "channel": "shell",
        "content": {
            "code": code,
            "silent": False,
            "store_history": store_history,
            "user_expressions": {},
            "allow_stdin": False,
            "stop_on_error": True,
        },
    }
    return msg_id, msg


def execute_over(
    ws: Any, code: str, deadline: float, *, username: str = "harness", store_history: bool = False
) -> tuple[str, dict[str, Any] | None]:
    """Run ``code`` on the kernel behind the websocket ``ws`` (websocket-client); return its stdout and
    results in order, and the ``error`` message's content if the code raised (None otherwise).

    Raises
    ------
    TimeoutError
        No idle status (nor error) before ``deadline`` (``time.monotonic()``).
    """
    import websocket

    msg_id, msg = _execute_request(code, username=username, store_history=store_history)
    ws.send(json.dumps(msg))
    out: list[str] = []
    while time.monotonic() < deadline:
        # Short socket timeouts: the server pings every 30 s, and websocket-client answers pings
        # inside recv(), so one long timeout would never fire if the kernel died mid-cell.
        ws.settimeout(max(0.1, min(deadline - time.monotonic(), 5.0)))
        try:
            reply = json.loads(ws.recv())
        except websocket.WebSocketTimeoutException:
            continue
        if reply.get("parent_header", {}).get("msg_id") != msg_id:
            continue
        kind, content = reply["msg_type"], reply["content"]
        if kind == "stream":
            out.append(content["text"])
        elif kind in {"execute_result", "display_data"}:
            out.append(content["data"].get("text/plain", "") + "\n")
        elif kind == "error":
            return "".join(out), content
        elif kind == "status" and content["execution_state"] == "idle":
            return "".join(out), None
    raise TimeoutError("no idle status from the kernel")


def run_in_kernel(server_url: str, token: str, code: str, *, timeout: float = KERNEL_TIMEOUT) -> str:
    """Start a kernel on a Jupyter server, run ``code``, return its output, delete the kernel.

    Output is the concatenated ``stream`` text and ``text/plain`` of results, in order.

    Raises
    ------
    KernelError
        If the code raised.
    """
    import websocket

    headers = {"Authorization": f"token {token}"}
    base = server_url.rstrip("/")
    r = requests.post(f"{base}/api/kernels", json={"name": "python3"}, headers=headers, timeout=60)
    if r.status_code != 201:
        raise HarnessError(f"starting a kernel at {base}: HTTP {r.status_code} {r.text[:500]}")
    kernel_id = r.json()["id"]
    ws_url = "ws" + base[len("http") :] + f"/api/kernels/{kernel_id}/channels"
    try:
        deadline = time.monotonic() + timeout
        ws = websocket.create_connection(ws_url, header=[f"Authorization: token {token}"], timeout=timeout)
        try:
            try:
                out, error = execute_over(ws, code, deadline)
            except TimeoutError:
                raise HarnessError(f"no idle status from kernel {kernel_id} within {timeout:.0f} s") from None
            if error is not None:
                raise KernelError(f"{error['ename']}: {error['evalue']}\n" + "\n".join(error["traceback"]))
            return out
        finally:
            ws.close()
    finally:
        requests.delete(f"{base}/api/kernels/{kernel_id}", headers=headers, timeout=30)


# ------------------------------------------------------------------------------------------------
# the workbench


@dataclass
class Workbench:
    """A running ``workbench up`` and the means to drive it. Build it with :func:`start_workbench`."""

    url: str
    state_dir: Path
    env: dict[str, str]
    ports: Ports
    process: subprocess.Popen[bytes]
    output: Path
    admin_token: str = field(repr=False)

    # -- hub API ------------------------------------------------------------------------------------

    def api(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """Call the hub REST API (``/hub/api`` + ``path``) with the admin service token."""
        headers = {"Authorization": f"token {self.admin_token}", **kwargs.pop("headers", {})}
        return requests.request(method, f"{self.url}/hub/api{path}", headers=headers, timeout=60, **kwargs)

    def user(self, name: str) -> dict[str, Any]:
        """The hub's model of a user (``groups``, ``admin``, ``servers``…)."""
        r = self.api("GET", f"/users/{name}")
        if r.status_code != 200:
            raise HarnessError(f"GET /users/{name}: HTTP {r.status_code} {r.text[:300]}")
        return dict(r.json())

    def login(self, username: str, password: str) -> Login:
        """Log a user in through the IdP (see :func:`login_via_idp`)."""
        return login_via_idp(self.url, username, password)

    def start_server(self, name: str, *, timeout: float = SPAWN_TIMEOUT) -> str:
        """Start ``name``'s server through the hub API and wait until it is ready; return its URL.

        The spawn POST may answer 201, 202, or (JupyterHub 6.1.1, spawn slower than
        ``slow_spawn_timeout``) 500 while the spawn goes on: the server state is what counts.
        """
        r = self.api("POST", f"/users/{name}/server")
        if r.status_code not in {201, 202, 400, 500}:
            raise HarnessError(f"spawn of {name}: HTTP {r.status_code} {r.text[:300]}")
        posted = time.monotonic()
        deadline = posted + timeout
        seen = False
        while time.monotonic() < deadline:
            server = self.user(name).get("servers", {}).get("")
            if server and server.get("ready"):
                return f"{self.url}{server['url']}".rstrip("/")
            if server:
                seen = True
            elif seen or time.monotonic() - posted > 10:
                # the pending server disappeared (or never appeared): the spawn failed
                raise HarnessError(
                    f"spawn of {name} failed ({r.status_code} {r.text[:300]})\n{self.log_tail()}"
                )
            time.sleep(0.5)
        raise HarnessError(f"server of {name} not ready after {timeout:.0f} s\n{self.log_tail()}")

    def stop_server(self, name: str, *, timeout: float = STOP_TIMEOUT) -> None:
        """Stop ``name``'s server through the hub API and wait until it is gone."""
        r = self.api("DELETE", f"/users/{name}/server")
        if r.status_code not in {202, 204}:
            raise HarnessError(f"stop of {name}: HTTP {r.status_code} {r.text[:300]}")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.user(name).get("servers"):
                return
            time.sleep(0.5)
        raise HarnessError(f"server of {name} still there after {timeout:.0f} s")

    def run_code(self, name: str, code: str, *, timeout: float = KERNEL_TIMEOUT) -> str:
        """Run ``code`` in a new kernel on ``name``'s running server; return its output."""
        server = self.user(name).get("servers", {}).get("")
        if not server or not server.get("ready"):
            raise HarnessError(f"{name} has no ready server")
        return run_in_kernel(f"{self.url}{server['url']}", self.admin_token, code, timeout=timeout)

    # -- process ------------------------------------------------------------------------------------

    def log_tail(self, name: str = "hub.log", lines: int = 40) -> str:
        """Last lines of a log in ``<state>/logs`` (``hub.log``, ``idp.log``) and of ``workbench up``."""
        parts = []
        for path in (self.state_dir / "logs" / name, self.output):
            if path.exists():
                text = path.read_text(errors="replace").splitlines()[-lines:]
                parts.append(f"--- {path}\n" + "\n".join(text))
        return "\n".join(parts)

    def processes(self) -> list[psutil.Process]:
        """``workbench up`` and every process descending from it (IdP, hub, proxy, servers, kernels)."""
        try:
            me = psutil.Process(self.process.pid)
            return [me, *me.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def stop(self, timeout: float = STOP_TIMEOUT, sig: int = signal.SIGTERM) -> int:
        """Signal ``workbench up`` (SIGTERM, or SIGINT as Ctrl-C does) and return its exit code.

        ``workbench up`` stops what it started; whatever it leaves is killed here after ``timeout``.
        """
        if self.process.poll() is None:
            everything = self.processes()  # the hub and the labs run in sessions of their own
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                for p in everything:
                    with contextlib.suppress(psutil.Error):
                        p.kill()
                self.process.wait(10)
                raise HarnessError(
                    f"workbench up did not stop within {timeout:.0f} s\n{self.log_tail()}"
                ) from None
        return int(self.process.returncode)

    def __enter__(self) -> Workbench:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


SHIPPED_TOOLS = ROOT / "voila-apps"
"""The published tools the project ships: ``{"WORKBENCH_APPS_DIR": str(SHIPPED_TOOLS)}`` starts them."""


def workbench_env(state_dir: Path, ports: Ports, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a test workbench: ours minus any WORKBENCH_*, then the test's settings."""
    full = {k: v for k, v in os.environ.items() if not k.startswith("WORKBENCH_")}
    full.update(ports.env())
    full["WORKBENCH_STATE_DIR"] = str(state_dir)
    full.setdefault("WORKBENCH_LOG_LEVEL", "INFO")
    full.update(env or {})
    if "WORKBENCH_APPS_DIR" not in full:
        # Lean by default: no published tools (each would start a Voila and pre-heat a kernel that runs its
        # notebook). Tests of the tools pass WORKBENCH_APPS_DIR (e.g. SHIPPED_TOOLS).
        empty = Path(state_dir) / "no-tools"
        empty.mkdir(parents=True, exist_ok=True)
        full["WORKBENCH_APPS_DIR"] = str(empty)
    return full


def start_workbench(
    state_dir: Path,
    env: Mapping[str, str] | None = None,
    *,
    realm_file: Path | None = None,
    ports: Ports | None = None,
    timeout: float = START_TIMEOUT,
    args: Sequence[str] = (),
) -> Workbench:
    """Run ``workbench up [args]`` in ``state_dir`` on free ports and wait until the hub answers.

    Parameters
    ----------
    state_dir
        A fresh directory (``tmp_path``): database, secrets, logs and users' directories go there.
    env
        Extra ``WORKBENCH_*`` settings.
    realm_file
        Realm export for the dev IdP (default: the project's ``deploy/keycloak/realm-s2p.json``).
    ports
        Ports to use (default: :func:`free_ports`).
    timeout
        Seconds to wait for the hub [s].
    args
        Options of ``workbench up`` (e.g. ``--log-to-terminal``: the logs are then in ``wb.output``).
    """
    state_dir = Path(state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    ports = ports or free_ports()
    full = workbench_env(state_dir, ports, env)
    if realm_file is not None:
        full["WORKBENCH_REALM_FILE"] = str(realm_file)
    output = state_dir / "workbench-up.out"
    # A restart in the same state directory appends: look for the banner after what is there.
    offset = output.stat().st_size if output.exists() else 0
    with open(output, "ab") as out:
        proc = subprocess.Popen(
            [str(WORKBENCH), "up", *args],
            env=full,
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = full.get("WORKBENCH_PUBLIC_URL", f"http://127.0.0.1:{ports.hub}").rstrip("/")
    wb = Workbench(url, state_dir, full, ports, proc, output, admin_token="")
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise HarnessError(f"workbench up exited with code {proc.returncode}\n{wb.log_tail()}")
        # `workbench up` prints its banner once the hub answers through the proxy.
        if b"is up:" in output.read_bytes()[offset:]:
            break
        if time.monotonic() > deadline:
            wb.stop()
            raise HarnessError(f"workbench up not ready after {timeout:.0f} s\n{wb.log_tail()}")
        time.sleep(0.3)
    wb.admin_token = (state_dir / "secrets" / "admin_api_token").read_text().strip()
    return wb
