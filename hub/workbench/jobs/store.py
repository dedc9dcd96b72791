"""Jobs, runs, attempts and the notification outbox in a SQL database (SQLAlchemy; schema by Alembic).

SQLite ``<state>/jobs/jobs.sqlite`` by default, PostgreSQL through ``WORKBENCH_JOBS_DB_URL``. Every
method is one committed transaction, so nothing is lost on a crash. Where a change must hold together,
it is one transaction:

- a run's final status, the end of its attempt, and its notifications in the outbox;
- a scheduled run and its job's ``last_scheduled`` (compare-and-set: two services, or a service
  restarting around a due time, cannot fire one fire time twice; a unique index backs it).

Opening a :class:`Store` upgrades the database to the newest revision, also a file made by the first
release (which had no Alembic version).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, delete, event, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from workbench.jobs.model import ACTIVE, Job, JobError, utcnow
from workbench.jobs.policies import NotifyPolicy, RetentionPolicy, RetryPolicy
from workbench.jobs.store_outbox import Notification, OutboxQueries
from workbench.jobs.tables import AttemptRow, JobRow, NotificationRow, RunRow

log = logging.getLogger("workbench.jobs")

__all__ = ["RESTARTED", "Attempt", "Notification", "Run", "Store", "classify_failure", "upgrade"]

RESTARTED = "service restarted during the run"
FINAL = ("succeeded", "failed", "timed_out", "cancelled")
MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def classify_failure(status: str, error: str | None) -> str | None:
    """Why a run with this final status and error failed, when its executor did not say."""
    if status == "timed_out":
        return "timeout"
    if status == "cancelled":
        return "cancelled"
    if status != "failed":
        return None
    if error in (RESTARTED, "service stopped during the run"):
        return "lost"
    return "notebook_error"


@dataclass
class Attempt:
    """One attempt at a run."""

    number: int
    executor: str
    status: str
    started_at: datetime
    finished_at: datetime | None = None
    failure: str | None = None
    error: str | None = None
    worker: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "executor": self.executor,
            "worker": self.worker,
            "status": self.status,
            "failure": self.failure,
            "error": self.error,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
        }


@dataclass
class Run:
    """One execution of a job's notebook (possibly over several attempts)."""

    id: int
    job: str
    segment: str
    notebook: str
    parameters: dict[str, Any]
    timeout_s: int
    status: str
    trigger: str
    requested_by: str
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    error: str | None = None
    cells_done: int | None = None
    cells_total: int | None = None
    pid: int | None = None
    executor: str | None = None
    """The executor the run used (set when it starts)."""
    attempts: int = 0
    not_before: datetime | None = None
    failure: str | None = None
    """Why it did not succeed (:class:`workbench.jobs.executors.Failure`), None if it did or still runs."""
    scheduled_for: datetime | None = None
    notebook_sha256: str | None = None
    environment: str | None = None
    s2p_version: str | None = None
    ref: str | None = None
    """What executes it (pid, container, task), for recovery after a crash."""
    provenance: dict[str, Any] | None = None
    """What its executor reported it ran in, beyond the columns above (identity, interpreter…)."""
    attempt_list: list[Attempt] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        duration = None
        if self.started_at:
            duration = ((self.finished_at or utcnow()) - self.started_at).total_seconds()
        return {
            "id": self.id,
            "job": self.job,
            "segment": self.segment,
            "notebook": self.notebook,
            "parameters": self.parameters,
            "timeout_s": self.timeout_s,
            "status": self.status,
            "trigger": self.trigger,
            "requested_by": self.requested_by,
            "created_at": self.created_at.isoformat(),
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "duration_s": duration,
            "error": self.error,
            "failure": self.failure,
            "progress": {"cells_done": self.cells_done, "cells_total": self.cells_total},
            "executor": self.executor,
            "attempt": self.attempts,
            "not_before": self.not_before.isoformat() if self.not_before else None,
            "scheduled_for": self.scheduled_for.isoformat() if self.scheduled_for else None,
            "provenance": {
                **(self.provenance or {}),
                "notebook_sha256": self.notebook_sha256,
                "environment": self.environment,
                "s2p_version": self.s2p_version,
                "executor": self.executor,
            },
            "attempts": [a.to_json() for a in self.attempt_list],
        }


Planner = Callable[[Run, Job | None, str | None], list[dict[str, Any]]]
"""(finished run, its job or None, status of the job's previous finished run) -> outbox rows
(``event, channel, target, payload, secret``); see :func:`workbench.jobs.notify.planner`."""
Listener = Callable[[str, Run], None]
"""Called after commit with ``("started" | "finished" | "retry", run)``."""


def database_url(target: str | Path) -> str:
    """A SQLAlchemy URL for ``target``: a URL as it is, a path as a SQLite file."""
    text = str(target)
    return text if "://" in text else f"sqlite:///{Path(text).resolve()}"


def make_engine(target: str | Path) -> Engine:
    """An engine for the jobs database (SQLite: WAL, 5 s busy timeout, foreign keys on)."""
    url = database_url(target)
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi: Any, _record: Any) -> None:
            # WAL: the CLI or an operator reads while the service writes.
            dbapi.isolation_level = None
            cur = dbapi.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin(conn: Any) -> None:
            # BEGIN IMMEDIATE: a read-then-write transaction never deadlocks with another writer.
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True)


def upgrade(engine: Engine) -> None:
    """Bring the database to the newest Alembic revision (a first-release SQLite file included)."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def _job(row: JobRow) -> Job:
    return Job(
        name=row.name,
        segment=row.segment,
        notebook=row.notebook,
        parameters=row.parameters,
        schedule=row.schedule,
        timeout_s=row.timeout_s,
        description=row.description,
        created_by=row.created_by,
        created_at=row.created_at,
        last_scheduled=row.last_scheduled,
        executor=row.executor,
        retry=RetryPolicy.from_json(row.retry),
        notify=NotifyPolicy.from_json(row.notify),
        retention=RetentionPolicy.from_json(row.retention),
        misfire=row.misfire or "run_once",
        misfire_cap=row.misfire_cap or 10,
    )


def _job_values(job: Job) -> dict[str, Any]:
    return {
        "segment": job.segment,
        "notebook": job.notebook,
        "parameters": job.parameters,
        "schedule": job.schedule,
        "timeout_s": job.timeout_s,
        "description": job.description,
        "created_by": job.created_by,
        "created_at": job.created_at,
        "last_scheduled": job.last_scheduled,
        "executor": job.executor,
        "retry": job.retry.to_json() if job.retry else None,
        "notify": job.notify.to_json(with_secret=True) if job.notify else None,
        "retention": job.retention.to_json() if job.retention else None,
        "misfire": job.misfire,
        "misfire_cap": job.misfire_cap,
    }


_RUN_FIELDS = [f for f in Run.__dataclass_fields__ if f != "attempt_list"]


def _run(row: RunRow) -> Run:
    return Run(**{name: getattr(row, name) for name in _RUN_FIELDS})


def _attempt(row: AttemptRow) -> Attempt:
    return Attempt(
        number=row.number,
        executor=row.executor,
        status=row.status,
        started_at=row.started_at,
        finished_at=row.finished_at,
        failure=row.failure,
        error=row.error,
        worker=row.worker,
    )


class Store(OutboxQueries):
    """The jobs database.

    Parameters
    ----------
    target
        A SQLAlchemy URL (``postgresql+psycopg2://…``, ``sqlite:///…``) or the path of a SQLite file
        (created with its directory).
    planner
        Which notifications a finished run sends (:func:`workbench.jobs.notify.planner`); None: none.
    default_executor
        The executor recorded for runs of jobs that name none.
    """

    def __init__(
        self, target: str | Path, *, planner: Planner | None = None, default_executor: str = "local"
    ) -> None:
        self.url = database_url(target)
        self.path = Path(self.url.removeprefix("sqlite:///")) if self.url.startswith("sqlite:") else None
        self.engine = make_engine(target)
        upgrade(self.engine)
        self.planner = planner
        self.default_executor = default_executor
        self.listeners: list[Listener] = []

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction, committed on exit."""
        with Session(self.engine, expire_on_commit=False) as s, s.begin():
            yield s

    def _emit(self, what: str, run: Run) -> None:
        for listener in self.listeners:
            try:
                listener(what, run)
            except Exception:  # a listener (metrics, notifier wake-up) must not break the run's record
                log.exception("store listener %r failed on %s of run %s", listener, what, run.id)

    # -- jobs ---------------------------------------------------------------------------------------

    def add_job(self, job: Job) -> None:
        """Insert a job; :class:`JobError` 409 if the name is taken."""
        try:
            with self.session() as s:
                s.add(JobRow(name=job.name, **_job_values(job)))
        except IntegrityError:
            raise JobError(f"a job named {job.name!r} exists already", 409) from None

    def update_job(self, job: Job) -> None:
        """Store every field of ``job`` (found by name) except ``last_scheduled``."""
        values = _job_values(job)
        values.pop("last_scheduled")
        with self.session() as s:
            s.execute(update(JobRow).where(JobRow.name == job.name).values(**values))

    def job(self, name: str) -> Job | None:
        with self.session() as s:
            row = s.get(JobRow, name)
            return _job(row) if row else None

    def jobs(self) -> list[Job]:
        with self.session() as s:
            return [_job(r) for r in s.scalars(select(JobRow).order_by(JobRow.name))]

    def delete_job(self, name: str) -> None:
        with self.session() as s:
            s.execute(delete(JobRow).where(JobRow.name == name))

    def set_last_scheduled(self, name: str, when: datetime) -> None:
        with self.session() as s:
            s.execute(update(JobRow).where(JobRow.name == name).values(last_scheduled=when))

    def advance_schedule(self, name: str, previous: datetime | None, due: datetime) -> bool:
        """Move ``last_scheduled`` from ``previous`` to ``due`` unless someone else moved it (False)."""
        with self.session() as s:
            return self._advance(s, name, previous, due)

    @staticmethod
    def _advance(s: Session, name: str, previous: datetime | None, due: datetime) -> bool:
        same = JobRow.last_scheduled.is_(None) if previous is None else JobRow.last_scheduled == previous
        done = s.execute(update(JobRow).where(JobRow.name == name, same).values(last_scheduled=due))
        return bool(getattr(done, "rowcount", 0) == 1)

    # -- runs ---------------------------------------------------------------------------------------

    def _new_run(self, job: Job, parameters: dict[str, Any], trigger: str, by: str, **extra: Any) -> RunRow:
        return RunRow(
            job=job.name,
            segment=job.segment,
            notebook=job.notebook,
            parameters=parameters,
            timeout_s=job.timeout_s,
            status="queued",
            trigger=trigger,
            requested_by=by,
            created_at=utcnow(),
            executor=job.executor or self.default_executor,
            attempts=0,
            **extra,
        )

    def add_run(
        self,
        job: Job,
        parameters: dict[str, Any],
        *,
        trigger: str,
        requested_by: str,
        provenance: dict[str, str | None] | None = None,
    ) -> Run:
        """A new ``queued`` run of ``job`` with the merged ``parameters`` (and what it ran from)."""
        with self.session() as s:
            row = self._new_run(job, parameters, trigger, requested_by, **(provenance or {}))
            s.add(row)
            s.flush()
            return _run(row)

    def add_scheduled_run(
        self,
        job: Job,
        parameters: dict[str, Any],
        due: datetime,
        *,
        previous: datetime | None,
        provenance: dict[str, str | None] | None = None,
    ) -> Run | None:
        """The run of ``job`` for its fire time ``due``, and ``last_scheduled`` moved from ``previous``
        to ``due``, in one transaction; None (nothing written) when another tick fired it already."""
        try:
            with self.session() as s:
                if not self._advance(s, job.name, previous, due):
                    s.rollback()
                    return None
                row = self._new_run(
                    job, parameters, "schedule", "scheduler", scheduled_for=due, **(provenance or {})
                )
                s.add(row)
                s.flush()
                return _run(row)
        except IntegrityError:  # the unique (job, scheduled_for) index: it ran already
            return None

    def run(self, run_id: int, *, attempts: bool = False) -> Run | None:
        """A run; with ``attempts``, its attempts too."""
        with self.session() as s:
            row = s.get(RunRow, run_id)
            if row is None:
                return None
            run = _run(row)
            if attempts:
                run.attempt_list = self._attempts(s, [run_id]).get(run_id, [])
            return run

    @staticmethod
    def _attempts(s: Session, run_ids: list[int]) -> dict[int, list[Attempt]]:
        out: dict[int, list[Attempt]] = {}
        rows = s.scalars(select(AttemptRow).where(AttemptRow.run_id.in_(run_ids)).order_by(AttemptRow.number))
        for row in rows:
            out.setdefault(row.run_id, []).append(_attempt(row))
        return out

    def runs(
        self,
        job: str | None = None,
        *,
        status: tuple[str, ...] = (),
        limit: int = 100,
        attempts: bool = False,
    ) -> list[Run]:
        """Runs, newest first, optionally of one job and/or in some statuses (with their attempts)."""
        q = select(RunRow)
        if job is not None:
            q = q.where(RunRow.job == job)
        if status:
            q = q.where(RunRow.status.in_(status))
        with self.session() as s:
            runs = [_run(r) for r in s.scalars(q.order_by(RunRow.id.desc()).limit(limit))]
            if attempts and runs:
                found = self._attempts(s, [r.id for r in runs])
                for run in runs:
                    run.attempt_list = found.get(run.id, [])
            return runs

    def update_run(self, run_id: int, **fields: Any) -> None:
        """Set fields of a run.

        ``status="running"`` from ``queued`` starts a new attempt (``worker=`` may name where it runs);
        a final status (``succeeded``, ``failed``, ``timed_out``, ``cancelled``) of an active run ends
        its attempt and writes its notifications to the outbox, in the same transaction.
        ``failure=`` says why it failed (default: told from the status and error).
        """
        if not fields:
            return
        worker = fields.pop("worker", None)
        emitted: tuple[str, Run] | None = None
        with self.session() as s:
            row = s.get(RunRow, run_id, with_for_update=True)
            if row is None:
                return
            before = row.status
            for key, value in fields.items():
                setattr(row, key, value)
            now = utcnow()
            if row.status == "running" and before == "queued":
                row.attempts = (row.attempts or 0) + 1
                row.not_before = None
                row.started_at = row.started_at or now
                s.add(
                    AttemptRow(
                        run_id=run_id,
                        number=row.attempts,
                        executor=row.executor or self.default_executor,
                        worker=worker,
                        status="running",
                        started_at=now,
                    )
                )
                emitted = ("started", _run(row))
            elif worker is not None:
                self._open_attempt(s, run_id, worker=worker)
            if row.status in FINAL and before in ACTIVE:
                emitted = ("finished", self._finish(s, row))
        if emitted:
            self._emit(*emitted)

    @staticmethod
    def _open_attempt(s: Session, run_id: int, **values: Any) -> None:
        s.execute(
            update(AttemptRow)
            .where(AttemptRow.run_id == run_id, AttemptRow.finished_at.is_(None))
            .values(**values)
        )

    def _finish(self, s: Session, row: RunRow) -> Run:
        """The bookkeeping of a run that just became final (inside the caller's transaction)."""
        row.finished_at = row.finished_at or utcnow()
        row.pid = None
        row.not_before = None
        if row.failure is None:
            row.failure = classify_failure(row.status, row.error)
        if row.started_at is not None:
            row.duration_s = (row.finished_at - row.started_at).total_seconds()
        self._open_attempt(
            s,
            row.id,
            status=row.status,
            failure=row.failure,
            error=row.error,
            finished_at=row.finished_at,
        )
        run = _run(row)
        if self.planner is not None and row.status != "cancelled":
            job_row = s.get(JobRow, row.job)
            previous = s.scalar(
                select(RunRow.status)
                .where(RunRow.job == row.job, RunRow.id < row.id, RunRow.status.in_(FINAL[:3]))
                .order_by(RunRow.id.desc())
                .limit(1)
            )
            for item in self.planner(run, _job(job_row) if job_row else None, previous):
                s.add(
                    NotificationRow(
                        run_id=row.id,
                        job=row.job,
                        status="pending",
                        attempts=0,
                        next_attempt_at=row.finished_at,
                        created_at=row.finished_at,
                        **item,
                    )
                )
        return run

    def finish_run(
        self, run_id: int, status: str, error: str | None = None, failure: str | None = None, **fields: Any
    ) -> None:
        """Record a run's final status (with ``failure``, its class, if it did not succeed)."""
        self.update_run(
            run_id, status=status, error=error, failure=failure, finished_at=utcnow(), pid=None, **fields
        )

    def retry_run(
        self, run_id: int, *, failure: str, error: str, not_before: datetime, status: str = "failed"
    ) -> Run | None:
        """End the current attempt (``status``, ``failure``, ``error``) and queue the run again, to start
        at ``not_before``; None if the run is not active (nothing changed)."""
        with self.session() as s:
            row = s.get(RunRow, run_id, with_for_update=True)
            if row is None or row.status not in ACTIVE:
                return None
            self._open_attempt(
                s, run_id, status=status, failure=str(failure), error=error, finished_at=utcnow()
            )
            row.status, row.pid, row.ref, row.not_before = "queued", None, None, not_before
            row.cells_done = row.cells_total = None
            run = _run(row)
        self._emit("retry", run)
        return run

    def recover(
        self, retry_at: Callable[[Run, Job | None], datetime | None] | None = None
    ) -> tuple[list[Run], list[Run]]:
        """After a restart: runs left ``running`` were lost; ``queued`` ones are returned to re-queue.

        Parameters
        ----------
        retry_at
            For a lost run and its job: when to retry it (its retry policy), or None to fail it.

        Returns
        -------
        (lost, queued)
            The runs that were running (their ``pid`` and ``ref`` still set, so the caller can end what
            is left of them): failed, or queued again for a retry; and the queued runs, oldest first.
        """
        lost = self.runs(status=("running",), limit=1_000_000)
        for run in lost:
            when = retry_at(run, self.job(run.job)) if retry_at is not None else None
            if when is None:
                self.update_run(run.id, status="failed", error=RESTARTED, failure="lost")
            else:
                self.retry_run(run.id, failure="lost", error=RESTARTED, not_before=when)
        queued = sorted(self.runs(status=("queued",), limit=1_000_000), key=lambda r: r.id)
        return lost, queued

    def active_runs(self, job: str) -> list[Run]:
        return self.runs(job, status=ACTIVE, limit=1_000_000)

    def delete_runs(self, run_ids: list[int]) -> None:
        """Delete runs with their attempts and notifications (retention)."""
        if not run_ids:
            return
        with self.session() as s:
            for table in (NotificationRow, AttemptRow):
                s.execute(delete(table).where(table.run_id.in_(run_ids)))
            s.execute(delete(RunRow).where(RunRow.id.in_(run_ids)))

    def finished_runs(self, job: str) -> list[tuple[int, str, datetime]]:
        """``(id, status, finished_at)`` of the job's finished runs, newest first (for retention)."""
        with self.session() as s:
            rows = s.execute(
                select(RunRow.id, RunRow.status, func.coalesce(RunRow.finished_at, RunRow.created_at))
                .where(RunRow.job == job, RunRow.status.in_(FINAL))
                .order_by(RunRow.id.desc())
            ).all()
            return [(int(i), str(st), when) for i, st, when in rows]

    def job_names_with_runs(self) -> list[str]:
        with self.session() as s:
            return [str(n) for n in s.scalars(select(RunRow.job).distinct())]
