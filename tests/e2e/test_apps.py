"""Published Voila tools through a real ``workbench up``: hub services, access policies, rendering.

One workbench for the module, started on a copy of ``voila-apps/`` plus two test-only folders: a
broken ``app.yaml`` (left out with a logged error, the hub and the other tools keep going) and a slow
tool with ``kernels.max: 1`` (the second visitor at once gets the 503 page). The values the pages
must show are computed here with ``s2p`` from the same shipped data.
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import psutil
import pytest
import requests

from tests.e2e.harness import Workbench, find_login_form, start_workbench
from tests.e2e.test_browser_login import CHROMIUM, CHROMIUM_ARGS
from tests.support import DATA, ROOT, need, need_executable

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TOOLS = {"geomagnetic-storms", "neo-risk-list", "conjunction-viewer"}
RENDER_TIMEOUT = 180.0
"""Bound of one page render on a busy 2-core machine (a cold kernel runs the whole notebook) [s]."""

SLOW_NOTEBOOK = {
    "cells": [
        {
            "cell_type": "code",
            "execution_count": None,
            "metadata": {},
            "outputs": [],
            "source": "import time\ntime.sleep(4)\nprint('slow tool done')",
        }
    ],
    "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
    "nbformat": 4,
    "nbformat_minor": 5,
}


@pytest.fixture(scope="module")
def apps_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("apps") / "voila-apps"
    shutil.copytree(ROOT / "voila-apps", d)
    broken = d / "broken-tool"
    broken.mkdir()
    (broken / "app.yaml").write_text("title: Broken\naccess: {groups: [debris, martians]}\n")
    (broken / "app.ipynb").write_text(json.dumps(SLOW_NOTEBOOK))
    slow = d / "slow-tool"
    slow.mkdir()
    (slow / "app.yaml").write_text("title: Slow\naccess: public\nkernels: {preheat: 0, max: 1}\n")
    (slow / "app.ipynb").write_text(json.dumps(SLOW_NOTEBOOK))
    return d


@pytest.fixture(scope="module")
def wb(tmp_path_factory: pytest.TempPathFactory, apps_dir: Path) -> Iterator[Workbench]:
    need_executable("node")
    env = {"WORKBENCH_APPS_DIR": str(apps_dir)}
    with start_workbench(tmp_path_factory.mktemp("state"), env) as workbench:
        yield workbench


# The gateway adds a CSP nonce to every script tag of Voila's pages.
CELL_OUTPUT = re.compile(
    r'<script[^>]*type="application/vnd.voila.cell-output\+json"[^>]*>\s*(.*?)\s*</script>', re.S
)


def outputs(page: str) -> str:
    """A rendered Voila page with its cell outputs readable: a page rendered by a pre-heated kernel
    embeds them as JSON (HTML and stream text), a page rendered on request writes them as HTML."""
    parts = [page]
    for raw in CELL_OUTPUT.findall(page):
        output = json.loads(raw)
        parts.append(output.get("data", {}).get("text/html", "") + output.get("text", ""))
    return "\n".join(parts)


def _page_path(name: str) -> str:
    return f"/services/{name}/voila/render/app.ipynb"


def _running(wb: Workbench) -> list[tuple[str, psutil.Process]]:
    """(command line, process) of the workbench's live processes (zombies left out)."""
    found = []
    for p in wb.processes():
        try:
            found.append((" ".join(p.cmdline()), p))
        except (psutil.ZombieProcess, psutil.NoSuchProcess):
            continue
    return found


def _tool(wb: Workbench, name: str) -> str:
    return f"{wb.url}/services/{name}/"


def _get(session: requests.Session | None, url: str, **kwargs: object) -> requests.Response:
    return (session or requests.Session()).get(url, timeout=RENDER_TIMEOUT, **kwargs)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------------
# values computed here from the shipped data


def _observed_kp() -> tuple[object, float, int]:
    """(time, value) of the latest *observed* Kp and the number of storms in the observed record.

    The file ends with CelesTrak's DAILY_PREDICTED section (Kp to 2026-08-14): those values are
    predictions, not the latest Kp, and their storms are not observed storms.
    """
    from s2p import spaceweather as sw

    sw_data = sw.read_celestrak(DATA / "space_weather" / "SW-Last5Years.txt", observed_only=True)
    kp = sw_data.kp.dropna("time")
    return kp.time.values[-1], float(kp.values[-1]), len(sw.storms(kp))


def _storms_at_least(level: int) -> int:
    from s2p import spaceweather as sw

    kp = sw.read_celestrak(DATA / "space_weather" / "SW-Last5Years.txt", observed_only=True).kp.dropna("time")
    events = sw.storms(kp)
    return int((events.g_scale >= level).sum())


def _worst_pc() -> float:
    from s2p import debris

    files = sorted((DATA / "space_debris" / "cdm" / "nasa_cara").glob("*.cdm"))
    return max(debris.collision_probability(debris.read_cdm(f)) for f in files)


def _top_palermo() -> tuple[str, float, float, list[str]]:
    """ESA's top entry (designation, published and recomputed Palermo) and the entries whose recomputed
    value differs from ESA's by more than 0.5, which the tool must explain."""
    from s2p import neo

    risk = neo.read_neocc_risk_list(
        DATA / "planetary_defence" / "risk_lists" / "esa_risk_list_2026-02-03.txt"
    )
    table = neo.risk_table(risk)
    top = table.sort_values("ps_published", ascending=False).iloc[0]
    far = table[(table.ps - table.ps_published).abs() > 0.5].designation
    return str(top.designation), float(top.ps_published), float(top.ps), [str(d) for d in far]


# ------------------------------------------------------------------------------------------------


def test_hub_api_lists_every_tool_and_leaves_the_broken_one_out(wb: Workbench) -> None:
    r = wb.api("GET", "/services")
    assert r.status_code == 200
    services = r.json()
    assert TOOLS | {"slow-tool"} <= set(services)
    assert "broken-tool" not in services
    viewer = services["conjunction-viewer"]
    assert viewer["info"]["title"] == "Conjunction viewer"
    assert viewer["info"]["access"] == "groups" and viewer["info"]["groups"] == ["debris", "operators"]
    assert viewer["prefix"] == "/services/conjunction-viewer/"
    log = (wb.state_dir / "logs" / "hub.log").read_text()
    assert "tool left out:" in log and "broken-tool/app.yaml: access.groups: unknown group(s) martians" in log


def test_public_tool_renders_for_anonymous_visitors(wb: Workbench) -> None:
    when, kp, count = _observed_kp()
    assert str(when)[:10] == "2026-06-30"  # the file's last OBSERVED day, not a predicted one
    start = time.monotonic()
    r = _get(None, _tool(wb, "geomagnetic-storms"))
    elapsed = time.monotonic() - start
    assert r.status_code == 200, r.text[:500]
    assert urlsplit(r.url).path == _page_path("geomagnetic-storms")  # no login on the way
    shown = outputs(r.text)
    assert f"Latest observed Kp: <strong>{kp:.2f}</strong> at {str(when)[:16].replace('T', ' ')} UTC" in shown
    assert "Predicted by CelesTrak (not observed)" in shown
    assert f"<strong id='storm-count'>{count}</strong> storms" in shown
    print(f"geomagnetic-storms first render (pre-heated kernel): {elapsed:.2f} s")
    # Only the page, its assets and its kernel are passed on: not the folder nor its other files.
    for path in ("voila/tree", "api/contents/app.yaml", "voila/files/app.yaml", "api/kernels"):
        assert _get(None, _tool(wb, "geomagnetic-storms") + path).status_code in {403, 404}, path


def test_each_gateway_serves_its_metrics_to_the_prometheus_token_only(wb: Workbench) -> None:
    token = (wb.state_dir / "secrets" / "prometheus_api_token").read_text().strip()
    url = _tool(wb, "geomagnetic-storms") + "metrics"
    r = requests.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=RENDER_TIMEOUT)
    assert r.status_code == 200, r.text[:500]
    assert 'workbench_tool_up{tool="geomagnetic-storms"} 1.0' in r.text
    assert 'workbench_tool_dropped_messages_total{tool="geomagnetic-storms"}' in r.text
    assert requests.get(url, timeout=RENDER_TIMEOUT).status_code == 403  # a public tool, not its metrics
    login = wb.login("swe-scientist", "dev-swe-scientist")
    assert login.ok and _get(login.session, url).status_code == 403  # a user without read:metrics


def test_group_tool_sends_anonymous_visitors_to_log_in(wb: Workbench) -> None:
    r = _get(None, _tool(wb, "conjunction-viewer"), allow_redirects=False)
    assert r.status_code == 302
    assert r.headers["Location"].startswith("/hub/api/oauth2/authorize?client_id=service-conjunction-viewer")
    followed = _get(None, _tool(wb, "conjunction-viewer"))
    assert find_login_form(followed.text) is not None, followed.url  # the IdP's login page
    assert "cdm-summary" not in followed.text


def test_group_tool_refuses_a_user_outside_its_groups(wb: Workbench) -> None:
    login = wb.login("swe-scientist", "dev-swe-scientist")
    assert login.ok
    r = _get(login.session, _tool(wb, "conjunction-viewer"))
    assert r.status_code == 403
    assert "cdm-summary" not in r.text
    # Asking the gateway directly with the hub's cookie gets no further.
    again = _get(login.session, _tool(wb, "conjunction-viewer") + "voila/static/", allow_redirects=False)
    assert again.status_code in {302, 403}


def test_group_tool_renders_for_its_group(wb: Workbench) -> None:
    login = wb.login("debris-analyst", "dev-debris-analyst")
    assert login.ok
    start = time.monotonic()
    r = _get(login.session, _tool(wb, "conjunction-viewer"))
    elapsed = time.monotonic() - start
    assert r.status_code == 200, r.text[:500]
    assert urlsplit(r.url).path == _page_path("conjunction-viewer")
    assert f"<strong id='worst-pc'>{_worst_pc():.3e}</strong>" in outputs(r.text)
    print(f"conjunction-viewer first render after login (OAuth round trip included): {elapsed:.2f} s")


def test_admins_open_every_tool_as_they_act_on_every_job(wb: Workbench) -> None:
    """One rule for admins: the members of WORKBENCH_ADMIN_GROUPS reach every segment's tools, as the
    jobs service lets them act on every segment's jobs (the hub's role and the gateway's check agree)."""
    login = wb.login("admin", "dev-admin")
    assert login.ok and wb.user("admin")["admin"] is True
    r = _get(login.session, _tool(wb, "conjunction-viewer"))
    assert r.status_code == 200, r.text[:500]
    assert urlsplit(r.url).path == _page_path("conjunction-viewer")
    assert "cdm-summary" in r.text
    assert _get(login.session, _tool(wb, "neo-risk-list")).status_code == 200


def test_logged_in_tool_is_for_every_hub_user_only(wb: Workbench) -> None:
    designation, published, recomputed, far = _top_palermo()
    login = wb.login("neo-analyst", "dev-neo-analyst")
    assert login.ok
    r = _get(login.session, _tool(wb, "neo-risk-list"))
    assert r.status_code == 200, r.text[:500]
    shown = outputs(r.text)
    # The published value first, the recomputed one beside it, and every large difference explained.
    assert f"<strong id='top-object'>{designation}</strong>" in shown
    assert f"<strong id='top-ps'>{published:.2f}</strong> (ESA)" in shown
    assert f"<strong id='top-ps-s2p'>{recomputed:.2f}</strong>" in shown
    assert far and all(f"<li data-object='{d}'>" in shown for d in far)
    assert f"differs from ESA's by more than 0.5 ({len(far)} of" in shown
    anonymous = _get(None, _tool(wb, "neo-risk-list"), allow_redirects=False)
    assert anonymous.status_code == 302 and "/hub/api/oauth2/authorize" in anonymous.headers["Location"]
    # A user in no group is refused by the hub itself, so never reaches the tool.
    nogroup = wb.login("nogroup", "dev-nogroup")
    assert nogroup.response.status_code == 403
    r = _get(nogroup.session, _tool(wb, "neo-risk-list"))
    assert r.status_code == 403 and "risk-summary" not in r.text


def test_home_page_lists_the_tools_the_user_may_open(wb: Workbench) -> None:
    def listed(user: str) -> set[str]:
        login = wb.login(user, f"dev-{user}")
        assert login.ok
        page = _get(login.session, f"{wb.url}/hub/home").text
        assert 'id="workbench-tools"' in page
        return {t for t in TOOLS | {"slow-tool"} if f'data-tool="{t}"' in page}

    assert listed("swe-scientist") == {"geomagnetic-storms", "neo-risk-list", "slow-tool"}
    assert listed("operator") == TOOLS | {"slow-tool"}  # operators is one of the viewer's groups
    login = wb.login("debris-analyst", "dev-debris-analyst")
    page = _get(login.session, f"{wb.url}/hub/home").text
    assert '<a href="/services/conjunction-viewer/">Conjunction viewer</a>' in page


def test_one_visitor_too_many_gets_the_busy_page(wb: Workbench) -> None:
    first: dict[str, requests.Response] = {}
    thread = threading.Thread(target=lambda: first.update(r=_get(None, _tool(wb, "slow-tool"))))
    thread.start()
    try:
        time.sleep(1.5)  # the first page is rendering (its notebook sleeps 4 s)
        second = _get(None, _tool(wb, "slow-tool"))
    finally:
        thread.join(RENDER_TIMEOUT)
    assert first["r"].status_code == 200 and "slow tool done" in outputs(first["r"].text)
    assert second.status_code == 503
    assert "workbench-app-busy" in second.text and second.headers["Retry-After"] == "30"


def test_tool_whose_voila_dies_is_restarted_by_the_hub(wb: Workbench) -> None:
    def tool_processes() -> tuple[psutil.Process, psutil.Process]:
        voila = next(p for line, p in _running(wb) if "-m voila" in line and "/slow-tool" in line)
        return voila.parent(), voila

    gateway, voila = tool_processes()
    voila.kill()
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            new_gateway, new_voila = tool_processes()
        except StopIteration:
            new_gateway = None
        if new_gateway is not None and new_gateway.pid != gateway.pid:
            break
        time.sleep(0.5)
    else:
        pytest.fail(f"slow-tool not restarted\n{wb.log_tail(lines=30)}")
    r = _get(None, _tool(wb, "slow-tool"))
    assert r.status_code == 200 and "slow tool done" in outputs(r.text)
    assert "Voila of slow-tool exited" in (wb.state_dir / "logs" / "hub.log").read_text()


@pytest.mark.browser
def test_widget_tool_answers_through_the_gateway_websocket(wb: Workbench, tmp_path: Path) -> None:
    need(Path(CHROMIUM).exists(), f"Chromium at {CHROMIUM} (Debian package chromium)")
    from playwright.sync_api import sync_playwright

    at_least_g3, at_least_g1 = _storms_at_least(3), _storms_at_least(1)
    assert at_least_g1 > at_least_g3  # the change below must change the text
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(_tool(wb, "geomagnetic-storms"), timeout=RENDER_TIMEOUT * 1000)
            selection = page.locator("#storm-selection")
            selection.wait_for(timeout=RENDER_TIMEOUT * 1000)
            assert selection.inner_text() == f"{at_least_g3} storms of level G3 or more"
            # The dropdown is a widget: its change goes to the kernel over the websocket and the
            # kernel's new table comes back the same way.
            page.wait_for_selector("select", timeout=60_000)
            page.select_option("select", label="G1")
            page.wait_for_function(
                "t => document.querySelector('#storm-selection')?.innerText === t",
                arg=f"{at_least_g1} storms of level G1 or more",
                timeout=60_000,
            )
            page.screenshot(path=str(tmp_path / "geomagnetic-storms.png"))
        finally:
            browser.close()


def test_ctrl_c_stops_gateways_voila_servers_and_kernels(wb: Workbench) -> None:
    """Runs last: it stops the module's workbench."""
    running = _running(wb)
    lines, procs = [line for line, _ in running], [p for _, p in running]
    assert sum("workbench.apps.gateway" in line for line in lines) == 4  # the broken tool has none
    assert sum("-m voila" in line for line in lines) == 4
    assert any("ipykernel_launcher" in line for line in lines)  # pre-heated kernels
    assert wb.stop(sig=signal.SIGINT) == 0, wb.log_tail()
    deadline = time.monotonic() + 20
    alive = procs
    while alive and time.monotonic() < deadline:
        alive = [p for p in procs if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
        time.sleep(0.2)
    assert alive == [], [" ".join(p.cmdline())[:120] for p in alive]
