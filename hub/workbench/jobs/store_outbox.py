"""The store's queries of the notification outbox and of the metrics' figures (a part of
:class:`workbench.jobs.store.Store`, which writes the outbox rows with the runs' final status)."""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session

from workbench.jobs.model import utcnow
from workbench.jobs.tables import AttemptRow, NotificationRow, RunRow


@dataclass(frozen=True)
class Notification:
    """One row of the outbox."""

    id: int
    run_id: int
    job: str
    event: str
    channel: str
    target: str
    payload: dict[str, Any]
    secret: str | None
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "event": self.event,
            "channel": self.channel,
            "target": self.target,
            "status": self.status,
            "attempts": self.attempts,
            "last_error": self.last_error,
            "sent_at": self.sent_at.isoformat() if self.sent_at else None,
        }


def _notification(row: NotificationRow) -> Notification:
    return Notification(**{name: getattr(row, name) for name in Notification.__dataclass_fields__})


class OutboxQueries:
    """Mixed into :class:`~workbench.jobs.store.Store`: reading and updating the outbox, counting."""

    def session(self) -> AbstractContextManager[Session]:  # pragma: no cover - provided by Store
        raise NotImplementedError

    def runs_with_pending_notifications(self, run_ids: list[int]) -> set[int]:
        if not run_ids:
            return set()
        with self.session() as s:
            q = select(NotificationRow.run_id).where(
                NotificationRow.run_id.in_(run_ids), NotificationRow.status == "pending"
            )
            return {int(i) for i in s.scalars(q)}

    def notifications(self, run_id: int) -> list[Notification]:
        with self.session() as s:
            rows = s.scalars(
                select(NotificationRow).where(NotificationRow.run_id == run_id).order_by(NotificationRow.id)
            )
            return [_notification(r) for r in rows]

    def due_notifications(self, now: datetime, limit: int = 50) -> list[Notification]:
        """Pending notifications whose next attempt is due, oldest first."""
        with self.session() as s:
            rows = s.scalars(
                select(NotificationRow)
                .where(NotificationRow.status == "pending", NotificationRow.next_attempt_at <= now)
                .order_by(NotificationRow.id)
                .limit(limit)
            )
            return [_notification(r) for r in rows]

    def next_notification_at(self) -> datetime | None:
        with self.session() as s:
            return s.scalar(
                select(func.min(NotificationRow.next_attempt_at)).where(NotificationRow.status == "pending")
            )

    def notification_sent(self, note_id: int) -> None:
        with self.session() as s:
            s.execute(
                update(NotificationRow)
                .where(NotificationRow.id == note_id)
                .values(status="sent", sent_at=utcnow(), attempts=NotificationRow.attempts + 1)
            )

    def notification_failed(self, note_id: int, error: str, retry_at: datetime | None) -> None:
        """Record a failed delivery: try again at ``retry_at``, or give up (``failed``) when None."""
        values: dict[str, Any] = {"last_error": error[:2000], "attempts": NotificationRow.attempts + 1}
        if retry_at is None:
            values["status"] = "failed"
        else:
            values["next_attempt_at"] = retry_at
        with self.session() as s:
            s.execute(update(NotificationRow).where(NotificationRow.id == note_id).values(**values))

    def notifications_due_now(self) -> None:
        """Make every pending notification due at once (a restarted service tries them first)."""
        with self.session() as s:
            s.execute(
                update(NotificationRow)
                .where(NotificationRow.status == "pending")
                .values(next_attempt_at=utcnow() - timedelta(seconds=1))
            )

    # -- figures for the metrics -------------------------------------------------------------------

    def counts(self) -> dict[str, Any]:
        """Runs by (job, status), each job's latest ended run's status, retried attempts by job, notifications
        by (channel, status)."""
        with self.session() as s:
            runs = s.execute(
                select(RunRow.job, RunRow.status, func.count()).group_by(RunRow.job, RunRow.status)
            )
            retried = s.execute(
                select(RunRow.job, func.count())
                .select_from(AttemptRow)
                .join(RunRow, RunRow.id == AttemptRow.run_id)
                .where(AttemptRow.number > 1)
                .group_by(RunRow.job)
            )
            notes = s.execute(
                select(NotificationRow.channel, NotificationRow.status, func.count()).group_by(
                    NotificationRow.channel, NotificationRow.status
                )
            )
            # Failed delivery attempts: every attempt of a row but the one that succeeded.
            sent = case((NotificationRow.status == "sent", 1), else_=0)
            failed_deliveries = s.execute(
                select(NotificationRow.channel, func.sum(NotificationRow.attempts - sent)).group_by(
                    NotificationRow.channel
                )
            )
            # Each job's latest run that ended (what an operator's alert on failing jobs looks at).
            latest = (
                select(func.max(RunRow.id))
                .where(RunRow.status.in_(("succeeded", "failed", "timed_out", "cancelled")))
                .group_by(RunRow.job)
            )
            last = s.execute(select(RunRow.job, RunRow.status).where(RunRow.id.in_(latest.scalar_subquery())))
            return {
                "last_final": [(str(j), str(st)) for j, st in last],
                "runs": [(str(j), str(st), int(n)) for j, st, n in runs],
                "retries": [(str(j), int(n)) for j, n in retried],
                "notifications": [(str(c), str(st), int(n)) for c, st, n in notes],
                "failed_deliveries": [(str(c), int(n or 0)) for c, n in failed_deliveries],
            }
