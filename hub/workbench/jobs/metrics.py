"""Prometheus metrics of the jobs service, served at ``/services/jobs/metrics`` (text format 0.0.4).

Two kinds, as Prometheus expects them:

- what *is* (gauges read from the store at each scrape, so they hold across restarts): runs kept by
  job and status, the queue length, the runs running, notifications by channel and status;
- what *happened* since the service started (counters and a histogram fed by the store's events):
  finished runs by job and status, their durations, retries, failed notification deliveries.

Access: a hub token whose scopes include ``read:metrics`` (the scope of the hub's own ``/hub/metrics``),
or an operator's. ``workbench.jobs.hub`` registers a ``prometheus`` hub service with both scopes and
its token in ``<state>/secrets/prometheus_api_token``; see docs/operations.md, *Metrics*.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from workbench.jobs.store import Run, Store

PREFIX = "workbench_jobs"
METRICS_SCOPE = "read:metrics"
DURATION_BUCKETS = (1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 86400)
"""Histogram buckets of run durations [s]."""

__all__ = ["CONTENT_TYPE_LATEST", "METRICS_SCOPE", "JobsMetrics"]


class _StoreCollector(Collector):
    """The gauges, read from the store at each scrape."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def collect(self) -> Iterator[Metric]:
        counts = self.store.counts()
        runs = GaugeMetricFamily(
            f"{PREFIX}_runs", "Runs kept in the store, by job and status", labels=["job", "status"]
        )
        queued = running = 0
        for job, status, n in counts["runs"]:
            runs.add_metric([job, status], n)
            queued += n if status == "queued" else 0
            running += n if status == "running" else 0
        yield runs
        failing = GaugeMetricFamily(
            f"{PREFIX}_last_run_failed",
            "1 when a job's latest ended run failed or timed out, 0 when it succeeded or was cancelled "
            "(what the alert ProductionRunFailed watches)",
            labels=["job"],
        )
        for job, status in counts["last_final"]:
            failing.add_metric([job], 1 if status in {"failed", "timed_out"} else 0)
        yield failing
        yield GaugeMetricFamily(f"{PREFIX}_queue_length", "Runs waiting for a worker", value=queued)
        yield GaugeMetricFamily(f"{PREFIX}_running", "Runs executing now", value=running)
        retried = GaugeMetricFamily(
            f"{PREFIX}_retried_attempts", "Attempts after the first, of the runs kept, by job", labels=["job"]
        )
        for job, n in counts["retries"]:
            retried.add_metric([job], n)
        yield retried
        notes = GaugeMetricFamily(
            f"{PREFIX}_notifications",
            "Notifications in the outbox, by channel and status (pending, sent, failed)",
            labels=["channel", "status"],
        )
        for channel, status, n in counts["notifications"]:
            notes.add_metric([channel, status], n)
        yield notes


class JobsMetrics:
    """The service's Prometheus registry; listens to the store's run events.

    Parameters
    ----------
    store
        The jobs store (its gauges are read at each scrape, its events feed the counters).
    """

    def __init__(self, store: Store) -> None:
        self.registry = CollectorRegistry()
        self.registry.register(_StoreCollector(store))
        self.finished = Counter(
            f"{PREFIX}_runs_finished",
            "Runs that ended since the service started, by job and final status",
            ["job", "status"],
            registry=self.registry,
        )
        self.durations = Histogram(
            f"{PREFIX}_run_duration_seconds",
            "Duration of the runs that ended since the service started (first start to end), by job",
            ["job"],
            buckets=DURATION_BUCKETS,
            registry=self.registry,
        )
        self.retries = Counter(
            f"{PREFIX}_retries",
            "Runs queued again for another attempt, by job",
            ["job"],
            registry=self.registry,
        )
        self.notification_failures = Counter(
            f"{PREFIX}_notification_failures",
            "Failed notification deliveries (each is retried until it is given up), by channel",
            ["channel"],
            registry=self.registry,
        )
        store.listeners.append(self.on_run)

    def on_run(self, what: str, run: Run) -> None:
        """A store event: ``finished`` or ``retry`` of ``run``."""
        if what == "finished":
            self.finished.labels(run.job, run.status).inc()
            if run.started_at and run.finished_at:
                self.durations.labels(run.job).observe((run.finished_at - run.started_at).total_seconds())
        elif what == "retry":
            self.retries.labels(run.job).inc()

    def notification_failed(self, channel: str) -> None:
        self.notification_failures.labels(channel).inc()

    def exposition(self) -> bytes:
        """The metrics in Prometheus' text format (:data:`CONTENT_TYPE_LATEST`)."""
        return bytes(generate_latest(self.registry))
