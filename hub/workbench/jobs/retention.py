"""Retention: which finished runs of a job are deleted (rows and folders), on a schedule.

A run is kept when any rule keeps it: it is among the job's newest ``keep_last`` finished runs, it
finished less than ``keep_days`` ago, it is the job's last successful run, or it has not finished;
a run whose notifications are not delivered yet waits for them.
The policy is the job's (``retention``), else the service's default
(``WORKBENCH_JOBS_KEEP_RUNS``, ``WORKBENCH_JOBS_KEEP_DAYS``); runs of deleted jobs follow the default.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from workbench.jobs.model import utcnow
from workbench.jobs.policies import RetentionPolicy
from workbench.jobs.store import Store

log = logging.getLogger("workbench.jobs")

PERIOD_S = 3600.0
"""How often retention runs [s] (and once when the service starts)."""


def to_delete(finished: list[tuple[int, str, datetime]], policy: RetentionPolicy, now: datetime) -> list[int]:
    """The ids among ``finished`` (``(id, status, finished_at)``, newest first) that no rule keeps."""
    if policy.keeps_all:
        return []
    last_success = next((run_id for run_id, status, _ in finished if status == "succeeded"), None)
    cutoff = now - timedelta(days=policy.keep_days) if policy.keep_days is not None else None
    doomed = []
    for index, (run_id, _, finished_at) in enumerate(finished):
        if run_id == last_success:
            continue
        if policy.keep_last is not None and index < policy.keep_last:
            continue
        if cutoff is not None and finished_at >= cutoff:
            continue
        doomed.append(run_id)
    return doomed


def apply_retention(
    store: Store,
    run_dir: Callable[[int], Path],
    default: RetentionPolicy,
    now: datetime | None = None,
) -> list[int]:
    """Delete the runs no rule keeps, every job at a time; return their ids.

    The folder of a run goes first, then its row: a crash in between leaves a row without a folder
    (its files answer 404), never a folder nobody will delete.
    """
    now = now or utcnow()
    policies = {job.name: job.retention or default for job in store.jobs()}
    deleted: list[int] = []
    for name in store.job_names_with_runs():
        doomed = to_delete(store.finished_runs(name), policies.get(name, default), now)
        doomed = [i for i in doomed if i not in store.runs_with_pending_notifications(doomed)]
        for run_id in doomed:
            shutil.rmtree(run_dir(run_id), ignore_errors=True)
        store.delete_runs(doomed)
        if doomed:
            log.info("retention: deleted %d run(s) of job %s", len(doomed), name)
        deleted.extend(doomed)
    return deleted
