"""Notifications: what a finished run tells whom, the signature, and delivery through a real webhook
receiver and a real SMTP server (aiosmtpd) on 127.0.0.1 — exactly once, also across a restart of the
service between the failure and the delivery, with the failed deliveries retried and recorded.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import pytest

from tests.support import DATA, need_executable
from tests.workbench.jobs.receivers import SmtpReceiver, WebhookReceiver, self_signed_certificate
from workbench.jobs.model import job_from_request, utcnow
from workbench.jobs.notify import (
    NotifyDefaults,
    SmtpSettings,
    email_message,
    event_of,
    planner,
    run_summary,
    send_email,
    sign,
    verify_signature,
    webhook_request,
)
from workbench.jobs.outbox import Notifier
from workbench.jobs.store import Run, Store

SECRET = "service-secret-0123456789abcdef"
JOB_SECRET = "the-job's-own-secret-xyz"


def _run(status: str) -> Run:
    now = utcnow()
    return Run(1, "tiny", "neo", "jobs/tiny.ipynb", {}, 60, status, "api", "op", now, now, now)


def test_events_of_a_finished_run() -> None:
    both = ("failure", "success", "recovery")
    assert event_of(_run("failed"), None, both) == "failure"
    assert event_of(_run("timed_out"), "succeeded", ("failure",)) == "failure"
    assert event_of(_run("failed"), None, ("success",)) is None
    assert event_of(_run("succeeded"), "failed", both) == "recovery"  # one message, not two
    assert event_of(_run("succeeded"), "succeeded", both) == "success"
    assert event_of(_run("succeeded"), "timed_out", ("failure", "recovery")) == "recovery"
    assert event_of(_run("succeeded"), "succeeded", ("failure", "recovery")) is None
    assert event_of(_run("cancelled"), None, both) is None


def test_signature_matches_the_documented_recipe_and_refuses_tampering() -> None:
    body, headers = webhook_request(
        {"event": "failure", "job": "x"}, delivery=7, secret=SECRET, now=1_800_000_000
    )
    assert headers["X-Workbench-Timestamp"] == "1800000000" and headers["X-Workbench-Delivery"] == "7"
    assert headers["X-Workbench-Signature"] == sign(SECRET, 1_800_000_000, body)
    sig = headers["X-Workbench-Signature"]
    assert verify_signature(SECRET, "1800000000", body, sig, now=1_800_000_100)
    assert not verify_signature(SECRET, "1800000000", body + b" ", sig, now=1_800_000_100)
    assert not verify_signature("other-secret", "1800000000", body, sig, now=1_800_000_100)
    assert not verify_signature(SECRET, "1800000000", body, sig, now=1_800_000_000 + 301)  # a replay


def test_job_targets_replace_the_segment_defaults(notebooks: Path) -> None:
    defaults = NotifyDefaults(
        webhooks={"neo": ("http://127.0.0.1:1/neo",), "*": ("http://127.0.0.1:1/all",)},
        emails={"swe": ("swe@example.org",)},
        public_url="https://workbench.example.org",
    )
    plan = planner(defaults)
    body = {"name": "tiny", "segment": "neo", "notebook": "jobs/tiny.ipynb"}
    plain, _ = job_from_request(
        body, notebooks_dir=notebooks, data_dir=DATA, default_timeout=60, created_by="op"
    )
    rows = plan(_run("failed"), plain, None)
    assert [(r["channel"], r["target"]) for r in rows] == [
        ("webhook", "http://127.0.0.1:1/neo"),
        ("webhook", "http://127.0.0.1:1/all"),
    ]
    assert (
        rows[0]["payload"]["links"]["report"]
        == "https://workbench.example.org/services/jobs/api/v1/runs/1/report"
    )
    assert plan(_run("succeeded"), plain, "failed") == []  # the default events: failure only
    own, _ = job_from_request(
        {**body, "notify": {"on": ["recovery"], "emails": ["ops@example.org"], "secret": JOB_SECRET}},
        notebooks_dir=notebooks,
        data_dir=DATA,
        default_timeout=60,
        created_by="op",
    )
    assert plan(_run("failed"), own, None) == []
    rows = plan(_run("succeeded"), own, "timed_out")
    assert [(r["event"], r["channel"], r["target"]) for r in rows] == [
        ("recovery", "email", "ops@example.org")
    ]


@pytest.mark.slow
def test_a_failed_run_is_delivered_exactly_once_across_a_restart(tmp_path: Path, notebooks: Path) -> None:
    """The receivers are down when the run fails: the deliveries fail, are logged and retried; the
    service stops; the receivers come up; the next service delivers each notification once."""
    hook, mail = WebhookReceiver(JOB_SECRET), SmtpReceiver()
    own_hook = WebhookReceiver(SECRET)
    defaults = NotifyDefaults(webhooks={"neo": (own_hook.url,)}, public_url="http://127.0.0.1:8000")
    db = tmp_path / "jobs.sqlite"
    smtp = SmtpSettings(host="127.0.0.1", port=mail.port, sender="workbench@example.org", timeout_s=5)

    def service() -> tuple[Store, Notifier, list[str]]:
        store = Store(db, planner=planner(defaults))
        failures: list[str] = []
        notifier = Notifier(
            store, secret=SECRET, smtp=smtp, backoff_s=0.2, period_s=0.2, on_failure=failures.append
        )
        return store, notifier, failures

    store, notifier, failures = service()
    job, _ = job_from_request(
        {
            "name": "tiny",
            "segment": "neo",
            "notebook": "jobs/tiny.ipynb",
            "notify": {"webhooks": [hook.url], "emails": ["ops@example.org"], "secret": JOB_SECRET},
        },
        notebooks_dir=notebooks,
        data_dir=DATA,
        default_timeout=60,
        created_by="op",
    )
    other, _ = job_from_request(
        {"name": "other", "segment": "neo", "notebook": "jobs/tiny.ipynb"},
        notebooks_dir=notebooks,
        data_dir=DATA,
        default_timeout=60,
        created_by="op",
    )
    store.add_job(job)
    store.add_job(other)

    async def first_service() -> tuple[int, int]:
        await notifier.start()
        run = store.add_run(job, {"fail": True}, trigger="api", requested_by="op")
        store.update_run(run.id, status="running", started_at=utcnow())
        store.finish_run(run.id, "failed", "ValueError: asked to fail after 0.0 s (code cell 5)")
        second = store.add_run(other, {}, trigger="api", requested_by="op")
        store.update_run(second.id, status="running", started_at=utcnow())
        store.finish_run(second.id, "timed_out", "timed out after 8 s")
        while len(failures) < 6:  # each of the 3 notifications failed twice
            await asyncio.sleep(0.1)
        await notifier.stop()
        return run.id, second.id

    run_id, second_id = asyncio.run(first_service())
    notes = store.notifications(run_id)
    assert {(n.channel, n.status) for n in notes} == {("webhook", "pending"), ("email", "pending")}
    assert all(n.attempts >= 2 and n.last_error for n in notes)
    assert "Connection refused" in next(n.last_error or "" for n in notes if n.channel == "email")
    store.close()  # the service is gone; nothing was delivered
    assert hook.deliveries == mail.messages == own_hook.deliveries == []

    hook.start(), mail.start(), own_hook.start()
    try:
        store, notifier, failures = service()

        async def second_service() -> None:
            await notifier.start()
            while any(n.status != "sent" for r in (run_id, second_id) for n in store.notifications(r)):
                await asyncio.sleep(0.1)
            for _ in range(10):  # more rounds of the outbox: nothing is sent again
                await notifier.deliver_due()
            await notifier.stop()

        asyncio.run(second_service())
    finally:
        hook.stop(), mail.stop(), own_hook.stop()

    assert failures == [] and hook.refused == own_hook.refused == []
    assert len(hook.deliveries) == 1 and len(mail.messages) == 1 and len(own_hook.deliveries) == 1
    delivered = hook.deliveries[0].json
    assert delivered["event"] == "failure" and delivered["job"] == "tiny" and delivered["run"]["id"] == run_id
    assert delivered["run"]["error"] == "ValueError: asked to fail after 0.0 s (code cell 5)"
    assert delivered["run"]["failure"] == "notebook_error" and delivered["run"]["parameters"] == {
        "fail": True
    }
    assert hook.deliveries[0].headers["X-Workbench-Event"] == "failure"
    assert int(hook.deliveries[0].headers["X-Workbench-Delivery"]) == delivered["delivery"]
    msg = mail.messages[0]
    assert msg["To"] == "ops@example.org" and msg["X-Envelope-To"] == "ops@example.org"
    assert msg["Subject"] == f"[workbench] job tiny run {run_id} FAILED"
    assert msg["From"] == "workbench@example.org" and msg["Message-ID"].startswith("<jobs-notification-")
    text = msg.get_payload(decode=True).decode()
    assert "ValueError: asked to fail" in text and f"/runs/{run_id}/report" in text
    # the segment's default webhook told of the other job's timeout, signed with the service's secret
    assert own_hook.deliveries[0].json["run"]["status"] == "timed_out"
    assert own_hook.deliveries[0].json["run"]["failure"] == "timeout"
    sent = store.notifications(run_id)
    assert all(n.status == "sent" and n.sent_at is not None for n in sent)
    store.close()


def test_a_notification_is_given_up_after_its_attempts_and_says_so(
    tmp_path: Path, notebooks: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = Store(
        tmp_path / "jobs.sqlite", planner=planner(NotifyDefaults(emails={"*": ("ops@example.org",)}))
    )
    notifier = Notifier(store, secret=SECRET, smtp=None, backoff_s=0.0, max_attempts=3)
    job, _ = job_from_request(
        {"name": "tiny", "segment": "neo", "notebook": "jobs/tiny.ipynb"},
        notebooks_dir=notebooks,
        data_dir=DATA,
        default_timeout=60,
        created_by="op",
    )
    store.add_job(job)
    run = store.add_run(job, {}, trigger="api", requested_by="op")
    store.finish_run(run.id, "failed", "boom")

    async def rounds() -> None:
        for _ in range(5):
            await notifier.deliver_due()

    asyncio.run(rounds())
    (note,) = store.notifications(run.id)
    assert (note.status, note.attempts) == ("failed", 3)
    assert note.last_error == "RuntimeError: no SMTP server configured (WORKBENCH_SMTP_HOST)"
    assert any(
        "given up after 3 attempts" in r.getMessage() and r.levelname == "ERROR" for r in caplog.records
    )
    assert store.counts()["notifications"] == [("email", "failed", 1)]
    store.close()


def test_email_over_starttls_verifies_the_servers_certificate(tmp_path: Path) -> None:
    """A real SMTP server that requires STARTTLS: the mail goes through with its CA, not without."""
    import smtplib
    import ssl

    need_executable("openssl")
    cert, key = self_signed_certificate(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    mail = SmtpReceiver(tls_context=context).start()
    payload = {"event": "failure", **run_summary(_run("failed"), "http://127.0.0.1:8000")}
    msg = email_message(payload, to="ops@example.org", sender="workbench@example.org", delivery=3)
    try:
        plain = SmtpSettings(host="127.0.0.1", port=mail.port, timeout_s=10)
        with pytest.raises(smtplib.SMTPException):  # the server refuses mail before STARTTLS
            send_email(plain, msg)
        unknown_ca = SmtpSettings(host="127.0.0.1", port=mail.port, starttls=True, timeout_s=10)
        with pytest.raises(ssl.SSLCertVerificationError):
            send_email(unknown_ca, msg)
        send_email(replace(unknown_ca, ca_file=str(cert)), msg)
    finally:
        mail.stop()
    assert len(mail.messages) == 1 and mail.messages[0]["Message-ID"] == "<jobs-notification-3@127.0.0.1>"
