"""Wiring: the jobs service's store, executors, runner and policy from the settings, and recovery after a crash."""

from __future__ import annotations

import logging
import os

from workbench.jobs import executors
from workbench.jobs.access import Policy
from workbench.jobs.runner import Runner
from workbench.jobs.state import JobsState
from workbench.jobs.store import Store
from workbench.settings import Settings

log = logging.getLogger("workbench.jobs")


async def recover(state: JobsState) -> None:
    """Runs a dead service left behind: ``running`` ones failed (what is left of them ended by their
    executor), ``queued`` ones queued again. Call before the runner starts."""
    failed, queued = state.store.recover()
    for run in failed:
        log.warning("run %s was running when the service stopped: marked failed", run.id)
    await state.runner.recover(failed)
    for run in queued:
        state.runner.submit(run.id)


def build_state(settings: Settings) -> JobsState:
    """Store, executors, runner and policy of the service from the settings (no hub contact yet)."""
    base = settings.state_dir / "jobs"
    store = Store(base / "jobs.sqlite")
    runner = Runner(
        store,
        base / "runs",
        settings.jobs_notebooks_dir,
        executors=executors.build(settings),
        default_executor=settings.jobs_executor,
        workers=settings.jobs_workers,
        start_timeout_s=settings.jobs_start_timeout,
    )
    return JobsState(
        store=store,
        runner=runner,
        policy=Policy(frozenset(settings.jobs_operator_groups)),
        notebooks_dir=settings.jobs_notebooks_dir,
        data_dir=settings.data_dir,
        default_timeout=settings.jobs_timeout,
        hub_api_url=os.environ.get("JUPYTERHUB_API_URL", ""),
        api_token=os.environ.get("JUPYTERHUB_API_TOKEN", ""),
    )
