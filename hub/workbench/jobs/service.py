"""The jobs service: a Tornado application the hub starts as the managed service ``jobs``.

It is reached through the proxy at ``/services/jobs/``; its REST API lives under ``api/v1/`` (see
:mod:`workbench.jobs.openapi`). Every request is authenticated by the hub: an API token in
``Authorization: token …`` or, for a browser, the hub login (OAuth) cookie of this service. The
caller's groups are read from the hub with the service's own token and decide access
(:mod:`workbench.jobs.access`).

Run it with ``python -m workbench.jobs.service`` (the hub does, with ``JUPYTERHUB_*`` variables set).
"""

from __future__ import annotations

import asyncio
import html
import json
import logging
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psutil
from tornado import web
from tornado.httpclient import AsyncHTTPClient, HTTPRequest
from tornado.ioloop import PeriodicCallback

from workbench.jobs import openapi
from workbench.jobs.access import Identity, Policy
from workbench.jobs.model import (
    ACTIVE,
    TRIGGERS,
    JobError,
    check_parameters,
    job_from_request,
    next_fire,
    read_parameters,
    resolve_notebook,
    utcnow,
)
from workbench.jobs.runner import Runner, read_json
from workbench.jobs.scraps import read_scraps
from workbench.jobs.store import Store
from workbench.settings import Settings

log = logging.getLogger("workbench.jobs")

SERVICE_NAME = "jobs"
SCHEDULER_PERIOD_S = 15.0
GROUPS_CACHE_S = 10.0  # how long a caller's hub groups are reused [s]
CANCEL_WAIT_S = 10.0


@dataclass
class JobsState:
    """What every handler shares: settings, store, runner, access policy, hub API client."""

    store: Store
    runner: Runner
    policy: Policy
    notebooks_dir: Path
    default_timeout: int
    hub_api_url: str
    api_token: str
    hub_auth: Any = None
    _groups: dict[str, tuple[float, frozenset[str], bool]] = field(default_factory=dict)

    async def identity(self, model: dict[str, Any]) -> Identity:
        """The caller of a request from the hub's model of it; groups come from the hub's users API."""
        name, kind = str(model["name"]), str(model.get("kind", "user"))
        if kind != "user":
            return Identity(name, kind, frozenset())
        cached = self._groups.get(name)
        if cached is None or time.monotonic() - cached[0] > GROUPS_CACHE_S:
            req = HTTPRequest(
                f"{self.hub_api_url.rstrip('/')}/users/{name}",
                headers={"Authorization": f"token {self.api_token}"},
                request_timeout=20,
            )
            resp = await AsyncHTTPClient().fetch(req, raise_error=False)
            if resp.code != 200:
                raise JobError(f"the hub did not answer for user {name} (HTTP {resp.code})", 503)
            user = json.loads(resp.body)
            cached = (time.monotonic(), frozenset(user.get("groups") or ()), bool(user.get("admin")))
            self._groups[name] = cached
        return Identity(name, kind, cached[1], cached[2])


class BaseHandler(web.RequestHandler):
    """Authentication, JSON bodies and JSON errors for every handler of the service."""

    state: JobsState
    who: Identity
    public = False  # True: no authentication (the OpenAPI description)
    hub_auth: Any = None  # the HubOAuth instance (set by make_app, with HubOAuthenticated mixed in)

    def initialize(self, state: JobsState) -> None:
        self.state = state

    # HubOAuthenticated is mixed in by make_app (it needs the hub's environment); these hooks use it.
    async def prepare(self) -> None:
        if self.public:
            return
        model = self.get_current_user()
        if model is None:
            has_token = "Authorization" in self.request.headers
            if self.request.method == "GET" and not has_token and self.hub_auth is not None:
                self.redirect(self.get_login_url())  # a browser: log in through the hub
                return
            raise JobError("authentication required: send 'Authorization: token <hub API token>'", 403)
        self.who = await self.state.identity(model)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        message = exc.message if isinstance(exc, JobError) else self._reason
        if isinstance(exc, web.HTTPError) and exc.log_message:
            message = exc.log_message % exc.args if exc.args else exc.log_message
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"error": message, "status": status_code}))

    def _handle_request_exception(self, e: BaseException) -> None:
        if isinstance(e, JobError):
            self.send_error(e.status, exc_info=(type(e), e, e.__traceback__))
            return
        super()._handle_request_exception(e)

    def check_xsrf_cookie(self) -> None:
        # API clients authenticate with a token header, which a cross-site form cannot send; the
        # browser (cookie) path only reads.
        return

    def body(self) -> Any:
        if not self.request.body:
            return {}
        try:
            return json.loads(self.request.body)
        except ValueError:
            raise JobError("the request body is not valid JSON") from None

    def limit(self) -> int:
        raw = self.get_argument("limit", "50")
        if not raw.isdigit() or not 0 < int(raw) <= 10_000:
            raise JobError(f"limit={raw!r}: an integer from 1 to 10000")
        return int(raw)

    def send(self, data: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(data, indent=1))

    # -- lookups with access checks ---------------------------------------------------------------

    def job_or_404(self, name: str, what: str) -> Any:
        job = self.state.store.job(name)
        if job is None:
            raise JobError(f"no job named {name!r}", 404)
        self.state.policy.require_see(self.who, job.segment, what)
        return job

    def run_or_404(self, run_id: str, what: str) -> Any:
        run = self.state.store.run(int(run_id))
        if run is None:
            raise JobError(f"no run {run_id}", 404)
        self.state.policy.require_see(self.who, run.segment, what)
        return self.state.runner.progress(run)


class JobsHandler(BaseHandler):
    def get(self) -> None:
        jobs = [j for j in self.state.store.jobs() if self.state.policy.sees(self.who, j.segment)]
        out = []
        for job in jobs:
            last = self.state.store.runs(job.name, limit=1)
            out.append({**job.to_json(), "last_run": last[0].to_json() if last else None})
        self.send({"jobs": out})

    def post(self) -> None:
        self.state.policy.require_manage(self.who, "create jobs")
        job, declared = job_from_request(
            self.body(),
            notebooks_dir=self.state.notebooks_dir,
            default_timeout=self.state.default_timeout,
            created_by=self.who.label,
        )
        self.state.store.add_job(job)
        log.info("job %s created by %s", job.name, self.who.label)
        params = {
            p.name: {"type": p.type_name, "default": p.default, "help": p.help} for p in declared.values()
        }
        self.send({**job.to_json(), "notebook_parameters": params}, 201)


class JobHandler(BaseHandler):
    def get(self, name: str) -> None:
        job = self.job_or_404(name, "see this job")
        path = self.state.notebooks_dir / job.notebook
        try:
            declared = read_parameters(path, job.notebook) if path.is_file() else {}
        except JobError:  # the notebook was broken after the job was made: show the job anyway
            declared = {}
        params = {
            p.name: {"type": p.type_name, "default": p.default, "help": p.help} for p in declared.values()
        }
        self.send({**job.to_json(), "notebook_parameters": params})

    async def delete(self, name: str) -> None:
        job = self.job_or_404(name, "delete this job")
        self.state.policy.require_manage(self.who, "delete jobs")
        for run in self.state.store.active_runs(job.name):
            await self.state.runner.cancel(run.id)
        self.state.store.delete_job(job.name)
        log.info("job %s deleted by %s", job.name, self.who.label)
        self.set_status(204)
        self.finish()


class JobRunsHandler(BaseHandler):
    def get(self, name: str) -> None:
        job = self.job_or_404(name, "see this job's runs")
        limit = self.limit()
        runs = [self.state.runner.progress(r).to_json() for r in self.state.store.runs(job.name, limit=limit)]
        self.send({"runs": runs})

    def post(self, name: str) -> None:
        job = self.job_or_404(name, "run this job")
        body = self.body()
        if not isinstance(body, dict) or set(body) - {"parameters", "trigger"}:
            raise JobError("expected a JSON object with optional 'parameters' and 'trigger'")
        trigger = body.get("trigger", "api")
        if trigger not in TRIGGERS or trigger == "schedule":
            raise JobError(f"trigger {trigger!r}: one of api, cli (schedule is the scheduler's)")
        run = start_run(self.state, job, body.get("parameters"), trigger=trigger, by=self.who.label)
        self.send(run.to_json(), 201)


class RunsHandler(BaseHandler):
    def get(self) -> None:
        status = tuple(s for s in self.get_arguments("status") if s)
        limit = self.limit()
        runs = [
            self.state.runner.progress(r).to_json()
            for r in self.state.store.runs(status=status, limit=1000)
            if self.state.policy.sees(self.who, r.segment)
        ]
        self.send({"runs": runs[:limit]})


class RunHandler(BaseHandler):
    def get(self, run_id: str) -> None:
        self.send(self.run_or_404(run_id, "see this run").to_json())


class RunFileHandler(BaseHandler):
    """``notebook``, ``report``, ``log`` and ``scraps`` of a run (``kind`` from the route)."""

    def initialize(self, state: JobsState, kind: str = "log") -> None:  # type: ignore[override]
        self.state, self.kind = state, kind

    def get(self, run_id: str) -> None:
        run = self.run_or_404(run_id, f"read this run's {self.kind}")
        d = self.state.runner.run_dir(run.id)
        if self.kind == "scraps":
            saved = read_json(d / "scraps.json")
            if saved is None:  # still running (or older run): read them from the notebook so far
                saved = read_scraps(read_json(d / "output.ipynb") or {})
            self.send({"run": run.id, "status": run.status, "scraps": saved})
            return
        name, ctype = {
            "notebook": ("output.ipynb", "application/x-ipynb+json"),
            "report": ("report.html", "text/html; charset=UTF-8"),
            "log": ("run.log", "text/plain; charset=UTF-8"),
        }[self.kind]
        path = d / name
        if not path.is_file():
            hint = "the run has not started yet" if run.status == "queued" else f"the run is {run.status}"
            raise JobError(f"run {run.id} has no {self.kind} ({hint})", 404)
        self.set_header("Content-Type", ctype)
        if self.kind == "notebook":
            self.set_header("Content-Disposition", f'inline; filename="{run.job}-run{run.id}.ipynb"')
        self.finish(path.read_bytes())


class CancelHandler(BaseHandler):
    async def post(self, run_id: str) -> None:
        run = self.run_or_404(run_id, "cancel this run")
        if run.requested_by != self.who.label:
            self.state.policy.require_manage(self.who, "cancel runs others started")
        if run.status not in ACTIVE:
            raise JobError(f"run {run.id} is already {run.status}", 409)
        await self.state.runner.cancel(run.id)
        deadline = time.monotonic() + CANCEL_WAIT_S
        while (current := self.state.store.run(run.id)) is not None and current.status in ACTIVE:
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(0.1)
        log.info("run %s cancelled by %s", run.id, self.who.label)
        self.send(self.state.runner.progress(current or run).to_json())


class OpenAPIHandler(BaseHandler):
    public = True

    def get(self) -> None:
        self.send(openapi.spec())


class IndexHandler(BaseHandler):
    """A plain page for browsers: the caller's jobs and their latest runs, with links to the reports."""

    def get(self) -> None:
        rows = []
        for job in self.state.store.jobs():
            if not self.state.policy.sees(self.who, job.segment):
                continue
            for run in self.state.store.runs(job.name, limit=5):
                report = f'<a href="api/v1/runs/{run.id}/report">report</a>'
                rows.append(
                    f"<tr><td>{html.escape(job.name)}</td><td>{job.segment}</td><td>{run.id}</td>"
                    f"<td>{run.status}</td><td>{run.created_at:%Y-%m-%d %H:%M}</td><td>{report}</td></tr>"
                )
        self.set_header("Content-Type", "text/html; charset=UTF-8")
        self.finish(
            "<!doctype html><title>S2P Workbench jobs</title><h1>Production jobs</h1>"
            f"<p>Signed in as {html.escape(self.who.label)}. API: <code>api/v1/</code> "
            '(<a href="api/v1/openapi.json">OpenAPI</a>).</p>'
            "<table><tr><th>job</th><th>segment</th><th>run</th><th>status</th><th>created (UTC)</th>"
            f"<th></th></tr>{''.join(rows)}</table>"
        )


def start_run(state: JobsState, job: Any, overrides: Any, *, trigger: str, by: str) -> Any:
    """Queue a run of ``job``: its parameters, then ``overrides`` (validated against the notebook)."""
    try:
        path = resolve_notebook(state.notebooks_dir, job.notebook)
    except JobError as exc:
        raise JobError(f"job {job.name}: {exc.message}", 409) from None
    declared = read_parameters(path, job.notebook)
    parameters = {**job.parameters, **check_parameters(declared, overrides)}
    run = state.store.add_run(job, parameters, trigger=trigger, requested_by=by)
    state.runner.submit(run.id)
    log.info("run %s of job %s queued (%s by %s)", run.id, job.name, trigger, by)
    return run


def scheduler_tick(state: JobsState, now: datetime | None = None) -> list[int]:
    """Queue a run of every scheduled job that was due since it last fired; return the new run ids.

    A job fires at most once per tick: runs missed while the service was down are not replayed one by
    one, the next tick runs the job once.
    """
    now = now or utcnow()
    started = []
    for job in state.store.jobs():
        if not job.schedule:
            continue
        due = next_fire(job.schedule, job.last_scheduled or job.created_at)
        if due > now:
            continue
        state.store.set_last_scheduled(job.name, now)
        try:
            run = start_run(state, job, None, trigger="schedule", by="scheduler")
        except JobError as exc:
            log.error("scheduled run of %s refused: %s", job.name, exc.message)
            continue
        started.append(run.id)
    return started


def routes(prefix: str) -> list[tuple[str, type[BaseHandler], dict[str, Any], str | None]]:
    """(URL pattern, handler, kwargs, OpenAPI path or None) of everything the service serves."""
    api = f"{prefix}api/v1"
    table: list[tuple[str, type[BaseHandler], dict[str, Any], str | None]] = [
        (f"{api}/jobs", JobsHandler, {}, "/jobs"),
        (f"{api}/jobs/([a-z0-9-]+)", JobHandler, {}, "/jobs/{name}"),
        (f"{api}/jobs/([a-z0-9-]+)/runs", JobRunsHandler, {}, "/jobs/{name}/runs"),
        (f"{api}/runs", RunsHandler, {}, "/runs"),
        (f"{api}/runs/([0-9]+)", RunHandler, {}, "/runs/{id}"),
        (f"{api}/runs/([0-9]+)/cancel", CancelHandler, {}, "/runs/{id}/cancel"),
        (f"{api}/openapi.json", OpenAPIHandler, {}, "/openapi.json"),
        (f"{prefix}", IndexHandler, {}, None),
    ]
    for kind in ("notebook", "report", "log", "scraps"):
        table.append((f"{api}/runs/([0-9]+)/{kind}", RunFileHandler, {"kind": kind}, f"/runs/{{id}}/{kind}"))
    return table


def make_app(state: JobsState, prefix: str) -> web.Application:
    """The Tornado application, with hub authentication mixed into every handler."""
    from jupyterhub.services.auth import HubOAuthCallbackHandler, HubOAuthenticated

    handlers: list[Any] = []
    for pattern, handler, kwargs, _ in routes(prefix):
        authed = type(handler.__name__, (HubOAuthenticated, handler), {"hub_auth": state.hub_auth})
        handlers.append((pattern, authed, {"state": state, **kwargs}))
    callback = type("Callback", (HubOAuthCallbackHandler,), {"hub_auth": state.hub_auth})
    handlers.append((f"{prefix}oauth_callback", callback))
    return web.Application(handlers, cookie_secret=os.urandom(32), xsrf_cookies=False)


def recover(state: JobsState) -> None:
    """Runs a dead service left behind: ``running`` ones failed (and their processes ended), ``queued`` re-queued."""
    failed, queued = state.store.recover()
    for run in failed:
        log.warning("run %s was running when the service stopped: marked failed", run.id)
        if run.pid and psutil.pid_exists(run.pid):
            try:
                cmd = " ".join(psutil.Process(run.pid).cmdline())
            except psutil.Error:
                continue
            if str(state.runner.run_dir(run.id)) in cmd:  # only if the pid is still that run's papermill
                from workbench.jobs.runner import kill_tree

                kill_tree(run.pid)
    for run in queued:
        state.runner.submit(run.id)


def build_state(settings: Settings, env: dict[str, str] | None = None) -> JobsState:
    """Store, runner and policy of the service from the settings (no hub contact yet)."""
    base = settings.state_dir / "jobs"
    store = Store(base / "jobs.sqlite")
    runner = Runner(store, base / "runs", settings.jobs_notebooks_dir, workers=settings.jobs_workers, env=env)
    return JobsState(
        store=store,
        runner=runner,
        policy=Policy(frozenset(settings.jobs_operator_groups)),
        notebooks_dir=settings.jobs_notebooks_dir,
        default_timeout=settings.jobs_timeout,
        hub_api_url=os.environ.get("JUPYTERHUB_API_URL", ""),
        api_token=os.environ.get("JUPYTERHUB_API_TOKEN", ""),
    )


async def serve(settings: Settings) -> None:
    """Run the service until SIGTERM or SIGINT (the hub stops its managed services with SIGTERM)."""
    from jupyterhub.services.auth import HubOAuth

    state = build_state(settings)
    state.hub_auth = HubOAuth(api_token=state.api_token, cache_max_age=60)
    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", f"/services/{SERVICE_NAME}/")
    url = urlsplit(os.environ.get("JUPYTERHUB_SERVICE_URL", f"http://127.0.0.1:{settings.jobs_port}"))
    app = make_app(state, prefix)
    await state.runner.start()
    recover(state)
    server = app.listen(url.port or 80, address=url.hostname or "127.0.0.1")

    def tick() -> None:
        scheduler_tick(state)

    ticker = PeriodicCallback(tick, SCHEDULER_PERIOD_S * 1000)
    ticker.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    log.info("jobs service on %s%s (notebooks: %s)", url.geturl(), prefix, settings.jobs_notebooks_dir)
    await stop.wait()
    log.info("jobs service stopping")
    ticker.stop()
    server.stop()
    await state.runner.stop()
    state.store.close()


def main(argv: list[str] | None = None, run: Callable[..., Any] = asyncio.run) -> int:
    settings = Settings.from_env()
    logging.basicConfig(
        level=settings.log_level, format="[%(levelname).1s %(asctime)s %(name)s] %(message)s", force=True
    )
    run(serve(settings))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
