"""The run queue: at most ``workers`` runs at a time, each handed to its job's executor.

A run's record folder ``<runs_dir>/<id>/`` belongs to the service and holds what the run used and made::

    input.ipynb       the job's notebook as it was when the run started
    parameters.json   the parameters papermill injected (JSON, read by papermill as YAML)
    output.ipynb      the executed notebook (taken back from the run when it ends)
    run.log           papermill's log with the notebook's output, and stderr
    report.html       the output notebook as HTML without code (also for failed runs)
    scraps.json       the values the notebook recorded (see :mod:`workbench.jobs.scraps`)

The run itself never gets this folder: its executor (:mod:`workbench.jobs.executors`) runs papermill
in a work folder of the run's own and copies the output notebook back, as untrusted data, when the run
ends. While it runs, progress and scraps are read from that work folder.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from workbench.jobs.executors import Execution, Executor, ExecutorError, Failure, RunSpec, execute
from workbench.jobs.model import Job, JobError, utcnow
from workbench.jobs.provenance import provenance_columns
from workbench.jobs.reports import notebook_progress, prepare_reports, read_json, write_report
from workbench.jobs.retries import retry_attempt
from workbench.jobs.scraps import read_scraps
from workbench.jobs.store import Run, Store

log = logging.getLogger(__name__)

STOPPED = "service stopped during the run"
STOP_WAIT_S = 60.0
"""How long stopping the service waits for running runs to be killed and recorded [s]."""


class Runner:
    """The run queue of the jobs service.

    Parameters
    ----------
    store
        Where runs are recorded.
    runs_dir
        Parent of the runs' record folders.
    notebooks_dir
        Where the jobs' notebooks are (paths in runs are relative to it).
    executors
        The executors by name (:func:`workbench.jobs.executors.build`).
    default_executor
        The executor of jobs that name none (``WORKBENCH_JOBS_EXECUTOR``).
    workers
        Runs executed at the same time.
    start_timeout_s
        Bound on a run's start, before its first cell [s].
    kernel
        Kernel name for papermill (``python3``: the kernel of the interpreter running papermill).
    """

    def __init__(
        self,
        store: Store,
        runs_dir: Path,
        notebooks_dir: Path,
        *,
        executors: Mapping[str, Executor],
        default_executor: str,
        workers: int = 2,
        start_timeout_s: float = 300.0,
        kernel: str = "python3",
    ) -> None:
        if default_executor not in executors:
            raise ValueError(f"no executor named {default_executor!r}")
        self.store = store
        self.runs_dir = runs_dir
        self.notebooks_dir = notebooks_dir
        self.executors = dict(executors)
        self.default_executor = default_executor
        self.workers = max(1, workers)
        self.start_timeout_s = start_timeout_s
        self.kernel = kernel
        self.queue: asyncio.Queue[int] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._reports_ready: asyncio.Task[None] | None = None
        self._cancel: dict[int, asyncio.Event] = {}
        self._executions: dict[int, Execution] = {}
        self._stopping = False

    def run_dir(self, run_id: int) -> Path:
        return self.runs_dir / str(run_id)

    def executor(self, name: str | None) -> Executor:
        """The executor called ``name`` (None: the default); :class:`JobError` 400 if there is none."""
        key = name or self.default_executor
        if key not in self.executors:
            raise JobError(f"executor {key!r}: one of {', '.join(self.executors)}")
        return self.executors[key]

    async def recover(self, runs: list[Run]) -> None:
        """Before the first run: each executor ends what a dead service left of ``runs``, and cleans up."""
        for name, executor in self.executors.items():
            refs = [r.ref or str(r.pid or "") for r in runs if (r.executor or self.default_executor) == name]
            try:
                await executor.recover([ref for ref in refs if ref])
            except Exception:  # recovery must not keep the service down
                log.exception("recovery of the %s executor", name)

    async def start(self) -> None:
        """Start the workers (call from the event loop)."""
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        for name, executor in self.executors.items():
            try:
                executor.warm_up()
            except Exception:  # a pool that cannot start leaves runs starting cold, not the service down
                log.exception("warming up the %s executor", name)
        self._tasks = [asyncio.create_task(self._worker()) for _ in range(self.workers)]
        # nbconvert's import and the report's exporter now, in a thread, rather than in the first run's wait
        self._reports_ready = asyncio.create_task(asyncio.to_thread(prepare_reports))

    async def stop(self) -> None:
        """Stop: running runs are killed and recorded as failed (a restart re-runs nothing)."""
        self._stopping = True
        for event in self._cancel.values():
            event.set()
        deadline = asyncio.get_running_loop().time() + STOP_WAIT_S
        while self._cancel and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.1)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for name, executor in self.executors.items():
            try:
                await executor.cool_down()
            except Exception:
                log.exception("cooling down the %s executor", name)

    def submit(self, run_id: int) -> None:
        self.queue.put_nowait(run_id)

    async def cancel(self, run_id: int) -> None:
        """Cancel a queued run at once, or stop a running one (its worker records ``cancelled``)."""
        run = self.store.run(run_id)
        if run is None:
            return
        if run.status == "queued":
            self.store.finish_run(run_id, "cancelled", "cancelled before it started", Failure.CANCELLED)
        elif run.status == "running" and run_id in self._cancel:
            self._cancel[run_id].set()

    def notebook(self, run: Run) -> dict[str, Any] | None:
        """The run's output notebook: from its executor while it runs, else from its record folder."""
        execution = self._executions.get(run.id)
        if run.status == "running" and execution is not None:
            return self.executor(run.executor).notebook(execution)
        return read_json(self.run_dir(run.id) / "output.ipynb")

    def progress(self, run: Run) -> Run:
        """``run`` with cells done/total read from its output notebook while it runs."""
        if run.status == "running":
            nb = self.notebook(run)
            if nb is not None:
                run.cells_done, run.cells_total = notebook_progress(nb)
        return run

    async def _worker(self) -> None:
        while True:
            run_id = await self.queue.get()
            try:
                run = self.store.run(run_id)
                if run is None or run.status != "queued" or self._stopping:
                    continue
                wait = (run.not_before - utcnow()).total_seconds() if run.not_before else 0.0
                if wait > 0:  # a retry waiting for its back-off (e.g. re-queued after a restart)
                    self._later(run_id, wait)
                    continue
                await self._execute(run)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a bug must not stop the queue; the run says what happened
                log.exception("run %s", run_id)
                self.store.finish_run(run_id, "failed", f"jobs service error: {exc}")

    def _later(self, run_id: int, delay_s: float) -> None:
        """Submit ``run_id`` again in ``delay_s`` seconds."""
        asyncio.get_running_loop().call_later(max(0.0, delay_s), self.submit, run_id)

    def _retry(self, run: Run, job: Job | None, status: str, failure: str, error: str) -> bool:
        """Queue ``run`` again if its job's retry policy retries this failure of its attempt.

        While the service stops, the run is queued without being submitted: the next service starts it.
        """
        delay = retry_attempt(
            self.store,
            run,
            job,
            attempt=run.attempts + 1,  # ``run`` was read before this attempt started
            status=status,
            failure=failure,
            error=error,
            log_file=self.run_dir(run.id) / "run.log",
        )
        if delay is None:
            return False
        if not self._stopping:
            self._later(run.id, delay)
        return True

    def _prepare(self, run: Run) -> RunSpec:
        """The record folder with the notebook and parameters, and the run's provenance of its inputs."""
        d = self.run_dir(run.id)
        d.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self.notebooks_dir / run.notebook, d / "input.ipynb")
        (d / "parameters.json").write_text(json.dumps(run.parameters))
        return RunSpec(run.id, run.job, run.segment, d, self.kernel)

    async def _execute(self, run: Run) -> None:
        job = self.store.job(run.job)
        name = (job.executor if job else None) or self.default_executor
        source = self.notebooks_dir / run.notebook
        if not source.is_file():
            self.store.finish_run(
                run.id, "failed", f"notebook {run.notebook} no longer exists", Failure.START_FAILED
            )
            return
        try:
            executor = self.executor(name)
            executor.check()
        except JobError as exc:
            self.store.update_run(run.id, executor=name)
            self.store.finish_run(run.id, "failed", exc.message, Failure.START_FAILED)
            return
        spec = await asyncio.to_thread(self._prepare, run)
        digest = hashlib.sha256((spec.record_dir / "input.ipynb").read_bytes()).hexdigest()
        cancel = self._cancel.setdefault(run.id, asyncio.Event())
        self.store.update_run(run.id, status="running", started_at=utcnow(), executor=name)

        def started(execution: Execution) -> None:
            self._executions[run.id] = execution
            pid = int(execution.ref) if name == "local" and execution.ref.isdigit() else None
            provenance = {**execution.provenance, "notebook_sha256": digest}
            self.store.update_run(
                run.id, ref=execution.ref, pid=pid, provenance=provenance, **provenance_columns(provenance)
            )

        try:
            outcome, _ = await execute(
                executor,
                spec,
                timeout_s=run.timeout_s,
                start_timeout_s=self.start_timeout_s,
                cancel=cancel,
                started=started,
            )
        except ExecutorError as exc:  # an executor that broke its contract: still record the run
            outcome = None
            self.store.finish_run(run.id, "failed", exc.message, exc.failure)
        finally:
            self._executions.pop(run.id, None)
            self._cancel.pop(run.id, None)
        if outcome is None:
            return
        status, failure, error = outcome.status, outcome.failure, outcome.error
        if self._stopping and failure is Failure.CANCELLED:
            status, failure, error = "failed", Failure.LOST, STOPPED
        retriable = failure is not None and failure is not Failure.CANCELLED
        if retriable and self._retry(run, job, status, str(failure), error or ""):
            return
        await self._finish(run.id, status, error, failure)

    async def _finish(self, run_id: int, status: str, error: str | None, failure: str | None) -> None:
        """Record scraps, progress and report, then the final status (clients wait for the status)."""
        d = self.run_dir(run_id)
        nb = read_json(d / "output.ipynb")
        fields: dict[str, Any] = {
            "status": status,
            "error": error,
            "failure": failure,
            "finished_at": utcnow(),
            "pid": None,
        }
        if nb is not None:
            fields["cells_done"], fields["cells_total"] = notebook_progress(nb)
            (d / "scraps.json").write_text(json.dumps(read_scraps(nb)))
        run = self.store.run(run_id)
        assert run is not None
        for key, value in fields.items():
            setattr(run, key, value)
        job = self.store.job(run.job)
        try:
            await asyncio.to_thread(write_report, run, d, job.description if job else "")
        except Exception as exc:  # the run's outcome stands; say why there is no report
            log.warning("run %s: no report: %s", run_id, exc)
        self.store.update_run(run_id, **fields)
        log.info("run %s finished: %s%s", run_id, status, f" ({error})" if error else "")
