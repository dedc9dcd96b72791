"""Retries: whether a failed attempt of a run is tried again, and when (the job's ``retry`` policy).

The runner calls :func:`retry_attempt` when an attempt ends without success; the run goes back to the
queue with ``not_before`` set to the end of its back-off, its attempt recorded as it ended. A run that
was running when the service died is treated as a lost attempt (:func:`lost_run_retry_at`).
"""

from __future__ import annotations

import contextlib
import logging
from datetime import datetime, timedelta
from pathlib import Path

from workbench.jobs.model import Job, utcnow
from workbench.jobs.policies import RetryPolicy
from workbench.jobs.store import Run, Store

log = logging.getLogger("workbench.jobs")


def policy_of(job: Job | None) -> RetryPolicy:
    """The job's retry policy (no retry when it has none)."""
    return (job.retry if job else None) or RetryPolicy()


def retry_attempt(
    store: Store,
    run: Run,
    job: Job | None,
    *,
    attempt: int,
    status: str,
    failure: str,
    error: str,
    log_file: Path,
) -> float | None:
    """Queue ``run`` again if its job's policy retries attempt ``attempt`` that ended ``status`` with
    ``failure``; return the back-off [s] (the caller submits it then), or None: the run ends here."""
    policy = policy_of(job)
    if not policy.retries_after(attempt, failure):
        return None
    delay = policy.delay_s(attempt)
    queued = store.retry_run(
        run.id, failure=failure, error=error, not_before=utcnow() + timedelta(seconds=delay), status=status
    )
    if queued is None:
        return None
    with contextlib.suppress(OSError), open(log_file, "a") as fh:
        fh.write(
            f"\n[jobs service] attempt {attempt} {status} ({failure}): {error}; retried in {delay:g} s\n"
        )
    log.warning(
        "run %s attempt %d %s (%s): %s; retried in %g s", run.id, attempt, status, failure, error, delay
    )
    return delay


def lost_run_retry_at(run: Run, job: Job | None) -> datetime | None:
    """When to retry a run a dead service left running (its current attempt was lost), or None."""
    policy = policy_of(job)
    if not policy.retries_after(run.attempts, "lost"):
        return None
    return utcnow() + timedelta(seconds=policy.delay_s(run.attempts))
