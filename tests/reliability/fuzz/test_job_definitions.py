"""Job definitions fuzzed with hypothesis: any ``POST jobs`` / ``PATCH jobs/{name}`` body either gives
a :class:`Job` or raises :class:`JobError` with a 4xx status and a message — never another exception,
which the API would answer with a 500.

The bodies are arbitrary JSON values and near-valid objects: the known fields, each with a value of the
right shape or of any JSON type (names, paths with ``..``, NUL or backslashes, cron texts, policies).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.workbench.jobs.conftest import write_tiny
from workbench.jobs.model import Job, JobError, job_from_request, job_update

BUDGET = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)


def _either(shaped: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return shaped | json_values


paths = st.sampled_from(
    [
        "jobs/tiny.ipynb",
        "jobs/notes.txt",
        "../etc/passwd.ipynb",
        "/abs.ipynb",
        "jobs\\tiny.ipynb",
        "~/x.ipynb",
        "jobs/\x00.ipynb",
        "jobs/missing.ipynb",
        "jobs",
        ".",
    ]
) | st.text(max_size=20)
parameters = st.dictionaries(
    st.sampled_from(["seconds", "fail", "label", "count", "unknown"]) | st.text(max_size=8),
    json_values,
    max_size=4,
)
retry = st.fixed_dictionaries(
    {},
    optional={
        "retries": _either(st.integers(-2, 20)),
        "backoff_s": _either(st.floats(-10, 1e6, allow_nan=False)),
        "backoff_factor": _either(st.floats(-1, 100, allow_nan=False)),
        "on": _either(st.lists(st.sampled_from(["error", "timeout", "lost", "oom", "x"]), max_size=3)),
    },
)
notify = st.fixed_dictionaries(
    {},
    optional={
        "on": _either(st.lists(st.sampled_from(["failed", "succeeded", "started", "x"]), max_size=3)),
        "webhooks": _either(
            st.lists(
                st.sampled_from(["http://127.0.0.1:9/h", "ftp://x", "http://", "https://ex.org/%zz"])
                | st.text(max_size=12),
                max_size=2,
            )
        ),
        "emails": _either(
            st.lists(
                st.sampled_from(["ops@example.org", "a@", "@b", "x y@z"]) | st.text(max_size=12), max_size=2
            )
        ),
        "secret": _either(st.text(max_size=40)),
    },
)
retention = st.fixed_dictionaries(
    {}, optional={"keep_last": _either(st.integers(-1, 10**6)), "keep_days": _either(st.integers(-1, 10**5))}
)
fields = {
    "name": _either(st.from_regex(r"[a-z0-9][a-z0-9-]{0,70}", fullmatch=True)),
    "segment": _either(st.sampled_from(["swe", "debris", "neo", "space"])),
    "notebook": _either(paths),
    "parameters": _either(parameters),
    "schedule": _either(
        st.sampled_from(["30 6 * * *", "* * * * *", "61 * * * *", "@daily", "0 0 30 2 *", "1 2 3"])
        | st.text(max_size=20)
    ),
    "timeout_s": _either(st.integers(-10, 10**7)),
    "description": _either(st.text(max_size=50)),
    "executor": _either(st.sampled_from(["local", "container", "swarm", "nowhere", ""])),
    "retry": _either(retry),
    "notify": _either(notify),
    "retention": _either(retention),
    "misfire": _either(st.sampled_from(["run_once", "skip", "run_all", "never"])),
    "misfire_cap": _either(st.integers(-5, 10**4)),
    "unknown": json_values,
}
create_bodies = (
    st.fixed_dictionaries(
        {"name": fields["name"], "segment": fields["segment"], "notebook": fields["notebook"]},
        optional={k: v for k, v in fields.items() if k not in {"name", "segment", "notebook"}},
    )
    | json_values
)
update_bodies = st.fixed_dictionaries({}, optional=fields) | json_values


@pytest.fixture(scope="module")
def dirs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("jobs-fuzz")
    notebooks = root / "notebooks"
    write_tiny(notebooks / "jobs" / "tiny.ipynb")
    (notebooks / "jobs" / "notes.txt").write_text("not a notebook")
    (root / "data").mkdir()
    return notebooks, root / "data"


def _create(dirs: tuple[Path, Path], body: Any) -> Job | None:
    notebooks, data = dirs
    try:
        job, _ = job_from_request(
            body, notebooks_dir=notebooks, data_dir=data, default_timeout=3600, created_by="fuzz"
        )
    except JobError as exc:
        assert 400 <= exc.status < 500 and exc.message.strip(), exc
        event("refused")
        return None
    event("created")
    job.to_json()  # what the API answers with must serialise
    return job


@BUDGET
@given(body=create_bodies)
def test_any_create_body_gives_a_job_or_a_job_error(dirs: tuple[Path, Path], body: Any) -> None:
    job = _create(dirs, body)
    if job is not None:
        assert job.notebook == "jobs/tiny.ipynb" and job.segment in {"swe", "debris", "neo"}
        assert 0 < job.timeout_s <= 7 * 24 * 3600


@BUDGET
@given(body=update_bodies)
def test_any_update_body_gives_a_job_or_a_job_error(dirs: tuple[Path, Path], body: Any) -> None:
    notebooks, data = dirs
    job = _create(dirs, {"name": "fuzzed", "segment": "neo", "notebook": "jobs/tiny.ipynb"})
    assert job is not None
    try:
        changed = job_update(job, body, notebooks_dir=notebooks, data_dir=data, default_timeout=3600)
    except JobError as exc:
        assert 400 <= exc.status < 500 and exc.message.strip(), exc
        return
    assert (changed.name, changed.segment, changed.notebook) == (job.name, job.segment, job.notebook)
    changed.to_json()
