"""The same run-and-fetch, end to end, on every executor: local, container, dask and swarm.

One workbench for the module (``workbench up`` with the lab image of this checkout), one job per
executor on the debris Pc digest; each run is started through the API as an operator would, and its
scraps, notebook, report and log are fetched and checked against s2p computed here.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.harness import Workbench, start_workbench
from tests.e2e.jobs_support import User, job_notebooks
from tests.support import DATA, need_executable, reachable_dir

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.docker, pytest.mark.swarm]

EXECUTORS = ("local", "container", "dask", "swarm")
PC_THRESHOLD = 1e-3


@pytest.fixture(scope="module")
def wb(
    tmp_path_factory: pytest.TempPathFactory, lab_image: Any, single_node_swarm: None
) -> Iterator[Workbench]:
    need_executable("node")
    work = reachable_dir("s2p-jobs-executors-")
    env = {
        "WORKBENCH_JOBS_NOTEBOOKS_DIR": str(job_notebooks(tmp_path_factory.mktemp("notebooks"))),
        "WORKBENCH_JOBS_WORKERS": "2",
        "WORKBENCH_JOBS_WORK_DIR": str(work / "runs"),
        "WORKBENCH_IMAGE": lab_image.image,
        "WORKBENCH_DASK_WORKERS": "2",
    }
    workbench = start_workbench(tmp_path_factory.mktemp("state"), env)
    yield workbench
    assert workbench.stop() == 0, workbench.log_tail()
    shutil.rmtree(work, ignore_errors=True)


@pytest.fixture(scope="module")
def operator(wb: Workbench) -> User:
    return User(wb, "operator")


def _expected_pc() -> tuple[int, float]:
    from s2p.debris import collision_probability, read_cdm

    pcs = [
        collision_probability(read_cdm(p))
        for p in sorted((DATA / "space_debris/cdm/nasa_cara").glob("*.cdm"))
    ]
    return sum(pc >= PC_THRESHOLD for pc in pcs), max(pcs)


@pytest.mark.parametrize("executor", EXECUTORS)
def test_run_and_fetch(operator: User, executor: str, lab_image: Any) -> None:
    body = {
        "name": f"pc-{executor}",
        "segment": "debris",
        "notebook": "jobs/debris_pc_digest.ipynb",
        "parameters": {"pc_threshold": PC_THRESHOLD},
        "executor": executor,
        "timeout_s": 600,
    }
    r = operator.call("POST", "jobs", body)
    assert r.status_code == 201, r.text
    run = operator.run(f"pc-{executor}")
    assert run["status"] == "succeeded", run
    assert run["executor"] == executor and run["attempt"] == 1
    detail = operator.call("GET", f"runs/{run['id']}").json()
    assert [(a["number"], a["executor"], a["status"]) for a in detail["attempts"]] == [
        (1, executor, "succeeded")
    ]
    prov = detail["provenance"]
    assert prov["executor"] == executor and len(prov["notebook_sha256"]) == 64
    if executor in ("container", "swarm"):
        assert prov["environment"] == lab_image.image_id
    else:
        assert prov["environment"].startswith("env:sha256:")
    assert prov["s2p_version"]

    scraps = operator.scraps(run["id"])
    n_above, max_pc = _expected_pc()
    assert scraps["n_cdms"] == 53 and scraps["n_above"] == n_above
    assert scraps["max_pc"] == pytest.approx(max_pc, rel=1e-12)
    nb = operator.call("GET", f"runs/{run['id']}/notebook")
    assert nb.json()["metadata"]["papermill"]["parameters"]["pc_threshold"] == PC_THRESHOLD
    report = operator.call("GET", f"runs/{run['id']}/report")
    assert report.status_code == 200 and f"pc-{executor}" in report.text and "succeeded" in report.text
    log = operator.call("GET", f"runs/{run['id']}/log").text
    assert "Executing Cell 1" in log and "CDMs read from" in log
