"""The authorisation matrix: every role against every route of the hub's services, end to end.

One real workbench (the package's, :mod:`tests.security.conftest`): users log in through the dev IdP's
redirect flow, get hub API tokens from the hub, and call the services through the proxy. Each row of
:data:`MATRIX` is one route; each column one role; each cell the answer that role must get.

Roles
    ``anonymous`` no credential; ``swe``, ``debris``, ``neo`` the segment scientists
    (``swe-scientist``, ``debris-analyst``, ``neo-analyst``); ``operator`` (groups operators, debris);
    ``admin`` (group admins, a hub admin); ``nogroup`` a user in no group (the hub refuses their
    login; their API token is one the hub issued before their groups were taken away); ``revoked`` a
    token of debris-analyst that was revoked; ``service`` the token of the hub service
    ``workbench-admin`` (the CLI's).
How a role calls
    ``api`` rows: ``Authorization: token …`` (anonymous: nothing), as a script would. ``web`` and
    ``ws`` rows: as a browser, with the session of the role's IdP login (anonymous and nogroup: no
    hub session; a browser's ``POST`` without the hub's XSRF token is refused, so changes go through
    ``api`` rows); the token roles send their token. Redirects are followed.
Answers
    ``200``, ``201``, ``204``, ``403``, ``404``, ``409``, ``503``: the final HTTP status;
    ``login``: sent to the IdP's login form; ``page``: sent to the tool's page (its stable URL);
    ``list+``/``list-``: 200 with/without the segment's job (``matrix-debris``) or its runs in the list;
    ``open``: the kernel websocket opened and the kernel answered ``kernel_info_request``.
Placeholders
    ``{name}`` the debris job ``matrix-debris``; ``{id}`` its finished run (started by the service);
    ``{kernel}`` a kernel of the tool, from a page rendered by someone it is open to. A mutating row
    gets a fresh target per cell from :data:`PREPARE` (a new job to delete, a new name to create).

A route added to the jobs service is one more line of :data:`MATRIX` (and, if it changes something,
one entry of :data:`PREPARE`): :func:`test_every_route_of_the_jobs_service_is_in_the_matrix` fails until
it is there; a tool added to the workbench likewise.
"""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest
import requests
import websocket
from tornado import web

from tests.e2e.harness import Workbench, find_login_form
from tests.security.conftest import JOB_NOTEBOOK
from tests.security.tools import TOOLS
from tests.security.visitor import KernelSocket, Page

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROLES = ("anonymous", "swe", "debris", "neo", "operator", "admin", "nogroup", "revoked", "service")
USERS = {
    "swe": "swe-scientist",
    "debris": "debris-analyst",
    "neo": "neo-analyst",
    "operator": "operator",
    "admin": "admin",
    "nogroup": "nogroup",
}
JOBS = "/services/jobs/api/v1"

# fmt: off
MATRIX = """
via method route                                            anonymous swe   debris neo   operator admin nogroup revoked service
# --- the jobs service: its REST API (hub tokens) and its page (browser) -------------------------------------------------
api GET    /services/jobs/api/v1/jobs                       login     list- list+  list- list+    list+ list-   403     list+
api POST   /services/jobs/api/v1/jobs                       403       403   403    403   201      201   403     403     201
api GET    /services/jobs/api/v1/jobs/{name}                login     403   200    403   200      200   403     403     200
api PATCH  /services/jobs/api/v1/jobs/{name}                403       403   403    403   200      200   403     403     200
api DELETE /services/jobs/api/v1/jobs/{name}                403       403   403    403   204      204   403     403     204
api GET    /services/jobs/api/v1/jobs/{name}/runs           login     403   200    403   200      200   403     403     200
api POST   /services/jobs/api/v1/jobs/{name}/runs           403       403   201    403   201      201   403     403     201
api GET    /services/jobs/api/v1/runs                       login     list- list+  list- list+    list+ list-   403     list+
api GET    /services/jobs/api/v1/runs/{id}                  login     403   200    403   200      200   403     403     200
api POST   /services/jobs/api/v1/runs/{id}/cancel           403       403   403    403   409      409   403     403     409
api GET    /services/jobs/api/v1/runs/{id}/notebook         login     403   200    403   200      200   403     403     200
api GET    /services/jobs/api/v1/runs/{id}/report           login     403   200    403   200      200   403     403     200
api GET    /services/jobs/api/v1/runs/{id}/log              login     403   200    403   200      200   403     403     200
api GET    /services/jobs/api/v1/runs/{id}/scraps           login     403   200    403   200      200   403     403     200
api GET    /services/jobs/api/v1/openapi.json               200       200   200    200   200      200   200     200     200
web GET    /services/jobs/                                  login     200   200    200   200      200   403     403     200
web GET    /services/jobs/jobs/{name}                       login     403   200    403   200      200   403     403     200
web GET    /services/jobs/runs/{id}                         login     403   200    403   200      200   403     403     200
# --- probe-widgets: public ------------------------------------------------------------------------------------------------
web GET    /services/probe-widgets/                         page      page  page   page  page     page  page    page    page
web GET    /services/probe-widgets/voila/render/app.ipynb   200       200   200    200   200      200   200     200     200
ws  GET    /services/probe-widgets/api/kernels/{kernel}/channels open open open  open  open     open  open    open    open
web GET    /services/probe-widgets/api/kernels/{kernel}     200       200   200    200   200      200   200     200     200
web GET    /services/probe-widgets/voila/static/voila.js    200       200   200    200   200      200   200     200     200
web GET    /services/probe-widgets/voila/tree               404       404   404    404   404      404   404     404     404
web GET    /services/probe-widgets/voila/files/app.yaml     403       403   403    403   403      403   403     403     403
web GET    /services/probe-widgets/api/contents/app.yaml    404       404   404    404   404      404   404     404     404
web GET    /services/probe-widgets/api/kernels              404       404   404    404   404      404   404     404     404
web POST   /services/probe-widgets/api/kernels              404       404   404    404   404      404   404     404     404
web GET    /services/probe-widgets/api/sessions             404       404   404    404   404      404   404     404     404
# --- probe-eval: public ---------------------------------------------------------------------------------------------------
web GET    /services/probe-eval/                            page      page  page   page  page     page  page    page    page
web GET    /services/probe-eval/voila/render/app.ipynb      200       200   200    200   200      200   200     200     200
ws  GET    /services/probe-eval/api/kernels/{kernel}/channels open    open  open   open  open     open  open    open    open
web GET    /services/probe-eval/api/kernels/{kernel}        200       200   200    200   200      200   200     200     200
web GET    /services/probe-eval/voila/tree                  404       404   404    404   404      404   404     404     404
web GET    /services/probe-eval/api/contents/app.yaml       404       404   404    404   404      404   404     404     404
# --- probe-busy: public, one visitor at a time ----------------------------------------------------------------------------
web GET    /services/probe-busy/                            page      page  page   page  page     page  page    page    page
web GET    /services/probe-busy/voila/render/app.ipynb      200       200   200    200   200      200   200     200     200
ws  GET    /services/probe-busy/api/kernels/{kernel}/channels open    open  open   open  open     open  open    open    open
web GET    /services/probe-busy/voila/tree                  404       404   404    404   404      404   404     404     404
# --- probe-members: logged-in ---------------------------------------------------------------------------------------------
web GET    /services/probe-members/                         login     page  page   page  page     page  403     login   403
web GET    /services/probe-members/voila/render/app.ipynb   login     200   200    200   200      200   403     login   403
ws  GET    /services/probe-members/api/kernels/{kernel}/channels 403  open  open   open  open     open  403     403     403
web GET    /services/probe-members/api/kernels/{kernel}     login     200   200    200   200      200   403     login   403
web GET    /services/probe-members/voila/static/voila.js    login     200   200    200   200      200   403     login   403
web GET    /services/probe-members/voila/tree               login     404   404    404   404      404   403     login   403
web GET    /services/probe-members/api/contents/app.yaml    login     404   404    404   404      404   403     login   403
api GET    /services/probe-members/voila/render/app.ipynb   login     200   200    200   200      200   403     login   403
api POST   /services/probe-members/api/kernels              403       404   404    404   404      404   403     403     403
# --- probe-debris: groups debris ------------------------------------------------------------------------------------------
web GET    /services/probe-debris/                          login     403   page   403   page     page  403     login   403
web GET    /services/probe-debris/voila/render/app.ipynb    login     403   200    403   200      200   403     login   403
ws  GET    /services/probe-debris/api/kernels/{kernel}/channels 403   403   open   403   open     open  403     403     403
web GET    /services/probe-debris/api/kernels/{kernel}      login     403   200    403   200      200   403     login   403
web GET    /services/probe-debris/voila/static/voila.js     login     403   200    403   200      200   403     login   403
web GET    /services/probe-debris/voila/tree                login     403   404    403   404      404   403     login   403
web GET    /services/probe-debris/api/contents/app.yaml     login     403   404    403   404      404   403     login   403
api GET    /services/probe-debris/voila/render/app.ipynb    login     403   200    403   200      200   403     login   403
api POST   /services/probe-debris/api/kernels               403       403   404    403   404      404   403     403     403
"""

HOME = """
role      answer (the tools the hub's home page lists)
anonymous login
swe       probe-busy probe-eval probe-members probe-widgets
debris    probe-busy probe-debris probe-eval probe-members probe-widgets
neo       probe-busy probe-eval probe-members probe-widgets
operator  probe-busy probe-debris probe-eval probe-members probe-widgets
admin     probe-busy probe-debris probe-eval probe-members probe-widgets
nogroup   403
revoked   login
service   login
"""
# fmt: on


@dataclass(frozen=True)
class Row:
    via: str
    method: str
    route: str
    expected: dict[str, str]

    @property
    def tool(self) -> str | None:
        m = re.match(r"/services/([^/]+)/", self.route)
        return m.group(1) if m and m.group(1) != "jobs" else None

    def __str__(self) -> str:
        return f"{self.via} {self.method} {self.route}"


def parse(table: str) -> list[Row]:
    """The rows of :data:`MATRIX` (comment lines and the header left out)."""
    lines = [line for line in table.strip().splitlines() if line.strip() and not line.startswith("#")]
    header = lines[0].split()
    assert header[3:] == list(ROLES), header
    rows = []
    for line in lines[1:]:
        via, method, route, *cells = line.split()
        assert len(cells) == len(ROLES), f"{len(cells)} cells in: {line}"
        rows.append(Row(via, method, route, dict(zip(ROLES, cells, strict=True))))
    return rows


ROWS = parse(MATRIX)
HOME_ROWS = {line.split()[0]: " ".join(line.split()[1:]) for line in HOME.strip().splitlines()[1:]}


# ------------------------------------------------------------------------------------------------
# the table covers everything there is


def _methods(handler: type) -> set[str]:
    return {
        m
        for m in ("GET", "POST", "PUT", "PATCH", "DELETE")
        if getattr(handler, m.lower()) is not getattr(web.RequestHandler, m.lower())
    }


def test_every_route_of_the_jobs_service_is_in_the_matrix() -> None:
    from workbench.jobs.api import routes

    served = set()
    for _pattern, handler, _kwargs, path in routes("/services/jobs/"):
        if path is not None:
            route = f"{JOBS}{path}"
        else:  # a page (or the metrics, counted with the list page)
            route = _pattern.replace("([a-z0-9-]+)", "{name}").replace("([0-9]+)", "{id}")
            route = route if "{" in route else "/services/jobs/"
        served |= {(method, route) for method in _methods(handler)}
    in_table = {(r.method, r.route) for r in ROWS if r.route.startswith("/services/jobs/")}
    assert served - in_table == set(), "routes of workbench.jobs.api.routes() missing from MATRIX"
    assert in_table - served == set(), "rows of MATRIX the jobs service no longer serves"


def test_every_tool_of_the_workbench_is_in_the_matrix(local_wb: Workbench) -> None:
    services = local_wb.api("GET", "/services").json()
    tools = {name for name, s in services.items() if (s.get("info") or {}).get("kind") == "voila-app"}
    assert tools == set(TOOLS) == {r.tool for r in ROWS if r.tool}


# ------------------------------------------------------------------------------------------------
# the roles, logged in once for the module


@dataclass
class Caller:
    """How one role calls: a browser session (``web``, ``ws``) and an API token (``api``)."""

    role: str
    session: requests.Session = field(default_factory=requests.Session)
    token: str | None = None
    browser_token: bool = False  # token roles send their token from the browser side too

    def headers(self, via: str) -> dict[str, str]:
        if self.token and (via == "api" or self.browser_token):
            return {"Authorization": f"token {self.token}"}
        return {}


@dataclass
class World:
    wb: Workbench
    callers: dict[str, Caller]
    job: str
    run: int
    kernels: dict[str, str] = field(default_factory=dict)
    counter: itertools.count = field(default_factory=itertools.count)

    def kernel(self, tool: str) -> str:
        """A live kernel of ``tool``, from a page rendered by someone it is open to."""
        if tool not in self.kernels:
            opener = next(r for r in ("anonymous", "debris") if ROWS_BY_TOOL[tool][r] == "200")
            caller = self.callers[opener]
            r = caller.session.get(
                f"{self.wb.url}/services/{tool}/voila/render/app.ipynb",
                headers=caller.headers("web"),
                timeout=240,
            )
            assert r.status_code == 200, r.text[:500]
            self.kernels[tool] = Page(r.url, r.text).kernel_id
        return self.kernels[tool]


def _token(wb: Workbench, user: str) -> tuple[str, str]:
    r = wb.api("POST", f"/users/{user}/tokens", json={"note": "authorisation matrix", "expires_in": 7200})
    assert r.status_code == 201, r.text
    return r.json()["token"], r.json()["id"]


def _wait_run(wb: Workbench, run: int) -> None:
    deadline = time.monotonic() + 180
    while True:
        r = requests.get(
            f"{wb.url}{JOBS}/runs/{run}", headers={"Authorization": f"token {wb.admin_token}"}, timeout=60
        )
        if r.json()["status"] not in {"queued", "running"}:
            assert r.json()["status"] == "succeeded", r.text
            return
        assert time.monotonic() < deadline, r.text
        time.sleep(0.5)


@pytest.fixture(scope="module")
def world(local_wb: Workbench) -> World:
    wb = local_wb
    callers = {"anonymous": Caller("anonymous")}
    for role, user in USERS.items():
        caller = Caller(role)
        login = wb.login(user, f"dev-{user}")
        caller.session = login.session
        if role == "nogroup":
            # The hub refuses this login (no allowed group); the user had a token from before.
            assert login.response.status_code == 403, login.response.text[:300]
            assert wb.api("POST", "/users/nogroup").status_code in {201, 409}
        else:
            assert login.ok, login.response.text[:300]
        caller.token, _ = _token(wb, user)
        callers[role] = caller
    revoked, token_id = _token(wb, "debris-analyst")
    assert wb.api("DELETE", f"/users/debris-analyst/tokens/{token_id}").status_code == 204
    callers["revoked"] = Caller("revoked", token=revoked, browser_token=True)
    callers["service"] = Caller("service", token=wb.admin_token, browser_token=True)
    assert wb.user("nogroup")["groups"] == [] and wb.user("debris-analyst")["groups"] == ["debris"]

    service = {"Authorization": f"token {wb.admin_token}"}
    body = {"name": "matrix-debris", "segment": "debris", "notebook": JOB_NOTEBOOK}
    r = requests.post(f"{wb.url}{JOBS}/jobs", json=body, headers=service, timeout=60)
    assert r.status_code == 201, r.text
    r = requests.post(f"{wb.url}{JOBS}/jobs/matrix-debris/runs", json={}, headers=service, timeout=60)
    assert r.status_code == 201, r.text
    run = int(r.json()["id"])
    _wait_run(wb, run)
    return World(wb, callers, "matrix-debris", run)


# ------------------------------------------------------------------------------------------------
# fresh targets for the rows that change something


def _fresh_job(world: World) -> str:
    name = f"matrix-fresh-{next(world.counter)}"
    body = {"name": name, "segment": "debris", "notebook": JOB_NOTEBOOK}
    r = requests.post(
        f"{world.wb.url}{JOBS}/jobs",
        json=body,
        headers={"Authorization": f"token {world.wb.admin_token}"},
        timeout=60,
    )
    assert r.status_code == 201, r.text
    return name


PREPARE: dict[tuple[str, str], Callable[[World], tuple[dict[str, Any], Any]]] = {
    # (method, route) -> (placeholder values, JSON body) for one cell
    ("POST", f"{JOBS}/jobs"): lambda w: (
        {},
        {"name": f"matrix-new-{next(w.counter)}", "segment": "debris", "notebook": JOB_NOTEBOOK},
    ),
    ("PATCH", f"{JOBS}/jobs/{{name}}"): lambda w: ({"name": _fresh_job(w)}, {"description": "matrix"}),
    ("DELETE", f"{JOBS}/jobs/{{name}}"): lambda w: ({"name": _fresh_job(w)}, None),
    ("POST", f"{JOBS}/jobs/{{name}}/runs"): lambda w: ({}, {"parameters": {"label": "matrix"}}),
    ("POST", f"{JOBS}/runs/{{id}}/cancel"): lambda w: ({}, {}),
}


# ------------------------------------------------------------------------------------------------
# one cell


def _follow(
    caller: Caller, method: str, url: str, via: str, body: Any, stop_at: str | None
) -> requests.Response | str:
    """Call ``url`` and follow redirects by hand (stopping at ``stop_at``): the response, or ``page``."""
    headers = caller.headers(via)
    for _ in range(12):
        r = caller.session.request(
            method, url, json=body, headers=headers, allow_redirects=False, timeout=240
        )
        if r.status_code not in {301, 302, 303, 307}:
            return r
        url = urljoin(url, r.headers["Location"])
        if stop_at is not None and urlsplit(url).path == stop_at:
            return "page"
        method, body = "GET", None
    raise AssertionError(f"too many redirects from {url}")


def _outcome(row: Row, result: requests.Response | str, expected: str, world: World) -> str:
    if isinstance(result, str):
        return result
    if result.status_code == 200 and find_login_form(result.text) is not None:
        return "login"
    if expected in {"list+", "list-"} and result.status_code == 200:
        return "list+" if world.job in result.text else "list-"
    return str(result.status_code)


def _websocket(world: World, row: Row, caller: Caller, url: str) -> str:
    ws_url = "ws" + url[len("http") :]
    try:
        ks = KernelSocket.connect(ws_url, world.wb.url, session=caller.session, headers=caller.headers("ws"))
    except websocket.WebSocketBadStatusException as exc:
        return str(exc.status_code)
    try:
        return "open" if ks.kernel_info()["content"]["status"] == "ok" else "no kernel_info_reply"
    finally:
        ks.close()


def answer(world: World, row: Row, role: str) -> str:
    """What ``role`` gets for ``row``."""
    caller = world.callers[role]
    values: dict[str, Any] = {"name": world.job, "id": world.run}
    body = None
    prepare = PREPARE.get((row.method, row.route))
    if prepare is not None:
        more, body = prepare(world)
        values.update(more)
    if "{kernel}" in row.route:
        assert row.tool is not None
        values["kernel"] = world.kernel(row.tool)
    url = world.wb.url + row.route.format(**values)
    if row.via == "ws":
        return _websocket(world, row, caller, url)
    stop_at = (
        f"/services/{row.tool}/voila/render/app.ipynb"
        if row.tool and row.route.endswith(f"/{row.tool}/")
        else None
    )
    result = _follow(caller, row.method, url, row.via, body, stop_at)
    outcome = _outcome(row, result, row.expected[role], world)
    if isinstance(result, requests.Response) and row.route.endswith("/app.ipynb") and outcome == "200":
        # The page's kernel is of no more use: shut it down as a closing page does.
        kernel = Page(result.url, result.text).kernel_id
        caller.session.delete(
            f"{world.wb.url}/services/{row.tool}/api/kernels/{kernel}",
            headers=caller.headers("web"),
            timeout=60,
        )
    return outcome


ROWS_BY_TOOL = {
    r.tool: r.expected for r in ROWS if r.tool and r.via == "web" and r.route.endswith("/app.ipynb")
}


@pytest.mark.parametrize("row", ROWS, ids=str)
def test_matrix_row(world: World, row: Row) -> None:
    actual = {role: answer(world, row, role) for role in ROLES}
    assert actual == row.expected, f"{row}: " + ", ".join(
        f"{r} got {actual[r]} (expected {row.expected[r]})" for r in ROLES if actual[r] != row.expected[r]
    )


def test_home_page_lists_the_tools_each_role_may_open(world: World) -> None:
    actual = {}
    for role in ROLES:
        caller = world.callers[role]
        result = _follow(caller, "GET", f"{world.wb.url}/hub/home", "web", None, None)
        assert isinstance(result, requests.Response)
        if result.status_code == 200 and 'id="workbench-tools"' in result.text:
            actual[role] = " ".join(sorted(t for t in TOOLS if f'data-tool="{t}"' in result.text))
        else:
            actual[role] = _outcome(Row("web", "GET", "/hub/home", {}), result, "", world)
    assert actual == HOME_ROWS
