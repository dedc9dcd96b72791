"""`workbench backup` of a running workbench, `workbench restore` onto an empty state directory, and a
workbench started on it: users, groups, logins' secrets, a job, its run and a home are all back."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import requests

from tests.e2e.harness import WORKBENCH, start_workbench
from tests.e2e.jobs_support import User
from tests.e2e.webuser import WebUser, notebook
from tests.support import need_executable

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _workbench(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(WORKBENCH), *args], env=env, capture_output=True, text=True, timeout=300)


def test_backup_while_running_then_restore_onto_an_empty_state_directory(tmp_path: Path) -> None:
    need_executable("node")
    archive = tmp_path / "backups" / "workbench.tar.gz"
    archive.parent.mkdir()
    wb = start_workbench(tmp_path / "state")
    try:
        operator = User(wb, "operator")
        r = operator.call(
            "POST", "jobs", {"name": "storms", "segment": "swe", "notebook": "jobs/swe_storms.ipynb"}
        )
        assert r.status_code == 201, r.text
        run = operator.run("storms")
        assert run["status"] == "succeeded", run
        report = operator.call("GET", f"runs/{run['id']}/report").text
        scientist = WebUser(wb.url, "swe-scientist", "dev-swe-scientist")
        scientist.login()
        scientist.start_lab()
        saved = notebook("x = 1", "kept across the restore")
        assert scientist.save_notebook("work/kept.ipynb", saved).status_code == 201
        groups = sorted(wb.user("swe-scientist")["groups"])

        done = _workbench(wb.env, "backup", str(archive))  # the hub, jobs service and lab keep running
        assert done.returncode == 0, done.stderr
        assert "backed up" in done.stderr and archive.stat().st_mode & 0o077 == 0
        again = _workbench(wb.env, "backup", str(archive))
        assert again.returncode == 2 and "exists already" in again.stderr
    finally:
        wb.stop()

    target = tmp_path / "restored"
    env = {**wb.env, "WORKBENCH_STATE_DIR": str(target)}
    done = _workbench(env, "restore", str(archive))
    assert done.returncode == 0, done.stderr
    assert (target / "secrets").stat().st_mode & 0o077 == 0 and target.stat().st_mode & 0o077 == 0
    refused = _workbench(env, "restore", str(archive))  # never over existing state
    assert refused.returncode == 2 and "not empty" in refused.stderr

    wb2 = start_workbench(target)
    try:
        assert wb2.admin_token == wb.admin_token  # the same secrets
        assert sorted(wb2.user("swe-scientist")["groups"]) == groups
        headers = {"Authorization": f"token {wb2.admin_token}"}
        base = f"{wb2.url}/services/jobs/api/v1"
        job = requests.get(f"{base}/jobs/storms", headers=headers, timeout=60)
        assert job.status_code == 200 and job.json()["notebook"] == "jobs/swe_storms.ipynb", job.text
        restored_run = requests.get(f"{base}/runs/{run['id']}", headers=headers, timeout=60).json()
        assert restored_run["status"] == "succeeded"
        assert requests.get(f"{base}/runs/{run['id']}/report", headers=headers, timeout=60).text == report
        scientist = WebUser(wb2.url, "swe-scientist", "dev-swe-scientist")
        scientist.login()
        scientist.start_lab()
        assert (
            scientist.read_notebook("work/kept.ipynb")["cells"][0]["outputs"] == saved["cells"][0]["outputs"]
        )
    finally:
        wb2.stop()
