"""Production operation: executors, attempts, retries, provenance, notifications, retention, misfires.

- ``jobs``: ``executor``, ``retry``, ``notify``, ``retention`` (JSON; NULL = the service's default),
  ``misfire`` and ``misfire_cap``;
- ``runs``: ``executor``, ``attempts``, ``not_before`` (retry back-off), ``failure``,
  ``scheduled_for`` (unique per job: a fire time runs once), ``duration_s``, ``ref`` (what executes
  it), and provenance (``notebook_sha256``, ``environment``, ``s2p_version``, and ``provenance``: the
  rest of what the executor reported, JSON);
- ``attempts``: every attempt of a run; the runs of an older store get their one attempt back from
  the run's own times, status and error (the first release ran them all as local processes; an
  interim release's own ``executor`` and ``failure`` columns are kept and used);
- ``notifications``: the outbox of webhooks and e-mails.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from workbench.jobs.tables import JSONText, UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

RESTARTED = ("service restarted during the run", "service stopped during the run")


def _failure(status: str, error: str | None) -> str | None:
    """What the first release's status and error tell about why a run failed."""
    if status == "timed_out":
        return "timeout"
    if status == "cancelled":
        return "cancelled"
    if status != "failed":
        return None
    if error in RESTARTED:
        return "lost"
    return "notebook_error"


def _add_columns(table: str, columns: list[sa.Column]) -> None:
    """Add the columns ``table`` lacks (a store of an interim release may have some of them already)."""
    present = {c["name"] for c in sa.inspect(op.get_bind()).get_columns(table)}
    missing = [c for c in columns if c.name not in present]
    if missing:
        with op.batch_alter_table(table) as t:
            for column in missing:
                t.add_column(column)


def upgrade() -> None:
    _add_columns(
        "jobs",
        [
            sa.Column("executor", sa.Text),
            sa.Column("retry", JSONText),
            sa.Column("notify", JSONText),
            sa.Column("retention", JSONText),
            sa.Column("misfire", sa.Text, nullable=False, server_default="run_once"),
            sa.Column("misfire_cap", sa.Integer, nullable=False, server_default="10"),
        ],
    )
    _add_columns(
        "runs",
        [
            sa.Column("executor", sa.Text),
            sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
            sa.Column("not_before", UTCDateTime),
            sa.Column("failure", sa.Text),
            sa.Column("scheduled_for", UTCDateTime),
            sa.Column("duration_s", sa.Float),
            sa.Column("notebook_sha256", sa.Text),
            sa.Column("environment", sa.Text),
            sa.Column("s2p_version", sa.Text),
            sa.Column("ref", sa.Text),
            sa.Column("provenance", JSONText),
        ],
    )
    op.create_index("runs_job_scheduled_for", "runs", ["job", "scheduled_for"], unique=True)
    op.create_table(
        "attempts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("executor", sa.Text, nullable=False),
        sa.Column("worker", sa.Text),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("failure", sa.Text),
        sa.Column("error", sa.Text),
        sa.Column("started_at", UTCDateTime, nullable=False),
        sa.Column("finished_at", UTCDateTime),
    )
    op.create_index("attempts_run", "attempts", ["run_id", "number"], unique=True)
    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("job", sa.Text, nullable=False),
        sa.Column("event", sa.Text, nullable=False),
        sa.Column("channel", sa.Text, nullable=False),
        sa.Column("target", sa.Text, nullable=False),
        sa.Column("payload", JSONText, nullable=False),
        sa.Column("secret", sa.Text),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", UTCDateTime, nullable=False),
        sa.Column("last_error", sa.Text),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("sent_at", UTCDateTime),
    )
    op.create_index("notifications_due", "notifications", ["status", "next_attempt_at"])
    op.create_index("notifications_run", "notifications", ["run_id"])
    _backfill_attempts()


def _backfill_attempts() -> None:
    """Each run an older release started had one attempt, as a local process."""
    bind = op.get_bind()
    runs = sa.table(
        "runs",
        sa.column("id", sa.Integer),
        sa.column("status", sa.Text),
        sa.column("error", sa.Text),
        sa.column("started_at", UTCDateTime),
        sa.column("finished_at", UTCDateTime),
        sa.column("executor", sa.Text),
        sa.column("attempts", sa.Integer),
        sa.column("failure", sa.Text),
        sa.column("duration_s", sa.Float),
    )
    attempts = sa.table(
        "attempts",
        sa.column("run_id", sa.Integer),
        sa.column("number", sa.Integer),
        sa.column("executor", sa.Text),
        sa.column("status", sa.Text),
        sa.column("failure", sa.Text),
        sa.column("error", sa.Text),
        sa.column("started_at", UTCDateTime),
        sa.column("finished_at", UTCDateTime),
    )
    rows = bind.execute(
        sa.select(
            runs.c.id,
            runs.c.status,
            runs.c.error,
            runs.c.started_at,
            runs.c.finished_at,
            runs.c.executor,
            runs.c.failure,
        )
    ).all()
    for run_id, status, error, started_at, finished_at, executor, failure in rows:
        # An interim release recorded executor and failure itself: they stand.
        kind = failure or _failure(status, error)
        executor = executor or "local"
        if started_at is None:  # never started (queued, or cancelled before it started): no attempt
            bind.execute(runs.update().where(runs.c.id == run_id).values(failure=kind))
            continue
        duration = (finished_at - started_at).total_seconds() if finished_at else None
        bind.execute(
            runs.update()
            .where(runs.c.id == run_id)
            .values(executor=executor, attempts=1, failure=kind, duration_s=duration)
        )
        bind.execute(
            attempts.insert().values(
                run_id=run_id,
                number=1,
                executor=executor,
                status=status,
                failure=kind,
                error=error,
                started_at=started_at,
                finished_at=finished_at,
            )
        )


def downgrade() -> None:
    op.drop_table("notifications")
    op.drop_table("attempts")
    with op.batch_alter_table("runs") as t:
        t.drop_index("runs_job_scheduled_for")
        for column in (
            "provenance",
            "ref",
            "s2p_version",
            "environment",
            "notebook_sha256",
            "duration_s",
            "scheduled_for",
            "failure",
            "not_before",
            "attempts",
            "executor",
        ):
            t.drop_column(column)
    with op.batch_alter_table("jobs") as t:
        for column in ("misfire_cap", "misfire", "retention", "notify", "retry", "executor"):
            t.drop_column(column)
