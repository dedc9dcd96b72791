"""The jobs service's HTTP interface: REST API under ``api/v1/`` and a page for browsers.

Every request is authenticated by the hub: an API token in ``Authorization: token …`` or, for a
browser, the hub login (OAuth) cookie of this service. The caller's groups are read from the hub with
the service's own token and decide access (:mod:`workbench.jobs.access`). Handlers are thin: they
validate the request and call :class:`workbench.jobs.state.JobsState`.

A request authenticated by the cookie alone may not write (POST, PATCH, DELETE): a page of another
site can make a browser send the cookie, never a header, so writes need the token header, or the
page token that the service's own pages carry (:mod:`workbench.jobs.pages`) in
``X-Jobs-Page-Token`` (``403`` otherwise). The hub's own XSRF check also refuses cookie writes
without its XSRF token before the handler runs; this rule holds even with that token.

Every answer carries ``X-Content-Type-Options: nosniff``, a frame policy (``frame-ancestors 'none'``,
``X-Frame-Options: DENY``) and a Content-Security-Policy: :data:`PAGE_CSP` (no script, style, image
or form at all) on JSON and errors, :func:`workbench.jobs.pages.page_csp` on the pages (only their own
nonce'd script and style, fetches to the service's origin), and :data:`REPORT_CSP` on run reports, which are nbconvert's HTML
of a notebook whose outputs the service does not control: ``sandbox`` puts the report in an opaque
origin where no script runs (nbconvert's own included) and nothing of the hub's origin is reachable;
inline styles and ``data:`` images, which the report needs to look right, are allowed; only the
workbench's own pages may frame it (a run's page shows it in a sandboxed frame).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from typing import Any

from tornado import web

from workbench import logs
from workbench.diskfull import STORAGE_FULL, is_full
from workbench.jobs import openapi, pages
from workbench.jobs.access import Identity
from workbench.jobs.metrics import CONTENT_TYPE_LATEST, METRICS_SCOPE
from workbench.jobs.model import ACTIVE, TRIGGERS, JobError, job_from_request, job_update, read_parameters
from workbench.jobs.reports import read_json
from workbench.jobs.scraps import read_scraps
from workbench.jobs.state import JobsState, start_run

log = logging.getLogger("workbench.jobs")

CANCEL_WAIT_S = 30.0
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
MAX_RUN_ID = 2**63 - 1
"""The largest run id the store can hold (a signed 64-bit integer in SQLite and PostgreSQL)."""

PAGE_CSP = "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
"""Content-Security-Policy of the service's JSON and errors: nothing may load or run."""
REPORT_CSP = (
    "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'self'"
)
"""Content-Security-Policy of run reports: sandboxed (no script runs, opaque origin), styles inline; only
the workbench's own pages (a run's page) may frame it."""


class SecurityHeaders(web.RequestHandler):
    """The headers every answer of the service carries (errors and redirects too)."""

    csp = PAGE_CSP
    frame_options = "DENY"

    def set_default_headers(self) -> None:
        self.set_header("Content-Security-Policy", self.csp)
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("X-Frame-Options", self.frame_options)
        self.set_header("Referrer-Policy", "same-origin")
        self.set_header("Cache-Control", "no-store")


class BaseHandler(SecurityHeaders):
    """Authentication, JSON bodies and JSON errors for every handler of the service."""

    state: JobsState
    who: Identity
    scopes: frozenset[str] = frozenset()
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
        self.scopes = frozenset(model.get("scopes") or ())
        if self.request.method in WRITES and not getattr(self, "_token_authenticated", False):
            subject = f"{model.get('kind', 'user')}:{model.get('name')}"
            site = self.request.headers.get("Sec-Fetch-Site", "same-origin")
            token = self.request.headers.get(pages.PAGE_TOKEN_HEADER)
            if site != "same-origin" or not pages.page_token_valid(token, subject):
                raise JobError(
                    "a browser session (the hub login cookie) may only read: send changes with "
                    "'Authorization: token <hub API token>', or from the jobs pages (reload the page "
                    "if it was open before the service restarted: its page token is no longer valid)",
                    403,
                )
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
        if is_full(e):  # the state disk: say so, and let the client try again later
            log.error("%s %s: storage full (%s)", self.request.method, self.request.path, e)
            full = JobError(
                "the workbench's storage is full: nothing was changed; try again once an administrator "
                "has freed space",
                STORAGE_FULL,
            )
            self.send_error(STORAGE_FULL, exc_info=(JobError, full, e.__traceback__))
            return
        super()._handle_request_exception(e)

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

    def run_or_404(self, run_id: str, what: str, *, attempts: bool = False) -> Any:
        if int(run_id) > MAX_RUN_ID:  # the route accepts any digits; the store's ids are 64-bit
            raise JobError(f"no run {run_id}", 404)
        run = self.state.store.run(int(run_id), attempts=attempts)
        if run is None:
            raise JobError(f"no run {run_id}", 404)
        self.state.policy.require_see(self.who, run.segment, what)
        return self.state.runner.progress(run)


class JobsHandler(BaseHandler):
    def get(self) -> None:
        jobs = [j for j in self.state.store.jobs() if self.state.policy.sees(self.who, j.segment)]
        out = []
        for job in jobs:
            last = self.state.store.runs(job.name, limit=1, attempts=True)
            out.append({**job.to_json(), "last_run": last[0].to_json() if last else None})
        self.send({"jobs": out})

    def post(self) -> None:
        self.state.policy.require_manage(self.who, "create jobs")
        job, declared = job_from_request(
            self.body(),
            notebooks_dir=self.state.notebooks_dir,
            data_dir=self.state.data_dir,
            default_timeout=self.state.default_timeout,
            created_by=self.who.label,
        )
        self.state.runner.executor(job.executor).check()
        self.state.store.add_job(job)
        log.info("job %s created by %s", job.name, self.who.label)
        params = {
            p.name: {"type": p.type_name, "default": p.default, "help": p.help} for p in declared.values()
        }
        self.send({**job.to_json(), "notebook_parameters": params}, 201)


def job_with_parameters(state: JobsState, job: Any) -> dict[str, Any]:
    """A job's JSON with ``notebook_parameters``: the notebook's declared parameters (type, default, help)."""
    path = state.notebooks_dir / job.notebook
    try:
        declared = read_parameters(path, job.notebook) if path.is_file() else {}
    except JobError:  # the notebook was broken after the job was made: show the job anyway
        declared = {}
    params = {p.name: {"type": p.type_name, "default": p.default, "help": p.help} for p in declared.values()}
    return {**job.to_json(), "notebook_parameters": params}


class JobHandler(BaseHandler):
    def _with_parameters(self, job: Any) -> dict[str, Any]:
        return job_with_parameters(self.state, job)

    def get(self, name: str) -> None:
        self.send(self._with_parameters(self.job_or_404(name, "see this job")))

    def patch(self, name: str) -> None:
        job = self.job_or_404(name, "change this job")
        self.state.policy.require_manage(self.who, "change jobs")
        changed = job_update(
            job,
            self.body(),
            notebooks_dir=self.state.notebooks_dir,
            data_dir=self.state.data_dir,
            default_timeout=self.state.default_timeout,
        )
        self.state.store.update_job(changed)
        log.info("job %s changed by %s", job.name, self.who.label)
        self.send(self._with_parameters(changed))

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
        runs = [
            self.state.runner.progress(r).to_json()
            for r in self.state.store.runs(job.name, limit=limit, attempts=True)
        ]
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
            for r in self.state.store.runs(status=status, limit=1000, attempts=True)
            if self.state.policy.sees(self.who, r.segment)
        ]
        self.send({"runs": runs[:limit]})


class RunHandler(BaseHandler):
    def get(self, run_id: str) -> None:
        run = self.run_or_404(run_id, "see this run", attempts=True)
        notes = [n.to_json() for n in self.state.store.notifications(run.id)]
        self.send({**run.to_json(), "notifications": notes})


class RunFileHandler(BaseHandler):
    """``notebook``, ``report``, ``log`` and ``scraps`` of a run (``kind`` from the route)."""

    def initialize(self, state: JobsState, kind: str = "log") -> None:  # type: ignore[override]
        self.state, self.kind = state, kind
        if kind == "report":
            self.csp, self.frame_options = REPORT_CSP, "SAMEORIGIN"
            self.set_default_headers()

    def get(self, run_id: str) -> None:
        run = self.run_or_404(run_id, f"read this run's {self.kind}")
        d = self.state.runner.run_dir(run.id)
        if self.kind == "scraps":
            saved = read_json(d / "scraps.json")
            if saved is None:  # still running (or older run): read them from the notebook so far
                saved = read_scraps(self.state.runner.notebook(run) or {})
            self.send({"run": run.id, "status": run.status, "scraps": saved})
            return
        name, ctype = {
            "notebook": ("output.ipynb", "application/x-ipynb+json"),
            "report": ("report.html", "text/html; charset=UTF-8"),
            "log": ("run.log", "text/plain; charset=UTF-8"),
        }[self.kind]
        path = d / name
        content: bytes | None = path.read_bytes() if path.is_file() else None
        if content is None and self.kind == "notebook" and run.status == "running":
            so_far = self.state.runner.notebook(run)  # still running: the notebook as saved so far
            content = json.dumps(so_far).encode() if so_far is not None else None
        if content is None:
            hint = "the run has not started yet" if run.status == "queued" else f"the run is {run.status}"
            raise JobError(f"run {run.id} has no {self.kind} ({hint})", 404)
        self.set_header("Content-Type", ctype)
        if self.kind == "notebook":
            self.set_header("Content-Disposition", f'inline; filename="{run.job}-run{run.id}.ipynb"')
        self.finish(content)


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


class MetricsHandler(BaseHandler):
    """Prometheus metrics: for tokens with the ``read:metrics`` scope (and operators)."""

    def get(self) -> None:
        if METRICS_SCOPE not in self.scopes and not self.state.policy.manages(self.who):
            raise JobError(
                f"{self.who.label} may not read the metrics: a token with the scope {METRICS_SCOPE} is needed "
                "(the hub's prometheus service has one)",
                403,
            )
        self.set_header("Content-Type", CONTENT_TYPE_LATEST)
        self.finish(self.state.metrics.exposition())


class OpenAPIHandler(BaseHandler):
    public = True

    def get(self) -> None:
        self.send(openapi.spec())


class NotFoundHandler(BaseHandler):
    """Any path the service does not serve (a job name with characters no route accepts…): JSON 404."""

    public = True

    async def prepare(self) -> None:
        raise JobError(
            f"no such path {self.request.path!r}: the API is described at api/v1/openapi.json", 404
        )


def routes(prefix: str) -> list[tuple[str, type[BaseHandler], dict[str, Any], str | None]]:
    """(URL pattern, handler, kwargs, OpenAPI path or None) of everything the service serves."""
    from workbench.jobs import web  # the pages' handlers build on BaseHandler

    api = f"{prefix}api/v1"
    table: list[tuple[str, type[BaseHandler], dict[str, Any], str | None]] = [
        (f"{api}/jobs", JobsHandler, {}, "/jobs"),
        (f"{api}/jobs/([a-z0-9-]+)", JobHandler, {}, "/jobs/{name}"),
        (f"{api}/jobs/([a-z0-9-]+)/runs", JobRunsHandler, {}, "/jobs/{name}/runs"),
        (f"{api}/runs", RunsHandler, {}, "/runs"),
        (f"{api}/runs/([0-9]+)", RunHandler, {}, "/runs/{id}"),
        (f"{api}/runs/([0-9]+)/cancel", CancelHandler, {}, "/runs/{id}/cancel"),
        (f"{api}/openapi.json", OpenAPIHandler, {}, "/openapi.json"),
        (f"{prefix}metrics", MetricsHandler, {}, None),
        (f"{prefix}", web.JobsPage, {"prefix": prefix}, None),
        (f"{prefix}jobs/([a-z0-9-]+)", web.JobPage, {"prefix": prefix}, None),
        (f"{prefix}runs/([0-9]+)", web.RunPage, {"prefix": prefix}, None),
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
    callback = type("Callback", (SecurityHeaders, HubOAuthCallbackHandler), {"hub_auth": state.hub_auth})
    handlers.append((f"{prefix}oauth_callback", callback))
    return web.Application(
        handlers,
        cookie_secret=os.urandom(32),
        xsrf_cookies=False,
        default_handler_class=NotFoundHandler,
        default_handler_args={"state": state},
        log_function=logs.access_log,
    )
