"""One log schema: with ``WORKBENCH_LOG_FORMAT=json``, every line ``workbench up --log-to-terminal`` writes
is a JSON object with the keys time, level, service, user, request_id, message — the hub, the proxy, the
jobs service, a tool's gateway and ``workbench up`` itself — and requests carry their user and the
front's ``X-Request-Id``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
import requests

from tests.e2e.harness import Workbench, start_workbench
from tests.e2e.jobs_support import User
from tests.security.tools import write_tools
from tests.support import need_executable
from tests.workbench.jobs.conftest import write_tiny
from workbench.logs import LEVELS, SCHEMA

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


@pytest.fixture(scope="module")
def wb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workbench]:
    need_executable("node")
    root = tmp_path_factory.mktemp("json-logs")
    write_tiny(root / "notebooks" / "test" / "tiny.ipynb")
    env = {
        "WORKBENCH_LOG_FORMAT": "json",
        "WORKBENCH_JOBS_NOTEBOOKS_DIR": str(root / "notebooks"),
        "WORKBENCH_APPS_DIR": str(write_tools(root / "voila-apps", ["probe-widgets"])),
    }
    workbench = start_workbench(root / "state", env, args=["--log-to-terminal"])
    yield workbench
    workbench.stop()


def test_every_line_of_every_service_is_one_json_object_of_the_schema(wb: Workbench) -> None:
    operator = User(wb, "operator")
    body = {"name": "json-logs", "segment": "neo", "notebook": "test/tiny.ipynb"}
    assert operator.call("POST", "jobs", body).status_code == 201
    r = operator.call("POST", "jobs/json-logs/runs", {}, headers={"X-Request-Id": "e2e-request-0001"})
    assert r.status_code == 201, r.text
    assert operator.wait(r.json()["id"])["status"] == "succeeded"
    # A hostile request id is not logged as given.
    operator.call("GET", "jobs", headers={"X-Request-Id": 'x" {"level": "ERROR"}'})
    page = requests.get(f"{wb.url}/services/probe-widgets/", timeout=240)
    assert page.status_code == 200
    assert wb.stop() == 0

    lines = [line for line in wb.output.read_text().splitlines() if line.strip()]
    entries = []
    for line in lines:
        entry = json.loads(line)  # every line parses
        assert tuple(entry) == SCHEMA, line
        assert TIME.match(entry["time"]) and entry["level"] in LEVELS.values(), line
        assert isinstance(entry["message"], str) and entry["service"], line
        entries.append(entry)
    services = {e["service"] for e in entries}
    assert {"workbench", "hub", "proxy", "jobs", "tool:probe-widgets"} <= services, services
    # The jobs service's line of the run request: its user and the front's request id.
    run_lines = [e for e in entries if e["service"] == "jobs" and "POST /services/jobs/api/v1/jobs/json-logs/runs" in e["message"]]  # fmt: skip
    assert (
        run_lines and run_lines[0]["user"] == "operator" and run_lines[0]["request_id"] == "e2e-request-0001"
    )
    assert all(e["request_id"] is None or re.fullmatch(r"[\w.\-]{1,64}", e["request_id"]) for e in entries)
    # The hub's access lines name their user too.
    assert any(e["service"] == "hub" and e["user"] == "operator" for e in entries), "no hub line of operator"
    assert any(e["service"] == "workbench" and "is up:" in e["message"] for e in entries)
