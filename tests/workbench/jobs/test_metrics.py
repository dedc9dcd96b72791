"""The Prometheus metrics of the jobs service, read back with prometheus_client's own parser."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from tests.support import DATA
from workbench.jobs.metrics import JobsMetrics
from workbench.jobs.model import job_from_request, utcnow
from workbench.jobs.notify import NotifyDefaults, planner
from workbench.jobs.store import Store


def _samples(metrics: JobsMetrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = metrics.exposition().decode()
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_metrics_count_runs_queue_durations_retries_and_notification_failures(
    tmp_path: Path, notebooks: Path
) -> None:
    store = Store(
        tmp_path / "jobs.sqlite", planner=planner(NotifyDefaults(webhooks={"*": ("http://127.0.0.1:9/",)}))
    )
    metrics = JobsMetrics(store)
    job, _ = job_from_request(
        {"name": "tiny", "segment": "neo", "notebook": "jobs/tiny.ipynb"},
        notebooks_dir=notebooks,
        data_dir=DATA,
        default_timeout=60,
        created_by="op",
    )
    store.add_job(job)
    ok = store.add_run(job, {}, trigger="api", requested_by="op")
    store.update_run(ok.id, status="running", started_at=utcnow() - timedelta(seconds=42))
    store.retry_run(ok.id, failure="lost", error="worker died", not_before=utcnow())
    store.update_run(ok.id, status="running")
    store.finish_run(ok.id, "succeeded")
    bad = store.add_run(job, {}, trigger="api", requested_by="op")
    store.update_run(bad.id, status="running", started_at=utcnow())
    store.finish_run(bad.id, "failed", "boom")
    store.add_run(job, {}, trigger="api", requested_by="op")  # waits in the queue
    running = store.add_run(job, {}, trigger="api", requested_by="op")
    store.update_run(running.id, status="running", started_at=utcnow())
    (note,) = store.notifications(bad.id)
    store.notification_failed(note.id, "HTTP 500", utcnow())
    metrics.notification_failed("webhook")

    got = _samples(metrics)
    job_l = (("job", "tiny"),)
    assert got[("workbench_jobs_runs", (("job", "tiny"), ("status", "succeeded")))] == 1
    assert got[("workbench_jobs_runs", (("job", "tiny"), ("status", "failed")))] == 1
    assert got[("workbench_jobs_queue_length", ())] == 1
    assert got[("workbench_jobs_running", ())] == 1
    assert got[("workbench_jobs_retried_attempts", job_l)] == 1
    assert got[("workbench_jobs_retries_total", job_l)] == 1
    assert got[("workbench_jobs_runs_finished_total", (("job", "tiny"), ("status", "failed")))] == 1
    assert got[("workbench_jobs_run_duration_seconds_count", job_l)] == 2
    assert got[("workbench_jobs_run_duration_seconds_bucket", (("job", "tiny"), ("le", "60.0")))] == 2
    assert got[("workbench_jobs_run_duration_seconds_bucket", (("job", "tiny"), ("le", "30.0")))] == 1
    assert (
        got[("workbench_jobs_notifications", (("channel", "webhook"), ("status", "pending")))] == 1
    )  # failure only, by default
    assert got[("workbench_jobs_notification_failures_total", (("channel", "webhook"),))] == 1
    # the job's latest ended run failed (the queued and running ones have not ended)
    assert got[("workbench_jobs_last_run_failed", job_l)] == 1
    store.update_run(running.id, status="running")
    store.finish_run(running.id, "succeeded")
    assert _samples(metrics)[("workbench_jobs_last_run_failed", job_l)] == 0
    store.close()
