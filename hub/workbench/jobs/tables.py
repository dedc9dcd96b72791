"""The jobs store's SQLAlchemy models: jobs, runs, attempts of runs, and the notification outbox.

The schema is made and upgraded by the Alembic migrations in :mod:`workbench.jobs.migrations` (never by
``create_all``); a test checks that the migrated schema and these models agree. The same models serve
SQLite (the embedded default) and PostgreSQL.

Times are timezone-aware UTC: ``timestamp with time zone`` on PostgreSQL, ISO 8601 text on SQLite (the
format the first release wrote, so its files need no rewrite). JSON documents are stored as text.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeEngine


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime; ISO 8601 text on SQLite (``2026-12-01T06:30:00+00:00``)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(40))
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise ValueError(f"expected a timezone-aware datetime, got {value!r}")
        value = value.astimezone(UTC)
        return value.isoformat() if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


class JSONText(TypeDecorator[Any]):
    """A JSON document kept as text (portable, and what the first release wrote)."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else json.dumps(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        return None if value is None else json.loads(value)


class Base(DeclarativeBase):
    pass


class JobRow(Base):
    """A job: a notebook with parameters, schedule, timeout, and its policies (JSON, None = default)."""

    __tablename__ = "jobs"

    name: Mapped[str] = mapped_column(Text, primary_key=True)
    segment: Mapped[str] = mapped_column(Text)
    notebook: Mapped[str] = mapped_column(Text)
    parameters: Mapped[Any] = mapped_column(JSONText)
    schedule: Mapped[str | None] = mapped_column(Text)
    timeout_s: Mapped[int] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_scheduled: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # from revision 0002
    executor: Mapped[str | None] = mapped_column(Text)
    retry: Mapped[Any] = mapped_column(JSONText, nullable=True)
    notify: Mapped[Any] = mapped_column(JSONText, nullable=True)
    retention: Mapped[Any] = mapped_column(JSONText, nullable=True)
    misfire: Mapped[str] = mapped_column(Text, server_default="run_once")
    misfire_cap: Mapped[int] = mapped_column(Integer, server_default="10")


class RunRow(Base):
    """One run of a job: what it ran with, where it is, how it ended, and where it came from."""

    __tablename__ = "runs"
    __table_args__ = (
        Index("runs_job", "job", "id"),
        Index("runs_status", "status"),
        # At most one run per scheduled fire time of a job (NULLs, the runs not scheduled, are distinct).
        Index("runs_job_scheduled_for", "job", "scheduled_for", unique=True),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job: Mapped[str] = mapped_column(Text)
    segment: Mapped[str] = mapped_column(Text)
    notebook: Mapped[str] = mapped_column(Text)
    parameters: Mapped[Any] = mapped_column(JSONText)
    timeout_s: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(Text)
    trigger: Mapped[str] = mapped_column(Text)
    requested_by: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    error: Mapped[str | None] = mapped_column(Text)
    cells_done: Mapped[int | None] = mapped_column(Integer)
    cells_total: Mapped[int | None] = mapped_column(Integer)
    pid: Mapped[int | None] = mapped_column(Integer)
    # from revision 0002
    executor: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    not_before: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failure: Mapped[str | None] = mapped_column(Text)
    scheduled_for: Mapped[datetime | None] = mapped_column(UTCDateTime)
    duration_s: Mapped[float | None] = mapped_column(Float)
    notebook_sha256: Mapped[str | None] = mapped_column(Text)
    environment: Mapped[str | None] = mapped_column(Text)
    s2p_version: Mapped[str | None] = mapped_column(Text)
    ref: Mapped[str | None] = mapped_column(Text)
    provenance: Mapped[Any] = mapped_column(JSONText, nullable=True)


class AttemptRow(Base):
    """One attempt at a run: every attempt is kept, with where it ran and how it ended."""

    __tablename__ = "attempts"
    __table_args__ = (Index("attempts_run", "run_id", "number", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(Integer, ForeignKey("runs.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    executor: Mapped[str] = mapped_column(Text)
    worker: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text)
    failure: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class NotificationRow(Base):
    """The outbox: a notification written with the run's final status, delivered (and retried) later."""

    __tablename__ = "notifications"
    __table_args__ = (
        Index("notifications_due", "status", "next_attempt_at"),
        Index("notifications_run", "run_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(Integer, ForeignKey("runs.id", ondelete="CASCADE"))
    job: Mapped[str] = mapped_column(Text)
    event: Mapped[str] = mapped_column(Text)
    channel: Mapped[str] = mapped_column(Text)  # webhook | email
    target: Mapped[str] = mapped_column(Text)
    payload: Mapped[Any] = mapped_column(JSONText)
    secret: Mapped[str | None] = mapped_column(Text)  # the job's own webhook key, if it has one
    status: Mapped[str] = mapped_column(Text)  # pending | sent | failed
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
