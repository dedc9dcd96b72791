"""The SQLite store: jobs and runs survive a restart; a crash leaves no run 'running' for ever."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.support import DATA
from workbench.jobs.factory import build_state, recover
from workbench.jobs.model import JobError, job_from_request
from workbench.jobs.scheduler import scheduler_tick
from workbench.jobs.store import RESTARTED, Store
from workbench.settings import Settings


def _job(notebooks: Path, name: str = "tiny", **extra: object):
    body = {"name": name, "segment": "neo", "notebook": "jobs/tiny.ipynb", **extra}
    job, _ = job_from_request(
        body, notebooks_dir=notebooks, data_dir=DATA, default_timeout=60, created_by="operator"
    )
    return job


def test_jobs_and_runs_round_trip_and_names_are_unique(tmp_path: Path, notebooks: Path) -> None:
    store = Store(tmp_path / "jobs.sqlite")
    job = _job(notebooks, parameters={"count": 4}, schedule="0 * * * *", description="hourly")
    store.add_job(job)
    with pytest.raises(JobError, match="exists already") as err:
        store.add_job(job)
    assert err.value.status == 409
    run = store.add_run(job, {"count": 5}, trigger="cli", requested_by="operator")
    store.close()

    again = Store(tmp_path / "jobs.sqlite")
    assert again.job("tiny") == job
    stored = again.run(run.id)
    assert stored is not None
    assert (stored.status, stored.trigger, stored.parameters, stored.segment) == (
        "queued",
        "cli",
        {"count": 5},
        "neo",
    )
    again.delete_job("tiny")
    assert again.job("tiny") is None and again.run(run.id) is not None  # history stays


def test_recover_fails_running_runs_and_requeues_queued_ones(tmp_path: Path, notebooks: Path) -> None:
    store = Store(tmp_path / "jobs.sqlite")
    job = _job(notebooks)
    store.add_job(job)
    running = store.add_run(job, {}, trigger="api", requested_by="a")
    queued = store.add_run(job, {}, trigger="api", requested_by="b")
    done = store.add_run(job, {}, trigger="api", requested_by="c")
    store.update_run(running.id, status="running", pid=999_999_999)
    store.finish_run(done.id, "succeeded")
    store.close()  # the service dies here

    store = Store(tmp_path / "jobs.sqlite")
    failed, requeue = store.recover()
    assert [r.id for r in failed] == [running.id] and [r.id for r in requeue] == [queued.id]
    after = store.run(running.id)
    assert after is not None and after.status == "failed" and after.error == RESTARTED
    assert after.failure == "lost"  # what a retry policy retries
    assert after.finished_at is not None
    assert store.run(done.id).status == "succeeded"  # type: ignore[union-attr]


def test_service_restart_requeues_and_the_scheduler_fires_due_jobs(tmp_path: Path, notebooks: Path) -> None:
    settings = Settings.from_env(
        {"WORKBENCH_STATE_DIR": str(tmp_path / "state"), "WORKBENCH_JOBS_NOTEBOOKS_DIR": str(notebooks)}
    )
    state = build_state(settings)
    job = _job(notebooks, schedule="* * * * *")
    state.store.add_job(job)
    leftover = state.store.add_run(job, {}, trigger="api", requested_by="a")

    async def restart() -> list[int]:
        await recover(state)  # the queued run goes back on the queue
        queued = [state.runner.queue.get_nowait() for _ in range(state.runner.queue.qsize())]
        # Due since it was created a minute ago: one scheduled run, however many minutes were missed.
        from datetime import timedelta

        state.store.db.execute(
            "UPDATE jobs SET created_at = ?", ((job.created_at - timedelta(minutes=5)).isoformat(),)
        )
        first = scheduler_tick(state)
        second = scheduler_tick(state)
        return [*queued, *first, -1, *second]

    ids = asyncio.run(restart())
    assert ids[0] == leftover.id
    scheduled = ids[1 : ids.index(-1)]
    assert len(scheduled) == 1 and ids[ids.index(-1) + 1 :] == []
    run = state.store.run(scheduled[0])
    assert run is not None and (run.trigger, run.requested_by, run.status) == (
        "schedule",
        "scheduler",
        "queued",
    )
