"""Prometheus for the workbench: the scrape configuration and the alert rules, made from the settings.

``workbench monitoring config DIR`` writes ``DIR/prometheus.yml`` and ``DIR/rules.yml``; run Debian's
``prometheus --config.file=DIR/prometheus.yml`` beside the workbench (docs/operations.md, *Metrics*).

Targets (each with the ``prometheus`` hub service's token, ``<state>/secrets/prometheus_api_token``
or the file of ``WORKBENCH_PROMETHEUS_TOKEN_FILE``, read from its file by Prometheus, never copied into
the configuration; the stack's Prometheus reads its Swarm secret, see :mod:`workbench.stack`):

- ``hub``: JupyterHub's ``/hub/metrics`` (spawns, their durations and failures, users, the proxy);
- ``jobs``: the jobs service's ``/services/jobs/metrics`` (runs by status, queue, durations, retries,
  notification failures, each job's last ended run), the production job's name as ``workbench_job``;
- ``tool:<name>``: each published tool's gateway, ``/services/<name>/metrics`` (Voila up, visitors,
  kernel sockets, dropped kernel messages; :mod:`workbench.apps.metrics`).

Alert rules (:data:`RULES`): the hub down, spawn failures, a production job whose latest run failed,
the jobs service down, a notification given up, a tool down, and runs waiting in the queue for too
long.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from workbench.settings import Settings

TOKEN_FILE = "prometheus_api_token"

RULES: list[dict[str, object]] = [
    {
        "alert": "HubDown",
        "expr": 'up{job="hub"} == 0',
        "for": "1m",
        "labels": {"severity": "critical"},
        "annotations": {
            "summary": "JupyterHub does not answer /hub/metrics: nobody can log in or start a lab"
        },
    },
    {
        "alert": "JobsServiceDown",
        "expr": 'up{job="jobs"} == 0',
        "for": "2m",
        "labels": {"severity": "critical"},
        "annotations": {"summary": "The jobs service does not answer: no production run starts"},
    },
    {
        "alert": "SpawnFailures",
        "expr": 'sum(increase(jupyterhub_server_spawn_duration_seconds_count{status="failure"}[10m])) > 0',
        "labels": {"severity": "warning"},
        "annotations": {"summary": "Labs failed to start in the last 10 minutes (see the hub log)"},
    },
    {
        "alert": "ProductionRunFailed",
        "expr": "workbench_jobs_last_run_failed == 1",
        "labels": {"severity": "warning"},
        "annotations": {
            "summary": "The latest run of job {{ $labels.workbench_job }} failed or timed out",
            "description": "See /services/jobs/jobs/{{ $labels.workbench_job }}; a successful run ends the alert.",
        },
    },
    {
        "alert": "NotificationsGivenUp",
        "expr": 'sum by (channel) (workbench_jobs_notifications{status="failed"}) > 0',
        "labels": {"severity": "warning"},
        "annotations": {
            "summary": "Notifications by {{ $labels.channel }} were given up after their retries"
        },
    },
    {
        "alert": "ToolDown",
        "expr": 'up{job=~"tool:.+"} == 0 or workbench_tool_up == 0',
        "for": "5m",
        "labels": {"severity": "warning"},
        "annotations": {"summary": "The published tool {{ $labels.job }}{{ $labels.tool }} does not answer"},
    },
    {
        "alert": "RunsWaiting",
        "expr": "workbench_jobs_queue_length > 0 and workbench_jobs_running == 0",
        "for": "15m",
        "labels": {"severity": "warning"},
        "annotations": {"summary": "Runs have waited 15 minutes with none running: are the executors up?"},
    },
]


def local_target(settings: Settings, environ: Mapping[str, str] = os.environ) -> tuple[str, str]:
    """(URL, token file) of the workbench of ``settings``: its local URL, and the file of the
    ``prometheus`` service's token, ``WORKBENCH_PROMETHEUS_TOKEN_FILE`` or by default
    ``<state>/secrets/prometheus_api_token``.

    Raises ``ValueError`` when the token is given as a value (``WORKBENCH_PROMETHEUS_TOKEN``):
    Prometheus reads it from a file.
    """
    token_file = environ.get("WORKBENCH_PROMETHEUS_TOKEN_FILE", "").strip()
    if not token_file and settings.prometheus_token:
        raise ValueError(
            "WORKBENCH_PROMETHEUS_TOKEN is set as a value; Prometheus reads the token from a file: "
            "give it as WORKBENCH_PROMETHEUS_TOKEN_FILE instead"
        )
    return settings.local_url, token_file or str(settings.state_dir / "secrets" / TOKEN_FILE)


def scrape_config(
    url: str, credentials_file: str, *, interval_s: int = 30, tools: Sequence[str] = ()
) -> dict[str, object]:
    """The content of ``prometheus.yml``: the hub, the jobs service and the gateway of each of
    ``tools`` at ``url`` (the hub's proxy), each scraped with the token of ``credentials_file`` (read
    by Prometheus, never copied here)."""
    if interval_s < 1:
        raise ValueError(f"the scrape interval must be at least 1 s, not {interval_s}")
    target = urlsplit(url)
    if target.scheme not in {"http", "https"} or not target.netloc:
        raise ValueError(f"the workbench's URL must be http(s)://host:port[/prefix], not {url!r}")
    prefix = target.path.rstrip("/")

    def job(name: str, path: str) -> dict[str, object]:
        return {
            "job_name": name,
            "scheme": target.scheme,
            "metrics_path": f"{prefix}{path}",
            "authorization": {"type": "Bearer", "credentials_file": credentials_file},
            "static_configs": [{"targets": [target.netloc]}],
        }

    jobs = job("jobs", "/services/jobs/metrics")
    # The service labels its series by production job ("job"), which Prometheus' own target label
    # "job" pushes aside to "exported_job": name it workbench_job instead.
    jobs["metric_relabel_configs"] = [
        {"source_labels": ["exported_job"], "regex": "(.+)", "target_label": "workbench_job"},
        {"regex": "exported_job", "action": "labeldrop"},
    ]
    return {
        "global": {"scrape_interval": f"{interval_s}s", "evaluation_interval": f"{interval_s}s"},
        "rule_files": ["rules.yml"],
        "scrape_configs": [
            job("hub", "/hub/metrics"),
            jobs,
            *(job(f"tool:{name}", f"/services/{name}/metrics") for name in sorted(tools)),
        ],
    }


def write_config(
    folder: Path, url: str, credentials_file: str, *, interval_s: int = 30, tools: Sequence[str] = ()
) -> tuple[Path, Path]:
    """Write ``prometheus.yml`` (:func:`scrape_config`) and ``rules.yml`` (:data:`RULES`) into
    ``folder``, both readable by anyone (they hold no secret); return their paths."""
    config = scrape_config(url, credentials_file, interval_s=interval_s, tools=tools)
    config_text = yaml.safe_dump(config, sort_keys=False)
    folder.mkdir(parents=True, exist_ok=True)
    config_path = folder / "prometheus.yml"
    rules = folder / "rules.yml"
    config_path.write_text(config_text)
    rules.write_text(yaml.safe_dump({"groups": [{"name": "workbench", "rules": RULES}]}, sort_keys=False))
    for path in (config_path, rules):
        path.chmod(0o644)
    return config_path, rules


def published_tools(apps_dir: Path, known_groups: Iterable[str] | None = None) -> list[str]:
    """The names of the tools the hub publishes from ``apps_dir`` (each has a gateway to scrape);
    ``known_groups``: the hub's allowed groups, as the hub validates the tools' ``app.yaml``."""
    from workbench.apps.spec import SEGMENT_GROUPS, discover

    apps, _ = discover(apps_dir, known_groups=SEGMENT_GROUPS if known_groups is None else known_groups)
    return sorted(app.name for app in apps)
