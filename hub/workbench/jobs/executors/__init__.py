"""Executors: where, and as whom, a run's papermill and kernel execute.

A job names an executor (its ``executor`` field) or takes ``WORKBENCH_JOBS_EXECUTOR``; each run records
the executor it used, what it ran in (``provenance``) and, when it did not succeed, a ``failure`` class.

- ``local`` (:mod:`.local`, development): a process on the service's machine, as an unprivileged account
  of its own when the service runs as root, with a minimal environment;
- ``container`` (:mod:`.container`, production; the default with the docker and swarm spawners): a
  container of the lab image as jovyan, without credentials, state directory or Docker socket;
- ``dask`` (:mod:`.dask`, scale-out): a task on a ``dask.distributed`` cluster (a LocalCluster of
  worker processes, or ``WORKBENCH_DASK_ADDRESS``);
- ``swarm`` (:mod:`.swarm`): a one-off Swarm service of the lab image, placed by the Swarm scheduler,
  hardened as ``container``.

The interface (:mod:`.base`), for whoever adds one (``dask``, ``swarm``)::

    class Executor:
        name: ClassVar[str]                                 # the value of WORKBENCH_JOBS_EXECUTOR / job.executor
        def check(self) -> None                             # raise ExecutorError if it cannot run here
        async def start(self, spec: RunSpec) -> Execution   # start papermill, return at once
        async def wait(self, ex: Execution) -> int | None   # papermill's exit code; None: worker vanished
        async def kill(self, ex: Execution) -> None         # end everything of the run now (idempotent)
        async def collect(self, ex: Execution) -> None      # output.ipynb into spec.record_dir; clean up
        async def recover(self, refs) -> None               # at service start: end what a dead one left
        def notebook(self, ex) -> dict | None               # output notebook so far (default: workdir)

``RunSpec`` carries the run id, job, segment, kernel and the service's record folder (``input.ipynb``
and ``parameters.json`` in; the executor appends the run's output to ``run.log`` there and leaves
``output.ipynb`` there on collect). ``Execution`` carries ``ref`` (pid, container or task id, stored
for recovery), ``provenance`` (stored with the run) and the executor's own ``state``.

:func:`.base.execute` is the life of one attempt, the same for every executor: start (failures are
``start_failed``), :func:`.base.supervise` (start timeout ``WORKBENCH_JOBS_START_TIMEOUT``; the job's
``timeout_s`` counted from the notebook's first cell; cancel), collect, then :func:`.base.classify`
into an :class:`.base.Outcome`: status, :class:`.base.Failure` (``notebook_error``, ``timeout``,
``lost``, ``start_failed``, ``cancelled``; :data:`.base.RETRYABLE` are the ones a retry policy retries
by default) and the message. An executor only has to say *what happened* (exit code, or vanished with
a ``lost_reason`` in ``Execution.state``); the rules are in one place.

To add an executor: a module here with a subclass, its name in ``workbench.settings.JOB_EXECUTORS``,
and a line in :func:`build`. Whatever runs the notebook must get only what :mod:`.local` and
:mod:`.container` give (data read-only, its own folder, no credential), and everything it wrote is read
back with :func:`.base.copy_untrusted` / :func:`.base.read_untrusted_json`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from workbench.jobs.executors.base import (
    RETRYABLE,
    Execution,
    Executor,
    ExecutorError,
    Failure,
    Outcome,
    RunSpec,
    execute,
)
from workbench.settings import JOB_EXECUTORS, Settings

__all__ = [
    "JOB_EXECUTORS",
    "RETRYABLE",
    "Execution",
    "Executor",
    "ExecutorError",
    "Failure",
    "Outcome",
    "RunSpec",
    "build",
    "execute",
]


def build(settings: Settings) -> dict[str, Executor]:
    """Every executor this installation offers, configured from the settings (nothing started yet)."""
    from workbench.jobs.executors.container import ContainerExecutor
    from workbench.jobs.executors.dask import DaskExecutor
    from workbench.jobs.executors.local import LocalExecutor, default_work_dir
    from workbench.jobs.executors.swarm import SwarmExecutor

    data_environment = settings.lab_environment()
    local_work = Path(settings.jobs_work_dir) if settings.jobs_work_dir else None
    local = LocalExecutor(
        local_work or default_work_dir(settings.state_dir, os.geteuid()),
        run_user=settings.jobs_run_user,
        data_environment=data_environment,
        env=settings.env,
        warm=settings.jobs_warm_pool,
    )
    # The container and swarm executors run the same lab image, hardened the same way.
    in_image: dict[str, Any] = {
        "data_dir": settings.data_dir,
        "work_dir": settings.state_dir / "jobs" / "work",
        "state_dir": settings.state_dir,
        "data_environment": data_environment,
        "network": settings.jobs_network,
        "memory": settings.jobs_memory,
    }
    return {
        "local": local,
        "dask": DaskExecutor(settings.dask_address, workers=settings.dask_workers, local=local),
        "swarm": SwarmExecutor(settings.image, **in_image),
        "container": ContainerExecutor(settings.image, **in_image),
    }
