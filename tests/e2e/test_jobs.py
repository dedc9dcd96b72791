"""The jobs service end to end: a real `workbench up`, real hub tokens, real papermill runs.

One workbench for the module. Users log in through the dev IdP, get API tokens from the hub, and call
``/services/jobs/api/v1/`` through the proxy as any client would; the CLI runs as a subprocess.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
import requests

from tests.e2e.harness import WORKBENCH, Workbench, start_workbench
from tests.e2e.jobs_support import RUN_BOUND_S, WB_START_S, User, job_notebooks
from tests.support import DATA, need_executable, reachable_dir
from tests.workbench.jobs.receivers import SmtpReceiver, WebhookReceiver, wait_for
from workbench.jobs.provenance import file_sha256

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PC_THRESHOLD = 1e-3
CONTRACT_PATHS = {
    "/jobs",
    "/jobs/{name}",
    "/jobs/{name}/runs",
    "/runs/{id}",
    "/runs/{id}/notebook",
    "/runs/{id}/report",
    "/runs/{id}/log",
    "/runs/{id}/scraps",
    "/runs/{id}/cancel",
    "/openapi.json",
}
JOB_SECRET = "e2e-webhook-secret-0123456789"


@pytest.fixture(scope="module")
def notebooks(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project's production notebooks plus the test notebooks (WORKBENCH_JOBS_NOTEBOOKS_DIR)."""
    return job_notebooks(tmp_path_factory.mktemp("notebooks"))


@pytest.fixture(scope="module")
def hook() -> Iterator[WebhookReceiver]:
    """A webhook receiver on 127.0.0.1 that accepts only deliveries signed with JOB_SECRET."""
    receiver = WebhookReceiver(JOB_SECRET).start()
    yield receiver
    receiver.stop()


@pytest.fixture(scope="module")
def mail() -> Iterator[SmtpReceiver]:
    """A real SMTP server (aiosmtpd) on 127.0.0.1: the workbench's WORKBENCH_SMTP_HOST."""
    receiver = SmtpReceiver().start()
    yield receiver
    receiver.stop()


@pytest.fixture(scope="module")
def wb(tmp_path_factory: pytest.TempPathFactory, notebooks: Path, mail: SmtpReceiver) -> Iterator[Workbench]:
    need_executable("node")
    state = tmp_path_factory.mktemp("state")
    work = reachable_dir("s2p-jobs-e2e-")
    env = {
        "WORKBENCH_JOBS_NOTEBOOKS_DIR": str(notebooks),
        "WORKBENCH_JOBS_WORKERS": "2",
        "WORKBENCH_JOBS_WORK_DIR": str(work / "runs"),
        "WORKBENCH_SMTP_HOST": "127.0.0.1",
        "WORKBENCH_SMTP_PORT": str(mail.port),
        "WORKBENCH_SMTP_FROM": "workbench@example.org",
    }
    workbench = start_workbench(state, env, timeout=WB_START_S)
    yield workbench
    assert workbench.stop() == 0, workbench.log_tail()
    shutil.rmtree(work, ignore_errors=True)


@pytest.fixture(scope="module")
def users(wb: Workbench) -> dict[str, User]:
    return {n: User(wb, n) for n in ("operator", "debris-analyst", "swe-scientist", "neo-analyst")}


@pytest.fixture(scope="module")
def pc_job(users: dict[str, User]) -> str:
    body = {
        "name": "pc-digest",
        "segment": "debris",
        "notebook": "jobs/debris_pc_digest.ipynb",
        "parameters": {"pc_threshold": PC_THRESHOLD},
        "description": "Pc of the shipped CARA CDMs",
        "timeout_s": 300,
    }
    r = users["operator"].call("POST", "jobs", body)
    assert r.status_code == 201, r.text
    assert r.json()["notebook_parameters"]["pc_threshold"]["type"] == "float"
    return "pc-digest"


@pytest.fixture(scope="module")
def tiny_job(users: dict[str, User]) -> str:
    """The tiny test notebook as a neo job with an 8 s timeout."""
    body = {"name": "tiny", "segment": "neo", "notebook": "test/tiny.ipynb", "timeout_s": 8}
    r = users["operator"].call("POST", "jobs", body)
    assert r.status_code == 201, r.text
    return "tiny"


def _expected_pc() -> tuple[int, float]:
    """(CDMs with Pc >= threshold, max Pc) computed here with s2p, as the notebook should."""
    from s2p.debris import collision_probability, read_cdm

    pcs = [
        collision_probability(read_cdm(p))
        for p in sorted((DATA / "space_debris/cdm/nasa_cara").glob("*.cdm"))
    ]
    return sum(pc >= PC_THRESHOLD for pc in pcs), max(pcs)


# ------------------------------------------------------------------------------------------------


def test_jobs_is_a_hub_service(wb: Workbench) -> None:
    services = wb.api("GET", "/services").json()
    assert services["jobs"]["url"].startswith("http://127.0.0.1:")
    assert services["jobs"]["prefix"] == "/services/jobs/"


def test_operator_runs_the_debris_job_and_fetches_its_outputs(users: dict[str, User], pc_job: str) -> None:
    op = users["operator"]
    t0 = time.monotonic()
    r = op.call("POST", f"jobs/{pc_job}/runs", {})
    assert r.status_code == 201, r.text
    run = r.json()
    assert (run["status"], run["trigger"], run["requested_by"]) == ("queued", "api", "operator")
    done = op.wait(run["id"])
    latency = time.monotonic() - t0
    assert done["status"] == "succeeded", done
    assert done["progress"]["cells_done"] == done["progress"]["cells_total"] > 0
    # the default executor here (tests run as root): local, as the run account, with provenance
    assert (done["executor"], done["failure"]) == ("local", None)
    assert done["provenance"]["user"] == "s2p-jobs" and len(done["provenance"]["notebook_sha256"]) == 64
    print(f"debris job: POST → succeeded in {latency:.1f} s (run {done['duration_s']} s)")

    scraps = op.call("GET", f"runs/{run['id']}/scraps").json()["scraps"]
    n_above, max_pc = _expected_pc()
    assert scraps["n_cdms"] == 53
    assert scraps["n_above"] == n_above == len(scraps["above"])
    assert scraps["max_pc"] == pytest.approx(max_pc, rel=1e-12)
    assert all(row["pc"] >= PC_THRESHOLD for row in scraps["above"])

    nb = op.call("GET", f"runs/{run['id']}/notebook")
    assert nb.headers["Content-Type"].startswith("application/x-ipynb+json")
    assert nb.json()["metadata"]["papermill"]["parameters"] == {"pc_threshold": PC_THRESHOLD}
    report = op.call("GET", f"runs/{run['id']}/report")
    assert report.headers["Content-Type"].startswith("text/html")
    assert "pc-digest" in report.text and "succeeded" in report.text and "import pandas" not in report.text
    log = op.call("GET", f"runs/{run['id']}/log")
    assert "Executing Cell 1" in log.text and "CDMs read from space_debris/cdm/nasa_cara" in log.text

    listed = op.call("GET", f"jobs/{pc_job}/runs").json()["runs"]
    assert listed[0]["id"] == run["id"]
    assert op.call("GET", "jobs").json()["jobs"][0]["last_run"]["id"] == run["id"]


def test_a_browser_login_opens_a_report(wb: Workbench, users: dict[str, User], pc_job: str) -> None:
    analyst = users["debris-analyst"]
    run = analyst.call("GET", f"jobs/{pc_job}/runs").json()["runs"][-1]
    # No token: the service sends the browser through the hub's OAuth and back, with the hub cookie.
    r = analyst.login.session.get(f"{wb.url}/services/jobs/api/v1/runs/{run['id']}/report", timeout=60)
    assert r.status_code == 200 and r.url.endswith(f"/runs/{run['id']}/report")
    assert "pc-digest" in r.text


def test_segment_members_run_but_only_operators_delete(users: dict[str, User], pc_job: str) -> None:
    swe, analyst = users["swe-scientist"], users["debris-analyst"]
    assert pc_job not in [j["name"] for j in swe.call("GET", "jobs").json()["jobs"]]
    for method, path in (
        ("GET", f"jobs/{pc_job}"),
        ("POST", f"jobs/{pc_job}/runs"),
        ("GET", f"jobs/{pc_job}/runs"),
    ):
        r = swe.call(method, path, {} if method == "POST" else None)
        assert r.status_code == 403, (method, path, r.text)
        assert "segment 'debris'" in r.json()["error"]
    some_run = users["operator"].call("GET", f"jobs/{pc_job}/runs").json()["runs"][0]["id"]
    assert swe.call("GET", f"runs/{some_run}/scraps").status_code == 403
    assert swe.call("GET", f"runs/{some_run}/report").status_code == 403

    assert pc_job in [j["name"] for j in analyst.call("GET", "jobs").json()["jobs"]]
    r = analyst.call("POST", f"jobs/{pc_job}/runs", {"parameters": {"pc_threshold": 0.01}})
    assert r.status_code == 201, r.text
    assert analyst.wait(r.json()["id"])["status"] == "succeeded"
    r = analyst.call("DELETE", f"jobs/{pc_job}")
    assert r.status_code == 403 and "only members of admins, operators" in r.json()["error"]
    r = analyst.call(
        "POST", "jobs", {"name": "mine", "segment": "debris", "notebook": "jobs/debris_pc_digest.ipynb"}
    )
    assert r.status_code == 403


def test_bad_requests_are_refused_with_a_reason(wb: Workbench, users: dict[str, User], pc_job: str) -> None:
    op = users["operator"]
    r = op.call("POST", f"jobs/{pc_job}/runs", {"parameters": {"pc_treshold": 1}})
    assert r.status_code == 400 and "unknown parameter(s) pc_treshold" in r.json()["error"]
    r = op.call("POST", f"jobs/{pc_job}/runs", {"parameters": {"pc_threshold": "high"}})
    assert r.status_code == 400 and "expected float" in r.json()["error"]
    for notebook, reason in (
        ("../jobs/debris_pc_digest.ipynb", "'..' is not allowed"),
        ("/etc/hosts", "relative"),
    ):
        r = op.call("POST", "jobs", {"name": "escape", "segment": "debris", "notebook": notebook})
        assert r.status_code == 400 and reason in r.json()["error"], r.text
    r = op.call(
        "POST", "jobs", {"name": "Bad Name", "segment": "debris", "notebook": "jobs/debris_pc_digest.ipynb"}
    )
    assert r.status_code == 400
    r = op.call(
        "POST", "jobs", {"name": "pc-digest", "segment": "debris", "notebook": "jobs/debris_pc_digest.ipynb"}
    )
    assert r.status_code == 409
    assert op.call("GET", "jobs/no-such-job").status_code == 404
    assert op.call("GET", "runs/999999").status_code == 404
    r = requests.post(f"{wb.url}/services/jobs/api/v1/jobs/{pc_job}/runs", json={}, timeout=30)
    assert r.status_code == 403 and "token" in r.json()["error"]
    r = requests.get(
        f"{wb.url}/services/jobs/api/v1/jobs", headers={"Authorization": "token not-a-token"}, timeout=30
    )
    assert r.status_code == 403


def test_timeout_and_cancel(users: dict[str, User], tiny_job: str) -> None:
    op, neo = users["operator"], users["neo-analyst"]
    slow = op.call("POST", "jobs/tiny/runs", {"parameters": {"seconds": 600.0}}).json()
    other = neo.call("POST", "jobs/tiny/runs", {"parameters": {"seconds": 600.0}}).json()
    neo.wait(other["id"], until=("running",))
    # Someone else's run: a segment member may not cancel it, who started it may.
    assert users["neo-analyst"].call("POST", f"runs/{slow['id']}/cancel").status_code == 403
    r = neo.call("POST", f"runs/{other['id']}/cancel")
    assert r.status_code == 200 and r.json()["status"] == "cancelled", r.text
    assert r.json()["failure"] == "cancelled"
    assert neo.call("POST", f"runs/{other['id']}/cancel").status_code == 409
    timed = op.wait(slow["id"])
    assert (timed["status"], timed["error"], timed["failure"]) == (
        "timed_out",
        "timed out after 8 s",
        "timeout",
    )
    assert op.call("GET", f"runs/{slow['id']}/report").status_code == 200
    assert op.call("GET", f"runs/{slow['id']}/scraps").json()["scraps"]["label"] == "tiny"


def test_trivial_run_latency(users: dict[str, User], tiny_job: str) -> None:
    """POST a run of the tiny notebook (no sleep) and wait: what a client waits for the least job."""
    op = users["operator"]
    t0 = time.monotonic()
    run = op.call("POST", "jobs/tiny/runs", {}).json()
    done = op.wait(run["id"])
    latency = time.monotonic() - t0
    assert done["status"] == "succeeded", done
    print(f"trivial job: POST → succeeded in {latency:.1f} s")
    assert latency < RUN_BOUND_S


def _for_run(hook: WebhookReceiver, mail: SmtpReceiver, run_id: int) -> tuple[list[Any], list[Any]]:
    hooks = [d for d in hook.deliveries if d.json["run"]["id"] == run_id]
    mails = [m for m in mail.messages if f" run {run_id} " in str(m["Subject"])]
    return hooks, mails


def test_a_failing_run_notifies_by_webhook_and_email_exactly_once(
    wb: Workbench, users: dict[str, User], notebooks: Path, hook: WebhookReceiver, mail: SmtpReceiver
) -> None:
    op = users["operator"]
    body = {
        "name": "notified",
        "segment": "swe",
        "notebook": "test/tiny.ipynb",
        "notify": {
            "on": ["failure", "recovery"],
            "webhooks": [hook.url],
            "emails": ["ops@example.org"],
            "secret": JOB_SECRET,
        },
        "retry": {"retries": 1, "on": ["lost"]},
    }
    r = op.call("POST", "jobs", body)
    assert r.status_code == 201, r.text
    assert r.json()["notify"]["secret_set"] is True and "secret" not in r.json()["notify"]
    failed = op.wait(op.call("POST", "jobs/notified/runs", {"parameters": {"fail": True}}).json()["id"])
    assert failed["status"] == "failed" and failed["failure"] == "notebook_error"  # not retried: not "lost"
    wait_for(lambda: all(len(x) == 1 for x in _for_run(hook, mail, failed["id"])), 60, "the notifications")
    time.sleep(3)  # more rounds of the outbox: nothing arrives twice
    hooks, mails = _for_run(hook, mail, failed["id"])
    assert len(hooks) == 1 and len(mails) == 1 and hook.refused == []
    assert hooks[0].verified and hooks[0].json["event"] == "failure"
    assert hooks[0].json["run"]["error"] == "ValueError: asked to fail after 0.0 s (code cell 5)"
    assert hooks[0].json["links"]["report"] == f"{wb.url}/services/jobs/api/v1/runs/{failed['id']}/report"
    assert mails[0]["To"] == "ops@example.org" and "FAILED" in str(mails[0]["Subject"])

    detail = op.call("GET", f"runs/{failed['id']}").json()
    assert [(n["channel"], n["status"], n["attempts"]) for n in detail["notifications"]] == [
        ("webhook", "sent", 1),
        ("email", "sent", 1),
    ]
    assert [(a["number"], a["status"], a["failure"], a["executor"]) for a in detail["attempts"]] == [
        (1, "failed", "notebook_error", "local")
    ]
    prov = detail["provenance"]
    assert prov["notebook_sha256"] == file_sha256(notebooks / "test" / "tiny.ipynb")
    assert (
        prov["environment"].startswith("env:sha256:") and prov["s2p_version"] and prov["executor"] == "local"
    )

    ok = op.wait(op.call("POST", "jobs/notified/runs", {}).json()["id"])
    assert ok["status"] == "succeeded"
    wait_for(
        lambda: all(len(x) == 1 for x in _for_run(hook, mail, ok["id"])), 60, "the recovery notifications"
    )
    hooks, mails = _for_run(hook, mail, ok["id"])
    assert hooks[0].json["event"] == "recovery" and "recovered" in str(mails[0]["Subject"])

    # The CLI changes the job's policies; the API shows them.
    r = _cli(wb, "update", "notified", "--keep-runs", "5", "--notify-on", "failure", "--misfire", "skip",
             token=op.token)  # fmt: skip
    assert r.returncode == 0, r.stderr
    job = op.call("GET", "jobs/notified").json()
    assert job["retention"] == {"keep_last": 5, "keep_days": None} and job["misfire"] == "skip"
    assert job["notify"] == {"on": ["failure"], "webhooks": [], "emails": [], "secret_set": True}
    r = op.call("PATCH", "jobs/notified", {"retry": {"retries": 99}})
    assert r.status_code == 400 and "retry.retries" in r.json()["error"]
    assert users["swe-scientist"].call("PATCH", "jobs/notified", {"description": "x"}).status_code == 403


def test_metrics_for_prometheus_and_the_hub_metrics_beside_them(
    wb: Workbench, users: dict[str, User], pc_job: str
) -> None:
    token = (wb.state_dir / "secrets" / "prometheus_api_token").read_text().strip()
    bearer = {"Authorization": f"Bearer {token}"}
    r = requests.get(f"{wb.url}/services/jobs/metrics", headers=bearer, timeout=30)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/plain")
    assert 'workbench_jobs_runs{job="pc-digest",status="succeeded"}' in r.text
    assert "workbench_jobs_queue_length" in r.text and "workbench_jobs_run_duration_seconds_bucket" in r.text
    hub = requests.get(f"{wb.url}/hub/metrics", headers=bearer, timeout=30)
    assert hub.status_code == 200 and "jupyterhub_" in hub.text
    assert requests.get(f"{wb.url}/hub/metrics", timeout=30).status_code == 403

    def as_user(name: str) -> requests.Response:
        headers = {"Authorization": f"token {users[name].token}"}
        return requests.get(f"{wb.url}/services/jobs/metrics", headers=headers, timeout=30)

    analyst = as_user("debris-analyst")
    assert analyst.status_code == 403 and "read:metrics" in analyst.json()["error"]
    assert as_user("operator").status_code == 200


def _cli(wb: Workbench, *args: str, token: str | None = None) -> subprocess.CompletedProcess[str]:
    argv = [str(WORKBENCH), "jobs", *(["--token", token] if token else []), *args]
    return subprocess.run(argv, env=wb.env, capture_output=True, text=True, timeout=RUN_BOUND_S)


def test_cli_run_wait_end_to_end(wb: Workbench, users: dict[str, User], pc_job: str, tiny_job: str) -> None:
    op = users["operator"]
    r = _cli(wb, "run", pc_job, "--wait", "--poll", "0.3", "-p", "pc_threshold=0.01", token=op.token)
    assert r.returncode == 0, r.stderr + r.stdout
    last = r.stdout.strip().splitlines()[-1]
    assert "succeeded" in last and "(cli by operator)" in last and "cells" in last
    run_id = int(last.split()[1])
    assert op.call("GET", f"runs/{run_id}").json()["parameters"] == {"pc_threshold": 0.01}

    r = _cli(wb, "run", "tiny", "--wait", "-p", "fail=true", token=op.token)
    assert r.returncode == 1 and "failed" in r.stdout and "ValueError: asked to fail" in r.stdout

    # The admin token file of the state directory is the default; --json gives the API's answer.
    r = _cli(wb, "--json", "list")
    assert r.returncode == 0, r.stderr
    assert {"pc-digest", "tiny"} <= {j["name"] for j in json.loads(r.stdout)}
    r = _cli(wb, "status", str(run_id))
    assert r.returncode == 0 and "scraps:" in r.stdout and '"n_cdms": 53' in r.stdout
    r = _cli(wb, "log", str(run_id))
    assert "Executing Cell" in r.stdout
    r = _cli(wb, "run", pc_job, token=users["swe-scientist"].token)
    assert r.returncode == 2 and "HTTP 403" in r.stderr


def test_workbench_jobs_in_a_lab_acts_as_the_labs_user(
    wb: Workbench, users: dict[str, User], tiny_job: str
) -> None:
    # The lab's own token and the jobs URL the hub put in its environment: no login, no service token.
    wb.start_server("operator")
    try:
        out = wb.run_code(
            "operator",
            "import os, subprocess, sys\n"
            "cli = os.path.join(os.path.dirname(sys.executable), 'workbench')\n"
            f"r = subprocess.run([cli, 'jobs', 'run', {tiny_job!r}, '--wait', '--poll', '0.3'],"
            " capture_output=True, text=True, timeout=120)\n"
            "print('rc', r.returncode, 'url', os.environ['WORKBENCH_JOBS_URL'])\n"
            "print(r.stdout)\nprint('stderr:', r.stderr)\n",
        )
    finally:
        wb.api("DELETE", "/users/operator/server")
    assert out.startswith(f"rc 0 url {wb.url}/services/jobs/api/v1"), out
    assert "(cli by operator)" in out and "succeeded" in out, out
    assert "service:workbench-admin" not in out, out  # not the automation token


def test_operator_deletes_a_job(users: dict[str, User]) -> None:
    op = users["operator"]
    body = {
        "name": "to-delete",
        "segment": "swe",
        "notebook": "jobs/swe_storms.ipynb",
        "schedule": "0 6 * * *",
    }
    r = op.call("POST", "jobs", body)
    assert r.status_code == 201 and r.json()["next_run_at"].endswith("T06:00:00+00:00")
    assert op.call("DELETE", "jobs/to-delete").status_code == 204
    assert op.call("GET", "jobs/to-delete").status_code == 404


def _cmd(p: psutil.Process) -> str:
    """The command line of a live process ('' for zombies and the gone)."""
    try:
        return "" if p.status() == psutil.STATUS_ZOMBIE else " ".join(p.cmdline())
    except psutil.Error:
        return ""


def test_service_killed_mid_run_is_restarted_by_the_hub_and_recovers(
    wb: Workbench, users: dict[str, User]
) -> None:
    """SIGKILL the service with two runs running and one queued: the hub restarts it (its poll comes
    within ~30 s); the running runs are failed, their processes ended, and the queued run runs.
    A notification that could not be delivered before the kill is delivered once after it; a
    per-minute schedule runs no fire time twice."""
    op = users["operator"]
    late = WebhookReceiver(JOB_SECRET)  # nothing listens on its port until the service is killed
    body = {"name": "notified-late", "segment": "neo", "notebook": "test/tiny.ipynb"}
    body["notify"] = {"webhooks": [late.url], "secret": JOB_SECRET}
    assert op.call("POST", "jobs", body).status_code == 201
    body = {"name": "minutely", "segment": "neo", "notebook": "test/tiny.ipynb", "schedule": "* * * * *"}
    assert op.call("POST", "jobs", body).status_code == 201
    failed = op.wait(op.call("POST", "jobs/notified-late/runs", {"parameters": {"fail": True}}).json()["id"])

    def undelivered() -> bool:
        notes = op.call("GET", f"runs/{failed['id']}").json()["notifications"]
        return len(notes) == 1 and notes[0]["status"] == "pending" and notes[0]["attempts"] >= 1

    wait_for(undelivered, 60, "a failed delivery")
    body = {"name": "tiny-long", "segment": "neo", "notebook": "test/tiny.ipynb", "timeout_s": 600}
    assert op.call("POST", "jobs", body).status_code == 201
    slow = [
        op.call("POST", "jobs/tiny-long/runs", {"parameters": {"seconds": 600.0}}).json() for _ in range(2)
    ]
    queued = op.call("POST", "jobs/tiny-long/runs", {}).json()
    for run in slow:
        op.wait(run["id"], until=("running",))
    assert op.call("GET", f"runs/{queued['id']}").json()["status"] == "queued"  # two workers, both busy
    service = next(p for p in wb.processes() if "workbench.jobs.service" in _cmd(p))
    papermills = [p for p in service.children() if "papermill" in _cmd(p)]
    assert len(papermills) == 2
    service.kill()
    late.start()
    deadline = time.monotonic() + 90
    while True:
        restarted = [p for p in wb.processes() if "workbench.jobs.service" in _cmd(p)]
        if restarted and restarted[0].pid != service.pid:
            try:
                if op.call("GET", "jobs").status_code == 200:
                    break
            except requests.ConnectionError:
                pass
        assert time.monotonic() < deadline, "the hub did not restart the jobs service"
        time.sleep(0.5)
    for run in slow:
        after = op.wait(run["id"])
        assert (after["status"], after["error"]) == ("failed", "service restarted during the run")
    assert op.wait(queued["id"])["status"] == "succeeded"
    try:
        wait_for(lambda: len(late.deliveries) == 1, 60, "the delivery after the restart")
        time.sleep(3)
        assert len(late.deliveries) == 1 and late.refused == []
        assert late.deliveries[0].json["run"]["id"] == failed["id"]
    finally:
        late.stop()
    runs = op.call("GET", "jobs/minutely/runs?limit=100").json()["runs"]
    fired = [r["scheduled_for"] for r in runs]
    assert all(r["trigger"] == "schedule" for r in runs) and len(fired) == len(set(fired))
    assert op.call("DELETE", "jobs/minutely").status_code == 204
    gone_deadline = time.monotonic() + 15
    while any(p.is_running() and p.status() != "zombie" for p in papermills):
        assert time.monotonic() < gone_deadline, "papermill of a failed run still alive"
        time.sleep(0.2)


def test_openapi_lists_every_path(wb: Workbench) -> None:
    doc = requests.get(f"{wb.url}/services/jobs/api/v1/openapi.json", timeout=30).json()
    assert doc["openapi"].startswith("3.")
    assert set(doc["paths"]) >= CONTRACT_PATHS
    assert set(doc["paths"]) == CONTRACT_PATHS | {"/runs"}
