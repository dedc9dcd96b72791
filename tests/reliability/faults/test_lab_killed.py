"""Fault: a user's lab dies under them — killed by the kernel's OOM killer (SIGKILL) with the local
spawner, its container removed with the Docker spawner.

The hub notices (its poll of the spawner, or at once when the user's next request finds the lab
gone), the user is offered to start again, the new lab opens on the same home with every file saved.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from types import SimpleNamespace

import pytest

from tests.e2e import containers as C
from tests.e2e.harness import Workbench, start_workbench
from tests.e2e.webuser import WebUser, notebook
from tests.images.fixtures import need_docker
from tests.reliability.faults.support import alive, lab_process, record, wait_until
from tests.support import need_executable

pytestmark = [pytest.mark.integration, pytest.mark.slow]

NOTICE_BOUND_S = 60.0
"""The hub has noticed the dead lab within this [s]."""


@pytest.fixture(scope="module")
def wb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workbench]:
    need_executable("node")
    workbench = start_workbench(tmp_path_factory.mktemp("state"))
    yield workbench
    assert workbench.stop() == 0, workbench.log_tail()


def test_local_lab_killed_is_noticed_and_the_user_starts_again_on_the_same_home(wb: Workbench) -> None:
    user = WebUser(wb.url, "debris-analyst", "dev-debris-analyst")
    user.login()
    user.start_lab()
    saved = notebook("x = 1", "saved before the kill")
    assert user.save_notebook("work/analysis.ipynb", saved).status_code == 201
    lab = lab_process(wb, user.username).pid
    os.kill(lab, signal.SIGKILL)  # what the OOM killer sends
    t0 = time.monotonic()

    # The user's next request to the lab gets an answer at once (not a hang), from the hub.
    r = user.session.get(f"{user.lab}/lab", timeout=30)
    assert r.status_code in {200, 424, 503}, r.status_code
    noticed = wait_until(lambda: user.server() is None, NOTICE_BOUND_S, "the hub noticing the dead lab")
    assert not alive(lab)

    user.start_lab()
    restarted = time.monotonic() - t0
    assert lab_process(wb, user.username).pid != lab
    assert user.read_notebook("work/analysis.ipynb")["cells"][0]["outputs"] == saved["cells"][0]["outputs"]
    assert user.run("print(6 * 7)") == "42\n"
    record("lab killed (SIGKILL, local)", hub_noticed_s=noticed, lab_again_s=restarted, lost="nothing")


@pytest.fixture(scope="module")
def docker_wb(lab_image: object, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workbench]:
    need_docker()
    need_executable("node")
    from workbench.spawners.docker import instance_prefix

    state = tmp_path_factory.mktemp("wb-docker")
    prefix = instance_prefix(SimpleNamespace(state_dir=state))
    workbench = start_workbench(
        state, env={"WORKBENCH_SPAWNER": "docker", "WORKBENCH_IMAGE": lab_image.image}
    )  # type: ignore[attr-defined]
    workbench.prefix = prefix  # type: ignore[attr-defined]
    try:
        yield workbench
    finally:
        code = workbench.stop()
        left = C.docker_names("container", prefix)
        C.remove_instance_objects(prefix)
        assert code == 0 and left == [], (code, left)


@pytest.mark.docker
@pytest.mark.timeout(3600)
def test_docker_lab_container_removed_is_noticed_and_the_user_starts_again_on_the_same_home(
    docker_wb: Workbench,
) -> None:
    wb = docker_wb
    user = WebUser(wb.url, "neo-analyst", "dev-neo-analyst")
    user.login()
    user.start_lab()
    saved = notebook("x = 1", "saved before the removal")
    assert user.save_notebook("work/analysis.ipynb", saved).status_code == 201
    (container,) = C.docker_names("container", f"{wb.prefix}-lab-neo")  # type: ignore[attr-defined]
    subprocess.run(["docker", "rm", "--force", container], check=True, capture_output=True)
    t0 = time.monotonic()

    r = user.session.get(f"{user.lab}/lab", timeout=30)
    assert r.status_code in {200, 424, 503}, r.status_code
    noticed = wait_until(
        lambda: user.server() is None, NOTICE_BOUND_S, "the hub noticing the removed container"
    )

    user.start_lab()
    restarted = time.monotonic() - t0
    assert C.docker_names("container", f"{wb.prefix}-lab-neo") != []  # type: ignore[attr-defined]
    assert user.read_notebook("work/analysis.ipynb")["cells"][0]["outputs"] == saved["cells"][0]["outputs"]
    assert user.run("print(6 * 7)") == "42\n"
    record("lab container removed (docker)", hub_noticed_s=noticed, lab_again_s=restarted, lost="nothing")
