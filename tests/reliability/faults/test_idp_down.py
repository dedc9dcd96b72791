"""Fault: the IdP goes down (killed) under signed-in users, and comes back.

The hub runs against a dev IdP of the test's own (``WORKBENCH_AUTH=keycloak`` + its issuer, as against
the programme's Keycloak), so the test can kill it and start it again on the same port and state
directory. The hub refreshes tokens every ``WORKBENCH_AUTH_REFRESH_AGE`` seconds (2 here, so every
request during the outage meets a due refresh) and before each spawn: while the IdP does not answer,
:mod:`workbench.auth` keeps the user's current tokens and groups instead of asking for a login. So a
user with a session keeps the hub's pages, their lab, their kernel, and can even restart their lab; a
new login gets the hub's "sign-in is unavailable" page (HTTP 503), never the browser's connection error
or a traceback. When the IdP is back (with the sessions it kept in its state directory), new logins
work and the signed-in user's next refresh succeeds: nobody had to sign in again.
"""

from __future__ import annotations

import html
import os
import signal
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.harness import (
    Workbench,
    browser_session,
    free_ports,
    login_via_idp,
    start_idp,
    start_workbench,
)
from tests.e2e.idps import REALM_FILE
from tests.e2e.webuser import WebUser, notebook
from tests.reliability.faults.support import alive, record, wait_until
from tests.support import need_executable

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REFRESH_AGE_S = 2
"""``WORKBENCH_AUTH_REFRESH_AGE`` of the test hub [s]: a refresh is due at almost every request."""

RECOVERY_BOUND_S = 60.0
"""A new login works within this [s] of the IdP's restart."""

STOP_BOUND_S = 180.0
"""``workbench up`` stops within this [s] (60 s was not enough at a load average of 40)."""

SECRET = "idp-down-fault-client-secret-" + "x" * 8


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Workbench, Any]]:
    need_executable("node")
    root = tmp_path_factory.mktemp("idp-down")
    ports = free_ports()
    idp = start_idp(
        REALM_FILE,
        root / "idp",
        hub_url=f"http://127.0.0.1:{ports.hub}",
        client_secret=SECRET,
        port=ports.idp,
    )
    try:
        env = {
            "WORKBENCH_AUTH": "keycloak",
            "WORKBENCH_OIDC_ISSUER": idp.issuer,
            "WORKBENCH_OIDC_CLIENT_ID": "workbench",
            "WORKBENCH_OIDC_CLIENT_SECRET": SECRET,
            "WORKBENCH_AUTH_REFRESH_AGE": str(REFRESH_AGE_S),
        }
        workbench = start_workbench(root / "state", env, ports=ports)
        try:
            yield workbench, idp
        finally:
            assert workbench.stop(timeout=STOP_BOUND_S) == 0, workbench.log_tail()
    finally:
        idp.stop()


def _hub_log(wb: Workbench) -> str:
    return (wb.state_dir / "logs" / "hub.log").read_text(errors="replace")


def _home(user: WebUser) -> int:
    """Status of the hub's home page with the user's cookies (200: signed in; 302: a login asked)."""
    return user.session.get(f"{user.url}/hub/home", timeout=30, allow_redirects=False).status_code


def test_idp_down_keeps_sessions_refuses_logins_clearly_and_recovers(setup: tuple[Workbench, Any]) -> None:
    wb, idp = setup
    user = WebUser(wb.url, "neo-analyst", "dev-neo-analyst")
    user.login()
    user.start_lab()
    assert user.save_notebook("before.ipynb", notebook("x = 1", "saved before")).status_code == 201
    kernel = user.start_kernel()
    with user.kernel_socket(kernel) as ws:
        assert user.execute(ws, "state = 41; print(state)") == "41\n"

    # -- the IdP dies ------------------------------------------------------------------------------
    pid = idp.pid
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: not alive(pid), 10, "the IdP to die")
    idp.stop()  # reaps it
    down_at = time.monotonic()
    time.sleep(REFRESH_AGE_S + 0.5)  # a refresh is due

    # A user with a session keeps the hub, the lab and the kernel, and can restart the lab (a spawn
    # refreshes the tokens first).
    assert _home(user) == 200
    assert f"Keeping {user.username} signed in with their current groups" in _hub_log(wb)
    with user.kernel_socket(kernel) as ws:
        assert user.execute(ws, "print(state + 1)") == "42\n"
    assert (
        user.save_notebook("during.ipynb", notebook("y = 2", "saved while the IdP was down")).status_code
        == 201
    )
    t0 = time.monotonic()
    user.stop_lab(bound=120)
    time.sleep(REFRESH_AGE_S + 0.5)
    user.start_lab()
    lab_restart_s = time.monotonic() - t0
    assert _home(user) == 200
    assert user.read_notebook("before.ipynb")["cells"][0]["outputs"][0]["text"] == "saved before"

    # A new login gets the hub's page saying so, fast, and no traceback.
    t0 = time.monotonic()
    page = browser_session().get(f"{wb.url}/hub/login", timeout=60)
    refusal_s = time.monotonic() - t0
    text = html.unescape(page.text)
    assert page.status_code == 503, (page.status_code, page.url, text[:1000])
    assert "Sign-in is unavailable right now" in text and "already signed in" in text
    assert "Traceback" not in text and "Traceback" not in _hub_log(wb)
    outage_s = time.monotonic() - down_at

    # -- the IdP is back (same port, same state directory) -----------------------------------------
    idp.start(timeout=30)
    up_at = time.monotonic()
    other = WebUser(wb.url, "swe-scientist", "dev-swe-scientist")
    login_back_s = wait_until(
        lambda: login_via_idp(wb.url, other.username, other.password).ok, RECOVERY_BOUND_S, "a new login"
    )
    other.login()
    assert other.server() is None

    # The signed-in user's refresh succeeds again: no new login, groups read afresh from the IdP.
    log_before = len(_hub_log(wb))
    time.sleep(REFRESH_AGE_S + 0.5)
    assert _home(user) == 200
    wait_until(
        lambda: (
            f"Refreshed {user.username}: groups ['neo']" in _hub_log(wb)[log_before:] or _home(user) != 200
        ),
        RECOVERY_BOUND_S,
        "the signed-in user's refresh",
    )
    assert _home(user) == 200, "the signed-in user had to log in again after the IdP came back"
    assert (
        user.read_notebook("during.ipynb")["cells"][0]["outputs"][0]["text"] == "saved while the IdP was down"
    )
    refreshed_s = time.monotonic() - up_at
    user.stop_lab(bound=120)
    record(
        "IdP down (killed, then restarted)",
        outage_s=outage_s,
        lab_restart_during_outage_s=lab_restart_s,
        login_refusal_page_s=refusal_s,
        new_login_after_restart_s=login_back_s,
        session_refreshed_after_restart_s=refreshed_s,
        lost="nothing",
    )
