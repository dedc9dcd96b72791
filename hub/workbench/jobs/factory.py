"""Wiring: the jobs service's store, executors, runner, notifier, metrics and policies from the settings;
recovery after a crash."""

from __future__ import annotations

import logging
import os

from workbench.jobs import executors
from workbench.jobs.access import Policy
from workbench.jobs.errors import JobError
from workbench.jobs.metrics import JobsMetrics
from workbench.jobs.notify import NotifyDefaults, SmtpSettings, pairs_by_key, planner
from workbench.jobs.outbox import Notifier
from workbench.jobs.policies import RetentionPolicy, check_email, check_webhook
from workbench.jobs.retries import lost_run_retry_at
from workbench.jobs.runner import Runner
from workbench.jobs.state import JobsState
from workbench.jobs.store import Store
from workbench.secrets import SECRETS_DIRNAME, ensure_secret_file
from workbench.settings import Settings, SettingsError

log = logging.getLogger("workbench.jobs")

WEBHOOK_SECRET_FILE = "jobs_webhook_secret"


async def recover(state: JobsState) -> None:
    """Runs a dead service left behind: ``running`` ones were lost — queued again if their job's retry
    policy retries ``lost`` runs, else failed — and what is left of them is ended by their executor;
    ``queued`` ones are queued again. Call before the runner starts."""

    lost, queued = state.store.recover(lost_run_retry_at)
    for run in lost:
        log.warning("run %s was running when the service stopped: lost", run.id)
    await state.runner.recover(lost)
    for run in queued:
        state.runner.submit(run.id)


def notify_defaults(settings: Settings) -> NotifyDefaults:
    """The service-wide notification targets and events, checked (:class:`SettingsError` if wrong)."""
    try:
        for _, url in settings.jobs_notify_webhooks:
            check_webhook(url)
        for _, address in settings.jobs_notify_emails:
            check_email(address)
    except JobError as exc:
        raise SettingsError(f"WORKBENCH_JOBS_NOTIFY_*: {exc.message}") from None
    return NotifyDefaults(
        on=settings.jobs_notify_on,
        webhooks=pairs_by_key(settings.jobs_notify_webhooks),
        emails=pairs_by_key(settings.jobs_notify_emails),
        public_url=settings.public_url,
    )


def smtp_settings(settings: Settings) -> SmtpSettings | None:
    if not settings.smtp_host:
        return None
    return SmtpSettings(
        host=settings.smtp_host,
        port=settings.smtp_port,
        starttls=settings.smtp_starttls,
        user=settings.smtp_user,
        password=settings.smtp_password,
        sender=settings.smtp_from,
        ca_file=settings.smtp_ca_file,
    )


def webhook_secret(settings: Settings) -> str:
    """``WORKBENCH_JOBS_WEBHOOK_SECRET``, else ``<state>/secrets/jobs_webhook_secret`` (made once, 0600)."""
    if settings.jobs_webhook_secret:
        return settings.jobs_webhook_secret
    directory = settings.state_dir / SECRETS_DIRNAME
    directory.mkdir(parents=True, exist_ok=True)
    return ensure_secret_file(directory / WEBHOOK_SECRET_FILE)


def default_retention(settings: Settings) -> RetentionPolicy:
    return RetentionPolicy(
        keep_last=settings.jobs_keep_runs or None, keep_days=settings.jobs_keep_days or None
    )


def build_state(settings: Settings) -> JobsState:
    """Store, executors, runner, notifier, metrics and policy of the service from the settings (no hub
    contact yet)."""
    base = settings.state_dir / "jobs"
    store = Store(
        settings.jobs_db_url,
        planner=planner(notify_defaults(settings)),
        default_executor=settings.jobs_executor,
    )
    runner = Runner(
        store,
        base / "runs",
        settings.jobs_notebooks_dir,
        executors=executors.build(settings),
        default_executor=settings.jobs_executor,
        workers=settings.jobs_workers,
        start_timeout_s=settings.jobs_start_timeout,
    )
    metrics = JobsMetrics(store)
    notifier = Notifier(
        store,
        secret=webhook_secret(settings),
        smtp=smtp_settings(settings),
        on_failure=metrics.notification_failed,
    )
    return JobsState(
        store=store,
        runner=runner,
        policy=Policy(frozenset(settings.jobs_operator_groups)),
        notebooks_dir=settings.jobs_notebooks_dir,
        data_dir=settings.data_dir,
        default_timeout=settings.jobs_timeout,
        hub_api_url=os.environ.get("JUPYTERHUB_API_URL", ""),
        api_token=os.environ.get("JUPYTERHUB_API_TOKEN", ""),
        notifier=notifier,
        metrics=metrics,
        retention=default_retention(settings),
    )
