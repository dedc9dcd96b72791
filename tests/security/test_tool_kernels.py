"""A published tool's kernel, attacked by its visitors through the real proxy, gateway and Voila
(local spawner, the gateway's kernel message filter on).

- An anonymous visitor of a public tool sends every non-widget kernel message on the page's own
  websocket, in both framings: none reaches Voila (the gateway drops and logs each), none is answered,
  no code runs (no phone call, no marker file); the widgets keep working.
- Even a tool that evaluates its visitor's input (the layer failing) runs its kernel as a uid of its
  own in a sandbox where the state directory (hub database, ``secrets/``) is out of reach.
- The gateway's own pages and Voila's carry a CSP, ``nosniff`` and a frame policy; what users
  supplied is text; in Chromium the tool works under that CSP and an ``onerror=`` a careless widget
  lets into the page does not run.
"""

from __future__ import annotations

import os
import re
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
import requests

from tests.e2e.harness import Workbench
from tests.e2e.test_browser_login import CHROMIUM, CHROMIUM_ARGS
from tests.security import attacks
from tests.security.tools import MARKUP_TITLE
from tests.security.visitor import V1, KernelSocket, PhoneHome, render
from tests.support import need
from workbench.apps.launch_local import tool_uid
from workbench.settings import Settings

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ESCAPED_TITLE = "Probe &lt;b id=&#34;markup&#34;&gt;bold&lt;/b&gt; &amp; &#34;quoted&#34;"


def hub_log(wb: Workbench) -> str:
    return (wb.state_dir / "logs" / "hub.log").read_text(errors="replace")


@pytest.fixture()
def phone() -> Iterator[PhoneHome]:
    listener = PhoneHome()
    yield listener
    listener.close()


def evaluate(ks: KernelSocket, ids: dict[str, str], expression: str) -> str:
    """Have the probe-eval tool's kernel evaluate ``expression`` (as its visitor can); its answer."""
    # A comment makes every text new, so the widget reports it even when asked the same twice.
    ks.set_widget(ids["expression"], value=f"{expression}  # {uuid.uuid4().hex}")
    return str(ks.widget_value(ids["result"])).split(": ", 1)[1]


@pytest.mark.parametrize("protocol", [V1, None], ids=["v1-binary", "legacy-json"])
def test_only_widget_messages_reach_a_public_tools_kernel(
    local_wb: Workbench, phone: PhoneHome, protocol: str | None
) -> None:
    wb = local_wb
    marker = wb.markers / f"attack-{uuid.uuid4().hex}"  # type: ignore[attr-defined]
    offset = len(hub_log(wb))
    page = render(wb.url, "probe-widgets")  # anonymous
    ids = page.probe
    ks = KernelSocket.open(wb.url, page, protocol=protocol)
    try:
        assert ks.kernel_info()["content"]["status"] == "ok"
        sent = attacks.launch(ks, phone, marker)
        attacks.assert_nothing_ran(ks, sent, phone, marker)
        # The page's own traffic still passes: a choice in the dropdown changes the kernel's label.
        ks.set_widget(ids["level"], index=0)  # a selection widget syncs its index
        assert ks.widget_value(ids["chosen"]) == "chosen G1"
    finally:
        ks.close()
    log = hub_log(wb)[offset:]
    for label in sent:
        assert f"dropped a visitor's kernel message ({label})" in log, label
    assert "dropped a visitor's kernel message (unreadable frame" in log
    # The gateway dropped them before Voila: Voila's own allowlist never saw them.
    assert "which is not allowed" not in log


def test_the_attack_code_would_have_left_its_marks(local_wb: Workbench, phone: PhoneHome) -> None:
    """The control of the test above: the same code, run by a kernel that does evaluate its visitor's
    input, connects to the listener and writes the marker (so their absence there means something)."""
    wb = local_wb
    marker = wb.markers / f"control-{uuid.uuid4().hex}"  # type: ignore[attr-defined]
    page = render(wb.url, "probe-eval")
    ks = KernelSocket.open(wb.url, page)
    try:
        code = attacks.payload(phone, marker).replace("; ", ", ")
        assert evaluate(ks, page.probe, f"({code})") == "(5, None)"
    finally:
        ks.close()
    deadline = time.monotonic() + 10
    while not phone.calls and time.monotonic() < deadline:
        time.sleep(0.1)
    assert phone.calls == [b"pwned"] and marker.read_text() == "pwned"


def _sandbox_possible() -> bool:
    return os.geteuid() == 0 and os.uname().sysname == "Linux"


def test_a_tools_kernel_cannot_read_the_hubs_secrets_or_database(local_wb: Workbench) -> None:
    """Asked through a widget that evaluates its input, the kernel of a public tool runs as the tool's
    own uid, sees an empty, closed state directory, and holds no credential."""
    need(_sandbox_possible(), "the hub running as root on Linux (tests and CI do) to sandbox local tools")
    wb = local_wb
    settings = Settings.from_env(wb.env)
    state = wb.state_dir
    assert (state / "secrets" / "admin_api_token").exists() and (state / "jupyterhub.sqlite").exists()
    page = render(wb.url, "probe-eval")
    ks = KernelSocket.open(wb.url, page)
    try:
        ids = page.probe
        ask = lambda expression: evaluate(ks, ids, expression)  # noqa: E731
        uid = tool_uid(settings.apps_uid_base, state, "probe-eval")
        assert ask(
            "__import__('os').getuid(), __import__('os').getgid(), __import__('os').getgroups()"
        ) == repr((uid, uid, []))
        for path in (state / "secrets" / "admin_api_token", state / "jupyterhub.sqlite", state / "secrets"):
            answer = ask(f"open({str(path)!r}, 'rb').read()")
            assert answer.startswith(("PermissionError", "FileNotFoundError", "IsADirectoryError")), answer
        assert ask(f"__import__('os').listdir({str(state)!r})").startswith("PermissionError")
        # The hub's and the gateway's environments (their tokens) are not readable either.
        gateway = next(
            p
            for p in psutil.process_iter(["cmdline"])
            if "workbench.apps.gateway" in " ".join(p.info["cmdline"] or [])
        )
        assert ask(f"open('/proc/{gateway.pid}/environ').read()").startswith("PermissionError")
        leaked = ask(
            "sorted(k for k in __import__('os').environ if any(w in k for w in ('JUPYTERHUB', 'TOKEN', 'SECRET', 'DB_URL')))"
        )
        assert leaked == "[]", leaked
        assert (
            ask("[l for l in open('/proc/self/status') if l.startswith('NoNewPrivs')]")
            == "['NoNewPrivs:\\t1\\n']"
        )
        # What the tool needs stays readable: its folder and the data.
        assert ask("open('app.yaml').read().startswith('title:')") == "True"
        assert ask(f"len(__import__('os').listdir({str(settings.data_dir)!r})) > 0") == "True"
    finally:
        ks.close()
    voila = [
        p
        for p in psutil.process_iter(["cmdline", "uids"])
        if "/probe-eval" in " ".join(p.info["cmdline"] or [])
    ]
    assert voila and {p.info["uids"].real for p in voila} == {uid}


def csp_of(r: requests.Response) -> dict[str, str]:
    """The response's one Content-Security-Policy, by directive."""
    csp = r.headers["Content-Security-Policy"]
    assert csp.count("default-src") == 1, csp  # one policy (two headers would be joined by requests)
    return dict(d.strip().split(" ", 1) for d in csp.split(";"))


def _security_headers(r: requests.Response, *, own: bool) -> None:
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Referrer-Policy"] == "same-origin"
    csp = csp_of(r)
    if own:  # the gateway's pages: no script at all, never framed
        assert csp["default-src"] == "'none'" and "script-src" not in csp
        assert csp["frame-ancestors"] == "'none'" and r.headers["X-Frame-Options"] == "DENY"
    else:  # Voila's: scripts from the origin or with the response's nonce only
        assert re.fullmatch(r"'self' 'nonce-[\w-]+'", csp["script-src"]), csp["script-src"]
        assert csp["object-src"] == "'none'" and csp["connect-src"] == "'self'"
        assert csp["frame-ancestors"] == "'self'" and r.headers["X-Frame-Options"] == "SAMEORIGIN"


def test_gateway_pages_show_user_supplied_text_as_text_with_security_headers(local_wb: Workbench) -> None:
    wb = local_wb
    # The refusal page: a token the hub issued before its user's groups were taken away passes the
    # hub's check of the service (every user may reach a logged-in tool) and is refused by the gateway.
    assert wb.api("POST", "/users/nogroup").status_code in {201, 409}
    r = wb.api("POST", "/users/nogroup/tokens", json={"note": "refusal page", "expires_in": 600})
    assert r.status_code == 201, r.text
    token = r.json()["token"]
    r = requests.get(
        f"{wb.url}/services/probe-members/", headers={"Authorization": f"token {token}"}, timeout=120
    )
    assert r.status_code == 403 and "workbench-app-refused" in r.text
    assert ESCAPED_TITLE in r.text and MARKUP_TITLE not in r.text and 'id="markup"' not in r.text
    _security_headers(r, own=True)
    # The busy page: a second visitor while the only one's page renders.
    first: dict[str, requests.Response] = {}
    thread = threading.Thread(
        target=lambda: first.update(r=requests.get(f"{wb.url}/services/probe-busy/", timeout=240))
    )
    thread.start()
    try:
        time.sleep(1.5)
        busy = requests.get(f"{wb.url}/services/probe-busy/", timeout=240)
    finally:
        thread.join(240)
    assert first["r"].status_code == 200
    assert busy.status_code == 503 and "workbench-app-busy" in busy.text and ESCAPED_TITLE in busy.text
    _security_headers(busy, own=True)
    # An error page (a path Voila is never asked for).
    missing = requests.get(f"{wb.url}/services/probe-widgets/voila/tree/%3Cscript%3E", timeout=60)
    assert missing.status_code == 404 and "<script" not in missing.text
    _security_headers(missing, own=True)


def test_voila_pages_get_the_csp_and_every_script_tag_its_nonce(local_wb: Workbench) -> None:
    wb = local_wb
    r = requests.get(f"{wb.url}/services/probe-widgets/", timeout=240)
    assert r.status_code == 200
    _security_headers(r, own=False)
    # The hub's navigation opens the page; a public tool's visitor is not identified: offered the login.
    assert r.text.count('id="workbench-nav"') == 1 and 'id="workbench-login"' in r.text
    nonce = re.search(r"'nonce-([\w-]+)'", r.headers["Content-Security-Policy"]).group(1)  # type: ignore[union-attr]
    tags = re.findall(r"<script\b[^>]*>", r.text, re.I)
    assert tags and all(f'nonce="{nonce}"' in t for t in tags), [t for t in tags if nonce not in t]
    asset = requests.get(f"{wb.url}/services/probe-widgets/voila/static/voila.js", timeout=60)
    assert asset.status_code == 200
    assert asset.headers["X-Content-Type-Options"] == "nosniff" and "Content-Security-Policy" in asset.headers
    again = requests.get(f"{wb.url}/services/probe-widgets/", timeout=240)
    assert re.search(r"'nonce-([\w-]+)'", again.headers["Content-Security-Policy"]).group(1) != nonce  # type: ignore[union-attr]


@pytest.mark.browser
def test_tool_works_in_chromium_under_the_csp_which_stops_injected_handlers(
    local_wb: Workbench, tmp_path: Path
) -> None:
    need(Path(CHROMIUM).exists(), f"Chromium at {CHROMIUM} (Debian package chromium)")
    from playwright.sync_api import sync_playwright

    wb = local_wb
    offset = len(hub_log(wb))
    console: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
            page.on("pageerror", lambda e: console.append(f"pageerror: {e}"))
            page.goto(f"{wb.url}/services/probe-widgets/", timeout=240_000)
            page.wait_for_selector("select", timeout=240_000)
            # A widget round trip through the gateway's filter: the kernel rewrites the label.
            page.select_option("select", label="G1")
            page.wait_for_function(
                "() => [...document.querySelectorAll('.widget-label')].some(e => e.innerText === 'chosen G1')",
                timeout=60_000,
            )
            # The careless echo widget puts the visitor's text into the page as HTML: the CSP stops
            # the inline handler (no 'unsafe-inline' for scripts).
            title = page.title()
            page.fill("input[type=text]", "<img id='injected' src='x' onerror=\"document.title='pwned'\">")
            page.keyboard.press("Enter")
            page.wait_for_selector("#injected", state="attached", timeout=60_000)
            time.sleep(1.0)
            assert page.title() == title != "pwned"
            page.screenshot(path=str(tmp_path / "probe-widgets.png"))
        finally:
            browser.close()
    violations = [m for m in console if "Content Security Policy" in m]
    assert any("inline event handler" in m for m in violations), console

    def expected(violation: str) -> bool:
        """The injected handler, or a file from another site (Voila's template links a CDN's icons)."""
        urls = re.findall(r"'(https?://[^']+)'", violation)
        return (
            "inline event handler" in violation or bool(urls) and not any(u.startswith(wb.url) for u in urls)
        )

    assert [m for m in violations if not expected(m)] == []  # nothing of the tool's own was refused
    assert [m for m in console if m.startswith("pageerror")] == []
    assert (
        "dropped a visitor's kernel message" not in hub_log(wb)[offset:]
    )  # the page sends only widget messages
