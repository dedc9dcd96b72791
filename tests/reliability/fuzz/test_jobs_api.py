"""The jobs REST API fuzzed with schemathesis from its own OpenAPI description.

The description is :func:`workbench.jobs.openapi.spec` (what the service serves at
``api/v1/openapi.json``). Every operation gets requests generated from it — valid ones (positive) and
ones that break it (negative: wrong types, missing fields, bad path parameters) — sent to the real jobs
service of a real ``workbench up`` through the proxy, with the hub API token of an operator (who may
create, change and delete jobs). Half of the requests on ``/jobs/{name}…`` name a job that exists, so
the fuzzed bodies reach its validation, not only the 404; likewise for ``/runs/{id}…`` and a run of it.

Checked on every answer: no 5xx, and every refusal (4xx) is a JSON error ``{"error": …, "status": …}``
naming the same status. The budget is bounded (:data:`EXAMPLES` per operation and mode).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable

from tests.e2e.harness import Workbench, start_workbench
from tests.e2e.jobs_support import WB_START_S, User
from tests.support import need_executable, reachable_dir
from tests.workbench.jobs.conftest import write_tiny
from workbench.jobs import openapi

pytestmark = [pytest.mark.integration, pytest.mark.slow]

EXAMPLES = 12
"""Generated requests per operation and generation mode (16 operations x 2 modes)."""

KNOWN_JOB = "fuzz-target"


@pytest.fixture(scope="module")
def wb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workbench]:
    need_executable("node")
    root = tmp_path_factory.mktemp("jobs-fuzz")
    notebooks = root / "notebooks"
    write_tiny(notebooks / "jobs" / "tiny.ipynb")
    work = reachable_dir("s2p-jobs-fuzz-")
    env = {
        "WORKBENCH_JOBS_NOTEBOOKS_DIR": str(notebooks),
        "WORKBENCH_JOBS_WORKERS": "1",
        "WORKBENCH_JOBS_WORK_DIR": str(work / "runs"),
    }
    workbench = start_workbench(root / "state", env, timeout=WB_START_S)
    yield workbench
    assert workbench.stop() == 0, workbench.log_tail()


@pytest.fixture(scope="module")
def operator(wb: Workbench) -> User:
    user = User(wb, "operator")
    r = user.call("POST", "jobs", {"name": KNOWN_JOB, "segment": "neo", "notebook": "jobs/tiny.ipynb"})
    assert r.status_code == 201, r.text
    r = user.call("POST", f"jobs/{KNOWN_JOB}/runs", {"parameters": {"count": 2}})
    assert r.status_code == 201, r.text
    user.known_run = r.json()["id"]  # type: ignore[attr-defined]
    return user


def _check(response: Any, what: str) -> None:
    """``response``: schemathesis's (headers lower-cased, each a list of values)."""
    assert response.status_code < 500, f"{what}: HTTP {response.status_code} {response.text[:500]}"
    if response.status_code >= 400:
        ctype = (response.headers.get("content-type") or [""])[0]
        assert ctype.startswith("application/json"), (
            f"{what}: a {response.status_code} that is not JSON: {response.text[:300]}"
        )
        body = json.loads(response.text)
        assert isinstance(body, dict) and isinstance(body.get("error"), str) and body["error"].strip(), body
        assert body.get("status") == response.status_code, body


def _operations() -> list[Any]:
    schema = schemathesis.openapi.from_dict(openapi.spec())
    ops = [result.ok() for result in schema.get_all_operations()]
    # Deleting the known job last keeps it there for the other operations' requests.
    return sorted(ops, key=lambda op: (op.method.upper() == "DELETE", op.path, op.method))


OPERATIONS = _operations()


def _fuzz(
    op: Any, generation: Any, base: str, session: requests.Session, counts: dict[int, int], known_run: int
) -> None:
    """Send :data:`EXAMPLES` generated requests of ``op`` and check each answer."""
    label = f"{op.method.upper()} {op.path} ({generation.value})"

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=op.as_strategy(generation_mode=generation), known=st.booleans())
    def fuzz(case: Any, known: bool) -> None:
        if known and "name" in (case.path_parameters or {}):
            case.path_parameters["name"] = KNOWN_JOB
        if known and "id" in (case.path_parameters or {}):
            case.path_parameters["id"] = known_run
        response = case.call(base_url=base, session=session, timeout=60)
        counts[response.status_code] = counts.get(response.status_code, 0) + 1
        _check(response, f"{label}: {case.method} {case.formatted_path} body={getattr(case, 'body', None)!r}")

    try:
        fuzz()
    except Unsatisfiable:
        # Negative mode on an operation with nothing to break (no parameters, no body).
        assert generation.value == "negative" and not op.path_parameters and not op.query and not op.body, (
            label
        )


@pytest.mark.parametrize("mode", ["positive", "negative"])
def test_jobs_api_fuzzed_from_its_openapi_has_no_5xx_and_json_refusals(
    wb: Workbench, operator: User, mode: str
) -> None:
    base = f"{wb.url}/services/jobs/api/v1"
    session = requests.Session()
    session.headers["Authorization"] = f"token {operator.token}"
    generation = schemathesis.GenerationMode(mode)
    counts: dict[int, int] = {}
    t0 = time.monotonic()
    for op in OPERATIONS:
        _fuzz(op, generation, base, session, counts, operator.known_run)  # type: ignore[attr-defined]
    elapsed = time.monotonic() - t0
    print(
        f"\nFUZZ jobs API ({mode}): {sum(counts.values())} requests in {elapsed:.0f} s, statuses {sorted(counts.items())}"
    )
    assert sum(counts.values()) >= len(OPERATIONS)
    assert not [s for s in counts if s >= 500]
    # The service is still whole: the known job answers (unless a fuzzed DELETE removed it, legitimately).
    r = operator.call("GET", "jobs")
    assert r.status_code == 200, r.text


def test_openapi_description_is_valid_for_schemathesis() -> None:
    """Every operation of the description can be generated (a broken schema would skip operations)."""
    assert len(OPERATIONS) >= len(openapi.spec()["paths"])
    assert not [p for p in openapi.spec()["paths"] if p not in {op.path for op in OPERATIONS}]
