"""The executor interface, the failure classes a retry policy reads, and the loop every executor shares.

An executor puts one run's papermill and kernel somewhere (a process of another OS user, a container, a
Dask task…) and gets the executed notebook back. The runner calls, for each run::

    execution = await executor.start(spec)        # ExecutorError(START_FAILED) if it cannot
    ...                                           # wait / kill, driven by :func:`supervise`
    await executor.collect(execution)             # output.ipynb into the record folder; clean up

and :func:`execute` wraps the three with the rules that are the same everywhere: the start timeout,
the run timeout counted from the notebook's first cell, cancel, and the classification of the outcome.

What the run may touch is the executor's *work folder*; the service's *record folder*
(``<state>/jobs/runs/<id>/``) is never handed to the run. Everything in a work folder was written by
code the service does not trust: read it only with :func:`read_untrusted` / :func:`copy_untrusted`
(no symbolic or hard links followed, regular files only, bounded size).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import logging
import os
import stat
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, BinaryIO, ClassVar

from workbench.jobs.model import JobError

log = logging.getLogger("workbench.jobs")

POLL_S = 0.25
"""How often :func:`supervise` looks at a run that has not ended [s]."""

MAX_NOTEBOOK_BYTES = 256 << 20
"""Largest output notebook the service takes back from a run [bytes]."""


class Failure(StrEnum):
    """Why a run did not succeed, in the terms a retry policy needs.

    ``TIMEOUT``, ``LOST`` and ``START_FAILED`` are failures of the platform or of the run's duration
    (worth retrying); ``NOTEBOOK_ERROR`` is the notebook's own exception (retry only if asked);
    ``CANCELLED`` is a person's decision (never retried).
    """

    NOTEBOOK_ERROR = "notebook_error"
    """A cell raised (papermill recorded the exception in the output notebook)."""
    TIMEOUT = "timeout"
    """The notebook ran longer than the job's ``timeout_s`` (counted from its first cell)."""
    LOST = "lost"
    """The process, kernel, worker or container died under the run (killed from outside, out of memory)."""
    START_FAILED = "start_failed"
    """The run never reached its first cell: no image, no account, engine down, kernel did not start."""
    CANCELLED = "cancelled"
    """Someone cancelled it, or the service stopped during it."""


RETRYABLE: frozenset[Failure] = frozenset({Failure.TIMEOUT, Failure.LOST, Failure.START_FAILED})
"""The failures a retry policy retries by default (issue 14)."""

STATUS_OF: dict[Failure, str] = {
    Failure.NOTEBOOK_ERROR: "failed",
    Failure.TIMEOUT: "timed_out",
    Failure.LOST: "failed",
    Failure.START_FAILED: "failed",
    Failure.CANCELLED: "cancelled",
}
"""The run status (the public API's) each failure is recorded with."""


class ExecutorError(JobError):
    """An executor cannot run here, or could not start a run; ``failure`` classifies it."""

    def __init__(self, message: str, failure: Failure = Failure.START_FAILED, status: int = 409) -> None:
        super().__init__(message, status)
        self.failure = failure


@dataclass(frozen=True)
class RunSpec:
    """What an executor needs to run one notebook.

    ``record_dir`` is the service's folder of the run: it holds ``input.ipynb`` and ``parameters.json``
    when :meth:`Executor.start` is called; the executor appends the run's output (papermill's log and
    the cells' printed output) to ``record_dir/run.log`` and :meth:`Executor.collect` leaves the
    executed notebook in ``record_dir/output.ipynb``. The run itself never gets ``record_dir``.
    """

    run_id: int
    job: str
    segment: str
    record_dir: Path
    kernel: str = "python3"

    def papermill_args(self, folder: str) -> list[str]:
        """papermill's arguments for a run whose work folder is ``folder`` where papermill runs."""
        return [
            "-m",
            "papermill",
            f"{folder}/input.ipynb",
            f"{folder}/output.ipynb",
            "-f",
            f"{folder}/parameters.json",
            "-k",
            self.kernel,
            "--cwd",
            folder,
            "--log-output",
            "--no-progress-bar",
            "--request-save-on-cell-execute",
        ]


@dataclass
class Execution:
    """A started run, as its executor knows it.

    ``ref`` names what runs it (a pid, a container id) so that a restarted service can end what a
    dead one left (:meth:`Executor.recover`); the runner stores it with the run. ``provenance`` says
    what it ran in (image id, interpreter and packages, identity) and is stored with the run.
    """

    spec: RunSpec
    workdir: Path | None
    ref: str
    provenance: dict[str, Any]
    state: dict[str, Any] = field(default_factory=dict)
    """Whatever the executor keeps between calls (a process, a container, a log thread)."""


@dataclass(frozen=True)
class Outcome:
    """How a run ended: the status of the public API, the failure class, the message for people."""

    status: str
    failure: Failure | None = None
    error: str | None = None


class Executor(ABC):
    """Where runs execute. Subclasses implement the abstract methods; see the module docstring.

    Every method but :meth:`check` and :meth:`notebook` is a coroutine; blocking work (a Docker call,
    a file copy) goes to a thread.
    """

    name: ClassVar[str]

    def check(self) -> None:  # noqa: B027  (optional hook: most executors can always run)
        """Raise :class:`ExecutorError` (with the reason and the fix) if runs cannot execute here.

        Called when a job naming this executor is created and before each run; cheap.
        """

    def warm_up(self) -> None:  # noqa: B027  (optional hook: most executors have nothing to warm)
        """Start, in the background, what makes the next runs start sooner (the ``local`` executor's
        warm pool). Called from the event loop when the runner starts."""

    async def cool_down(self) -> None:  # noqa: B027  (optional hook, the counterpart of warm_up)
        """End what :meth:`warm_up` started and no run took. Called when the runner stops."""

    def provenance(self) -> dict[str, Any]:
        """What runs of this executor run in, without starting one (shown in the docs and tests)."""
        return {"executor": self.name}

    @abstractmethod
    async def start(self, spec: RunSpec) -> Execution:
        """Start papermill on ``spec``'s notebook and return at once (the run goes on).

        Raises
        ------
        ExecutorError
            ``START_FAILED``, with the reason, when nothing could be started.
        """

    @abstractmethod
    async def wait(self, execution: Execution) -> int | None:
        """Wait until papermill ends: its exit code, or None when the worker or container vanished."""

    @abstractmethod
    async def kill(self, execution: Execution) -> None:
        """End papermill, the kernel and anything else the run started, now. Idempotent."""

    @abstractmethod
    async def collect(self, execution: Execution) -> None:
        """After the run ended: copy the output notebook into ``record_dir`` (with :func:`copy_untrusted`)
        and remove the work folder, container, task… Must not raise for a run that left nothing."""

    async def recover(self, refs: Iterable[str]) -> None:  # noqa: B027  (optional hook)
        """Called once when the service starts, before any run: end what a dead service left running
        (``refs``: the ``ref`` of each run it had started) and remove stale work folders."""

    def notebook(self, execution: Execution) -> dict[str, Any] | None:
        """The output notebook so far (papermill saves it at every cell's start and end), or None."""
        if execution.workdir is None:
            return None
        return read_untrusted_json(execution.workdir / "output.ipynb")


# ------------------------------------------------------------------------------------------------
# the loop every executor shares


def notebook_started(notebook: dict[str, Any] | None) -> bool:
    """Whether papermill has begun a cell (so the kernel is up): the end of the start phase."""
    for cell in (notebook or {}).get("cells", []):
        status = cell.get("metadata", {}).get("papermill", {}).get("status")
        if status in {"running", "completed", "failed"}:
            return True
    return False


async def supervise(
    executor: Executor,
    execution: Execution,
    *,
    timeout_s: float,
    start_timeout_s: float,
    cancel: asyncio.Event,
) -> tuple[str, int | None]:
    """Wait for a started run, enforcing the start timeout, the run timeout and cancel.

    The run's own timeout counts from its first cell, so a slow container or kernel start (a loaded
    machine, a cold image) never eats into the notebook's time; the start has its own bound.

    Returns
    -------
    (how, code)
        ``("exited", exit code or None if the worker vanished)``, ``("timeout", None)``,
        ``("start_timeout", None)`` or ``("cancelled", None)``; in all but the first the run was killed.
    """
    waiter = asyncio.ensure_future(executor.wait(execution))
    t0 = time.monotonic()
    started: float | None = None
    try:
        while True:
            done, _ = await asyncio.wait({waiter}, timeout=POLL_S)
            if done:
                return "exited", waiter.result()
            how = None
            if cancel.is_set():
                how = "cancelled"
            elif started is None:
                if await asyncio.to_thread(notebook_started, executor.notebook(execution)):
                    started = time.monotonic()
                elif time.monotonic() - t0 > start_timeout_s:
                    how = "start_timeout"
            elif time.monotonic() - started > timeout_s:
                how = "timeout"
            if how is not None:
                await executor.kill(execution)
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(asyncio.shield(waiter), timeout=30)
                return how, None
    finally:
        if not waiter.done():
            waiter.cancel()


def classify(
    how: str,
    code: int | None,
    notebook: dict[str, Any] | None,
    *,
    timeout_s: float,
    start_timeout_s: float,
    log_tail: str = "",
    lost_reason: str = "",
) -> Outcome:
    """The :class:`Outcome` of a run from how :func:`supervise` saw it end and its output notebook."""
    from workbench.jobs.reports import notebook_error

    if how == "cancelled":
        return Outcome("cancelled", Failure.CANCELLED, "cancelled while running")
    if how == "timeout":
        return Outcome("timed_out", Failure.TIMEOUT, f"timed out after {timeout_s:g} s")
    if how == "start_timeout":
        return Outcome(
            "failed",
            Failure.START_FAILED,
            f"did not start within {start_timeout_s:g} s (kernel or container)",
        )
    if code == 0:
        return Outcome("succeeded")
    found = notebook_error(notebook) if notebook else None
    if found:
        return Outcome("failed", Failure.NOTEBOOK_ERROR, found)
    if code is None:
        return Outcome("failed", Failure.LOST, lost_reason or "the run's worker vanished")
    if lost_reason:
        return Outcome("failed", Failure.LOST, lost_reason)
    if notebook_started(notebook):  # a cell was running and papermill failed without an error output
        reason = f"killed by signal {-code}" if code < 0 else f"papermill exited with code {code}"
        return Outcome("failed", Failure.LOST, f"the kernel or papermill died ({reason}): {log_tail}".strip())
    return Outcome("failed", Failure.START_FAILED, f"papermill exited with code {code}: {log_tail}".strip())


# ------------------------------------------------------------------------------------------------
# reading what a run wrote


def open_untrusted(path: Path, max_bytes: int = MAX_NOTEBOOK_BYTES) -> BinaryIO | None:
    """``path`` opened for reading if it is a plain file of at most ``max_bytes``, else None.

    A run could leave a symbolic link to a secret, a hard link to another file, a FIFO that blocks
    the reader, or a file that never ends: none of them is opened.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno not in {errno.ENOENT, errno.ELOOP, errno.EACCES, errno.ENOTDIR, errno.ENXIO}:
            log.warning("not reading %s: %s", path, exc)
        return None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode) or st.st_nlink != 1 or st.st_size > max_bytes:
        os.close(fd)
        log.warning("not reading %s: not a plain file of at most %d bytes", path, max_bytes)
        return None
    return os.fdopen(fd, "rb")


def read_untrusted(path: Path, max_bytes: int = MAX_NOTEBOOK_BYTES) -> bytes | None:
    """The bytes of a plain file a run wrote (see :func:`open_untrusted`), or None."""
    fh = open_untrusted(path, max_bytes)
    if fh is None:
        return None
    with fh:
        return fh.read(max_bytes + 1)[:max_bytes]


def read_untrusted_json(path: Path, max_bytes: int = MAX_NOTEBOOK_BYTES) -> dict[str, Any] | None:
    """A JSON object a run wrote, or None while it is missing, half-written or not a plain file."""
    raw = read_untrusted(path, max_bytes)
    if raw is None:
        return None
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def copy_untrusted(source: Path, target: Path, max_bytes: int = MAX_NOTEBOOK_BYTES) -> bool:
    """Copy a plain file a run wrote to a file of the service (created 0600, replaced atomically)."""
    fh = open_untrusted(source, max_bytes)
    if fh is None:
        return False
    tmp = target.with_name(f".{target.name}.part")
    with fh, open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600), "wb") as out:
        remaining = max_bytes
        while remaining > 0 and (chunk := fh.read(min(1 << 20, remaining))):
            out.write(chunk)
            remaining -= len(chunk)
    os.replace(tmp, target)
    return True


async def execute(
    executor: Executor,
    spec: RunSpec,
    *,
    timeout_s: float,
    start_timeout_s: float,
    cancel: asyncio.Event,
    started: Any = None,
) -> tuple[Outcome, Execution | None]:
    """Run ``spec`` on ``executor`` from start to collected output: the whole life of one attempt.

    Parameters
    ----------
    timeout_s
        The job's timeout, counted from the notebook's first cell [s].
    start_timeout_s
        Bound on reaching the first cell (container, papermill and kernel start) [s].
    cancel
        Set it to stop the run (cancel, or the service stopping).
    started
        Called with the :class:`Execution` once the run started (the runner records its ``ref``).

    Returns
    -------
    (outcome, execution)
        ``execution`` is None when the run could not start (``outcome.failure`` is ``START_FAILED``).
    """
    from workbench.jobs.reports import log_tail, read_json

    try:
        execution = await executor.start(spec)
    except ExecutorError as exc:
        return Outcome("failed", exc.failure, exc.message), None
    if started is not None:
        started(execution)
    how: str = "cancelled"
    code: int | None = None
    try:
        how, code = await supervise(
            executor, execution, timeout_s=timeout_s, start_timeout_s=start_timeout_s, cancel=cancel
        )
    finally:
        if how == "cancelled" and not cancel.is_set():  # this task itself was cancelled: end the run
            await asyncio.shield(executor.kill(execution))
        await asyncio.shield(executor.collect(execution))
    notebook = await asyncio.to_thread(read_json, spec.record_dir / "output.ipynb")
    outcome = classify(
        how,
        code,
        notebook,
        timeout_s=timeout_s,
        start_timeout_s=start_timeout_s,
        log_tail=log_tail(spec.record_dir / "run.log"),
        lost_reason=str(execution.state.get("lost_reason", "")),
    )
    return outcome, execution
