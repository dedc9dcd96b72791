"""The scheduler: misfire policies after downtime, and no fire time run twice across restarts.

Each "service" is a real :class:`JobsState` built from the settings on one store file, as a restarted
service would be; the ticks are given the time, so the test does not wait for the clock.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.support import DATA
from workbench.jobs.factory import build_state, recover
from workbench.jobs.model import job_from_request
from workbench.jobs.scheduler import fire_times, scheduler_tick
from workbench.jobs.state import JobsState
from workbench.settings import Settings

T0 = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)


def _job(notebooks: Path, **extra: object):
    body = {
        "name": "every-minute",
        "segment": "neo",
        "notebook": "jobs/tiny.ipynb",
        "schedule": "* * * * *",
        **extra,
    }
    job, _ = job_from_request(
        body, notebooks_dir=notebooks, data_dir=DATA, default_timeout=60, created_by="op"
    )
    return replace(job, created_at=T0 - timedelta(seconds=30))


def _service(tmp_path: Path, notebooks: Path) -> JobsState:
    settings = Settings.from_env(
        {"WORKBENCH_STATE_DIR": str(tmp_path / "state"), "WORKBENCH_JOBS_NOTEBOOKS_DIR": str(notebooks)}
    )
    return build_state(settings)


def _scheduled(state: JobsState) -> list[datetime | None]:
    return sorted(r.scheduled_for for r in state.store.runs("every-minute") if r.scheduled_for)  # type: ignore[type-var]


def test_misfire_policies_after_downtime(notebooks: Path) -> None:
    down_until = T0 + timedelta(minutes=10, seconds=20)  # fire times 06:00 … 06:10 were missed
    minutes = [T0 + timedelta(minutes=m) for m in range(11)]
    assert fire_times(_job(notebooks), down_until) == [minutes[-1]]
    assert fire_times(_job(notebooks, misfire="run_all", misfire_cap=3), down_until) == minutes[-3:]
    assert fire_times(_job(notebooks, misfire="run_all", misfire_cap=50), down_until) == minutes
    assert fire_times(_job(notebooks, misfire="skip"), down_until) == [minutes[-1]]  # 20 s late: on time
    hourly = _job(notebooks, misfire="skip", schedule="0 * * * *")
    assert fire_times(hourly, T0 + timedelta(seconds=59)) == [T0]  # within the grace
    assert fire_times(hourly, T0 + timedelta(seconds=61)) == []  # missed: skipped
    assert fire_times(replace(hourly, misfire="run_once"), T0 + timedelta(minutes=59)) == [T0]
    # A year of downtime on a per-minute schedule costs the cap, not 525,600 steps.
    year = fire_times(_job(notebooks, misfire="run_all", misfire_cap=5), T0 + timedelta(days=365))
    assert len(year) == 5 and year[-1] == T0 + timedelta(days=365)
    assert fire_times(_job(notebooks), T0 - timedelta(seconds=1)) == []  # not due yet


def test_no_fire_time_runs_twice_when_the_service_restarts_around_it(tmp_path: Path, notebooks: Path) -> None:
    first = _service(tmp_path, notebooks)
    first.store.add_job(_job(notebooks))
    leftover = first.store.add_run(_job(notebooks), {}, trigger="api", requested_by="op")

    # Fires at 06:00:01, then dies at once (no stop: nothing is cleaned up).
    fired = scheduler_tick(first, T0 + timedelta(seconds=1))
    assert len(fired) == 1
    second = _service(tmp_path, notebooks)

    async def restart() -> list[int]:
        await recover(second)
        return [second.runner.queue.get_nowait() for _ in range(second.runner.queue.qsize())]

    assert asyncio.run(restart()) == [leftover.id, fired[0]]  # queued runs go on; none is added
    assert scheduler_tick(second, T0 + timedelta(seconds=5)) == []  # 06:00 ran already
    assert scheduler_tick(first, T0 + timedelta(seconds=6)) == []  # the old process, if it lingers, neither
    assert _scheduled(second) == [T0]

    # Dies just before 06:01, the next comes up just after: 06:01 runs once.
    assert scheduler_tick(second, T0 + timedelta(seconds=59)) == []
    third = _service(tmp_path, notebooks)
    assert len(scheduler_tick(third, T0 + timedelta(minutes=1, seconds=2))) == 1
    assert scheduler_tick(third, T0 + timedelta(minutes=1, seconds=20)) == []

    # Two services tick at 06:02 at the same moment (a restart overlapping the old process).
    got: list[list[int]] = []
    barrier = threading.Barrier(4)

    def tick(state: JobsState) -> None:
        barrier.wait()
        got.append(scheduler_tick(state, T0 + timedelta(minutes=2, seconds=1)))

    threads = [threading.Thread(target=tick, args=(s,)) for s in (first, second, third, third)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(len(ids) for ids in got) == [0, 0, 0, 1]
    assert _scheduled(third) == [T0, T0 + timedelta(minutes=1), T0 + timedelta(minutes=2)]
    run = third.store.runs("every-minute", limit=1)[0]
    assert (run.trigger, run.requested_by, run.status) == ("schedule", "scheduler", "queued")
    for state in (first, second, third):
        state.store.close()


def test_run_all_and_skip_after_a_long_downtime(tmp_path: Path, notebooks: Path) -> None:
    state = _service(tmp_path, notebooks)
    state.store.add_job(_job(notebooks, misfire="run_all", misfire_cap=3))
    back = T0 + timedelta(minutes=10, seconds=5)
    assert len(scheduler_tick(state, back)) == 3
    assert _scheduled(state) == [T0 + timedelta(minutes=m) for m in (8, 9, 10)]
    assert scheduler_tick(state, back + timedelta(seconds=15)) == []

    changed = replace(state.store.job("every-minute"), misfire="skip", schedule="*/15 * * * *")  # type: ignore[type-var]
    state.store.update_job(changed)
    later = T0 + timedelta(minutes=31, seconds=40)  # 06:15 and 06:30 missed, 06:30 by 100 s
    assert scheduler_tick(state, later) == []
    assert state.store.job("every-minute").last_scheduled == T0 + timedelta(minutes=30)  # type: ignore[union-attr]
    assert scheduler_tick(state, later + timedelta(seconds=15)) == []  # skipped means skipped
    assert len(scheduler_tick(state, T0 + timedelta(minutes=45, seconds=3))) == 1  # on time again
    state.store.close()
