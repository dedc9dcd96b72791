"""The cron scheduler of the jobs service: queue a run of every job whose schedule came due."""

from __future__ import annotations

import logging
from datetime import datetime

from workbench.jobs.model import JobError, next_fire, utcnow
from workbench.jobs.state import JobsState, start_run

log = logging.getLogger("workbench.jobs")

PERIOD_S = 15.0
"""How often the schedules are looked at [s]."""


def scheduler_tick(state: JobsState, now: datetime | None = None) -> list[int]:
    """Queue a run of every scheduled job that was due since it last fired; return the new run ids.

    A job fires at most once per tick: runs missed while the service was down are not replayed one by
    one, the next tick runs the job once.
    """
    now = now or utcnow()
    started = []
    for job in state.store.jobs():
        if not job.schedule:
            continue
        due = next_fire(job.schedule, job.last_scheduled or job.created_at)
        if due > now:
            continue
        state.store.set_last_scheduled(job.name, now)
        try:
            run = start_run(state, job, None, trigger="schedule", by="scheduler")
        except JobError as exc:
            log.error("scheduled run of %s refused: %s", job.name, exc.message)
            continue
        started.append(run.id)
    return started
