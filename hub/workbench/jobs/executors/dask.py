"""``dask``: each run a task on a ``dask.distributed`` cluster — runs spread over its workers and machines.

By default the executor starts a ``LocalCluster`` of ``WORKBENCH_DASK_WORKERS`` separate worker
processes on 127.0.0.1 (one thread each: one run per worker at a time) when the first dask run starts;
``WORKBENCH_DASK_ADDRESS`` names a real scheduler instead (``tcp://scheduler:8786``), whose workers need
papermill and a ``python3`` kernel — the lab image has both.

A run is the task :func:`.dask_task.run_notebook` (sent by value: a worker needs no workbench code),
with the notebook and parameters as its arguments and the executed notebook as its result. While it
runs, the service asks the worker for its progress and new log lines (``Client.run``: nothing piles
up on the scheduler) and a timeout or cancel kills papermill and the kernel on the worker the same way.
The task's papermill dies with its worker (``PR_SET_PDEATHSIG``). A worker that dies under a run fails
the task (``distributed.scheduler.allowed-failures`` is 0 on the local cluster; a second start of the
same attempt elsewhere is refused, for clusters configured otherwise): the run is ``lost``, and its
retry policy decides.

On the local cluster, papermill and the kernel run as the local executor's unprivileged identity
(``WORKBENCH_JOBS_RUN_USER`` when the service runs as root), with its interpreter and minimal
environment, in a folder of its own under the local work folder; the workers' own environment has the
hub's and the service's credentials blanked. On a remote cluster they run as the workers run.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from workbench.jobs.executors.base import MAX_NOTEBOOK_BYTES, Execution, Executor, ExecutorError, RunSpec
from workbench.jobs.executors.local import LocalExecutor, secure_root

log = logging.getLogger("workbench.jobs")

PLACE_TIMEOUT_S = 30.0
"""How long :meth:`DaskExecutor.start` waits to learn which worker took the run [s]."""
POLL_S = 0.5
SECRET_PREFIXES = ("JUPYTERHUB_", "WORKBENCH_", "JPY_")
"""Environment variables blanked in the local cluster's workers (tokens, database URLs, secrets)."""


class DaskExecutor(Executor):
    """Runs as tasks of a dask cluster; see the module docstring.

    Parameters
    ----------
    address
        A scheduler's address, or empty: a ``LocalCluster`` of ``workers`` processes.
    workers
        Worker processes of the local cluster.
    local
        The local executor, whose identity, interpreter, environment and work folder the local
        cluster's runs use.
    """

    name = "dask"

    def __init__(self, address: str = "", *, workers: int = 2, local: LocalExecutor) -> None:
        self.address = address
        self.workers = max(1, workers)
        self.local = local
        self._client: Any = None
        self._cluster: Any = None
        self._lock: asyncio.Lock | None = None
        self._worker_provenance: dict[str, Any] | None = None

    def check(self) -> None:
        if not self.address:
            self.local.check()

    def provenance(self) -> dict[str, Any]:
        return {"executor": self.name, "scheduler": self.address or "LocalCluster"}

    async def client(self) -> Any:
        """The cluster's client, connecting (or starting the local cluster) the first time."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self._client is None:
                try:
                    self._client = await self._connect()
                except Exception as exc:  # dask raises OSError, TimeoutError, its own CommClosedError…
                    await self.close()
                    where = self.address or "a local cluster"
                    raise ExecutorError(f"the dask executor cannot reach {where}: {exc}") from None
        return self._client

    async def _connect(self) -> Any:
        import cloudpickle
        import dask
        from distributed import Client, LocalCluster

        from workbench.jobs.executors import dask_task

        cloudpickle.register_pickle_by_value(dask_task)
        if self.address:
            return await Client(self.address, asynchronous=True, timeout="30s")
        blank = {k: "" for k in os.environ if k.startswith(SECRET_PREFIXES)}
        with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
            self._cluster = await LocalCluster(
                n_workers=self.workers,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
                asynchronous=True,
                env=blank,
                silence_logs=logging.WARNING,
            )
        log.info(
            "dask executor: local cluster %s with %d workers", self._cluster.scheduler_address, self.workers
        )
        return await Client(self._cluster, asynchronous=True)

    async def close(self) -> None:
        """Disconnect, and stop the local cluster if this executor started it."""
        if self._client is not None:
            with contextlib.suppress(Exception):
                await self._client.close()
        if self._cluster is not None:
            with contextlib.suppress(Exception):
                await self._cluster.close()
        self._client = self._cluster = None

    async def worker_pids(self) -> dict[str, int]:
        """Address -> process id of every worker (tests kill one)."""
        client = await self.client()
        return dict(await client.run(os.getpid))

    # -- one run ---------------------------------------------------------------------------------

    def _task_arguments(self, spec: RunSpec) -> dict[str, Any]:
        """Identity, interpreter, environment and folder of a run on the local cluster."""
        if self.address:
            return {"environment": None}
        ident = self.local.identity()
        self.local.work_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        if ident is not None:
            secure_root(self.local.work_dir, os.geteuid())
            self.local._probe(*ident)
        folder = self.local.work_dir / "dask"
        folder.mkdir(exist_ok=True)
        os.chmod(folder, 0o711)
        return {
            "environment": self.local.environment(Path("/nonexistent")),
            "python": self.local.run_python,
            "work_dir": str(folder),
            "run_as": ident[:2] if ident else None,
        }

    async def start(self, spec: RunSpec) -> Execution:
        from workbench.jobs.executors import dask_task

        client = await self.client()
        try:
            arguments = await asyncio.to_thread(self._task_arguments, spec)
            notebook = (spec.record_dir / "input.ipynb").read_bytes()
            parameters = (spec.record_dir / "parameters.json").read_bytes()
        except OSError as exc:
            raise ExecutorError(f"cannot prepare the run for dask: {exc}") from None
        if self._worker_provenance is None:
            found = await client.run(dask_task.worker_provenance)
            envs = {p["environment"] for p in found.values()}
            first: dict[str, Any] = next(iter(found.values()), {})
            self._worker_provenance = {**first, "environment": envs.pop() if len(envs) == 1 else "mixed"}
        key = f"s2p-run-{spec.run_id}-{os.urandom(4).hex()}"
        future = client.submit(
            dask_task.run_notebook,
            key,
            notebook,
            parameters,
            kernel=spec.kernel,
            key=key,
            pure=False,
            retries=0,
            max_notebook_bytes=MAX_NOTEBOOK_BYTES,
            **arguments,
        )
        state: dict[str, Any] = {"future": future, "key": key, "worker": None, "cells": None, "killed": False}
        execution = Execution(spec, None, key, {**self.provenance(), **self._worker_provenance}, state)
        state["poller"] = asyncio.create_task(self._poll(execution))
        await self._placed(execution)
        execution.provenance["worker"] = state["worker"]
        log.info("run %s of job %s is dask task %s on %s", spec.run_id, spec.job, key, state["worker"])
        return execution

    async def _placed(self, execution: Execution) -> None:
        """Wait (a little) until a worker has the task, so the attempt records where it runs."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + PLACE_TIMEOUT_S
        while execution.state["worker"] is None and not execution.state["future"].done():
            if loop.time() > deadline:
                return
            await asyncio.sleep(0.1)

    async def _poll(self, execution: Execution) -> None:
        """Fetch the run's progress and log from its worker until it ends."""
        from workbench.jobs.executors import dask_task

        client, state = self._client, execution.state
        log_path = execution.spec.record_dir / "run.log"
        while not state["future"].done():
            try:
                workers = [state["worker"]] if state["worker"] else None
                found = await client.run(dask_task.progress, state["key"], workers=workers, on_error="return")
            except Exception as exc:  # the worker is going away: the future will say how the task ended
                log.debug("progress of %s: %s", state["key"], exc)
                found = {}
            for address, got in found.items():
                if not isinstance(got, dict):
                    continue
                if state["worker"] not in (None, address):
                    state["lost_reason"] = f"dask started the run again on {address} after its worker died"
                    await self.kill(execution)
                state["worker"] = address
                if got.get("cells") is not None:
                    state["cells"] = got["cells"]
                if got.get("log"):
                    await asyncio.to_thread(_append, log_path, got["log"])
            await asyncio.sleep(POLL_S)

    def notebook(self, execution: Execution) -> dict[str, Any] | None:
        """The cells' states so far, as a notebook (what progress and the start timeout read)."""
        cells = execution.state.get("cells")
        if cells is None:
            return None
        code = [{"cell_type": "code", "metadata": {"papermill": {"status": s}}} for s in cells]
        return {"cells": code}

    async def wait(self, execution: Execution) -> int | None:
        state = execution.state
        try:
            result = await state["future"]
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # KilledWorker, a lost connection, the task's own error
            state.setdefault(
                "lost_reason", f"the dask worker running it died or failed: {type(exc).__name__}: {exc}"
            )
            return None
        state["result"] = result
        state["worker"] = result.get("worker") or state["worker"]
        if result.get("log"):
            await asyncio.to_thread(_append, execution.spec.record_dir / "run.log", result["log"])
        code = int(result["code"])
        if code < 0 and not state["killed"]:
            state["lost_reason"] = (
                f"papermill was killed by signal {-code} on the dask worker (not by the jobs service)"
            )
        return code

    async def kill(self, execution: Execution) -> None:
        from workbench.jobs.executors import dask_task

        state = execution.state
        state["killed"] = True
        workers = [state["worker"]] if state["worker"] else None
        # The task then returns what the run made so far; if its worker cannot be reached, collect()
        # cancels the task once the runner stops waiting for it.
        with contextlib.suppress(Exception):
            await self._client.run(dask_task.kill, state["key"], workers=workers, on_error="return")

    async def collect(self, execution: Execution) -> None:
        state = execution.state
        poller = state.get("poller")
        if poller is not None:
            poller.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await poller
        result = state.get("result") or {}
        text = result.get("notebook")
        target = execution.spec.record_dir / "output.ipynb"
        if isinstance(text, str) and len(text) <= MAX_NOTEBOOK_BYTES:
            with contextlib.suppress(ValueError):
                json.loads(text)  # only a notebook is kept
                await asyncio.to_thread(_write_private, target, text)
        with contextlib.suppress(Exception):
            await self._client.cancel(state["future"], force=True)

    async def recover(self, refs: Iterable[str]) -> None:
        """A dead service's tasks died with its local cluster; on a remote cluster, they are cancelled."""
        refs = [r for r in refs if r.startswith("s2p-run-")]
        folder = self.local.work_dir / "dask"
        if folder.is_dir():
            for leftover in folder.iterdir():
                shutil.rmtree(leftover, ignore_errors=True)
        if refs and self.address:
            from workbench.jobs.executors import dask_task

            client = await self.client()
            for key in refs:
                with contextlib.suppress(Exception):
                    await client.run(dask_task.kill, key, on_error="return")


def _append(path: Path, text: str) -> None:
    with open(path, "a", encoding="utf-8", errors="replace") as fh:
        fh.write(text)


def _write_private(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.part")
    with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600), "w") as fh:
        fh.write(text)
    os.replace(tmp, path)
