"""The cron scheduler of the jobs service: queue the runs of every job whose schedule came due.

Each scheduled run records the fire time it is for (``scheduled_for``), and the job's
``last_scheduled`` moves to that time in the same transaction, only if nobody moved it first
(:meth:`~workbench.jobs.store.Store.add_scheduled_run`). So a fire time runs at most once, also when
the service restarts around it or two services tick at once; and it runs at least once unless the
misfire policy says to skip it.

After downtime, the fire times missed are handled by the job's misfire policy:

- ``run_once`` (default): one run, for the latest missed fire time;
- ``skip``: no run for fire times missed by more than :data:`MISFIRE_GRACE_S`; the job waits for
  its next fire time;
- ``run_all``: a run for each missed fire time, oldest first, at most ``misfire_cap`` (the latest ones).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from workbench.jobs.model import Job, JobError, utcnow
from workbench.jobs.state import JobsState, start_run

log = logging.getLogger("workbench.jobs")

PERIOD_S = 15.0
"""How often the schedules are looked at [s]."""

MISFIRE_GRACE_S = 60.0
"""A fire time less late than this is on time, not missed (ticks come every :data:`PERIOD_S`) [s]."""


def _prev(schedule: str, before: datetime) -> datetime:
    from croniter import croniter

    prev = croniter(schedule, before.astimezone(UTC)).get_prev(datetime)
    return prev.astimezone(UTC) if prev.tzinfo else prev.replace(tzinfo=UTC)


def fire_times(job: Job, now: datetime, grace_s: float = MISFIRE_GRACE_S) -> list[datetime]:
    """The fire times of ``job`` to run now, oldest first, after its misfire policy.

    Parameters
    ----------
    job
        A scheduled job; fire times after ``job.last_scheduled`` (else its creation) count.
    now
        The time of the tick (UTC).
    grace_s
        How late a fire time may be and still be on time [s].
    """
    if not job.schedule:
        return []
    since = job.last_scheduled or job.created_at
    # Walk back from now: at most `cap` fire times are ever needed, however long the downtime.
    cap = job.misfire_cap if job.misfire == "run_all" else 1
    due: list[datetime] = []
    cursor = now + timedelta(microseconds=1)  # croniter's get_prev is strictly before
    while len(due) < cap:
        cursor = _prev(job.schedule, cursor)
        if cursor <= since:
            break
        due.append(cursor)
    due.reverse()
    if job.misfire == "skip" and due and (now - due[-1]).total_seconds() > grace_s:
        return []
    return due


def scheduler_tick(state: JobsState, now: datetime | None = None) -> list[int]:
    """Queue the runs of every scheduled job that came due since it last fired; return the new run ids."""
    now = now or utcnow()
    started: list[int] = []
    for job in state.store.jobs():
        if not job.schedule:
            continue
        due = fire_times(job, now)
        previous = job.last_scheduled
        if not due:
            latest = _prev(job.schedule, now + timedelta(microseconds=1))
            missed = job.misfire == "skip" and latest > (previous or job.created_at)
            # Missed for longer than the grace: skipped, and not looked at again.
            if missed and state.store.advance_schedule(job.name, previous, latest):
                log.warning("job %s: fire time %s missed, skipped (misfire: skip)", job.name, latest)
            continue
        for when in due:
            try:
                run = start_run(state, job, None, trigger="schedule", by="scheduler", scheduled_for=when,
                                previous=previous)  # fmt: skip
            except JobError as exc:
                log.error("scheduled run of %s refused: %s", job.name, exc.message)
                state.store.advance_schedule(job.name, previous, when)  # not again at every tick
                previous = when
                continue
            if run is None:  # another tick (a restarted or second service) fired it
                break
            started.append(run.id)
            previous = when
        if len(due) > 1:
            log.info("job %s: %d missed fire times run (misfire: %s)", job.name, len(due), job.misfire)
    return started
