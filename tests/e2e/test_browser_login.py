"""A real browser (Debian's Chromium driven by Playwright) logs in through each IdP's own form.

This is the path a scientist takes: open the hub, get redirected to the login page (the dev IdP's
Keycloak-shaped one, or real Keycloak's), type the credentials, and arrive in JupyterLab; a user in no
allowed group sees the refusal page; logging out ends the IdP session, so the next visit asks for the
password again. The same code runs against both IdPs (:mod:`tests.e2e.idps`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.harness import Workbench
from tests.e2e.idps import IdP
from tests.support import need

pytestmark = [pytest.mark.integration, pytest.mark.browser, pytest.mark.slow]

CHROMIUM = os.environ.get("WORKBENCH_TEST_CHROMIUM", "/usr/bin/chromium")
# Without the background-networking flags Chromium tries to reach Google's hosts at start; the
# machine's network refuses them, so they are turned off (and the browser stays on loopback).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LAB_READY_TIMEOUT_MS = 180_000


@pytest.fixture(scope="module")
def wb(tmp_path_factory: pytest.TempPathFactory, idp: IdP) -> Iterator[Workbench]:
    with idp.start_workbench(tmp_path_factory.mktemp("state")) as workbench:
        yield workbench


@pytest.fixture()
def page(tmp_path: Path):
    need(Path(CHROMIUM).exists(), f"Chromium at {CHROMIUM} (Debian package chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context()
        yield context.new_page()
        context.close()
        browser.close()


def _login(page, wb: Workbench, username: str, password: str) -> None:
    page.goto(f"{wb.url}/hub/login")
    page.wait_for_selector("form#kc-form-login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("#kc-login")


def test_browser_login_reaches_jupyterlab(wb: Workbench, page, tmp_path: Path):
    _login(page, wb, "swe-scientist", "dev-swe-scientist")
    # The hub's home page lists the user's server (and the published tools); the user starts it.
    page.wait_for_url("**/hub/home", timeout=60_000)
    page.click("#start")
    page.wait_for_url("**/user/swe-scientist/lab**", timeout=LAB_READY_TIMEOUT_MS)
    page.wait_for_selector("#jp-main-dock-panel", timeout=LAB_READY_TIMEOUT_MS)
    page.screenshot(path=str(tmp_path / "lab.png"))
    assert "JupyterLab" in page.title()
    assert wb.user("swe-scientist")["groups"] == ["swe"]
    wb.stop_server("swe-scientist")


def test_browser_wrong_password_stays_on_the_form(wb: Workbench, idp: IdP, page):
    _login(page, wb, "debris-analyst", "not-the-password")
    page.wait_for_selector("#input-error-username")
    assert page.url.startswith(idp.issuer(wb.ports) + "/")
    assert "Invalid username or password." in page.inner_text("#input-error-username")
    assert page.locator("form#kc-form-login").count() == 1


def test_browser_logout_ends_the_idp_session(wb: Workbench, idp: IdP, page):
    _login(page, wb, "neo-analyst", "dev-neo-analyst")
    page.wait_for_url("**/hub/home", timeout=60_000)
    # Single sign-on while the IdP session lives: /hub/login goes straight back to the hub.
    page.goto(f"{wb.url}/hub/login")
    page.wait_for_url("**/hub/home", timeout=60_000)
    page.goto(f"{wb.url}/hub/logout")
    page.wait_for_selector("#logout-main", timeout=60_000)
    assert "Successfully logged out" in page.inner_text("#logout-main")
    # The IdP session ended with the hub's: the password is asked again.
    page.goto(f"{wb.url}/hub/login")
    page.wait_for_selector("form#kc-form-login", timeout=60_000)
    assert page.url.startswith(idp.issuer(wb.ports) + "/")


def test_browser_user_without_group_is_refused(wb: Workbench, page):
    _login(page, wb, "nogroup", "dev-nogroup")
    page.wait_for_load_state("networkidle")
    assert "/hub/" in page.url
    assert "kc-form-login" not in page.content()
    text = page.inner_text("body")
    assert "403" in text or "not allowed" in text.lower() or "access" in text.lower()
    assert wb.api("GET", "/users/nogroup").status_code == 404
