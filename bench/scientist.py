"""One synthetic scientist's day: the scenario of ``bench/synthetic_users.py``, step by step, timed.

A :class:`Scientist` is a :class:`tests.e2e.webuser.WebUser` (a browser-less client with a browser's
cookies, through the public URL) that logs in through the IdP's form, starts a lab, runs a cell that
reads two catalog entries and calls two s2p kernels, saves the cell as a notebook and reads it back,
opens their segment's published tool through its gateway, makes an API token on the hub (as on its
Token page), submits a run of their segment's job and fetches its report, stops the lab, logs out.
Each step is checked on what the user would see; the first that fails ends the day with its cause.
"""

from __future__ import annotations

import contextlib
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests

from tests.e2e.webuser import XHR, WebUser, WebUserError, describe, notebook

JOB_BOUND_S = 600.0
TOOL_BOUND_S = 300.0

SEGMENT_TOOL = {"swe": "geomagnetic-storms", "debris": "conjunction-viewer", "neo": "neo-risk-list"}
"""The published tool each segment's scientist opens (public, groups and logged-in access)."""

SEGMENT_JOB = {
    "swe": ("synthetic-swe", "jobs/swe_storms.ipynb"),
    "debris": ("synthetic-debris", "jobs/debris_pc_digest.ipynb"),
    "neo": ("synthetic-neo", "jobs/neo_risk_digest.ipynb"),
}
"""Job name and notebook each segment's scientist runs (created once by :func:`ensure_jobs`)."""

CELL = """\
import numpy as np, s2p, s2p.debris as debris, s2p.neo as neo
cat = s2p.catalog()
tles = cat.debris.tle_stations.read()
times = np.datetime64("2026-05-30T12:00", "ns") + np.arange(6) * np.timedelta64(10, "m")
r, v, err = debris.sgp4(tles, times)
m = neo.moid(cat.neo.mpc_nea.read()[:200])
print("synthetic-cell", len(tles), r.shape[1], int((err == 0).sum()), len(m), round(float(m.min()), 6))
"""
"""The scientist's cell: two catalog entries (CelesTrak's stations, MPC's NEAs) and two s2p kernels."""

CELL_OUTPUT = re.compile(r"synthetic-cell (\d+) 6 (\d+) 200 ([0-9.]+)")


@dataclass
class Timings:
    """Seconds per step of scenarios, the failures, and how many scenarios finished."""

    samples: dict[str, list[float]] = field(default_factory=dict)
    failures: list[dict[str, Any]] = field(default_factory=list)
    completed: int = 0

    def add(self, step: str, seconds: float) -> None:
        self.samples.setdefault(step, []).append(seconds)


class Scientist(WebUser):
    """A scientist of ``segment`` (``swe``, ``debris`` or ``neo``): which tool and job they use."""

    def __init__(self, url: str, username: str, password: str, segment: str) -> None:
        super().__init__(url, username, password)
        self.segment = segment
        self.token = ""
        self.token_id = ""
        self.run_id = 0
        self.output = ""

    def steps(self) -> list[tuple[str, Callable[[], Any]]]:
        """The scenario, in order: (step name, action)."""
        return [
            ("login", self.login),
            ("start_lab", self.start_lab),
            ("run_cell", self.run_cell),
            ("save_notebook", self.save_and_read),
            ("open_tool", self.open_tool),
            ("submit_job", self.submit_job),
            ("job_done", self.wait_job),
            ("fetch_report", self.fetch_report),
            ("stop_lab", self.stop_lab),
            ("logout", self.finish),
        ]

    def day(self, timings: Timings, *, t0: float = 0.0) -> bool:
        """Run the scenario once, recording each step's time; stop at the first failure.

        A failure is appended to ``timings.failures`` with the step, the cause and the time since
        ``t0`` (a :func:`time.monotonic` value) [s]; the lab is then stopped (best effort).
        """
        self.session = requests.Session()
        for name, action in self.steps():
            start = time.monotonic()
            try:
                action()
            except Exception as exc:  # any failure of a step is the user's failure, with its cause
                cause = str(exc) if isinstance(exc, WebUserError) else f"{type(exc).__name__}: {exc}"
                timings.failures.append(
                    {"user": self.username, "step": name, "cause": cause[:500], "at_s": round(start - t0, 1)}
                )
                with contextlib.suppress(Exception):  # best effort: the failure is recorded already
                    self.stop_lab(bound=120)
                return False
            timings.add(name, time.monotonic() - start)
        timings.completed += 1
        return True

    # -- steps --------------------------------------------------------------------------------------

    def run_cell(self) -> None:
        self.output = self.run(CELL)
        m = CELL_OUTPUT.search(self.output)
        if not m or int(m.group(1)) < 1 or int(m.group(2)) < 1:
            raise WebUserError(f"the cell printed {self.output[-300:]!r}")

    def save_and_read(self) -> None:
        path = f"synthetic/day-{uuid.uuid4().hex[:8]}.ipynb"
        r = self.save_notebook(path, notebook(CELL, self.output))
        if r.status_code not in {200, 201}:
            raise WebUserError(f"saving {path}: {describe(r)}")
        if self.read_notebook(path)["cells"][0]["source"] != CELL:
            raise WebUserError(f"{path} reads back differently")

    def open_tool(self) -> None:
        """The segment's tool: its page through the gateway, then the tab closed (Voila's shutdown call)."""
        tool = SEGMENT_TOOL[self.segment]
        r = self.session.get(f"{self.url}/services/{tool}/", timeout=TOOL_BOUND_S)
        if r.status_code != 200 or "voila" not in r.text.lower():
            raise WebUserError(f"tool {tool}: {describe(r)}")
        kernel = re.search(r'kernelId["\']?\s*[:=]\s*["\']([0-9a-f-]{36})', r.text)
        if kernel:
            self.session.post(
                f"{self.url}/services/{tool}/voila/api/shutdown/{kernel.group(1)}", headers=XHR, timeout=60
            )

    def _jobs(self, method: str, path: str, body: Any = None) -> requests.Response:
        return requests.request(
            method,
            f"{self.url}/services/jobs/api/v1/{path}",
            json=body,
            headers={"Authorization": f"token {self.token}"},
            timeout=120,
        )

    def submit_job(self) -> None:
        self.token, self.token_id = self.new_token("synthetic user")
        job, _ = SEGMENT_JOB[self.segment]
        r = self._jobs("POST", f"jobs/{job}/runs", {})
        if r.status_code != 201:
            raise WebUserError(f"run of {job}: {describe(r)}")
        self.run_id = int(r.json()["id"])

    def wait_job(self) -> None:
        deadline = time.monotonic() + JOB_BOUND_S
        while time.monotonic() < deadline:
            r = self._jobs("GET", f"runs/{self.run_id}")
            if r.status_code != 200:
                raise WebUserError(f"run {self.run_id}: {describe(r)}")
            status = r.json()["status"]
            if status == "succeeded":
                return
            if status in {"failed", "timed_out", "cancelled"}:
                raise WebUserError(f"run {self.run_id} {status}: {r.json().get('error')}")
            time.sleep(1.0)
        raise WebUserError(f"run {self.run_id} not finished after {JOB_BOUND_S:.0f} s")

    def fetch_report(self) -> None:
        r = self._jobs("GET", f"runs/{self.run_id}/report")
        if r.status_code != 200 or "<html" not in r.text.lower():
            raise WebUserError(f"report of run {self.run_id}: {describe(r)}")

    def finish(self) -> None:
        """Revoke the day's token (Token page), then log out."""
        if self.token_id:
            self.hub_api("DELETE", f"/users/{self.username}/tokens/{self.token_id}")
        self.logout()


def ensure_jobs(url: str, operator: str, password: str) -> None:
    """Create the jobs of :data:`SEGMENT_JOB` when absent, as an operator would (set-up, not timed).

    Raises
    ------
    WebUserError
        If the operator cannot log in or a job cannot be created.
    """
    op = Scientist(url, operator, password, "debris")
    op.login()
    op.token, _ = op.new_token("synthetic users set-up", expires_in=600)
    for segment, (name, path) in SEGMENT_JOB.items():
        if op._jobs("GET", f"jobs/{name}").status_code == 200:
            continue
        body = {
            "name": name,
            "segment": segment,
            "notebook": path,
            "timeout_s": int(JOB_BOUND_S),
            "description": "run by bench/synthetic_users.py",
        }
        r = op._jobs("POST", "jobs", body)
        if r.status_code != 201:
            raise WebUserError(f"creating job {name}: {describe(r)}")
