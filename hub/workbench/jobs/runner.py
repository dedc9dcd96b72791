"""Run notebooks with papermill: a queue, at most ``workers`` at a time, each in its own process group.

A run's directory ``<runs_dir>/<id>/`` holds what it used and made::

    input.ipynb       the job's notebook as it was when the run started
    parameters.json   the parameters papermill injected (JSON, read by papermill as YAML)
    output.ipynb      the executed notebook (papermill saves it at every cell start and end)
    run.log           papermill's log with the notebook's output, and stderr
    report.html       the output notebook as HTML without code (also for failed runs)
    scraps.json       the values the notebook recorded (see :mod:`workbench.jobs.scraps`)

The kernel runs in a session of its own (jupyter_client starts it so), so stopping a run ends the
papermill process group *and* every descendant found before the signal.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import signal
import sys
from pathlib import Path
from typing import Any

import psutil

from workbench.jobs.model import utcnow
from workbench.jobs.reports import log_tail, notebook_error, notebook_progress, read_json, write_report
from workbench.jobs.scraps import read_scraps
from workbench.jobs.store import Run, Store

log = logging.getLogger(__name__)

KILL_GRACE_S = 3.0
"""Seconds between SIGTERM and SIGKILL when a run is stopped."""

STOPPED = "service stopped during the run"


def kill_tree(pid: int, grace_s: float = KILL_GRACE_S) -> None:
    """SIGTERM the process group of ``pid`` and every descendant, SIGKILL what is left after ``grace_s``."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        procs = []
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGTERM)
    for p in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            p.terminate()
    _, alive = psutil.wait_procs(procs, timeout=grace_s)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    for p in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            p.kill()


class Runner:
    """The run queue of the jobs service.

    Parameters
    ----------
    store
        Where runs are recorded.
    runs_dir
        Parent of the runs' directories.
    notebooks_dir
        Where the jobs' notebooks are (paths in runs are relative to it).
    workers
        Runs executed at the same time.
    env
        Environment of papermill and the kernel (default: this process's).
    kernel
        Kernel name for papermill (``python3``: the kernel of the interpreter running papermill).
    """

    def __init__(
        self,
        store: Store,
        runs_dir: Path,
        notebooks_dir: Path,
        *,
        workers: int = 2,
        env: dict[str, str] | None = None,
        kernel: str = "python3",
    ) -> None:
        self.store = store
        self.runs_dir = runs_dir
        self.notebooks_dir = notebooks_dir
        self.workers = max(1, workers)
        self.env = dict(os.environ if env is None else env)
        self.env.setdefault("PYTHONUNBUFFERED", "1")
        self.kernel = kernel
        self.queue: asyncio.Queue[int] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._procs: dict[int, asyncio.subprocess.Process] = {}
        self._cancelled: set[int] = set()

    def run_dir(self, run_id: int) -> Path:
        return self.runs_dir / str(run_id)

    async def start(self) -> None:
        """Start the workers (call from the event loop)."""
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        self._tasks = [asyncio.create_task(self._worker()) for _ in range(self.workers)]

    async def stop(self) -> None:
        """Stop the workers; runs in progress are killed and recorded as failed (a restart re-runs nothing)."""
        for task in self._tasks:
            task.cancel()
        for run_id, proc in list(self._procs.items()):
            await asyncio.to_thread(kill_tree, proc.pid)
            self.store.finish_run(run_id, "failed", STOPPED)
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def submit(self, run_id: int) -> None:
        self.queue.put_nowait(run_id)

    async def cancel(self, run_id: int) -> None:
        """Cancel a queued run at once, or stop a running one (its worker records ``cancelled``)."""
        run = self.store.run(run_id)
        if run is None:
            return
        if run.status == "queued":
            self.store.finish_run(run_id, "cancelled", "cancelled before it started")
        elif run.status == "running" and run_id in self._procs:
            self._cancelled.add(run_id)
            await asyncio.to_thread(kill_tree, self._procs[run_id].pid)

    def progress(self, run: Run) -> Run:
        """``run`` with cells done/total read from its output notebook while it runs."""
        if run.status == "running":
            nb = read_json(self.run_dir(run.id) / "output.ipynb")
            if nb is not None:
                run.cells_done, run.cells_total = notebook_progress(nb)
        return run

    async def _worker(self) -> None:
        while True:
            run_id = await self.queue.get()
            try:
                run = self.store.run(run_id)
                if run is not None and run.status == "queued":
                    await self._execute(run)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a bug must not stop the queue; the run says what happened
                log.exception("run %s", run_id)
                self.store.finish_run(run_id, "failed", f"jobs service error: {exc}")

    async def _execute(self, run: Run) -> None:
        d = self.run_dir(run.id)
        d.mkdir(parents=True, exist_ok=True)
        source = self.notebooks_dir / run.notebook
        if not source.is_file():
            self.store.finish_run(run.id, "failed", f"notebook {run.notebook} no longer exists")
            return
        shutil.copyfile(source, d / "input.ipynb")
        (d / "parameters.json").write_text(json.dumps(run.parameters))
        argv = [
            sys.executable,
            "-m",
            "papermill",
            str(d / "input.ipynb"),
            str(d / "output.ipynb"),
            "-f",
            str(d / "parameters.json"),
            "-k",
            self.kernel,
            "--cwd",
            str(d),
            "--log-output",
            "--no-progress-bar",
            "--request-save-on-cell-execute",
        ]
        self.store.update_run(run.id, status="running", started_at=utcnow())
        with open(d / "run.log", "ab") as logf:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=logf,
                stderr=asyncio.subprocess.STDOUT,
                cwd=d,
                env=self.env,
                start_new_session=True,
            )
        self._procs[run.id] = proc
        self.store.update_run(run.id, pid=proc.pid)
        log.info("run %s of job %s started (pid %s)", run.id, run.job, proc.pid)
        status, error = "succeeded", None
        try:
            code = await asyncio.wait_for(proc.wait(), timeout=run.timeout_s)
        except TimeoutError:
            await asyncio.to_thread(kill_tree, proc.pid)
            await proc.wait()
            status, error = "timed_out", f"timed out after {run.timeout_s} s"
        else:
            if run.id in self._cancelled:
                status, error = "cancelled", "cancelled while running"
            elif code != 0:
                nb = read_json(d / "output.ipynb")
                found = notebook_error(nb) if nb else None
                status, error = (
                    "failed",
                    found or f"papermill exited with code {code}: {log_tail(d / 'run.log')}",
                )
        finally:
            self._procs.pop(run.id, None)
            self._cancelled.discard(run.id)
        await self._finish(run.id, status, error)

    async def _finish(self, run_id: int, status: str, error: str | None) -> None:
        """Record scraps, progress and report, then the final status (clients wait for the status)."""
        d = self.run_dir(run_id)
        nb = read_json(d / "output.ipynb")
        fields: dict[str, Any] = {"status": status, "error": error, "finished_at": utcnow(), "pid": None}
        if nb is not None:
            fields["cells_done"], fields["cells_total"] = notebook_progress(nb)
            (d / "scraps.json").write_text(json.dumps(read_scraps(nb)))
        run = self.store.run(run_id)
        assert run is not None
        for key, value in fields.items():
            setattr(run, key, value)
        try:
            await asyncio.to_thread(write_report, run, d)
        except Exception as exc:  # the run's outcome stands; say why there is no report
            log.warning("run %s: no report: %s", run_id, exc)
        self.store.update_run(run_id, **fields)
        log.info("run %s finished: %s%s", run_id, status, f" ({error})" if error else "")
