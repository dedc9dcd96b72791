"""Fault: the disk of the state directory fills up (a small tmpfs mounted by the test, as root).

Everything the workbench writes lives there: the hub's database, the jobs service's store and run
folders, the users' homes (local spawner), the logs. While it is full, writes fail with an error that
says so — saving a notebook, starting a job run, a first login — and reading keeps working; nothing
stored before is damaged (the databases pass SQLite's integrity check, the notebook and the earlier
run's report read back the same); when space is freed, the same requests succeed without a restart.
"""

from __future__ import annotations

import errno
import os
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.e2e.harness import Workbench, login_via_idp, start_workbench
from tests.e2e.webuser import WebUser, notebook
from tests.reliability.faults.support import record, wait_until
from tests.support import need, need_executable

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DISK_MB = 160
"""Size of the state directory's filesystem [MiB]: room for the databases, two homes and a few runs."""
JOB_BOUND_S = 240.0
CHANGED = notebook("print('changed')", "changed")


def _mount_tmpfs(path: Path, size_mb: int) -> None:
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_mb}m,mode=0755", "tmpfs", str(path)], check=True
    )


def _fill(path: Path) -> Path:
    """Write zeros into ``path/filler`` until the filesystem refuses even a page; return the file."""
    filler = path / "filler"
    with open(filler, "wb", buffering=0) as fh:
        for chunk in (1 << 20, 1 << 12):
            block = b"\0" * chunk
            while True:
                try:
                    fh.write(block)
                except OSError as exc:
                    assert exc.errno == errno.ENOSPC, exc
                    break
    return filler


@pytest.fixture(scope="module")
def disk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    need(os.geteuid() == 0, "root, to mount a tmpfs (tests and CI run as root)")
    mount = tmp_path_factory.mktemp("disk") / "state"
    _mount_tmpfs(mount, DISK_MB)
    try:
        yield mount
    finally:
        # The logs go with the filesystem: keep a copy next to it for whoever reads a failure.
        if (mount / "logs").is_dir():
            shutil.copytree(mount / "logs", mount.parent / "logs", dirs_exist_ok=True)
        subprocess.run(["umount", "--lazy", str(mount)], check=False)


@pytest.fixture(scope="module")
def wb(disk: Path) -> Iterator[Workbench]:
    need_executable("node")
    workbench = start_workbench(disk)
    yield workbench
    assert workbench.stop() == 0, workbench.log_tail()


def _jobs(wb: Workbench, method: str, path: str, body: object = None) -> requests.Response:
    """The jobs API with the workbench's admin token (the CLI's way in)."""
    headers = {"Authorization": f"token {wb.admin_token}"}
    return requests.request(
        method, f"{wb.url}/services/jobs/api/v1/{path}", json=body, headers=headers, timeout=60
    )


def _run(wb: Workbench, job: str) -> requests.Response:
    return _jobs(wb, "POST", f"jobs/{job}/runs", {})


def _wait_run(wb: Workbench, run_id: int) -> dict:
    def done() -> dict | None:
        run = _jobs(wb, "GET", f"runs/{run_id}").json()
        return run if run["status"] not in {"queued", "running"} else None

    wait_until(done, JOB_BOUND_S, f"run {run_id} to finish", every=1.0)
    return dict(_jobs(wb, "GET", f"runs/{run_id}").json())


def _integrity(db: Path) -> str:
    """SQLite's own check of a database file, opened read-only."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
        return str(con.execute("PRAGMA integrity_check").fetchone()[0])


def _cell(nb: dict) -> tuple[str, str]:
    """Source and output text of a one-cell notebook (what a change would alter)."""
    cell = nb["cells"][0]
    return cell["source"], "".join(o.get("text", "") for o in cell["outputs"])


def _says_full(message: str) -> bool:
    """Whether an error message tells the disk is full (the OS's words, or SQLite's)."""
    return "No space left on device" in message or "disk is full" in message


def _json_error(r: requests.Response) -> str:
    """The ``message``/``error`` of a JSON error answer (what a client shows)."""
    assert r.headers.get("Content-Type", "").startswith("application/json"), (r.status_code, r.text[:300])
    body = r.json()
    return str(body.get("message") or body.get("error"))


def _while_full(wb: Workbench, user: WebUser, kept: dict, first: int, report: str) -> None:
    """What users get while the disk is full: clear refusals of writes, reads as before."""
    # A new notebook: 507 saying why, and no broken file left behind.
    r = user.save_notebook("new.ipynb", notebook("print('new')"))
    assert r.status_code == 507 and "No space left on device" in _json_error(r), (r.status_code, r.text[:500])
    assert user.lab_api("GET", "/contents/new.ipynb").status_code == 404
    # Over an existing one: the same, and the stored one unchanged.
    r = user.save_notebook("kept.ipynb", CHANGED)
    assert r.status_code == 507 and "No space left on device" in _json_error(r), (r.status_code, r.text[:500])
    assert _cell(user.read_notebook("kept.ipynb")) == _cell(kept)
    # A job run: the jobs API says the storage is full (JSON, 507), and nothing is queued.
    runs_before = len(_jobs(wb, "GET", "jobs/digest/runs").json()["runs"])
    r = _run(wb, "digest")
    assert r.status_code == 507 and "storage is full" in _json_error(r), (r.status_code, r.text[:500])
    assert len(_jobs(wb, "GET", "jobs/digest/runs").json()["runs"]) == runs_before
    # A first login cannot be recorded: a page that says why, not a traceback.
    page = login_via_idp(wb.url, "neo-analyst", "dev-neo-analyst").response
    assert page.status_code == 500 and 'id="workbench-storage-full"' in page.text, page.text[:800]
    assert "Traceback" not in page.text
    # Reading goes on for those logged in: the hub, the lab, the earlier run's report.
    assert user.session.get(f"{wb.url}/hub/home", timeout=30).status_code == 200
    assert _cell(user.read_notebook("kept.ipynb")) == _cell(kept)
    assert _jobs(wb, "GET", f"runs/{first}/report").text == report


def test_full_disk_refuses_writes_clearly_keeps_what_is_stored_and_recovers(
    wb: Workbench, disk: Path
) -> None:
    user = WebUser(wb.url, "operator", "dev-operator")
    user.login()
    user.start_lab()
    kept = notebook("print('kept')", "kept")
    assert user.save_notebook("kept.ipynb", kept).status_code == 201
    body = {"name": "digest", "segment": "debris", "notebook": "jobs/debris_pc_digest.ipynb"}
    assert _jobs(wb, "POST", "jobs", body).status_code == 201
    first = _run(wb, "digest").json()["id"]
    assert _wait_run(wb, first)["status"] == "succeeded"
    report = _jobs(wb, "GET", f"runs/{first}/report").text

    filler = _fill(disk)
    try:
        t_full = time.monotonic()
        _while_full(wb, user, kept, first, report)
    finally:
        os.remove(filler)
    t_freed = time.monotonic()
    assert user.save_notebook("new.ipynb", notebook("print('new')")).status_code == 201
    assert user.save_notebook("kept.ipynb", CHANGED).status_code == 200
    again = _run(wb, "digest")
    assert again.status_code == 201, again.text
    assert _wait_run(wb, again.json()["id"])["status"] == "succeeded"
    newcomer = WebUser(wb.url, "neo-analyst", "dev-neo-analyst")
    newcomer.login()
    resumed = time.monotonic() - t_freed
    for db in (disk / "jupyterhub.sqlite", *disk.glob("jobs/*.sqlite")):
        assert _integrity(db) == "ok", db
    record("state disk full", full_for_s=t_freed - t_full, resumed_s=resumed, lost="nothing")
