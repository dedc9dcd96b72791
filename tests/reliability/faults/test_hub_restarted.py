"""Fault: the hub stops under running labs — restarted by an admin (SIGTERM) or crashed (SIGKILL).

``workbench up`` starts a hub that exits unasked again (:mod:`workbench.supervisor`); the hub leaves
the labs and its proxy running when it stops (``cleanup_servers``/``cleanup_proxy`` off), and the new
hub resumes the labs from its database. With the local spawner the labs were the old hub's children:
they re-parent to ``workbench up`` and keep running. Users keep their kernels, their files and their
login; the new hub can stop and start their labs as before. The jobs service of a killed hub ends with
it, so only the new hub's copy runs. ``workbench up``'s stop leaves no process behind.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator

import psutil
import pytest
import requests

from tests.e2e.harness import Workbench, start_workbench
from tests.e2e.webuser import WebUser, notebook
from tests.reliability.faults.support import alive, record, recorded_pid, wait_until
from tests.support import need_executable

pytestmark = [pytest.mark.integration, pytest.mark.slow]

RESTART_BOUND_S = 120.0
"""The new hub serves the same sessions within this [s] (a hub start on a loaded 2-core machine)."""


@pytest.fixture(scope="module")
def wb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workbench]:
    need_executable("node")
    workbench = start_workbench(tmp_path_factory.mktemp("state"))
    yield workbench
    # The stop leaves nothing behind, the labs and the proxy of the earlier hubs included.
    everything = workbench.processes()
    assert workbench.stop() == 0, workbench.log_tail()
    deadline = time.monotonic() + 15
    while [p for p in everything if alive(p.pid)] and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not [" ".join(p.cmdline()) for p in everything if alive(p.pid)]


@pytest.fixture(scope="module")
def user(wb: Workbench) -> WebUser:
    u = WebUser(wb.url, "neo-analyst", "dev-neo-analyst")
    u.login()
    u.start_lab()
    assert u.save_notebook("kept.ipynb", notebook("x = 1", "saved before the restart")).status_code == 201
    return u


def _lab_pid(wb: Workbench, name: str) -> int:
    """The user's local server: a jupyterhub-singleuser running in the user's directory."""
    for p in wb.processes():
        try:
            if "jupyterhub-singleuser" in " ".join(p.cmdline()) and p.cwd() == str(
                wb.state_dir / "users" / name
            ):
                return p.pid
        except psutil.Error:
            continue
    raise AssertionError(f"no server process of {name}")


def _jobs_services(wb: Workbench) -> list[psutil.Process]:
    out = []
    for p in wb.processes():
        try:
            if p.status() != psutil.STATUS_ZOMBIE and "workbench.jobs.service" in " ".join(p.cmdline()):
                out.append(p)
        except psutil.Error:
            pass
    return out


def _restart(wb: Workbench, user: WebUser, sig: int, label: str) -> None:
    lab = _lab_pid(wb, user.username)
    hub = recorded_pid(wb, "jupyterhub.pid")
    jobs_before = [p.pid for p in _jobs_services(wb)]
    kernel = user.start_kernel()
    with user.kernel_socket(kernel) as ws:
        assert user.execute(ws, "state = 41; print(state)") == "41\n"
    proxy = recorded_pid(wb, "proxy.pid")
    os.kill(hub, sig)
    t0 = time.monotonic()
    wait_until(lambda: not alive(hub), 60, "the old hub to exit")

    # Meanwhile the lab answers through the proxy the old hub left, which the new hub adopts.
    lab_answers: list[bool] = []

    def hub_back() -> bool:
        lab_answers.append(user.lab_api("GET", "/kernels").status_code == 200)
        if recorded_pid(wb, "jupyterhub.pid") == hub:
            return False
        r = user.session.get(f"{wb.url}/hub/home", timeout=10, allow_redirects=False)
        return r.status_code == 200  # the same cookie: no new login

    wait_until(hub_back, RESTART_BOUND_S, "the new hub serving the same session", every=0.5)
    back = time.monotonic() - t0  # from the signal: the old hub's own shutdown included
    assert lab_answers and all(lab_answers), f"the lab did not answer {lab_answers.count(False)} times"
    assert recorded_pid(wb, "proxy.pid") == proxy and alive(proxy), "the proxy was replaced, not adopted"
    assert _lab_pid(wb, user.username) == lab and alive(lab), "the lab was restarted, not kept"
    assert user.server() is not None and user.server()["ready"]

    wait_until(lambda: user.lab_api("GET", "/kernels").status_code == 200, RESTART_BOUND_S, "the lab's route")
    with user.kernel_socket(kernel) as ws:
        assert user.execute(ws, "print(state + 1)") == "42\n"
    resumed = time.monotonic() - t0
    doc = user.read_notebook("kept.ipynb")
    assert doc["cells"][0]["outputs"][0]["text"] == "saved before the restart"
    user.delete_kernel(kernel)

    # Exactly one jobs service, the new hub's, and it answers.
    wait_until(
        lambda: requests.get(f"{wb.url}/services/jobs/api/v1/openapi.json", timeout=10).status_code == 200,
        RESTART_BOUND_S,
        "the jobs service",
    )
    services = _jobs_services(wb)
    assert len(services) == 1 and services[0].pid not in jobs_before, [p.pid for p in services]
    assert "restarting it" in wb.output.read_text()
    record(
        label,
        hub_back_s=back,
        lab_requests_during_restart=len(lab_answers),
        lab_requests_failed=lab_answers.count(False),
        kernel_resumed_s=resumed,
        lost="nothing",
    )


def test_hub_restarted_by_sigterm_keeps_labs_kernels_and_logins(wb: Workbench, user: WebUser) -> None:
    _restart(wb, user, signal.SIGTERM, "hub restarted (SIGTERM)")


def test_hub_killed_is_restarted_and_keeps_labs_kernels_and_logins(wb: Workbench, user: WebUser) -> None:
    _restart(wb, user, signal.SIGKILL, "hub killed (SIGKILL)")


def test_after_restarts_the_new_hub_stops_and_starts_the_lab(wb: Workbench, user: WebUser) -> None:
    """The lab of an earlier hub is controlled by the new one: stopped for real, started again."""
    lab = _lab_pid(wb, user.username)
    user.stop_lab(bound=60)
    wait_until(lambda: not alive(lab), 30, "the old lab process to end")
    user.start_lab()
    assert user.read_notebook("kept.ipynb")["cells"][0]["outputs"][0]["text"] == "saved before the restart"
    assert _lab_pid(wb, user.username) != lab
