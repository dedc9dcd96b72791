"""Delivery of the notification outbox: every pending webhook and e-mail, retried with back-off.

A notification is written to the outbox with its run's final status (one transaction, see
:mod:`workbench.jobs.store`), so a crash between the failure and the delivery loses nothing: the next
service delivers it, at once when it starts. A failed delivery is logged, counted in the metrics and
tried again after ``backoff_s * 2**(attempts - 1)`` seconds (at most an hour); after ``max_attempts``
it is marked ``failed`` and logged as an error — it shows in ``GET runs/{id}`` under ``notifications``.

Delivery is at least once: each notification carries its number (``X-Workbench-Delivery``, the
e-mail's ``Message-ID``), so a receiver can drop the repeat that a crash right after a delivery, before
it was recorded, would cause.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import timedelta

from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest

from workbench.jobs.model import utcnow
from workbench.jobs.notify import SmtpSettings, email_message, send_email, webhook_request
from workbench.jobs.store import Notification, Run, Store

log = logging.getLogger("workbench.jobs")

MAX_BACKOFF_S = 3600.0
WEBHOOK_TIMEOUT_S = 20.0


class Notifier:
    """Delivers the outbox in the background of the service's event loop.

    Parameters
    ----------
    store
        The jobs store holding the outbox.
    secret
        The service's webhook HMAC key (jobs with a ``notify.secret`` use theirs).
    smtp
        The SMTP server for e-mails (None: e-mails fail with a clear error and are retried).
    backoff_s
        Wait after the first failed delivery [s]; it doubles with each further failure.
    max_attempts
        Deliveries tried before a notification is given up as ``failed``.
    period_s
        How often the outbox is looked at when nothing wakes the notifier [s].
    on_failure
        Called with the channel of each failed delivery (the metrics count them).
    """

    def __init__(
        self,
        store: Store,
        *,
        secret: str,
        smtp: SmtpSettings | None = None,
        backoff_s: float = 5.0,
        max_attempts: int = 12,
        period_s: float = 5.0,
        on_failure: Callable[[str], None] | None = None,
    ) -> None:
        self.store = store
        self.secret = secret
        self.smtp = smtp
        self.backoff_s = backoff_s
        self.max_attempts = max(1, max_attempts)
        self.period_s = period_s
        self.on_failure = on_failure
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        store.listeners.append(self._on_store)

    def _on_store(self, what: str, run: Run) -> None:
        if what == "finished":
            self._wake.set()

    async def start(self) -> None:
        """Start delivering; what a previous service left pending is due at once."""
        self.store.notifications_due_now()
        self._task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _loop(self) -> None:
        while True:
            try:
                await self.deliver_due()
            except asyncio.CancelledError:
                raise
            except Exception:  # the database was away, say: try again at the next period
                log.exception("notification outbox")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.period_s)
            self._wake.clear()

    async def deliver_due(self) -> int:
        """Deliver every notification that is due now; return how many were delivered."""
        delivered = 0
        for note in self.store.due_notifications(utcnow()):
            try:
                await self.deliver(note)
            except Exception as exc:
                self._failed(note, f"{type(exc).__name__}: {exc}")
            else:
                self.store.notification_sent(note.id)
                delivered += 1
                log.info(
                    "notification %s (%s of run %s) sent to %s", note.id, note.event, note.run_id, note.target
                )
        return delivered

    def _failed(self, note: Notification, error: str) -> None:
        attempts = note.attempts + 1
        if self.on_failure is not None:
            self.on_failure(note.channel)
        if attempts >= self.max_attempts:
            self.store.notification_failed(note.id, error, None)
            log.error(
                "notification %s (%s of run %s to %s) given up after %d attempts: %s",
                note.id, note.event, note.run_id, note.target, attempts, error,
            )  # fmt: skip
            return
        wait = min(MAX_BACKOFF_S, self.backoff_s * 2 ** (attempts - 1))
        self.store.notification_failed(note.id, error, utcnow() + timedelta(seconds=wait))
        log.warning(
            "notification %s (%s of run %s to %s) failed (attempt %d), retried in %.0f s: %s",
            note.id, note.event, note.run_id, note.target, attempts, wait, error,
        )  # fmt: skip

    async def deliver(self, note: Notification) -> None:
        """One delivery; raises on any failure (a non-2xx answer included)."""
        if note.channel == "webhook":
            body, headers = webhook_request(note.payload, delivery=note.id, secret=note.secret or self.secret)
            request = HTTPRequest(
                note.target,
                method="POST",
                body=body,
                headers=headers,
                request_timeout=WEBHOOK_TIMEOUT_S,
                follow_redirects=False,
            )
            try:
                await AsyncHTTPClient().fetch(request)
            except HTTPClientError as exc:
                text = exc.response.body[:200].decode(errors="replace") if exc.response else ""
                raise RuntimeError(f"HTTP {exc.code} from {note.target} {text}".strip()) from None
        elif note.channel == "email":
            if self.smtp is None or not self.smtp.host:
                raise RuntimeError("no SMTP server configured (WORKBENCH_SMTP_HOST)")
            msg = email_message(note.payload, to=note.target, sender=self.smtp.sender, delivery=note.id)
            await asyncio.to_thread(send_email, self.smtp, msg)
        else:
            raise RuntimeError(f"unknown channel {note.channel!r}")
