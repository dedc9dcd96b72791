"""The dask and swarm executors under the runner, with real papermill and kernels: runs and their
provenance, timeouts that kill the kernel, and a killed worker or container retried per the job's
policy as a second attempt — nothing lost, nothing run twice.

One dask LocalCluster (two worker processes) and one asyncio loop per test: a cluster is slow to start.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.support import DATA
from workbench.jobs.executors.dask import DaskExecutor
from workbench.jobs.executors.local import LocalExecutor
from workbench.jobs.model import ACTIVE, job_from_request
from workbench.jobs.runner import Runner
from workbench.jobs.store import Run, Store

pytestmark = pytest.mark.slow

RUN_BOUND_S = 180.0  # a few-second notebook on a loaded 2-core machine, cluster start included


def _job(store: Store, notebooks: Path, name: str, executor: str, **extra: Any) -> Any:
    body = {"name": name, "segment": "swe", "notebook": "jobs/tiny.ipynb", "executor": executor, **extra}
    job, _ = job_from_request(
        body, notebooks_dir=notebooks, data_dir=DATA, default_timeout=120, created_by="op"
    )
    store.add_job(job)
    return job


async def _until(store: Store, run_id: int, pred: Any, bound: float = RUN_BOUND_S) -> Run:
    deadline = time.monotonic() + bound
    while True:
        run = store.run(run_id, attempts=True)
        assert run is not None
        if pred(run):
            return run
        assert time.monotonic() < deadline, f"run {run_id} stuck: {run}"
        await asyncio.sleep(0.2)


def _final(run: Run) -> bool:
    return run.status not in ACTIVE


def _sleeping(runner: Runner) -> Any:
    """The run is in its sleep cell (cells 1-3 done)."""
    return lambda r: r.status == "running" and (runner.progress(r).cells_done or 0) >= 3


def _papermills(folder_part: str) -> list[psutil.Process]:
    found = []
    for p in psutil.process_iter(["cmdline"]):
        cmd = " ".join(p.info["cmdline"] or [])
        if "papermill" in cmd and folder_part in cmd:
            found.append(p)
    return found


def test_dask_runs_retries_a_killed_worker_and_times_out(
    tmp_path: Path, notebooks: Path, work_dir: Path
) -> None:
    store = Store(tmp_path / "jobs.sqlite")
    local = LocalExecutor(work_dir, data_environment={"WORKBENCH_DATA_DIR": str(DATA)})
    dask = DaskExecutor(workers=2, local=local)
    runner = Runner(
        store,
        tmp_path / "runs",
        notebooks,
        executors={"local": local, "dask": dask},
        default_executor="local",
    )
    plain = _job(store, notebooks, "tiny", "dask", timeout_s=8)
    retried = _job(
        store, notebooks, "tiny-retried", "dask", retry={"retries": 1, "backoff_s": 0, "on": ["lost"]}
    )

    async def main() -> tuple[Run, Run, Run, dict[str, int], int]:
        await runner.start()
        try:
            ok = store.add_run(plain, {"label": "on dask"}, trigger="api", requested_by="op")
            runner.submit(ok.id)
            ok_run = await _until(store, ok.id, _final)
            # A worker is killed under a run: the run is lost, and retried once on the cluster.
            victim = store.add_run(retried, {"seconds": 600.0}, trigger="api", requested_by="op")
            runner.submit(victim.id)
            sleeping = await _until(store, victim.id, _sleeping(runner))
            worker = sleeping.attempt_list[-1].worker
            pids = await dask.worker_pids()
            assert worker in pids, (worker, pids)
            os.kill(pids[worker], signal.SIGKILL)
            second = await _until(store, victim.id, lambda r: r.attempts == 2 and r.status == "running")
            await runner.cancel(victim.id)  # the second attempt would sleep 600 s
            victim_run = await _until(store, victim.id, _final)
            # The timeout kills papermill and the kernel on the worker.
            slow = store.add_run(plain, {"seconds": 600.0}, trigger="api", requested_by="op")
            runner.submit(slow.id)
            await _until(store, slow.id, _sleeping(runner))
            left = len(_papermills("dask-s2p-run-"))
            timed = await _until(store, slow.id, _final)
            return (
                ok_run,
                victim_run,
                timed,
                {"workers_before": len(pids), "second_attempt": second.attempts},
                left,
            )
        finally:
            await runner.stop()
            await dask.close()

    t0 = time.monotonic()
    ok, victim, timed, info, running_papermills = asyncio.run(main())
    assert ok.status == "succeeded", ok.error
    assert (ok.executor, ok.attempts, [a.executor for a in ok.attempt_list]) == ("dask", 1, ["dask"])
    assert ok.attempt_list[0].worker and ok.attempt_list[0].worker.startswith("tcp://127.0.0.1:")
    assert ok.environment and ok.environment.startswith("env:sha256:") and ok.s2p_version
    assert ok.notebook_sha256 and ok.provenance and ok.provenance["scheduler"] == "LocalCluster"
    d = runner.run_dir(ok.id)
    assert json.loads((d / "scraps.json").read_text())["label"] == "on dask"
    assert "Executing Cell 5" in (d / "run.log").read_text() and (d / "report.html").is_file()

    assert info["workers_before"] == 2 and info["second_attempt"] == 2
    assert [(a.number, a.status, a.failure) for a in victim.attempt_list] == [
        (1, "failed", "lost"),
        (2, "cancelled", "cancelled"),
    ]
    assert victim.attempt_list[0].error and "dask worker" in victim.attempt_list[0].error
    assert victim.status == "cancelled" and victim.attempts == 2
    assert "attempt 1 failed (lost)" in (runner.run_dir(victim.id) / "run.log").read_text()
    assert [r.id for r in store.runs("tiny-retried")] == [
        victim.id
    ]  # one run, two attempts: nothing duplicated

    assert running_papermills == 1
    assert (timed.status, timed.failure, timed.error) == ("timed_out", "timeout", "timed out after 8 s")
    assert json.loads((runner.run_dir(timed.id) / "scraps.json").read_text())["label"] == "tiny"
    deadline = time.monotonic() + 15
    while _papermills("dask-s2p-run-") and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _papermills("dask-s2p-run-") == []  # papermill (and with it the kernel) is gone
    assert time.monotonic() - t0 < 600


@pytest.mark.docker
@pytest.mark.swarm
def test_swarm_runs_and_a_killed_container_is_retried(
    tmp_path: Path, notebooks: Path, lab_image: Any, work_dir: Path, single_node_swarm: None
) -> None:
    import docker

    from workbench.jobs.executors.swarm import SwarmExecutor

    client = docker.from_env()
    state = tmp_path / "state"
    state.mkdir()
    swarm = SwarmExecutor(
        lab_image.image,
        data_dir=DATA,
        work_dir=state / "work",
        prefix=f"s2p-jobsprod-test-{os.getpid()}",
        network="none",
        memory=2 << 30,
    )
    local = LocalExecutor(work_dir, data_environment={"WORKBENCH_DATA_DIR": str(DATA)})
    store = Store(tmp_path / "jobs.sqlite")
    runner = Runner(
        store,
        tmp_path / "runs",
        notebooks,
        executors={"local": local, "swarm": swarm},
        default_executor="local",
    )
    job = _job(store, notebooks, "tiny", "swarm", retry={"retries": 1, "backoff_s": 0, "on": ["lost"]})

    async def main() -> tuple[Run, Run]:
        await runner.start()
        try:
            ok = store.add_run(job, {"label": "on swarm"}, trigger="api", requested_by="op")
            runner.submit(ok.id)
            ok_run = await _until(store, ok.id, _final)
            victim = store.add_run(job, {"seconds": 600.0}, trigger="api", requested_by="op")
            runner.submit(victim.id)
            sleeping = await _until(store, victim.id, _sleeping(runner))
            container = (sleeping.provenance or {}).get("container")
            assert container, sleeping.provenance
            subprocess.run(["docker", "kill", container], check=True, capture_output=True)
            await _until(store, victim.id, lambda r: r.attempts == 2 and r.status == "running")
            await runner.cancel(victim.id)
            return ok_run, await _until(store, victim.id, _final)
        finally:
            await runner.stop()

    ok, victim = asyncio.run(main())
    assert ok.status == "succeeded", ok.error
    # the image the tag named when the run started (another test may have rebuilt the lab image since
    # the session's fixture recorded its id: a new `created` label makes a new id)
    current = subprocess.run(
        ["docker", "image", "inspect", "--format", "{{.Id}}", lab_image.image],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert ok.environment == current and (ok.provenance or {})["executor"] == "swarm"
    assert json.loads((runner.run_dir(ok.id) / "scraps.json").read_text())["label"] == "on swarm"
    assert "Ending Cell 5" in (runner.run_dir(ok.id) / "run.log").read_text()
    assert [(a.number, a.status, a.failure) for a in victim.attempt_list] == [
        (1, "failed", "lost"),
        (2, "cancelled", "cancelled"),
    ]
    assert "killed" in (victim.attempt_list[0].error or "")
    left = client.services.list(filters={"label": f"org.s2p.workbench.instance={swarm.prefix}"})
    assert left == []  # every run's service is removed
