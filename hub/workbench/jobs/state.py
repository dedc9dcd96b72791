"""What every part of the jobs service shares: the store, the runner, the access policy, the hub client.

:class:`JobsState` is built once by :func:`workbench.jobs.factory.build_state`; the API handlers
(:mod:`workbench.jobs.api`) and the scheduler (:mod:`workbench.jobs.scheduler`) call its methods.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest

from workbench.jobs.access import Identity, Policy
from workbench.jobs.model import (
    JobError,
    check_data_paths,
    check_parameters,
    read_parameters,
    resolve_notebook,
)
from workbench.jobs.runner import Runner
from workbench.jobs.store import Store

log = logging.getLogger("workbench.jobs")

GROUPS_CACHE_S = 10.0  # how long a caller's hub groups are reused [s]
HUB_TIMEOUT_S = 30.0  # one question to the hub's users API, connection included [s]
HUB_ATTEMPTS = 3  # questions before the caller is told the hub is busy (503)


@dataclass
class JobsState:
    """What every handler shares: settings, store, runner, access policy, hub API client."""

    store: Store
    runner: Runner
    policy: Policy
    notebooks_dir: Path
    data_dir: Path
    default_timeout: int
    hub_api_url: str
    api_token: str
    hub_auth: Any = None
    notifier: Any = None
    """The :class:`workbench.jobs.outbox.Notifier` delivering the notification outbox."""
    metrics: Any = None
    """The :class:`workbench.jobs.metrics.JobsMetrics` (a Prometheus registry of this service)."""
    retention: Any = None
    """The default :class:`workbench.jobs.policies.RetentionPolicy` (settings)."""
    _groups: dict[str, tuple[float, frozenset[str], bool]] = field(default_factory=dict)

    async def identity(self, model: dict[str, Any]) -> Identity:
        """The caller of a request from the hub's model of it; groups come from the hub's users API."""
        name, kind = str(model["name"]), str(model.get("kind", "user"))
        if kind != "user":
            return Identity(name, kind, frozenset())
        cached = self._groups.get(name)
        if cached is None or time.monotonic() - cached[0] > GROUPS_CACHE_S:
            user = await self._hub_user(name)
            cached = (time.monotonic(), frozenset(user.get("groups") or ()), bool(user.get("admin")))
            self._groups[name] = cached
        return Identity(name, kind, cached[1], cached[2])

    async def _hub_user(self, name: str) -> dict[str, Any]:
        """The hub's model of user ``name``; a hub too busy to answer is asked again, then the caller
        gets a 503 that says so (never a 500)."""
        req = HTTPRequest(
            f"{self.hub_api_url.rstrip('/')}/users/{name}",
            headers={"Authorization": f"token {self.api_token}"},
            connect_timeout=HUB_TIMEOUT_S,
            request_timeout=HUB_TIMEOUT_S,
        )
        problem = ""
        for attempt in range(HUB_ATTEMPTS):
            if attempt:
                await asyncio.sleep(1.0)
            try:
                resp = await AsyncHTTPClient().fetch(req, raise_error=False)
            except (OSError, HTTPClientError) as exc:  # a timeout, a refused connection
                problem = str(exc)
                continue
            if resp.code == 200:
                return dict(json.loads(resp.body))
            problem = f"HTTP {resp.code}"
            if resp.code < 500:  # a refusal: asking again changes nothing
                break
        log.warning("the hub did not answer for user %s: %s", name, problem)
        raise JobError(f"the hub did not answer for user {name} ({problem}); try again in a moment", 503)


def start_run(
    state: JobsState,
    job: Any,
    overrides: Any,
    *,
    trigger: str,
    by: str,
    scheduled_for: datetime | None = None,
    previous: datetime | None = None,
) -> Any:
    """Queue a run of ``job``: its parameters, then ``overrides`` (validated against the notebook).

    With ``scheduled_for`` (the scheduler's), the run is for that fire time, and the job's
    ``last_scheduled`` moves there from ``previous``; None is returned when the time fired already.

    Data paths (``DataPath`` parameters) are checked again on the merged values: a folder the job
    named may have become a link out of the data folder since the job was created.
    """
    try:
        path = resolve_notebook(state.notebooks_dir, job.notebook)
        state.runner.executor(job.executor).check()
    except JobError as exc:
        raise JobError(f"job {job.name}: {exc.message}", 409) from None
    declared = read_parameters(path, job.notebook)
    parameters = {**job.parameters, **check_parameters(declared, overrides)}
    check_data_paths(declared, parameters, state.data_dir)
    run: Any
    if scheduled_for is None:
        run = state.store.add_run(job, parameters, trigger=trigger, requested_by=by)
    else:
        run = state.store.add_scheduled_run(job, parameters, scheduled_for, previous=previous)
        if run is None:
            return None
    state.runner.submit(run.id)
    log.info("run %s of job %s queued (%s by %s)", run.id, job.name, trigger, by)
    return run
