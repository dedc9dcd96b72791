"""A job's operating policies (pure): executor, retries, notifications, retention, schedule misfires.

Each policy is a small frozen dataclass with ``from_json`` (validating what a client sends, raising
:class:`~workbench.jobs.model.JobError` with a message naming the field) and ``to_json`` (what the API
shows and the store keeps). ``None`` in a job means "the service's default" (the settings).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from workbench.jobs.errors import JobError

FAILURE_KINDS = ("timeout", "lost", "start_failed", "notebook_error", "cancelled")
"""Why an attempt did not succeed: it outlasted its timeout; its worker, container or the service died
under it; it never reached its first cell; the notebook raised; someone cancelled it (never retried)."""

RETRY_ON_DEFAULT = ("timeout", "lost", "start_failed")
RETRIABLE = ("timeout", "lost", "start_failed", "notebook_error")
"""What ``retry.on`` may name (a cancelled run is never retried)."""
EVENTS = ("failure", "success", "recovery")
"""``failure``: a run ended failed or timed out (after its last attempt); ``success``: it succeeded;
``recovery``: it succeeded and the job's previous finished run had not."""

MISFIRE_POLICIES = ("run_once", "skip", "run_all")
MAX_RETRIES = 10
MAX_BACKOFF_S = 24 * 3600
MAX_MISFIRE_CAP = 100
MAX_TARGETS = 10

_EMAIL_RE = re.compile(r"^[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\"]+$")


def _object(value: Any, what: str, allowed: set[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise JobError(f"{what}: expected a JSON object with {', '.join(sorted(allowed))}")
    extra = sorted(set(value) - allowed)
    if extra:
        raise JobError(
            f"{what}: unknown field(s) {', '.join(extra)}; allowed are {', '.join(sorted(allowed))}"
        )
    return value


def _number(value: Any, what: str, lo: float, hi: float, *, integer: bool = False) -> Any:
    ok = isinstance(value, int) or (not integer and isinstance(value, float))
    if isinstance(value, bool) or not ok or not lo <= value <= hi:
        kind = "an integer" if integer else "a number"
        raise JobError(f"{what}: {kind} from {lo:g} to {hi:g}, got {value!r}")
    return value


def _choices(value: Any, what: str, allowed: tuple[str, ...]) -> tuple[str, ...]:
    if not isinstance(value, list) or any(v not in allowed for v in value):
        raise JobError(f"{what}: a list of {', '.join(allowed)}, got {value!r}")
    return tuple(dict.fromkeys(value))


@dataclass(frozen=True)
class RetryPolicy:
    """How often a run is attempted again, after how long, and for which failures.

    The n-th retry waits ``backoff_s * backoff_factor ** (n - 1)`` seconds.
    """

    retries: int = 0
    backoff_s: float = 30.0
    backoff_factor: float = 2.0
    on: tuple[str, ...] = RETRY_ON_DEFAULT

    def delay_s(self, retry: int) -> float:
        """Seconds to wait before retry number ``retry`` (1-based) [s]."""
        return float(min(MAX_BACKOFF_S, self.backoff_s * self.backoff_factor ** max(0, retry - 1)))

    def retries_after(self, attempt: int, failure: str | None) -> bool:
        """Whether attempt number ``attempt`` (1-based) that failed with ``failure`` is retried."""
        return failure in self.on and attempt <= self.retries

    def to_json(self) -> dict[str, Any]:
        return {
            "retries": self.retries,
            "backoff_s": self.backoff_s,
            "backoff_factor": self.backoff_factor,
            "on": list(self.on),
        }

    @classmethod
    def from_json(cls, value: Any) -> RetryPolicy | None:
        if value is None:
            return None
        v = _object(value, "retry", {"retries", "backoff_s", "backoff_factor", "on"})
        d = cls()
        return cls(
            retries=_number(v.get("retries", d.retries), "retry.retries", 0, MAX_RETRIES, integer=True),
            backoff_s=float(_number(v.get("backoff_s", d.backoff_s), "retry.backoff_s", 0, MAX_BACKOFF_S)),
            backoff_factor=float(
                _number(v.get("backoff_factor", d.backoff_factor), "retry.backoff_factor", 1, 10)
            ),
            on=_choices(v.get("on", list(d.on)), "retry.on", RETRIABLE),
        )


def check_webhook(url: Any) -> str:
    """An ``http://`` or ``https://`` URL with a host."""
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in {"http", "https"} or not parts.hostname or len(url) > 2000:
        raise JobError(f"notify.webhooks: {url!r} is not an http:// or https:// URL")
    return str(url)


def check_email(address: Any) -> str:
    """A plain e-mail address (``name@example.org``; no display name)."""
    if not isinstance(address, str) or len(address) > 254 or not _EMAIL_RE.match(address):
        raise JobError(f"notify.emails: {address!r} is not an e-mail address such as ops@example.org")
    return address


@dataclass(frozen=True)
class NotifyPolicy:
    """Who is told about a job's runs, and on which events.

    ``webhooks`` and ``emails`` empty: the segment's targets from the settings
    (``WORKBENCH_JOBS_NOTIFY_WEBHOOKS``, ``WORKBENCH_JOBS_NOTIFY_EMAILS``). ``secret``: the HMAC key
    that signs this job's webhooks (write-only; default the service's ``jobs_webhook_secret``).
    """

    on: tuple[str, ...] = ("failure",)
    webhooks: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    secret: str | None = field(default=None, repr=False)

    def to_json(self, *, with_secret: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "on": list(self.on),
            "webhooks": list(self.webhooks),
            "emails": list(self.emails),
        }
        if with_secret:
            out["secret"] = self.secret
        else:
            out["secret_set"] = self.secret is not None
        return out

    @classmethod
    def from_json(cls, value: Any) -> NotifyPolicy | None:
        if value is None:
            return None
        v = _object(value, "notify", {"on", "webhooks", "emails", "secret", "secret_set"})
        webhooks, emails = v.get("webhooks", []), v.get("emails", [])
        for name, items in (("webhooks", webhooks), ("emails", emails)):
            if not isinstance(items, list) or len(items) > MAX_TARGETS:
                raise JobError(f"notify.{name}: a list of at most {MAX_TARGETS}")
        secret = v.get("secret")
        if secret is not None and (not isinstance(secret, str) or not 16 <= len(secret) <= 512):
            raise JobError("notify.secret: a string of 16 to 512 characters (the webhook's HMAC key)")
        return cls(
            on=_choices(v.get("on", ["failure"]), "notify.on", EVENTS),
            webhooks=tuple(dict.fromkeys(check_webhook(u) for u in webhooks)),
            emails=tuple(dict.fromkeys(check_email(a) for a in emails)),
            secret=secret,
        )


@dataclass(frozen=True)
class RetentionPolicy:
    """Which finished runs (rows and folders) are kept: the newest ``keep_last`` and/or those younger
    than ``keep_days``; a run is deleted only when no rule keeps it. The job's last successful run and
    active runs are always kept. ``None`` for a rule: it keeps nothing by itself; both ``None``: all kept.
    """

    keep_last: int | None = None
    keep_days: float | None = None

    @property
    def keeps_all(self) -> bool:
        return self.keep_last is None and self.keep_days is None

    def to_json(self) -> dict[str, Any]:
        return {"keep_last": self.keep_last, "keep_days": self.keep_days}

    @classmethod
    def from_json(cls, value: Any) -> RetentionPolicy | None:
        if value is None:
            return None
        v = _object(value, "retention", {"keep_last", "keep_days"})
        last, days = v.get("keep_last"), v.get("keep_days")
        return cls(
            keep_last=None
            if last is None
            else _number(last, "retention.keep_last", 1, 1_000_000, integer=True),
            keep_days=None if days is None else float(_number(days, "retention.keep_days", 0.001, 36500)),
        )


def check_misfire(policy: Any, cap: Any) -> tuple[str, int]:
    """``(policy, cap)``: what a schedule does with the fire times it missed (``run_once`` default)."""
    policy = "run_once" if policy is None else policy
    if policy not in MISFIRE_POLICIES:
        raise JobError(f"misfire {policy!r}: one of {', '.join(MISFIRE_POLICIES)}")
    cap = 10 if cap is None else _number(cap, "misfire_cap", 1, MAX_MISFIRE_CAP, integer=True)
    return str(policy), int(cap)
