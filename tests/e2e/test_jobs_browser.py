"""An operator runs production jobs from the browser, offline, through the real hub, proxy and jobs service.

Debian's Chromium (Playwright) with every non-loopback host blocked (:mod:`tests.e2e.offline`) logs in
as ``operator`` through the dev IdP's form, and then, only with the pages' own forms and links:

- sees the empty jobs list say what to do, creates a job (a wrong schedule first: the API's message
  appears beside the field), lands on the job's page;
- runs it with a changed parameter (a wrong type first: the message beside that parameter), watches
  the run's status and cell progress change in the page, opens its log, report and recorded values;
- starts a second, long run and cancels it from the page; edits the job's schedule;
- every page (hub home, jobs list, job page, run page, an error page) carries the hub's navigation
  (home, the user, logout), the workbench's name and a meaningful title; a published tool shows its
  title in the tab and takes Font Awesome from the hub; no request leaves the machine.

Screenshots of every page go to ``WORKBENCH_TEST_SCREENSHOTS`` (default: a pytest temporary folder).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import WORKBENCH, Workbench, start_workbench
from tests.e2e.jobs_support import WB_START_S, User
from tests.e2e.offline import OfflineGuard, offline_args
from tests.e2e.test_browser_login import CHROMIUM, CHROMIUM_ARGS
from tests.support import ROOT, need, need_executable, reachable_dir
from tests.workbench.jobs.conftest import write_tiny

pytestmark = [pytest.mark.integration, pytest.mark.browser, pytest.mark.slow]

PAGE_MS = 120_000
"""A page or an answer of the jobs service on a loaded 2-core machine [ms]."""
RENDER_MS = 240_000
"""A tool's first render on a loaded 2-core machine [ms]."""
TOOL, TOOL_TITLE = "geomagnetic-storms", "Geomagnetic storms"
"""The published tool the test opens (public: no policy in the way)."""
RUN_MS = 300_000
"""A few-second run, from the click to its end, on a loaded machine [ms]."""


@pytest.fixture(scope="module")
def wb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workbench]:
    need_executable("node")
    need(Path(CHROMIUM).exists(), f"Chromium at {CHROMIUM} (Debian package chromium)")
    work = reachable_dir("s2p-jobs-browser-")
    notebooks = work / "notebooks"
    write_tiny(notebooks / "test" / "tiny.ipynb")
    os.chmod(notebooks, 0o755)
    os.chmod(notebooks / "test", 0o755)
    apps = tmp_path_factory.mktemp("apps") / "voila-apps"
    shutil.copytree(ROOT / "voila-apps" / TOOL, apps / TOOL)
    env = {
        "WORKBENCH_JOBS_NOTEBOOKS_DIR": str(notebooks),
        "WORKBENCH_JOBS_WORK_DIR": str(work / "runs"),
        "WORKBENCH_JOBS_EXECUTOR": "local",
        "WORKBENCH_APPS_DIR": str(apps),
    }
    workbench = start_workbench(tmp_path_factory.mktemp("state"), env, timeout=WB_START_S)
    yield workbench
    assert workbench.stop() == 0, workbench.log_tail()
    shutil.rmtree(work, ignore_errors=True)


@pytest.fixture()
def browser_page(wb: Workbench) -> Iterator[tuple[Any, OfflineGuard]]:
    from playwright.sync_api import sync_playwright

    guard = OfflineGuard()
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS + offline_args())
        context = guard.attach(chromium.new_context(viewport={"width": 1280, "height": 1000}))
        page = context.new_page()
        page.set_default_timeout(PAGE_MS)
        yield page, guard
        context.close()
        chromium.close()


def _has_the_hub_navigation(page: Any, user: str) -> None:
    nav = page.locator("#workbench-nav")
    assert nav.count() == 1, page.url
    assert "S2P Workbench" in nav.inner_text()
    assert page.inner_text("#workbench-user") == user
    assert page.get_attribute("#workbench-logout", "href") == "/hub/logout"
    assert page.locator("#workbench-nav a[href='/hub/home']").count() >= 1
    assert page.title().endswith("· S2P Workbench"), page.title()


def _log_in(page: Any, wb: Workbench, user: str) -> None:
    """Through the IdP's own form, as a person does (the demo realm's password is ``dev-<user>``)."""
    page.goto(f"{wb.url}/hub/login")
    page.wait_for_selector("form#kc-form-login")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", f"dev-{user}")
    page.click("#kc-login")


def _shot(page: Any, folder: Path, name: str) -> None:
    page.screenshot(path=str(folder / f"jobs-{name}.png"), full_page=True)


def _cells(text: str) -> tuple[int, int]:
    """(done, total) from a run's progress cell, ``3/5 cells``."""
    match = re.search(r"([0-9]+)/([0-9]+) cells", text)
    assert match, text
    return int(match.group(1)), int(match.group(2))


def test_an_operator_runs_a_job_from_the_browser(
    wb: Workbench, browser_page: tuple[Any, OfflineGuard], screenshots: Path
) -> None:
    page, guard = browser_page
    _log_in(page, wb, "operator")
    page.wait_for_url("**/hub/home")
    _shot(page, screenshots, "00-hub-home")
    assert page.locator("a[href='/hub/logout']").count() >= 1 and "operator" in page.inner_text("body")

    # The list: empty, and it says what to do.
    page.goto(f"{wb.url}/services/jobs/")
    page.wait_for_selector("#jobs-empty")
    _has_the_hub_navigation(page, "operator")
    assert page.title() == "Production jobs · S2P Workbench"
    assert "Create the first one below" in page.inner_text("#jobs-empty")
    _shot(page, screenshots, "01-list-empty")

    # Create: a wrong schedule is refused, the API's words beside the field; then right.
    page.fill("#f-name", "browser-tiny")
    page.select_option("#f-notebook", "test/tiny.ipynb")
    page.select_option("#f-segment", "swe")
    page.fill("#f-schedule", "every morning")
    page.click("#create-job")
    error = page.locator("#create-form [data-error-for=schedule]")
    error.wait_for(state="visible")
    assert "invalid schedule 'every morning'" in error.inner_text()
    _shot(page, screenshots, "02-create-refused")
    page.fill("#f-schedule", "30 6 * * *")
    page.fill("#f-description", "a job made in the browser")
    page.click("#create-job")
    page.wait_for_url("**/services/jobs/jobs/browser-tiny?created=1")
    page.wait_for_selector("#runs-empty:not([hidden])")
    _has_the_hub_navigation(page, "operator")
    assert page.title() == "browser-tiny · S2P Workbench"
    assert "created" in page.inner_text("#job-notice")
    assert "06:30" in page.inner_text("#job-facts")
    # The run form is the notebook's parameters cell: typed inputs, defaults, help.
    assert page.get_attribute("#p-count", "type") == "number" and page.input_value("#p-count") == "3"
    assert page.get_attribute("#p-fail", "type") == "checkbox"
    assert page.input_value("#p-label") == "tiny"
    assert "how long the notebook sleeps" in page.inner_text("#run-form")
    _shot(page, screenshots, "03-job-new")

    # Run with a changed parameter: a wrong type first (the API's message beside it), then right.
    page.fill("#p-count", "2.5")
    page.click("#run-job")
    error = page.locator("#run-form [data-error-for=count]")
    error.wait_for(state="visible")
    assert "parameter count: expected int" in error.inner_text()
    _shot(page, screenshots, "04-run-refused")
    page.fill("#p-count", "4")
    page.fill("#p-label", "from-the-browser")
    page.fill("#p-seconds", "8")
    page.click("#run-job")
    page.wait_for_selector("tr[data-run]")
    run_id = int(str(page.get_attribute("tr[data-run]", "data-run")))
    row = f"tr[data-run='{run_id}']"
    # Live: the row changes as the run goes (queued, running with its cells' progress, succeeded),
    # without reloading the page.
    page.wait_for_selector(f"{row}[data-status=running] progress", timeout=RUN_MS)
    done, total = _cells(page.inner_text(f"{row} .run-progress"))
    assert 0 <= done < total, (done, total)
    _shot(page, screenshots, "05-run-progress")
    page.wait_for_selector(f"{row}[data-status=succeeded]", timeout=RUN_MS)
    done, total = _cells(page.inner_text(f"{row} .run-progress"))
    assert done == total > 0, (done, total)
    _shot(page, screenshots, "06-run-succeeded")

    # Its recorded values, log and report, through the page's links.
    with page.expect_navigation():
        page.click(f"{row} a:text('values')")
    scraps = json.loads(page.inner_text("body"))["scraps"]
    assert scraps["label"] == "from-the-browser" and scraps["squares"] == [0, 1, 4, 9]
    _shot(page, screenshots, "07-run-values-json")
    page.go_back()
    # The run's page: the hub's navigation, its values, the end of its log, its report in a frame.
    with page.expect_navigation():
        page.click(f"{row} a:text('#{run_id}')")
    _has_the_hub_navigation(page, "operator")
    assert page.title() == f"Run {run_id} of browser-tiny · S2P Workbench"
    assert "from-the-browser" in page.inner_text("#run-values")
    assert page.inner_text("#run-log").strip()
    report = page.frame_locator("#run-report")
    assert "from-the-browser" in report.locator("body").inner_text()
    _shot(page, screenshots, "07-run-page")
    page.go_back()
    with page.expect_navigation():
        page.click(f"{row} a:text('log')")
    assert page.inner_text("body").strip(), "empty log"
    _shot(page, screenshots, "08-run-log")
    page.go_back()
    with page.expect_navigation():
        page.click(f"{row} a:text('report')")
    assert "from-the-browser" in page.content()
    _shot(page, screenshots, "09-run-report")
    page.go_back()

    # A second, long run, cancelled from the page.
    page.wait_for_selector(f"{row}[data-status=succeeded]")
    page.fill("#p-seconds", "600")
    page.click("#run-job")
    page.wait_for_selector(f"tr[data-run='{run_id + 1}']")
    page.wait_for_selector(f"tr[data-run='{run_id + 1}'][data-status=running]", timeout=RUN_MS)
    _shot(page, screenshots, "10-second-run")
    started = time.monotonic()
    page.click(f"tr[data-run='{run_id + 1}'] .run-cancel")
    page.wait_for_selector(f"tr[data-run='{run_id + 1}'][data-status=cancelled]", timeout=RUN_MS)
    print(f"cancelled from the page in {time.monotonic() - started:.1f} s")
    assert "is cancelled" in page.inner_text("#job-notice")
    _shot(page, screenshots, "11-second-run-cancelled")

    # Edit the schedule; the page shows the job as the API now has it.
    page.fill("#e-schedule", "0 7 * * 1")
    with page.expect_navigation():
        page.click("#save-job")
    assert "0 7 * * 1" in page.inner_text("#job-facts")
    page.fill("#e-timeout", "0")
    page.click("#save-job")
    page.locator("#edit-form [data-error-for=timeout_s]").wait_for(state="visible")
    assert "invalid timeout 0" in page.inner_text("#edit-form [data-error-for=timeout_s]")
    _shot(page, screenshots, "12-job-edited")

    # The list now shows the job, its schedule, next and last run and status.
    page.goto(f"{wb.url}/services/jobs/")
    row_text = page.inner_text("tr[data-job='browser-tiny']")
    assert "0 7 * * 1" in row_text and "cancelled" in row_text and f"#{run_id + 1}" in row_text
    _shot(page, screenshots, "13-list")

    # An error page is a page of the workbench too.
    response = page.goto(f"{wb.url}/services/jobs/jobs/no-such-job")
    assert response is not None and response.status == 404
    _has_the_hub_navigation(page, "operator")
    assert "no job named 'no-such-job'" in page.inner_text("main")
    _shot(page, screenshots, "14-error")

    # A published tool: its title in the tab, Font Awesome from the hub, nothing from elsewhere.
    page.goto(f"{wb.url}/services/{TOOL}/", timeout=RENDER_MS)
    page.wait_for_selector("img.kp-plot", timeout=RENDER_MS)  # drawn by the tool's kernel
    assert page.title() == f"{TOOL_TITLE} · S2P Workbench", page.title()
    sheets = page.eval_on_selector_all("link[rel=stylesheet]", "links => links.map(l => l.href)")
    assert any("/hub/static/components/@fortawesome/" in h for h in sheets), sheets
    labels = page.eval_on_selector_all(
        ".widget-label",
        "ls => ls.filter(l => l.innerText.trim()).map(l => [l.innerText, l.scrollWidth <= l.clientWidth])",
    )
    assert labels and all(fits for _, fits in labels), labels  # no label cut ("Lowest le…")
    _shot(page, screenshots, "15-tool")

    # Delete it from its page.
    page.goto(f"{wb.url}/services/jobs/jobs/browser-tiny")
    page.once("dialog", lambda dialog: dialog.accept())
    with page.expect_navigation():
        page.click("#delete-job")
    page.wait_for_selector("#jobs-empty")
    guard.check()


def test_a_user_in_no_group_is_refused_and_shown_the_public_tools(
    wb: Workbench, browser_page: tuple[Any, OfflineGuard], screenshots: Path
) -> None:
    page, guard = browser_page
    _log_in(page, wb, "nogroup")
    page.wait_for_selector("#workbench-refusal")
    tools = page.locator("#workbench-public-tools li[data-tool]")
    assert tools.count() == 1 and tools.get_attribute("data-tool") == TOOL
    assert tools.inner_text().startswith(TOOL_TITLE)
    _shot(page, screenshots, "16-refused")
    with page.expect_navigation():
        tools.locator("a").click()
    page.wait_for_selector("img.kp-plot", timeout=RENDER_MS)  # the public tool opens for them
    guard.check()


def test_a_scientist_opens_jupyterlab_and_nothing_leaves_the_machine(
    wb: Workbench, browser_page: tuple[Any, OfflineGuard], screenshots: Path
) -> None:
    """JupyterLab loads all its pages, extensions, fonts and a kernel from the workbench alone."""
    page, guard = browser_page
    _log_in(page, wb, "swe-scientist")
    page.wait_for_url("**/hub/home")
    page.goto(f"{wb.url}/hub/spawn", timeout=RENDER_MS)
    if page.locator("form#spawn_form").count():  # a choice of profiles: the first one
        with page.expect_navigation(timeout=RENDER_MS):
            page.click("form#spawn_form [type=submit]")
    page.wait_for_selector(".jp-LauncherCard", timeout=RENDER_MS)
    assert "/user/swe-scientist/lab" in page.url, page.url
    _shot(page, screenshots, "17-jupyterlab")
    # A notebook with a kernel: its page, the kernel's websocket, the editor's assets.
    page.locator(".jp-LauncherCard[data-category='Notebook']").first.click()
    page.wait_for_selector(".jp-NotebookPanel", timeout=PAGE_MS)
    page.wait_for_function(  # the notebook's kernel has started and answers, through the proxy
        """async () => {
            const r = await fetch('/user/swe-scientist/api/kernels');
            const kernels = r.ok ? await r.json() : [];
            return kernels.some(k => k.execution_state === 'idle');
        }""",
        timeout=RENDER_MS,
        polling=1000,
    )
    _shot(page, screenshots, "18-jupyterlab-notebook")
    assert guard.requests > 20  # the lab's own assets went through the guard
    guard.check()


def _workbench(wb: Workbench, home: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**wb.env, "HOME": str(home)}
    env.pop("WORKBENCH_TOKEN", None)
    argv = [str(WORKBENCH), *args]
    return subprocess.run(argv, env=env, input=stdin, capture_output=True, text=True, timeout=300)


def test_workbench_login_credits_the_commands_runs_to_the_person(wb: Workbench, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    # Without a login, the automation token acts, and the command says whose it is.
    r = _workbench(wb, home, "jobs", "list")
    assert r.returncode == 0 and "acting as service:workbench-admin" in r.stderr, r.stderr
    # A token that is not the hub's, and a service's token, are refused; nothing is kept.
    r = _workbench(wb, home, "login", "--url", wb.url, "--token-stdin", stdin="not-a-token\n")
    assert r.returncode == 1 and "does not accept this token" in r.stderr, r.stderr
    r = _workbench(wb, home, "login", "--url", wb.url, "--token-stdin", stdin=wb.admin_token + "\n")
    assert r.returncode == 1 and "not a person's" in r.stderr, r.stderr
    kept = home / ".config" / "s2p-workbench" / "login.json"
    assert not kept.exists()
    # The operator's own token (logged in through the IdP, a token as the hub's Token page makes it).
    operator = User(wb, "operator")
    r = _workbench(wb, home, "login", "--url", wb.url, "--token-stdin", stdin=operator.token + "\n")
    assert r.returncode == 0 and "as operator" in r.stdout, r.stderr
    assert kept.stat().st_mode & 0o777 == 0o600 and kept.parent.stat().st_mode & 0o777 == 0o700
    r = _workbench(
        wb, home, "jobs", "create", "cli-tiny", "--segment", "swe", "--notebook", "test/tiny.ipynb"
    )
    assert r.returncode == 0, r.stderr + r.stdout
    r = _workbench(wb, home, "jobs", "--json", "run", "cli-tiny")
    assert r.returncode == 0 and "workbench-admin" not in r.stderr, r.stderr
    run = json.loads(r.stdout)
    assert run["requested_by"] == "operator" and run["trigger"] == "cli", run
    r = _workbench(wb, home, "logout")
    assert r.returncode == 0 and not kept.exists()
    r = _workbench(wb, home, "jobs", "delete", "cli-tiny")
    assert r.returncode == 0 and "acting as service:workbench-admin" in r.stderr, r.stderr
