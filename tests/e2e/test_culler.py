"""The idle culler (`workbench.culler`): a lab nobody uses is stopped after WORKBENCH_CULL_IDLE_TIMEOUT,
not before; the user, their home and their files stay, and they start again from the home page."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.e2e.harness import Workbench, start_workbench
from tests.e2e.webuser import WebUser, notebook
from tests.support import need_executable

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TIMEOUT_S = 20
EVERY_S = 5


@pytest.fixture(scope="module")
def wb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workbench]:
    need_executable("node")
    workbench = start_workbench(
        tmp_path_factory.mktemp("state"),
        {"WORKBENCH_CULL_IDLE_TIMEOUT": str(TIMEOUT_S), "WORKBENCH_CULL_EVERY": str(EVERY_S)},
    )
    yield workbench
    assert workbench.stop() == 0, workbench.log_tail()


def test_an_idle_lab_is_stopped_after_the_timeout_and_the_user_starts_again(wb: Workbench) -> None:
    services = {s["name"] for s in wb.api("GET", "/services").json().values()}
    assert "idle-culler" in services
    user = WebUser(wb.url, "swe-scientist", "dev-swe-scientist")
    user.login()
    user.start_lab()
    saved = notebook("x = 1", "saved before the cull")
    assert user.save_notebook("work/kept.ipynb", saved).status_code == 201
    started = time.monotonic()
    last_used = wb.user("swe-scientist")["servers"][""]["last_activity"]

    # Not before the timeout: the lab still runs half-way through it.
    time.sleep(TIMEOUT_S / 2)
    assert user.server() is not None, "culled before WORKBENCH_CULL_IDLE_TIMEOUT"

    deadline = started + TIMEOUT_S + 4 * EVERY_S + 60  # timeout, a few looks, a loaded machine
    while user.server() is not None:
        assert time.monotonic() < deadline, (
            f"idle lab still running; last activity {last_used}\n{wb.log_tail()}"
        )
        time.sleep(1)
    culled_after = time.monotonic() - started
    print(
        f"idle lab culled {culled_after:.1f} s after its last use (timeout {TIMEOUT_S} s, every {EVERY_S} s)"
    )
    assert culled_after >= TIMEOUT_S / 2

    # The user is kept (only servers are culled), their home with it.
    assert wb.user("swe-scientist")["name"] == "swe-scientist"
    user.start_lab()
    assert user.read_notebook("work/kept.ipynb")["cells"][0]["outputs"] == saved["cells"][0]["outputs"]
    log = (wb.state_dir / "logs" / "hub.log").read_text()
    assert "idle-culler" in log
