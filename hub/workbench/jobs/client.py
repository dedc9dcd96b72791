"""A small client of the jobs REST API (used by ``workbench jobs …``; usable from scripts and notebooks)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import requests

API_PATH = "/services/jobs/api/v1"
"""The API root's path under the hub's URL (through the proxy, as a browser reaches it)."""

FINAL = ("succeeded", "failed", "timed_out", "cancelled")


class ClientError(RuntimeError):
    """The service refused a request or could not be reached; ``status`` is the HTTP status (0: no answer)."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class JobsClient:
    """Calls ``<hub>/services/jobs/api/v1/…`` with a hub API token.

    Parameters
    ----------
    base_url
        The API root, e.g. ``http://127.0.0.1:8000/services/jobs/api/v1``.
    token
        A JupyterHub API token (a user's, or the workbench-admin service's).
    timeout
        Seconds to wait for each answer [s].
    """

    def __init__(self, base_url: str, token: str, *, timeout: float = 60.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"token {token}"
        self.timeout = timeout

    def request(self, method: str, path: str, body: Any = None) -> requests.Response:
        """One call; :class:`ClientError` with the service's message for any answer but 2xx."""
        url = f"{self.base_url}/{path.lstrip('/')}"
        try:
            r = self.session.request(method, url, json=body, timeout=self.timeout, allow_redirects=False)
        except requests.RequestException as exc:
            raise ClientError(f"the jobs service at {self.base_url} does not answer: {exc}") from None
        if r.status_code >= 300:
            try:
                message = r.json()["error"]
            except (ValueError, KeyError, TypeError):
                message = r.text.strip()[:300] or r.reason
            if r.status_code in {404, 503} and "jobs service" not in message and not r.text.startswith("{"):
                message = f"{message} (is the hub running with the jobs service at {self.base_url}?)"
            raise ClientError(f"HTTP {r.status_code}: {message}", r.status_code)
        return r

    def json(self, method: str, path: str, body: Any = None) -> Any:
        r = self.request(method, path, body)
        return r.json() if r.content else None

    # -- the API ------------------------------------------------------------------------------------

    def jobs(self) -> list[dict[str, Any]]:
        return list(self.json("GET", "jobs")["jobs"])

    def job(self, name: str) -> dict[str, Any]:
        return dict(self.json("GET", f"jobs/{name}"))

    def create(self, spec: dict[str, Any]) -> dict[str, Any]:
        return dict(self.json("POST", "jobs", spec))

    def update(self, name: str, changes: dict[str, Any]) -> dict[str, Any]:
        return dict(self.json("PATCH", f"jobs/{name}", changes))

    def delete(self, name: str) -> None:
        self.request("DELETE", f"jobs/{name}")

    def start(
        self, name: str, parameters: dict[str, Any] | None = None, trigger: str = "api"
    ) -> dict[str, Any]:
        return dict(
            self.json("POST", f"jobs/{name}/runs", {"parameters": parameters or {}, "trigger": trigger})
        )

    def runs(self, name: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
        path = f"jobs/{name}/runs?limit={limit}" if name else f"runs?limit={limit}"
        return list(self.json("GET", path)["runs"])

    def run(self, run_id: int) -> dict[str, Any]:
        return dict(self.json("GET", f"runs/{run_id}"))

    def log(self, run_id: int) -> str:
        return self.request("GET", f"runs/{run_id}/log").text

    def scraps(self, run_id: int) -> dict[str, Any]:
        return dict(self.json("GET", f"runs/{run_id}/scraps")["scraps"])

    def cancel(self, run_id: int) -> dict[str, Any]:
        return dict(self.json("POST", f"runs/{run_id}/cancel"))

    def wait(
        self,
        run_id: int,
        *,
        poll_s: float = 1.0,
        timeout_s: float | None = None,
        on_change: Callable[[dict[str, Any]], None] | None = None,
    ) -> dict[str, Any]:
        """Poll a run until it is final; call ``on_change`` whenever its status or progress changes.

        Raises
        ------
        ClientError
            If ``timeout_s`` [s] passes first.
        """
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        seen = None
        while True:
            run = self.run(run_id)
            key = (run["status"], run["progress"]["cells_done"], run["progress"]["cells_total"])
            if key != seen and on_change is not None:
                on_change(run)
            seen = key
            if run["status"] in FINAL:
                return run
            if deadline is not None and time.monotonic() > deadline:
                raise ClientError(f"run {run_id} still {run['status']} after {timeout_s:.0f} s")
            time.sleep(poll_s)
