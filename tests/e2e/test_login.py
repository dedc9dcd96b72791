"""End to end: `workbench up` with each identity provider, users logging in through the real OIDC flow.

The identity suite runs twice with the same code (:mod:`tests.e2e.idps`): against the dev IdP that
`workbench up` starts, and against a real Keycloak (one per test session, the realm file imported
unchanged). Each run shares one workbench per module; a test changes a user's groups or disables the
user the way that IdP's admin would (realm file, or Keycloak's Admin REST API).

Real processes only (dev IdP in Node, Keycloak in Java, JupyterHub, configurable-http-proxy,
JupyterLab, a kernel). Tests pinned to ``dev-idp`` are about `workbench up` itself, not identity.
"""

from __future__ import annotations

import html
import json
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import psutil
import pytest
import requests

import s2p
from tests.e2e.harness import (
    WORKBENCH,
    Workbench,
    free_ports,
    login_via_idp,
    start_idp,
    start_workbench,
    workbench_env,
)
from tests.e2e.idps import REALM_FILE, IdP, realm_password
from tests.support import ROOT, need_executable
from workbench.spawners.local import EXAMPLES_DIR

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REFRESH_AGE_S = 3  # WORKBENCH_AUTH_REFRESH_AGE of the shared hub: short, so a test can wait it out
DEV_ONLY = pytest.mark.parametrize("idp", ["dev-idp"], indirect=True)  # about `workbench up`, not identity


@pytest.fixture(scope="module")
def wb(tmp_path_factory: pytest.TempPathFactory, idp: IdP) -> Iterator[Workbench]:
    state = tmp_path_factory.mktemp("state")
    workbench = idp.start_workbench(state, {"WORKBENCH_AUTH_REFRESH_AGE": str(REFRESH_AGE_S)})
    yield workbench
    code = workbench.stop()
    assert code == 0, workbench.log_tail()


def _at_idp(response: requests.Response, wb: Workbench, idp: IdP) -> bool:
    """Whether a response is a page of the IdP (its login form, an error), not of the hub."""
    return response.url.startswith(idp.issuer(wb.ports) + "/")


# ------------------------------------------------------------------------------------------------
# the identity suite: both IdPs


@pytest.mark.parametrize(
    ("username", "groups", "admin"),
    [
        ("swe-scientist", ["swe"], False),
        ("operator", ["debris", "operators"], False),
        ("admin", ["admins"], True),
    ],
)
def test_login_through_idp_gives_hub_user_the_idp_groups(
    wb: Workbench, username: str, groups: list[str], admin: bool
) -> None:
    login = wb.login(username, realm_password(username))
    assert login.ok, login.response.text[:1000]
    assert login.response.url.endswith("/hub/home")
    # The home page is the workbench's: its name, and where a newcomer starts.
    home = login.response.text
    assert "<title>S2P Workbench</title>" in home
    assert 'id="workbench-welcome"' in home and "<code>examples/</code>" in home
    assert 'id="start"' in home  # JupyterHub's own server controls are still there
    user = wb.user(username)
    assert sorted(user["groups"]) == groups
    assert user["admin"] is admin


def test_wrong_password_gets_the_idp_error(wb: Workbench, idp: IdP) -> None:
    login = wb.login("neo-analyst", "not-the-password")
    assert login.on_idp_form and _at_idp(login.response, wb, idp)
    assert "Invalid username or password." in login.response.text
    assert wb.api("GET", "/users/neo-analyst").status_code == 404


def test_user_in_no_group_gets_the_refusal_page(wb: Workbench) -> None:
    login = wb.login("nogroup", realm_password("nogroup"))
    assert login.response.status_code == 403
    page = login.response.text
    assert 'id="workbench-refusal"' in page
    assert "<title>S2P Workbench</title>" in page
    assert "<strong>nogroup</strong>" in page
    assert "Your groups:" in page and "<strong>none</strong>" in page
    assert "swe" in page and "How to get access" in page
    # The hint names each allowed group (from WORKBENCH_ALLOWED_GROUPS) with what it is for.
    assert (
        "<code>neo</code> for Planetary Defence" in page
        and "<code>operators</code> for production jobs" in page
    )
    assert wb.api("GET", "/users/nogroup").status_code == 404
    # A reload must not replay the one-time callback (a 400 "OAuth state missing"): the page shows
    # /hub/login as its URL, and visiting that again re-checks access and refuses again.
    assert 'window.history.replaceState(null, "", "/hub/login")' in page
    again = login.session.get(f"{wb.url}/hub/login", timeout=60)
    assert again.status_code == 403 and 'id="workbench-refusal"' in again.text


def test_group_removed_in_idp_is_removed_at_next_refresh(wb: Workbench, idp: IdP) -> None:
    name = "operator"
    login = wb.login(name, realm_password(name))
    assert login.ok
    assert sorted(wb.user(name)["groups"]) == ["debris", "operators"]
    try:
        idp.set_groups(name, ["operators"])
        time.sleep(REFRESH_AGE_S + 0.5)
        # Any page the user opens after auth_refresh_age refreshes the tokens and the claims.
        r = login.session.get(f"{wb.url}/hub/home", timeout=30)
        assert r.status_code == 200 and r.url.endswith("/hub/home")
        assert wb.user(name)["groups"] == ["operators"]
    finally:
        idp.set_groups(name, ["operators", "debris"])


def test_user_removed_from_every_group_loses_access_at_next_refresh(wb: Workbench, idp: IdP) -> None:
    name = "admin"
    login = wb.login(name, realm_password(name))
    assert login.ok and wb.user(name)["admin"] is True
    try:
        idp.set_groups(name, [])
        time.sleep(REFRESH_AGE_S + 0.5)
        r = login.session.get(f"{wb.url}/hub/home", timeout=30)
        # Stale auth: the hub sends the user to log in again (single sign-on: no form), which the hub
        # now refuses.
        assert r.status_code == 403, r.url
        assert 'id="workbench-refusal"' in r.text
        user = wb.user(name)
        assert user["groups"] == [] and user["admin"] is False
    finally:
        idp.set_groups(name, ["admins"])


def test_disabled_user_loses_access_at_next_refresh(wb: Workbench, idp: IdP) -> None:
    name = "neo-analyst"
    login = wb.login(name, realm_password(name))
    assert login.ok
    try:
        idp.set_enabled(name, False)
        time.sleep(REFRESH_AGE_S + 0.5)
        # The refresh is refused: the hub sends the browser back to the IdP, which does not let the
        # disabled user through (its SSO session no longer counts).
        r = login.session.get(f"{wb.url}/hub/home", timeout=30)
        assert _at_idp(r, wb, idp), r.url
        assert f"/user/{name}" not in r.text
        fresh = wb.login(name, realm_password(name))
        assert not fresh.ok and _at_idp(fresh.response, wb, idp)
        assert "Account is disabled, contact your administrator." in fresh.response.text
    finally:
        idp.set_enabled(name, True)
    assert wb.login(name, realm_password(name)).ok


def test_logout_ends_the_idp_session_so_the_next_visit_asks_for_the_password(wb: Workbench, idp: IdP) -> None:
    login = wb.login("swe-scientist", realm_password("swe-scientist"))
    assert login.ok
    # Without logout, the IdP session signs the user in again without a form (single sign-on).
    sso = login_via_idp(wb.url, "swe-scientist", "never-asked", session=login.session)
    assert sso.ok and not sso.on_idp_form
    r = login.session.get(f"{wb.url}/hub/logout", timeout=30)
    # RP-initiated logout: the hub sent the browser to the IdP's end_session_endpoint with the ID
    # token; the IdP ended its session at once and sent it back to the hub's logged-out page.
    hops = [h.url for h in r.history]
    assert any(h.startswith(f"{idp.issuer(wb.ports)}/protocol/openid-connect/logout?") for h in hops), hops
    assert r.status_code == 200 and urlsplit(r.url).path == "/hub/logout"
    assert "Successfully logged out" in r.text
    r = login.session.get(f"{wb.url}/hub/home", timeout=30, allow_redirects=False)
    assert r.status_code == 302 and "/hub/login" in r.headers["Location"]
    # The next visit asks for the password again.
    again = login.session.get(f"{wb.url}/hub/login", timeout=30)
    assert _at_idp(again, wb, idp) and 'id="kc-form-login"' in again.text


def test_client_secret_changed_at_the_idp_is_one_clear_line_at_login(wb: Workbench, idp: IdP) -> None:
    """The secret was rotated in the IdP after the hub started: the login says so, without a traceback."""
    log = wb.state_dir / "logs" / "hub.log"
    before = log.read_text()
    try:
        idp.set_client_secret("rotated-" + "r" * 24)
        login = wb.login("swe-scientist", realm_password("swe-scientist"))
        assert login.response.status_code == 502, login.response.url
        assert "The sign-in service refused this workbench's credentials" in html.unescape(
            login.response.text
        )
        assert "Traceback" not in login.response.text
    finally:
        idp.set_client_secret(None)
    new = log.read_text()[len(before) :]
    lines = [line for line in new.splitlines() if "Login failed:" in line]
    assert len(lines) == 1, new[-3000:]
    assert "refuses the hub's client credentials (WORKBENCH_OIDC_CLIENT_ID=workbench" in lines[0]
    assert "Traceback" not in new
    assert wb.login("swe-scientist", realm_password("swe-scientist")).ok


def test_wrong_client_secret_is_one_clear_line(tmp_path: Path, idp: IdP) -> None:
    """A hub whose client secret the IdP refuses does not start; the admin reads why in one line."""
    ports = free_ports()
    issuer_env = idp.env(ports)
    if idp.name == "dev-idp":
        dev = start_idp(
            idp.realm_file, tmp_path / "idp", hub_url=f"http://127.0.0.1:{ports.hub}", client_secret="s" * 32
        )
        issuer_env = {"WORKBENCH_AUTH": "keycloak", "WORKBENCH_OIDC_ISSUER": dev.issuer}
    try:
        env = workbench_env(tmp_path, ports, {**issuer_env, "WORKBENCH_OIDC_CLIENT_SECRET": "w" * 32})
        r = subprocess.run([str(WORKBENCH), "up"], env=env, capture_output=True, text=True, timeout=120)
    finally:
        if idp.name == "dev-idp":
            dev.stop()
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("workbench: the IdP http://127.0.0.1:")
    assert "refuses the hub's client credentials" in lines[0]
    assert "WORKBENCH_OIDC_CLIENT_SECRET" in lines[0] and "Clients → workbench → Credentials" in lines[0]
    assert not (tmp_path / "logs" / "hub.log").exists()


def test_unreachable_issuer_is_one_clear_line(tmp_path: Path, idp: IdP) -> None:
    ports = free_ports()
    if idp.name == "dev-idp":
        issuer = f"http://127.0.0.1:{ports.idp}/realms/s2p"  # nothing listens there
    else:
        issuer = idp.keycloak.issuer("no-such-realm")  # Keycloak answers, the realm does not exist
    env = workbench_env(
        tmp_path,
        ports,
        {
            "WORKBENCH_AUTH": "keycloak",
            "WORKBENCH_OIDC_ISSUER": issuer,
            "WORKBENCH_OIDC_CLIENT_SECRET": "s" * 32,
        },
    )
    r = subprocess.run([str(WORKBENCH), "up"], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert f"WORKBENCH_OIDC_ISSUER={issuer}" in lines[0]
    assert "/.well-known/openid-configuration" in lines[0]
    assert ("connection refused" if idp.name == "dev-idp" else "HTTP 404") in lines[0]


# ------------------------------------------------------------------------------------------------
# `workbench up` itself (one IdP is enough)


@DEV_ONLY
def test_server_starts_runs_s2p_in_a_kernel_and_stops(wb: Workbench) -> None:
    name = "debris-analyst"
    assert wb.login(name, realm_password(name)).ok
    url = wb.start_server(name)
    assert url.endswith(f"/user/{name}")
    out = wb.run_code(
        name,
        "import os, s2p\nprint(s2p.__version__)\nprint(os.getcwd())\nprint(sorted(os.listdir('examples')))",
    )
    version, cwd, examples = out.split(maxsplit=2)
    assert version == s2p.__version__
    assert Path(cwd) == wb.state_dir / "users" / name
    # A newcomer's first lab has the project's examples to open.
    assert examples.strip() == repr(sorted(p.name for p in EXAMPLES_DIR.iterdir()))
    # Offline deployment: JupyterLab's news/update plugin is disabled in the lab's page config.
    lab = requests.get(f"{url}/lab", headers={"Authorization": f"token {wb.admin_token}"}, timeout=30)
    assert lab.status_code == 200
    config = re.search(
        r'<script id="jupyter-config-data" type="application/json">(.*?)</script>', lab.text, re.S
    )
    assert config is not None, lab.text[:500]
    assert "@jupyterlab/apputils-extension:announcements" in json.loads(config.group(1))["disabledExtensions"]
    pid = wb.user(name)["servers"][""]["state"]["pid"]
    assert psutil.pid_exists(pid)
    wb.stop_server(name)
    deadline = time.monotonic() + 10
    while psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
        assert time.monotonic() < deadline, f"server process {pid} still alive after stop"
        time.sleep(0.2)
    # The proxy no longer routes to a server: the hub answers instead (a redirect to log in).
    r = requests.get(f"{url}/api/status", timeout=10, allow_redirects=False)
    assert r.status_code in {302, 403, 424, 503}, r.status_code


def _wait_gone(procs: list[psutil.Process], timeout: float = 15.0) -> list[str]:
    """Processes of ``procs`` still alive (not zombies) after ``timeout`` [s]."""
    deadline = time.monotonic() + timeout
    while True:
        alive = []
        for p in procs:
            try:
                if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                    alive.append(f"{p.pid} {' '.join(p.cmdline())[:120]}")
            except psutil.NoSuchProcess:
                pass
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.2)


@DEV_ONLY
def test_ctrl_c_stops_idp_hub_proxy_and_servers(wb: Workbench) -> None:
    """Runs last among the tests of the shared workbench: it stops it."""
    name = "swe-scientist"
    assert wb.login(name, realm_password(name)).ok
    wb.start_server(name)
    procs = wb.processes()
    names = " ".join(" ".join(p.cmdline()) for p in procs)
    for part in ("jupyterhub -f", "configurable-http-proxy", "jupyterhub-singleuser", "server.js"):
        assert part in names, f"{part} not among the processes of workbench up"
    assert wb.stop(sig=signal.SIGINT) == 0, wb.log_tail()
    assert _wait_gone(procs) == []


# ------------------------------------------------------------------------------------------------


def test_hub_configured_only_by_env_logs_in_against_another_issuer(tmp_path: Path) -> None:
    """WORKBENCH_AUTH=keycloak + issuer URL + client id/secret: as against any Keycloak-compatible IdP."""
    need_executable("node")
    ports = free_ports()
    secret = "x" * 8 + "second-idp-client-secret"
    idp = start_idp(
        REALM_FILE,
        tmp_path / "idp",
        hub_url=f"http://127.0.0.1:{ports.hub}",
        client_secret=secret,
        realm="partners",
    )
    try:
        assert idp.issuer.endswith("/realms/partners")
        assert str(ports.idp) not in idp.issuer  # a port of its own, not the one the hub would start
        env = {
            "WORKBENCH_ENV": "ire",
            "WORKBENCH_AUTH": "keycloak",
            "WORKBENCH_OIDC_ISSUER": idp.issuer,
            "WORKBENCH_OIDC_CLIENT_ID": "workbench",
            "WORKBENCH_OIDC_CLIENT_SECRET": secret,
        }
        with start_workbench(tmp_path / "state", env, ports=ports) as wb:
            login = wb.login("neo-analyst", "dev-neo-analyst")
            assert login.ok, login.response.text[:1000]
            assert wb.user("neo-analyst")["groups"] == ["neo"]
            assert "idp.log" not in {p.name for p in (wb.state_dir / "logs").iterdir()}
    finally:
        idp.stop()


def test_ope_refuses_the_dev_idp_and_starts_nothing(tmp_path: Path) -> None:
    ports = free_ports()
    env = workbench_env(tmp_path, ports, {"WORKBENCH_ENV": "ope"})
    r = subprocess.run([str(WORKBENCH), "up"], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert "WORKBENCH_ENV=ope refuses" in r.stderr
    assert "WORKBENCH_AUTH=dev-idp" in r.stderr
    assert "WORKBENCH_OIDC_CLIENT_SECRET" in r.stderr  # the generated dev secret is refused too
    assert not (tmp_path / "logs" / "hub.log").exists()
    assert not (tmp_path / "logs" / "idp.log").exists()
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{ports.hub}/hub/health", timeout=5)


def test_hub_started_directly_refuses_ope_too(tmp_path: Path) -> None:
    """`jupyterhub -f hub/jupyterhub_config.py` (no `workbench up`) applies the same refusals."""
    env = workbench_env(tmp_path, free_ports(), {"WORKBENCH_ENV": "ope"})
    r = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "jupyterhub"), "-f", str(ROOT / "hub" / "jupyterhub_config.py")],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode != 0
    assert "workbench: WORKBENCH_ENV=ope refuses this configuration" in r.stderr
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "jupyterhub.sqlite").exists()


@pytest.mark.postgres
def test_restart_on_postgres_keeps_users_groups_and_sessions(tmp_path: Path) -> None:
    """WORKBENCH_DB_URL pins the hub database; secrets are reused, so a login survives a restart."""
    from tests.postgres import postgres_server

    need_executable("node")
    with postgres_server("hub") as db_url:
        # No periodic refresh: the dev IdP forgets its refresh tokens when it restarts (Keycloak keeps
        # them), and what is checked here is the hub's own cookie secret.
        env = {"WORKBENCH_DB_URL": db_url, "WORKBENCH_AUTH_REFRESH_AGE": "0"}
        ports = free_ports()
        with start_workbench(tmp_path, env, ports=ports) as wb:
            login = wb.login("operator", "dev-operator")
            assert login.ok
            secrets_before = {p.name: p.read_text() for p in (tmp_path / "secrets").iterdir()}
        assert not (tmp_path / "jupyterhub.sqlite").exists()
        with start_workbench(tmp_path, env, ports=ports) as wb:
            assert {p.name: p.read_text() for p in (tmp_path / "secrets").iterdir()} == secrets_before
            assert sorted(wb.user("operator")["groups"]) == ["debris", "operators"]
            # Same cookie secret: the browser session from before the restart is still logged in.
            r = login.session.get(f"{wb.url}/hub/home", timeout=30)
            assert r.status_code == 200 and r.url.endswith("/hub/home")
            assert "operator" in r.text
