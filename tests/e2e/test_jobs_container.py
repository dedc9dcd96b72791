"""Job runs in containers of the lab image (``executor: container``), through the real hub, proxy and service.

One workbench for the module (local spawner: only the job runs use Docker), with
``WORKBENCH_JOBS_EXECUTOR=container`` and the lab image built from this checkout's HEAD (by its id, so
another build retagging ``s2p-workbench/lab:latest`` meanwhile changes nothing here). The same
run-and-fetch as with the local executor; a probe run that finds no secret, no state, no Docker socket,
no network and no privilege; timeout and cancel that remove the container; and a job that picks the
local executor beside them.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator

import pytest

from tests.e2e.harness import Workbench, start_workbench
from tests.e2e.jobs_support import CDMS, SET_BY_THE_KERNEL, WB_START_S, User, job_notebooks, secret_values
from tests.images.fixtures import need_docker
from tests.support import DATA, need_executable, reachable_dir
from workbench.images.build import BuildResult
from workbench.jobs.executors.container import LABEL

pytestmark = [pytest.mark.docker, pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(3600)]

# The image's own variables, what the executor adds, and what the kernel sets for itself.
IMAGE_ENV = {"PATH", "LANG", "SHELL", "WORKBENCH_CATALOG", "NUMBA_CACHE_DIR", "PYTHONUNBUFFERED", "HOSTNAME"}
GIVEN = {"HOME", "WORKBENCH_DATA_DIR"}


@pytest.fixture(scope="module")
def wb(lab_image: BuildResult, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workbench]:
    need_docker()
    need_executable("node")
    state = tmp_path_factory.mktemp("wb-jobs-container")
    work = reachable_dir("s2p-jobs-e2e-")  # for the job that picks the local executor
    env = {
        "WORKBENCH_JOBS_NOTEBOOKS_DIR": str(job_notebooks(tmp_path_factory.mktemp("notebooks"))),
        "WORKBENCH_JOBS_EXECUTOR": "container",
        "WORKBENCH_IMAGE": lab_image.image_id,
        "WORKBENCH_JOBS_WORK_DIR": str(work / "runs"),
    }
    workbench = start_workbench(state, env, timeout=WB_START_S)
    try:
        yield workbench
    finally:
        workbench.stop()
        shutil.rmtree(work, ignore_errors=True)
        assert _run_containers(workbench) == [], "run containers left after the service stopped"


@pytest.fixture(scope="module")
def users(wb: Workbench) -> dict[str, User]:
    return {n: User(wb, n) for n in ("operator", "neo-analyst")}


def _run_containers(wb: Workbench, run_id: int | None = None) -> list[str]:
    """Names of this workbench's job-run containers (of one run), running or not."""
    from workbench.spawners.docker import instance_prefix

    prefix = instance_prefix(type("S", (), {"state_dir": wb.state_dir})())
    selector = [f"--filter=label={LABEL}.instance={prefix}"]
    if run_id is not None:
        selector.append(f"--filter=label={LABEL}.run={run_id}")
    out = subprocess.run(
        ["docker", "ps", "-a", "--format", "{{.Names}}", *selector],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.split()


def test_a_run_executes_in_a_container_of_the_lab_image(
    wb: Workbench, users: dict[str, User], lab_image: BuildResult
) -> None:
    op = users["operator"]
    body = {"name": "pc", "segment": "debris", "notebook": "jobs/debris_pc_digest.ipynb", "timeout_s": 300}
    r = op.call("POST", "jobs", body)
    assert r.status_code == 201 and r.json()["executor"] is None, r.text  # the service's default
    run = op.run("pc", {"pc_threshold": 1e-3, "cdm_folder": CDMS})
    assert run["status"] == "succeeded", (run, op.call("GET", f"runs/{run['id']}/log").text[-3000:])
    assert run["executor"] == "container" and run["provenance"]["image_id"] == lab_image.image_id
    assert run["provenance"]["network"] == "none" and run["provenance"]["user"] == "1000:1000"
    scraps = op.scraps(run["id"])
    assert scraps["n_cdms"] == len(list((DATA / CDMS).glob("*.cdm"))) == 53
    nb = op.call("GET", f"runs/{run['id']}/notebook").json()
    assert nb["metadata"]["papermill"]["parameters"]["cdm_folder"] == CDMS
    report = op.call("GET", f"runs/{run['id']}/report")
    assert report.status_code == 200 and "pc" in report.text and "succeeded" in report.text
    assert "CDMs read from space_debris/cdm/nasa_cara" in op.call("GET", f"runs/{run['id']}/log").text
    assert _run_containers(wb, run["id"]) == []  # removed once its output was collected


def test_a_container_run_reaches_no_secret_socket_network_or_privilege(
    wb: Workbench, users: dict[str, User]
) -> None:
    op = users["operator"]
    r = op.call("POST", "jobs", {"name": "probe", "segment": "neo", "notebook": "test/probe.ipynb"})
    assert r.status_code == 201, r.text
    state = wb.state_dir
    forbidden = [
        str(state / "secrets" / "admin_api_token"),
        str(state / "secrets"),
        str(state / "jupyterhub.sqlite"),
        str(state / "jobs" / "jobs.sqlite"),
        str(state / "users"),
        "/var/run/docker.sock",
        "/run/docker.sock",
    ]
    control = f"/data/{CDMS}/" + next((DATA / CDMS).glob("*.cdm")).name
    # the hub's proxy and API listen on the host's loopback: the container has a loopback of its own
    addresses = [f"127.0.0.1:{wb.ports.hub}", f"127.0.0.1:{wb.ports.hub_api}"]
    run = op.run("probe", {"targets": [*forbidden, control], "connect": addresses})
    assert run["status"] == "succeeded", (run, op.call("GET", f"runs/{run['id']}/log").text[-3000:])
    scraps = op.scraps(run["id"])
    assert {t: scraps["read"][t] for t in forbidden} == dict.fromkeys(forbidden, "FileNotFoundError")
    assert scraps["read"][control] == "read"
    assert scraps["connect"] == dict.fromkeys(addresses, "ConnectionRefusedError")
    assert (scraps["uid"], scraps["gid"]) == (1000, 1000)
    assert scraps["cap_eff"] == "0000000000000000" and scraps["no_new_privs"] == "1"
    assert scraps["docker_socket"] is False and scraps["data_writable"] is False
    assert scraps["cwd"] == "/job" and scraps["env"]["HOME"] == "/job"
    env = scraps["env"]
    allowed = IMAGE_ENV | GIVEN | SET_BY_THE_KERNEL
    assert set(env) <= allowed, set(env) - allowed
    log = op.call("GET", f"runs/{run['id']}/log").text
    for where, value in secret_values(wb).items():
        assert value not in json.dumps(env) and value not in log, f"{where} reached the run"


def test_timeout_and_cancel_kill_the_container(users: dict[str, User], wb: Workbench) -> None:
    op, neo = users["operator"], users["neo-analyst"]
    r = op.call(
        "POST", "jobs", {"name": "tiny", "segment": "neo", "notebook": "test/tiny.ipynb", "timeout_s": 8}
    )
    assert r.status_code == 201, r.text
    slow = op.call("POST", "jobs/tiny/runs", {"parameters": {"seconds": 600.0}}).json()
    other = neo.call("POST", "jobs/tiny/runs", {"parameters": {"seconds": 600.0}}).json()
    neo.wait(other["id"], until=("running",))
    r = neo.call("POST", f"runs/{other['id']}/cancel")
    assert r.status_code == 200 and (r.json()["status"], r.json()["failure"]) == ("cancelled", "cancelled"), (
        r.text
    )
    timed = op.wait(slow["id"])
    assert (timed["status"], timed["error"], timed["failure"]) == (
        "timed_out",
        "timed out after 8 s",
        "timeout",
    )
    assert op.scraps(slow["id"])["label"] == "tiny"  # what ran before the sleep is kept
    assert op.call("GET", f"runs/{slow['id']}/report").status_code == 200
    assert _run_containers(wb, slow["id"]) == _run_containers(wb, other["id"]) == []


def test_a_job_may_name_its_executor(users: dict[str, User]) -> None:
    op = users["operator"]
    body = {"name": "tiny-local", "segment": "neo", "notebook": "test/tiny.ipynb", "executor": "local"}
    r = op.call("POST", "jobs", body)
    assert r.status_code == 201 and r.json()["executor"] == "local", r.text
    run = op.run("tiny-local")
    assert (run["status"], run["executor"], run["provenance"]["executor"]) == ("succeeded", "local", "local")
    r = op.call("POST", "jobs", {**body, "name": "tiny-k8s", "executor": "k8s"})
    assert r.status_code == 400 and "invalid executor 'k8s'" in r.json()["error"]


def test_the_tiny_notebook_in_a_container(users: dict[str, User]) -> None:
    """What a client waits for the least job in a container (printed; the bound is the test's)."""
    import time

    op = users["operator"]
    t0 = time.monotonic()
    run = op.run("tiny")
    assert run["status"] == "succeeded", run
    print(f"trivial job in a container: POST → succeeded in {time.monotonic() - t0:.1f} s")
