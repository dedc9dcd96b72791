"""Wiring: the jobs service's store, runner and policy from the settings, and recovery after a crash."""

from __future__ import annotations

import logging
import os

import psutil

from workbench.jobs.access import Policy
from workbench.jobs.runner import Runner, kill_tree
from workbench.jobs.state import JobsState
from workbench.jobs.store import Store
from workbench.settings import Settings

log = logging.getLogger("workbench.jobs")


def recover(state: JobsState) -> None:
    """Runs a dead service left behind: ``running`` ones failed (and their processes ended), ``queued`` re-queued."""
    failed, queued = state.store.recover()
    for run in failed:
        log.warning("run %s was running when the service stopped: marked failed", run.id)
        if run.pid and psutil.pid_exists(run.pid):
            try:
                cmd = " ".join(psutil.Process(run.pid).cmdline())
            except psutil.Error:
                continue
            if str(state.runner.run_dir(run.id)) in cmd:  # only if the pid is still that run's papermill
                kill_tree(run.pid)
    for run in queued:
        state.runner.submit(run.id)


def build_state(settings: Settings, env: dict[str, str] | None = None) -> JobsState:
    """Store, runner and policy of the service from the settings (no hub contact yet)."""
    base = settings.state_dir / "jobs"
    store = Store(base / "jobs.sqlite")
    runner = Runner(store, base / "runs", settings.jobs_notebooks_dir, workers=settings.jobs_workers, env=env)
    return JobsState(
        store=store,
        runner=runner,
        policy=Policy(frozenset(settings.jobs_operator_groups)),
        notebooks_dir=settings.jobs_notebooks_dir,
        default_timeout=settings.jobs_timeout,
        hub_api_url=os.environ.get("JUPYTERHUB_API_URL", ""),
        api_token=os.environ.get("JUPYTERHUB_API_TOKEN", ""),
    )
