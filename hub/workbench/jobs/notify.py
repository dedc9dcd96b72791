"""What a finished run tells whom (pure), and the two ways it is told: a signed webhook and an e-mail.

The store calls :func:`planner`'s function in the transaction that records a run's final status, so
the notifications it plans are in the outbox (``notifications`` table) before anyone can see the
status; :mod:`workbench.jobs.outbox` delivers them, and retries what fails.

Webhooks are signed so that a receiver can tell they come from this service and were not replayed:
``X-Workbench-Signature: sha256=<hex>`` is HMAC-SHA256, keyed with the job's ``notify.secret`` (else
the service's ``<state>/secrets/jobs_webhook_secret``), of ``<X-Workbench-Timestamp>.<body>`` — the
Unix time in seconds as decimal digits, a dot, and the exact bytes of the body. See
:func:`verify_signature` and docs/jobs.md, *Notifications*.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import smtplib
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any
from urllib.parse import urlsplit

from workbench.jobs.model import Job
from workbench.jobs.store import Planner, Run

SIGNATURE_HEADER = "X-Workbench-Signature"
TIMESTAMP_HEADER = "X-Workbench-Timestamp"
EVENT_HEADER = "X-Workbench-Event"
DELIVERY_HEADER = "X-Workbench-Delivery"
SIGNATURE_TOLERANCE_S = 300
"""How old a signed timestamp a receiver should accept [s] (replays of older deliveries are refused)."""

FAILED = ("failed", "timed_out")


@dataclass(frozen=True)
class NotifyDefaults:
    """The service-wide notification settings: targets by segment (``*``: every segment), events."""

    on: tuple[str, ...] = ("failure",)
    webhooks: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    emails: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    public_url: str = ""
    """The workbench's URL, for links to a run's report in the messages."""

    def targets(self, segment: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(webhooks, e-mails) of ``segment``: its own, then those for every segment."""
        hooks = (*self.webhooks.get(segment, ()), *self.webhooks.get("*", ()))
        mails = (*self.emails.get(segment, ()), *self.emails.get("*", ()))
        return tuple(dict.fromkeys(hooks)), tuple(dict.fromkeys(mails))


def pairs_by_key(pairs: tuple[tuple[str, str], ...]) -> dict[str, tuple[str, ...]]:
    """``(("swe", a), ("swe", b), ("*", c))`` -> ``{"swe": (a, b), "*": (c,)}``."""
    out: dict[str, tuple[str, ...]] = {}
    for key, value in pairs:
        out[key] = (*out.get(key, ()), value)
    return out


def event_of(run: Run, previous_status: str | None, on: tuple[str, ...]) -> str | None:
    """The event a run that just ended is, among ``on``: ``failure``, ``recovery`` or ``success``.

    A success after a failed or timed-out run is a ``recovery`` (one message, even when ``success``
    is asked too). A cancelled run is no event.
    """
    if run.status in FAILED:
        return "failure" if "failure" in on else None
    if run.status != "succeeded":
        return None
    if "recovery" in on and previous_status in FAILED:
        return "recovery"
    return "success" if "success" in on else None


def run_summary(run: Run, public_url: str) -> dict[str, Any]:
    """The JSON body of a notification about ``run`` (the webhook's body; the e-mail's facts)."""
    base = f"{public_url.rstrip('/')}/services/jobs/api/v1/runs/{run.id}"
    duration = None
    if run.started_at and run.finished_at:
        duration = (run.finished_at - run.started_at).total_seconds()
    return {
        "job": run.job,
        "segment": run.segment,
        "run": {
            "id": run.id,
            "status": run.status,
            "error": run.error,
            "failure": run.failure,
            "trigger": run.trigger,
            "requested_by": run.requested_by,
            "parameters": run.parameters,
            "attempt": run.attempts,
            "executor": run.executor,
            "scheduled_for": run.scheduled_for.isoformat() if run.scheduled_for else None,
            "started_at": run.started_at.isoformat() if run.started_at else None,
            "finished_at": run.finished_at.isoformat() if run.finished_at else None,
            "duration_s": duration,
        },
        "links": {"run": base, "report": f"{base}/report", "log": f"{base}/log"},
    }


def planner(defaults: NotifyDefaults) -> Planner:
    """The store's planner: the outbox rows of a run that just ended (see :data:`Planner`)."""

    def plan(run: Run, job: Job | None, previous_status: str | None) -> list[dict[str, Any]]:
        policy = job.notify if job is not None else None
        on = policy.on if policy is not None else defaults.on
        event = event_of(run, previous_status, on)
        if event is None:
            return []
        if policy is not None and (policy.webhooks or policy.emails):
            hooks, mails = policy.webhooks, policy.emails
        else:
            hooks, mails = defaults.targets(run.segment)
        payload = {"event": event, **run_summary(run, defaults.public_url)}
        secret = policy.secret if policy is not None else None
        rows = [
            {"event": event, "channel": "webhook", "target": u, "payload": payload, "secret": secret}
            for u in hooks
        ]
        rows += [
            {"event": event, "channel": "email", "target": a, "payload": payload, "secret": None}
            for a in mails
        ]
        return rows

    return plan


# -- webhooks --------------------------------------------------------------------------------------


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """``sha256=<hex>``: HMAC-SHA256 with ``secret`` of ``b"<timestamp>." + body``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def verify_signature(
    secret: str, timestamp: str, body: bytes, signature: str, *, now: float | None = None
) -> bool:
    """What a receiver checks: the signature matches, and the timestamp is at most 5 minutes off.

    Parameters
    ----------
    secret
        The shared HMAC key.
    timestamp, signature
        The ``X-Workbench-Timestamp`` and ``X-Workbench-Signature`` headers as received.
    body
        The request body, exactly as received (bytes, before any JSON parsing).
    now
        The receiver's clock [Unix s] (default: now).
    """
    if not timestamp.isdigit():
        return False
    if abs((time.time() if now is None else now) - int(timestamp)) > SIGNATURE_TOLERANCE_S:
        return False
    return hmac.compare_digest(sign(secret, int(timestamp), body), signature)


def webhook_request(
    payload: dict[str, Any], *, delivery: int, secret: str, now: float | None = None
) -> tuple[bytes, dict[str, str]]:
    """(body, headers) of a webhook POST for one outbox row."""
    body = json.dumps({**payload, "delivery": delivery}, sort_keys=True).encode()
    ts = int(time.time() if now is None else now)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "s2p-workbench-jobs",
        EVENT_HEADER: str(payload.get("event", "")),
        DELIVERY_HEADER: str(delivery),
        TIMESTAMP_HEADER: str(ts),
        SIGNATURE_HEADER: sign(secret, ts, body),
    }
    return body, headers


# -- e-mail ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SmtpSettings:
    """Where e-mails go out: an SMTP server, optionally with STARTTLS and a login."""

    host: str
    port: int = 25
    starttls: bool = False
    user: str = ""
    password: str = field(default="", repr=False)
    sender: str = "workbench@localhost"
    timeout_s: float = 30.0
    ca_file: str = ""
    """PEM file of the CA that signed the server's certificate (default: the system's)."""


_WORDS = {"failure": "FAILED", "recovery": "recovered", "success": "succeeded"}


def email_message(payload: dict[str, Any], *, to: str, sender: str, delivery: int) -> EmailMessage:
    """The e-mail of one outbox row: subject with job, run and outcome; the facts and links as text.

    Its ``Message-ID`` is fixed by the delivery number, so a mail system can drop a repeat.
    """
    run, event = payload["run"], payload["event"]
    msg = EmailMessage()
    msg["Subject"] = f"[workbench] job {payload['job']} run {run['id']} {_WORDS.get(event, event)}"
    msg["From"], msg["To"] = sender, to
    msg["Date"] = formatdate(usegmt=True)
    host = urlsplit(payload["links"]["run"]).hostname or "workbench"
    msg["Message-ID"] = f"<jobs-notification-{delivery}@{host}>"
    msg["X-Workbench-Event"] = event
    lines = [
        f"Job {payload['job']} (segment {payload['segment']}), run {run['id']}: {run['status']}.",
        "",
        f"error:        {run['error'] or '-'}",
        f"failure kind: {run['failure'] or '-'}",
        f"attempt:      {run['attempt']} on {run['executor'] or '-'}",
        f"trigger:      {run['trigger']} by {run['requested_by']}",
        f"started:      {run['started_at'] or '-'}",
        f"finished:     {run['finished_at'] or '-'}",
        f"parameters:   {json.dumps(run['parameters'])}",
        "",
        f"report: {payload['links']['report']}",
        f"log:    {payload['links']['log']}",
    ]
    msg.set_content("\n".join(lines) + "\n")
    return msg


def send_email(smtp: SmtpSettings, msg: EmailMessage) -> None:
    """Send ``msg`` through ``smtp`` (blocking; run it in a thread). Raises OSError/SMTPException."""
    with smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout_s) as server:
        server.ehlo()
        if smtp.starttls:
            context = ssl.create_default_context(cafile=smtp.ca_file or None)
            server.starttls(context=context)
            server.ehlo()
        if smtp.user:
            server.login(smtp.user, smtp.password)
        server.send_message(msg)
