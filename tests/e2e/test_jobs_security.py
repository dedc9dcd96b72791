"""What a job run, a parameter or a browser page cannot do, tried through the real hub, proxy and jobs service.

One workbench for the module, with the local executor (the tests run as root here and in CI, so each
run executes as the run account), an OIDC client secret and a database URL in the service's
environment as a compose deployment has them, and a data folder of its own (a copy of the CDMs, plus a
link leading to the state's secrets):

- a run that tries to read the secrets, the databases and another user's home, and prints its
  environment, gets none of them;
- data-path parameters (``s2p.DataPath``) leading out of the data folder are refused with a 400;
- a browser session (the hub cookie) may read, and write only from the service's own pages (their
  page token, the hub's XSRF token, same origin);
- every page carries a Content-Security-Policy, ``nosniff`` and a frame policy; a report shows a
  parameter such as ``<img src=x onerror=alert(1)>`` as text in Chromium, and no script of a report
  runs even when the notebook itself displays that parameter as HTML.
"""

from __future__ import annotations

import os
import pwd
import re
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.e2e.harness import Workbench, start_workbench
from tests.e2e.jobs_support import (
    CDMS,
    SET_BY_THE_KERNEL,
    WB_START_S,
    User,
    job_notebooks,
    secret_values,
    service_process,
)
from tests.e2e.test_browser_login import CHROMIUM, CHROMIUM_ARGS
from tests.support import DATA, need, need_executable, reachable_dir
from workbench.spawners.local import seed_home

pytestmark = [pytest.mark.integration, pytest.mark.slow]

XSS = "<img src=x onerror=alert(1)>"

# The environment of a local run: what the executor gives, plus what papermill's kernel sets itself.
GIVEN = {"PATH", "HOME", "LANG", "PYTHONUNBUFFERED", "NUMBA_CACHE_DIR", "WORKBENCH_DATA_DIR"}


@pytest.fixture(scope="module")
def client_secret() -> str:
    return secrets.token_hex(24)


@pytest.fixture(scope="module")
def data_dir() -> Iterator[Path]:
    """A data folder of the module: the CARA CDMs, and ``evil`` linking to the state's secrets (set later)."""
    root = reachable_dir("s2p-jobs-data-")
    shutil.copytree(DATA / CDMS, root / CDMS)
    for d in (root, root / "space_debris", root / "space_debris" / "cdm"):
        os.chmod(d, 0o755)
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def wb(tmp_path_factory: pytest.TempPathFactory, data_dir: Path, client_secret: str) -> Iterator[Workbench]:
    need_executable("node")
    state = tmp_path_factory.mktemp("state")
    work = reachable_dir("s2p-jobs-e2e-")
    env = {
        "WORKBENCH_JOBS_NOTEBOOKS_DIR": str(job_notebooks(tmp_path_factory.mktemp("notebooks"))),
        "WORKBENCH_JOBS_WORK_DIR": str(work / "runs"),
        "WORKBENCH_JOBS_EXECUTOR": "local",
        "WORKBENCH_DATA_DIR": str(data_dir),
        # as in a compose deployment: the service's environment holds the OIDC secret and the DB URL
        "WORKBENCH_OIDC_CLIENT_SECRET": client_secret,
        "WORKBENCH_DB_URL": f"sqlite:///{state / 'jupyterhub.sqlite'}",
    }
    os.symlink(state / "secrets", data_dir / "evil")
    workbench = start_workbench(state, env, timeout=WB_START_S)
    yield workbench
    assert workbench.stop() == 0, workbench.log_tail()
    shutil.rmtree(work, ignore_errors=True)


@pytest.fixture(scope="module")
def users(wb: Workbench) -> dict[str, User]:
    return {n: User(wb, n) for n in ("operator", "neo-analyst")}


def _create(op: User, body: dict) -> None:
    r = op.call("POST", "jobs", {"segment": "neo", **body})
    assert r.status_code == 201, r.text


# ------------------------------------------------------------------------------------------------


def test_a_local_run_reads_no_secret_and_holds_no_credential(
    wb: Workbench, users: dict[str, User], client_secret: str, data_dir: Path
) -> None:
    op = users["operator"]
    state = wb.state_dir
    home = state / "users" / "swe-scientist"
    seed_home(home)  # another user's home, as the local spawner makes it
    (home / "orbit-notes.txt").write_text("private")
    service = service_process(wb)
    hub = service.parent()
    environ = Path(f"/proc/{service.pid}/environ").read_text()
    # what the run would have held before: the service's token, the OIDC secret, the database URL
    assert "JUPYTERHUB_API_TOKEN=" in environ and client_secret in environ and "WORKBENCH_DB_URL=" in environ
    forbidden = [
        *(str(p) for p in (state / "secrets").iterdir()),
        str(state / "secrets"),
        str(state / "jupyterhub.sqlite"),
        str(state / "jobs" / "jobs.sqlite"),
        str(state / "jobs" / "runs"),
        str(home),
        str(home / "orbit-notes.txt"),
        f"/proc/{service.pid}/environ",
        f"/proc/{hub.pid}/environ",
    ]
    control = str(next((data_dir / CDMS).glob("*.cdm")))  # the probe does read what it may
    _create(op, {"name": "probe", "notebook": "test/probe.ipynb", "timeout_s": 120})
    run = op.run("probe", {"targets": [*forbidden, control]})
    assert run["status"] == "succeeded", run
    scraps = op.scraps(run["id"])

    assert scraps["read"] == {**dict.fromkeys(forbidden, "PermissionError"), control: "read"}
    account = pwd.getpwnam("s2p-jobs")
    assert (scraps["uid"], scraps["gid"]) == (account.pw_uid, account.pw_gid) != (0, 0)
    assert 0 not in scraps["groups"] and scraps["cap_eff"] == "0000000000000000"
    env = scraps["env"]
    assert set(env) <= GIVEN | SET_BY_THE_KERNEL, set(env) - GIVEN - SET_BY_THE_KERNEL
    assert env["HOME"] == scraps["cwd"] and env["WORKBENCH_DATA_DIR"] == str(data_dir)
    log = op.call("GET", f"runs/{run['id']}/log").text
    assert "ENVIRONMENT {" in log  # the environment printed, as the run saw it
    for where, value in secret_values(wb, (client_secret,)).items():
        assert value not in str(env) and value not in log, f"{where} reached the run"
    assert run["provenance"]["user"] == "s2p-jobs"


def test_data_paths_leading_out_of_the_data_folder_are_refused(
    wb: Workbench, users: dict[str, User], data_dir: Path
) -> None:
    op = users["operator"]
    body = {"name": "pc-data", "segment": "debris", "notebook": "jobs/debris_pc_digest.ipynb"}
    for value, reason in (
        ("../../secrets/admin_api_token", "'..' is not allowed"),
        ("/etc/passwd", "must be relative to the data folder"),
        (str(wb.state_dir / "secrets"), "must be relative to the data folder"),
        ("evil", "leads outside the data folder"),  # a link in the data folder to <state>/secrets
        ("evil/admin_api_token", "leads outside the data folder"),
        ("space_debris/nothing-here", "nothing at"),
    ):
        r = op.call("POST", "jobs", {**body, "parameters": {"cdm_folder": value}})
        assert r.status_code == 400, (value, r.text)
        assert reason in r.json()["error"] and "parameter cdm_folder" in r.json()["error"], r.text
    assert op.call("GET", "jobs/pc-data").status_code == 404

    # a folder that is fine when the job is made, and becomes a link out before a run: refused then
    later = data_dir / "space_debris" / "later"
    shutil.copytree(data_dir / CDMS, later)
    r = op.call("POST", "jobs", {**body, "parameters": {"cdm_folder": "space_debris/later"}})
    assert r.status_code == 201, r.text
    run = op.run("pc-data")
    assert run["status"] == "succeeded" and op.scraps(run["id"])["n_cdms"] == 53
    shutil.rmtree(later)
    os.symlink(wb.state_dir / "secrets", later)
    r = op.call("POST", "jobs/pc-data/runs", {})
    assert r.status_code == 400 and "leads outside the data folder" in r.json()["error"], r.text
    for value in ("../../secrets/admin_api_token", "/etc/passwd", "evil"):
        r = op.call("POST", "jobs/pc-data/runs", {"parameters": {"cdm_folder": value}})
        assert r.status_code == 400, (value, r.text)
    ok = op.run("pc-data", {"cdm_folder": CDMS})
    assert ok["status"] == "succeeded", ok
    assert [r["id"] for r in op.call("GET", "jobs/pc-data/runs").json()["runs"]] == [ok["id"], run["id"]]


def test_a_browser_session_reads_but_never_writes(wb: Workbench, users: dict[str, User]) -> None:
    op = users["operator"]
    _create(op, {"name": "tiny-x", "notebook": "test/tiny.ipynb"})
    browser = op.login.session  # logged in through the IdP: it holds the hub's cookies, no token
    r = browser.get(f"{wb.url}/services/jobs/api/v1/jobs/tiny-x", timeout=60)
    assert r.status_code == 200 and r.json()["name"] == "tiny-x"  # reading with the cookie is fine
    # the service's XSRF token, as a page of the hub's origin could read it: still no write
    xsrf = next(c.value for c in browser.cookies if c.name == "_xsrf" and "/services/jobs" in c.path)
    attempts = [
        {},  # a cross-site form: the cookie and nothing else
        {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "cors"},
        {"X-XSRFToken": xsrf, "Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "cors"},
    ]
    for headers in attempts:
        r = browser.post(
            f"{wb.url}/services/jobs/api/v1/jobs/tiny-x/runs", json={}, headers=headers, timeout=60
        )
        assert r.status_code == 403, (headers, r.text)
        assert "token" in r.json()["error"]
        r = browser.delete(f"{wb.url}/services/jobs/api/v1/jobs/tiny-x", headers=headers, timeout=60)
        assert r.status_code == 403, (headers, r.text)
    assert op.call("GET", "jobs/tiny-x/runs").json()["runs"] == []
    assert op.call("GET", "jobs/tiny-x").status_code == 200
    assert op.call("POST", "jobs/tiny-x/runs", {}).status_code == 201  # with the token header: fine
    # The service's own page writes with the page token it carries, for its user, from its origin only.
    html = browser.get(f"{wb.url}/services/jobs/jobs/tiny-x", timeout=60).text
    match = re.search(r'data-page-token="([^"]+)"', html)
    assert match, html[:2000]
    token = match.group(1)
    same = {"X-XSRFToken": xsrf, "Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "cors"}
    url = f"{wb.url}/services/jobs/api/v1/jobs/tiny-x/runs"
    for headers in (
        {**same, "X-Jobs-Page-Token": token[:-1] + ("0" if token[-1] != "0" else "1")},  # forged
        {**same, "X-Jobs-Page-Token": token, "Sec-Fetch-Site": "cross-site"},
        {"X-Jobs-Page-Token": token, "Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "cors"},  # no XSRF
    ):
        r = browser.post(url, json={}, headers=headers, timeout=60)
        assert r.status_code == 403, (headers, r.text)
    r = browser.post(url, json={}, headers={**same, "X-Jobs-Page-Token": token}, timeout=60)
    assert r.status_code == 201, r.text
    assert r.json()["requested_by"] == "operator"  # credited to the person, not to a service


def _check_headers(r: requests.Response, *, report: bool = False, page: bool = False) -> None:
    csp = r.headers.get("Content-Security-Policy", "")
    assert r.headers.get("X-Content-Type-Options") == "nosniff", r.url
    if report:  # framed by the workbench's own run page only, and sandboxed
        assert r.headers.get("X-Frame-Options") == "SAMEORIGIN" and "frame-ancestors 'self'" in csp, r.url
    else:
        assert r.headers.get("X-Frame-Options") == "DENY" and "frame-ancestors 'none'" in csp, r.url
    assert "default-src 'none'" in csp, (r.url, csp)
    if page:  # the jobs pages: their one nonce'd script, nothing inline or from elsewhere
        script = next(d for d in csp.split(";") if d.strip().startswith("script-src")).split()
        assert len(script) == 2 and script[1].startswith("'nonce-"), (r.url, csp)
        assert f'<script nonce="{script[1][7:-1]}">' in r.text, r.url
    else:
        assert "script-src" not in csp, (r.url, csp)
    assert csp.startswith("sandbox;") == report, (r.url, csp)


def test_every_page_carries_the_security_headers(wb: Workbench, users: dict[str, User]) -> None:
    op = users["operator"]
    _create(op, {"name": "tiny-h", "notebook": "test/tiny.ipynb"})
    run = op.run("tiny-h")
    base = f"{wb.url}/services/jobs/"
    browser = op.login.session
    page = browser.get(base, timeout=60)
    assert page.status_code == 200 and "tiny-h" in page.text
    _check_headers(page, page=True)
    _check_headers(browser.get(f"{base}jobs/tiny-h", timeout=60), page=True)
    _check_headers(browser.get(f"{base}runs/{run['id']}", timeout=60), page=True)
    _check_headers(browser.get(f"{base}api/v1/runs/{run['id']}/report", timeout=60), report=True)
    for path in (
        "jobs",
        f"runs/{run['id']}",
        f"runs/{run['id']}/log",
        f"runs/{run['id']}/notebook",
        "runs/0",
    ):
        _check_headers(op.call("GET", path))
    _check_headers(requests.get(f"{base}api/v1/openapi.json", timeout=60))
    _check_headers(requests.post(f"{base}api/v1/jobs", json={}, timeout=60))  # a 403 too


# ------------------------------------------------------------------------------------------------
# in a browser


@pytest.mark.browser
def test_a_script_in_a_parameter_shows_as_text_and_never_runs(wb: Workbench, users: dict[str, User]) -> None:
    need(Path(CHROMIUM).exists(), f"Chromium at {CHROMIUM} (Debian package chromium)")
    from playwright.sync_api import sync_playwright

    op, analyst = users["operator"], users["neo-analyst"]
    _create(op, {"name": "tiny-xss", "notebook": "test/tiny.ipynb", "description": f"daily {XSS}"})
    _create(op, {"name": "echo", "notebook": "test/echo.ipynb"})
    shown = analyst.run("tiny-xss", {"label": XSS})  # a segment member plants it in a parameter
    echoed = analyst.run("echo", {"text": f"{XSS}<script>console.log('xss-script')</script>"})
    assert shown["status"] == echoed["status"] == "succeeded", (shown, echoed)

    dialogs: list[str] = []
    console: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_context().new_page()
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.on("console", lambda m: console.append(m.text))
        page.goto(f"{wb.url}/hub/login")
        page.wait_for_selector("form#kc-form-login")
        page.fill("input[name=username]", "operator")
        page.fill("input[name=password]", "dev-operator")
        page.click("#kc-login")
        page.wait_for_url("**/hub/home", timeout=60_000)

        page.goto(f"{wb.url}/services/jobs/api/v1/runs/{shown['id']}/report")
        page.wait_for_load_state("load")
        page.wait_for_timeout(1500)  # time for an onerror handler to fire, were it allowed to
        assert dialogs == [] and page.locator("img[src=x]").count() == 0  # text, not an element
        text = page.inner_text("body")
        assert f"daily {XSS}" in text and f"'{XSS}'" in text, text[:2000]  # description, parameter
        assert XSS in page.inner_text("section.s2p-report-scraps")  # and the scrap recording it
        # The careless notebook put the element into its output: it is there, and still runs nothing.
        page.goto(f"{wb.url}/services/jobs/api/v1/runs/{echoed['id']}/report")
        page.wait_for_load_state("load")
        page.wait_for_timeout(1500)
        assert page.locator("img[src=x]").count() == 1
        browser.close()
    assert dialogs == []
    assert not [m for m in console if "xss-script" in m], console
