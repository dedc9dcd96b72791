"""The jobs service asks the hub for a caller's groups: a hub that is slow or down costs the caller a
503 that says so after a few tries — never a 500 — and a hub that answers late is waited for."""

from __future__ import annotations

import asyncio
import json
import socket
from dataclasses import replace
from pathlib import Path

import pytest
from tornado import web

from workbench.jobs import state as state_module
from workbench.jobs.factory import build_state
from workbench.jobs.model import JobError
from workbench.settings import Settings


class FlakyUsers(web.RequestHandler):
    """``/users/<name>``: answers the first ``failures`` requests with ``status``, then the model."""

    def initialize(self, calls: list[str], failures: int, status: int) -> None:
        self.calls, self.failures, self.status = calls, failures, status

    async def get(self, name: str) -> None:
        self.calls.append(name)
        if len(self.calls) <= self.failures:
            if self.status == 0:  # too slow: longer than the client waits
                await asyncio.sleep(3)
            self.set_status(self.status or 200)
            self.finish("{}")
            return
        self.finish(json.dumps({"name": name, "groups": ["debris", "operators"], "admin": False}))


def _state(tmp_path: Path, port: int):  # type: ignore[no-untyped-def]
    settings = Settings.from_env({"WORKBENCH_STATE_DIR": str(tmp_path / "state")})
    return replace(build_state(settings), hub_api_url=f"http://127.0.0.1:{port}/hub/api", api_token="t")


async def _ask(tmp_path: Path, failures: int, status: int) -> tuple[list[str], object]:
    calls: list[str] = []
    app = web.Application([(r"/hub/api/users/([^/]+)", FlakyUsers, {"calls": calls, "failures": failures, "status": status})])  # fmt: skip
    server = app.listen(0, address="127.0.0.1")
    port = next(iter(server._sockets.values())).getsockname()[1]
    try:
        result: object = await _state(tmp_path, port).identity({"name": "operator", "kind": "user"})
    except JobError as exc:
        result = exc
    finally:
        server.stop()
    return calls, result


@pytest.fixture(autouse=True)
def quick_hub_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(state_module, "HUB_TIMEOUT_S", 1.0)


def test_a_hub_that_is_slow_or_failing_at_first_is_asked_again(tmp_path: Path) -> None:
    for status in (0, 502):
        calls, who = asyncio.run(_ask(tmp_path / str(status), failures=2, status=status))
        assert len(calls) == 3 and who.groups == frozenset({"debris", "operators"}), (status, who)  # type: ignore[attr-defined]


def test_a_hub_that_never_answers_gives_a_503_not_a_500(tmp_path: Path) -> None:
    calls, error = asyncio.run(_ask(tmp_path, failures=10, status=0))
    assert isinstance(error, JobError) and error.status == 503 and len(calls) == 3
    assert "the hub did not answer for user operator" in error.message and "try again" in error.message
    # a refusal is not retried
    calls, error = asyncio.run(_ask(tmp_path / "403", failures=10, status=403))
    assert isinstance(error, JobError) and error.status == 503 and len(calls) == 1


def test_a_hub_that_is_down_gives_a_503(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(JobError) as refused:
        asyncio.run(_state(tmp_path, port).identity({"name": "operator", "kind": "user"}))
    assert refused.value.status == 503
