"""Fault: the proxy (configurable-http-proxy) is killed under logged-in users with running kernels.

The hub checks its proxy every few seconds (``ConfigurableHTTPProxy.check_running_interval``), starts
a new one and puts every route back (labs, jobs service, tools). A user's browser keeps its hub cookie,
and JupyterLab reconnects its kernel websockets: the kernel, its variables and the saved files are
those of before.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator

import pytest
import requests
import websocket

from tests.e2e.harness import SHIPPED_TOOLS, Workbench, start_workbench
from tests.e2e.webuser import WebUser, notebook
from tests.reliability.faults.support import alive, record, recorded_pid, wait_until
from tests.support import need_executable

pytestmark = [pytest.mark.integration, pytest.mark.slow]

RECOVERY_BOUND_S = 60.0
"""A new proxy serves the same session within this [s] (the hub checks its proxy every 5 s)."""


@pytest.fixture(scope="module")
def wb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workbench]:
    need_executable("node")
    workbench = start_workbench(tmp_path_factory.mktemp("state"), {"WORKBENCH_APPS_DIR": str(SHIPPED_TOOLS)})
    yield workbench
    assert workbench.stop() == 0, workbench.log_tail()


def test_proxy_killed_is_restarted_and_sessions_and_kernels_recover(wb: Workbench) -> None:
    user = WebUser(wb.url, "swe-scientist", "dev-swe-scientist")
    user.login()
    user.start_lab()
    assert user.save_notebook("before.ipynb", notebook("x = 1", "saved before")).status_code == 201
    kernel = user.start_kernel()
    proxy = recorded_pid(wb, "proxy.pid")
    with user.kernel_socket(kernel) as ws:
        assert user.execute(ws, "state = 41; print(state)") == "41\n"
        os.kill(proxy, signal.SIGKILL)
        t0 = time.monotonic()
        # The open websocket goes down with the proxy: the browser sees its connection closed.
        with pytest.raises((websocket.WebSocketException, OSError)):
            user.execute(ws, "print('through a dead proxy')", bound=20)

    # The same browser session, through the new proxy: the hub's home page, without a new login.
    def home() -> bool:
        r = user.session.get(f"{wb.url}/hub/home", timeout=10, allow_redirects=False)
        return r.status_code == 200

    hub_back = wait_until(home, RECOVERY_BOUND_S, "the hub's home page through a new proxy")
    new_proxy = recorded_pid(wb, "proxy.pid")
    assert new_proxy != proxy and alive(new_proxy) and not alive(proxy)

    # The lab's route is back, and JupyterLab's reconnect finds the same kernel with its state.
    wait_until(
        lambda: user.lab_api("GET", "/kernels").status_code == 200, RECOVERY_BOUND_S, "the lab's route"
    )
    with user.kernel_socket(kernel) as ws:
        assert user.execute(ws, "print(state + 1)") == "42\n"
    lab_back = time.monotonic() - t0
    assert user.read_notebook("before.ipynb")["cells"][0]["outputs"][0]["text"] == "saved before"

    # The services' routes are back too: the jobs API and a public tool.
    r = requests.get(f"{wb.url}/services/jobs/api/v1/openapi.json", timeout=30)
    assert r.status_code == 200 and r.json()["openapi"].startswith("3.")
    wait_until(
        lambda: user.session.get(f"{wb.url}/services/geomagnetic-storms/", timeout=120).status_code == 200,
        RECOVERY_BOUND_S,
        "the public tool's page",
    )
    user.delete_kernel(kernel)
    record("proxy killed (SIGKILL)", hub_home_back_s=hub_back, kernel_reconnected_s=lab_back, lost="nothing")
