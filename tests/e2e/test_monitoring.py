"""Prometheus (Debian's) scraping a real workbench with `workbench monitoring config`: every target up
with the prometheus service's token, and a failed production run raising ProductionRunFailed, which a
successful run ends."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.e2e.harness import WORKBENCH, Workbench, start_workbench
from tests.e2e.jobs_support import WB_START_S, User, job_notebooks
from tests.support import free_port, need_executable, reachable_dir

pytestmark = [pytest.mark.integration, pytest.mark.slow]

BOUND_S = 120.0


@pytest.fixture(scope="module")
def wb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workbench]:
    need_executable("node")
    work = reachable_dir("s2p-monitoring-e2e-")
    env = {
        "WORKBENCH_JOBS_NOTEBOOKS_DIR": str(job_notebooks(tmp_path_factory.mktemp("notebooks"))),
        "WORKBENCH_JOBS_WORK_DIR": str(work / "runs"),
    }
    workbench = start_workbench(tmp_path_factory.mktemp("state"), env, timeout=WB_START_S)
    yield workbench
    assert workbench.stop() == 0, workbench.log_tail()
    shutil.rmtree(work, ignore_errors=True)


@pytest.fixture(scope="module")
def prometheus(wb: Workbench, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = need_executable("prometheus")
    folder = tmp_path_factory.mktemp("prometheus")
    done = subprocess.run(
        [str(WORKBENCH), "monitoring", "config", str(folder), "--interval", "1"],
        env=wb.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    for check in (["check", "config", "prometheus.yml"], ["check", "rules", "rules.yml"]):
        r = subprocess.run(["promtool", *check], cwd=folder, capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stdout + r.stderr
    port = free_port()
    with open(folder / "prometheus.log", "wb") as log:
        proc = subprocess.Popen(
            [
                str(binary),
                f"--config.file={folder / 'prometheus.yml'}",
                f"--storage.tsdb.path={folder / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(30)


def _api(url: str, path: str) -> Any:
    r = requests.get(f"{url}/api/v1/{path}", timeout=30)
    r.raise_for_status()
    return r.json()["data"]


def _wait(what: str, check: Any) -> Any:
    deadline = time.monotonic() + BOUND_S
    while True:
        try:
            value = check()
        except requests.ConnectionError:  # Prometheus still starting
            value = None
        if value:
            return value
        assert time.monotonic() < deadline, f"{what} within {BOUND_S:.0f} s"
        time.sleep(1)


def test_every_target_is_up_with_the_prometheus_token(prometheus: str) -> None:
    def all_up() -> list[dict] | None:
        targets = _api(prometheus, "targets")["activeTargets"]
        return targets if targets and all(t["health"] == "up" for t in targets) else None

    targets = _wait("every target up", all_up)
    assert {t["labels"]["job"] for t in targets} == {"hub", "jobs"}
    spawns = _api(prometheus, "query?query=jupyterhub_total_users")["result"]
    assert spawns, "the hub's own metrics are scraped"


def test_a_failed_run_raises_its_alert_and_a_good_run_ends_it(wb: Workbench, prometheus: str) -> None:
    operator = User(wb, "operator")
    r = operator.call("POST", "jobs", {"name": "tiny", "segment": "swe", "notebook": "test/tiny.ipynb"})
    assert r.status_code == 201, r.text
    assert operator.run("tiny", {"fail": True})["status"] == "failed"

    def firing() -> list[dict]:
        alerts = _api(prometheus, "alerts")["alerts"]
        return [
            a for a in alerts if a["labels"]["alertname"] == "ProductionRunFailed" and a["state"] == "firing"
        ]

    (alert,) = _wait("ProductionRunFailed firing", firing)
    assert alert["labels"]["workbench_job"] == "tiny" and "tiny" in alert["annotations"]["summary"]

    assert operator.run("tiny", {"fail": False})["status"] == "succeeded"
    _wait("ProductionRunFailed ended", lambda: not firing() or None)
