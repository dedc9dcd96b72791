"""What the jobs end-to-end tests share: users calling the jobs API, the notebooks, a probe notebook.

The probe notebook is what an attacker who controls a run's code would do: it tries to read the files
it is given, to connect to the addresses it is given, and records what it could, its identity, its
capabilities and its whole environment (as scraps, and printed into the run's log).
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import requests

from tests.e2e.harness import Workbench
from tests.support import ROOT
from tests.workbench.jobs.conftest import write_notebook, write_tiny

RUN_BOUND_S = 180.0  # a few-second notebook may wait this long on a loaded 2-core machine
WB_START_S = 300.0  # `workbench up` with the jobs service and three tools, on a loaded 2-core machine
FINAL = ("succeeded", "failed", "timed_out", "cancelled")

PROBE_PARAMETERS = """\
targets: list = []  # files (or folders) the run tries to read
connect: list = []  # host:port the run tries to reach
"""

PROBE_BODY = """\
import json, os, socket
from workbench.jobs.scraps import glue

read = {}
for target in targets:
    try:
        if os.path.isdir(target):
            os.listdir(target)
        else:
            with open(target, "rb") as fh:
                fh.read(64)
        read[target] = "read"
    except Exception as exc:
        read[target] = type(exc).__name__
reached = {}
for address in connect:
    host, port = address.rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=3).close()
        reached[address] = "connected"
    except Exception as exc:
        reached[address] = type(exc).__name__
status = dict(line.split(":", 1) for line in open("/proc/self/status").read().splitlines() if ":" in line)
try:
    open("/data/.probe-write", "w").close()
    data_writable = True
except OSError:
    data_writable = False
glue("read", read)
glue("connect", reached)
glue("env", dict(os.environ))
glue("uid", os.getuid())
glue("gid", os.getgid())
glue("groups", os.getgroups())
glue("cap_eff", status["CapEff"].strip())
glue("no_new_privs", status.get("NoNewPrivs", "").strip())
glue("cwd", os.getcwd())
glue("docker_socket", os.path.exists("/var/run/docker.sock"))
glue("data_writable", data_writable)
print("ENVIRONMENT " + json.dumps(dict(os.environ)))
"""


CDMS = "space_debris/cdm/nasa_cara"
"""A folder of the shipped data that production notebooks read (a DataPath parameter)."""

# What papermill's kernel sets in its own environment, whatever the run was given.
SET_BY_THE_KERNEL = {
    "JPY_PARENT_PID",
    "JPY_SESSION_NAME",
    "MPLBACKEND",
    "CLICOLOR",
    "CLICOLOR_FORCE",
    "FORCE_COLOR",
    "PAGER",
    "GIT_PAGER",
    "TERM",
    "PYDEVD_IPYTHON_COMPATIBLE_DEBUGGING",
    "PYDEVD_DISABLE_FILE_VALIDATION",
    "PYDEVD_USE_FRAME_EVAL",
}


def write_probe(path: Path) -> Path:
    """The probe notebook (parameters ``targets`` and ``connect``)."""
    return write_notebook(path, PROBE_PARAMETERS, PROBE_BODY)


def job_notebooks(root: Path) -> Path:
    """The production notebooks plus the tiny and probe test notebooks (WORKBENCH_JOBS_NOTEBOOKS_DIR)."""
    shutil.copytree(ROOT / "notebooks" / "jobs", root / "jobs")
    write_tiny(root / "test" / "tiny.ipynb")
    write_probe(root / "test" / "probe.ipynb")
    write_echo(root / "test" / "echo.ipynb")
    return root


class User:
    """A logged-in user with a hub API token of their own, calling the jobs API."""

    def __init__(self, wb: Workbench, name: str) -> None:
        self.name = name
        self.login = wb.login(name, f"dev-{name}")
        assert self.login.ok, self.login.response.text[:500]
        r = wb.api("POST", f"/users/{name}/tokens", json={"note": "jobs e2e", "expires_in": 3600})
        assert r.status_code == 201, r.text
        self.token = r.json()["token"]
        self.base = f"{wb.url}/services/jobs/api/v1"

    def call(self, method: str, path: str, body: Any = None, **kw: Any) -> requests.Response:
        headers = {"Authorization": f"token {self.token}", **kw.pop("headers", {})}
        return requests.request(method, f"{self.base}/{path}", json=body, headers=headers, timeout=60, **kw)

    def wait(self, run_id: int, *, until: tuple[str, ...] = FINAL, bound: float = RUN_BOUND_S) -> dict:
        deadline = time.monotonic() + bound
        while True:
            run = self.call("GET", f"runs/{run_id}").json()
            if run["status"] in until:
                return dict(run)
            assert time.monotonic() < deadline, run
            time.sleep(0.2)

    def run(self, job: str, parameters: dict[str, Any] | None = None) -> dict:
        """Start a run of ``job`` and wait for its end."""
        r = self.call("POST", f"jobs/{job}/runs", {"parameters": parameters or {}})
        assert r.status_code == 201, r.text
        return self.wait(r.json()["id"])

    def scraps(self, run_id: int) -> dict:
        return dict(self.call("GET", f"runs/{run_id}/scraps").json()["scraps"])


def secret_values(wb: Workbench, extra: tuple[str, ...] = ()) -> dict[str, str]:
    """Every credential the platform holds, by where it was found: the state's secret files, and the
    hub-, OIDC- and database-related variables of the jobs service's own environment."""
    found = {f"secrets/{p.name}": p.read_text().strip() for p in (wb.state_dir / "secrets").iterdir()}
    service = service_process(wb)
    environ = dict(
        item.split("=", 1)
        for item in Path(f"/proc/{service.pid}/environ").read_text().split("\0")
        if "=" in item
    )
    for key, value in environ.items():
        if "TOKEN" in key or "SECRET" in key or key == "WORKBENCH_DB_URL":
            found[f"service env {key}"] = value
    for i, value in enumerate(extra):
        found[f"extra {i}"] = value
    return {k: v for k, v in found.items() if len(v) >= 8}


def service_process(wb: Workbench) -> Any:
    """The jobs service's process (a child of the hub)."""
    for p in wb.processes():
        try:
            if "workbench.jobs.service" in " ".join(p.cmdline()):
                return p
        except Exception:
            continue
    raise AssertionError("no jobs service process")


ECHO_PARAMETERS = 'text: str = "hello"  # shown as HTML: what a careless notebook does with a parameter\n'
ECHO_BODY = "from IPython.display import HTML, display\ndisplay(HTML(text))\n"


def write_echo(path: Path) -> Path:
    """A careless notebook: it displays its parameter ``text`` as HTML in its output."""
    return write_notebook(path, ECHO_PARAMETERS, ECHO_BODY)
