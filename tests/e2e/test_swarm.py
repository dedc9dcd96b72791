"""End to end with ``WORKBENCH_SPAWNER=swarm``: the Docker happy path on a single-node swarm.

The engine is made a one-node swarm on 127.0.0.1 for this module (unless it already was one) and
leaves it afterwards, removing the ``docker_gwbridge`` bridge that ``swarm init`` creates.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from types import SimpleNamespace

import numpy as np
import pytest

from tests.e2e import containers as C
from tests.e2e.harness import Workbench, start_workbench
from tests.support import DATA, need_executable
from workbench.images.build import BuildResult
from workbench.spawners.docker import instance_prefix
from workbench.spawners.profiles import parse_bytes

pytestmark = [
    pytest.mark.swarm,
    pytest.mark.docker,
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.timeout(3600),
]

DEBRIS = ("debris-analyst", "dev-debris-analyst")


@pytest.fixture(scope="module")
def wb(
    lab_image: BuildResult, single_node_swarm: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Workbench]:
    need_executable("node")
    state = tmp_path_factory.mktemp("wb-swarm")
    prefix = instance_prefix(SimpleNamespace(state_dir=state))
    workbench = start_workbench(state, env={"WORKBENCH_SPAWNER": "swarm", "WORKBENCH_IMAGE": lab_image.image})
    workbench.prefix = prefix  # type: ignore[attr-defined]
    try:
        yield workbench
    finally:
        workbench.stop()
        left = C.docker_names("service", prefix)
        C.remove_instance_objects(prefix)
        assert left == [], f"services left after the hub stopped: {left}"


def test_swarm_happy_path_debris_user_runs_sgp4_in_a_service(wb: Workbench):
    login = wb.login(*DEBRIS)
    assert login.ok, login.response.text[:500]
    r = C.post_spawn_form(wb, login, DEBRIS[0], "debris-large")
    assert r.status_code in {302, 303}, (r.status_code, r.text[:500])
    C.wait_ready(wb, DEBRIS[0])

    services = C.docker_names("service", f"{wb.prefix}-lab-debris")  # type: ignore[attr-defined]
    assert len(services) == 1, services
    spec = json.loads(
        subprocess.run(
            ["docker", "service", "inspect", services[0]], capture_output=True, text=True, check=True
        ).stdout
    )[0]["Spec"]
    task = spec["TaskTemplate"]
    assert task["Resources"]["Limits"]["MemoryBytes"] == parse_bytes("8G")
    assert task["Resources"]["Limits"]["NanoCPUs"] == 2_000_000_000
    assert task["RestartPolicy"]["Condition"] == "none"
    assert [_network_name(n["Target"]) for n in task.get("Networks", [])] == ["host"]
    mounts = {m["Target"]: m for m in task["ContainerSpec"]["Mounts"]}
    assert mounts["/home/jovyan"]["Type"] == "volume" and mounts["/data"].get("ReadOnly") is True
    assert "/shared/debris" in mounts
    assert task["ContainerSpec"]["CapabilityDrop"] == ["ALL"]

    out = wb.run_code(DEBRIS[0], C.SGP4_CELL)
    result = json.loads(out.strip().splitlines()[-1])
    np.testing.assert_allclose(result["r"], C.reference_positions_km(str(DATA)), rtol=0, atol=C.SGP4_MATCH_KM)

    wb.stop_server(DEBRIS[0])
    assert C.docker_names("service", f"{wb.prefix}-lab-debris") == []  # type: ignore[attr-defined]


def _network_name(ident: str) -> str:
    out = subprocess.run(
        ["docker", "network", "inspect", ident, "--format", "{{.Name}}"], capture_output=True, text=True
    )
    return out.stdout.strip()
