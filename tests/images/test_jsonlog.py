"""``images/common/s2p-jsonlog``: the service images' programs (PostgreSQL, Keycloak, nginx, Prometheus)
put into the workbench's log schema, and the wrapper a container's first process can be."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from importlib.machinery import SourceFileLoader
from importlib.util import module_from_spec, spec_from_loader

import pytest

from tests.support import ROOT
from workbench.logs import SCHEMA

SCRIPT = ROOT / "images" / "common" / "s2p-jsonlog"


def _load():
    loader = SourceFileLoader("s2p_jsonlog", str(SCRIPT))
    module = module_from_spec(spec_from_loader("s2p_jsonlog", loader))
    loader.exec_module(module)
    return module


jsonlog = _load()


def test_its_schema_is_the_workbenchs() -> None:
    assert jsonlog.SCHEMA == SCHEMA


@pytest.mark.parametrize(
    ("line", "level", "time", "message"),
    [
        (
            "2026-12-02 21:43:28.123 UTC [1] LOG:  database system is ready to accept connections",
            "INFO", "2026-12-02T21:43:28.123Z", "database system is ready to accept connections",
        ),
        (
            '2026-12-02 21:43:29.5 UTC [33] FATAL:  password authentication failed for user "jobs"',
            "CRITICAL", "2026-12-02T21:43:29.500Z", 'password authentication failed for user "jobs"',
        ),
        (
            "2026/12/02 21:43:28 [error] 7#7: *1 connect() failed (111: Connection refused) while connecting",
            "ERROR", "2026-12-02T21:43:28.000Z", "7#7: *1 connect() failed (111: Connection refused) while connecting",
        ),
        (
            '{"timestamp":"2026-12-02T21:43:28.123+0000","sequence":9,"loggerClassName":"org.jboss.logging.Logger",'
            '"loggerName":"io.quarkus","level":"WARN","message":"Keycloak started","threadName":"main",'
            '"threadId":1,"mdc":{},"ndc":"","hostName":"h","processName":"QuarkusEntryPoint","processId":7}',
            "WARNING", "2026-12-02T21:43:28.123Z", "quarkus: Keycloak started",
        ),
        (
            '{"caller":"main.go:585","level":"info","msg":"Starting Prometheus Server","mode":"server",'
            '"ts":"2026-12-02T21:43:28.123Z"}',
            "INFO", "2026-12-02T21:43:28.123Z", "Starting Prometheus Server (mode=server)",
        ),
        (
            '{"timestamp":"2026-12-02T21:43:28.123Z","level":"ERROR","loggerName":"org.keycloak.services",'
            '"message":"Failed","exception":{"exceptionType":"java.lang.IllegalStateException","message":"boom"}}',
            "ERROR", "2026-12-02T21:43:28.123Z", "services: Failed [java.lang.IllegalStateException: boom]",
        ),
    ],
)  # fmt: skip
def test_each_programs_lines_keep_their_time_and_level(
    line: str, level: str, time: str, message: str
) -> None:
    e = jsonlog.to_entry(line + "\n", "svc")
    assert tuple(e) == SCHEMA
    assert (e["level"], e["time"], e["message"], e["service"], e["user"]) == (
        level,
        time,
        message,
        "svc",
        None,
    )


def test_a_line_already_in_the_schema_passes_and_anything_else_is_info_text() -> None:
    ours = {"time": "2026-12-02T10:00:00.000Z", "level": "INFO", "service": "front", "user": None,
            "request_id": "abc", "message": "GET / 200"}  # fmt: skip
    assert jsonlog.to_entry(json.dumps(ours), "front") == ours
    plain = jsonlog.to_entry("\x1b[32mUpdating the configuration\x1b[0m", "keycloak")
    assert (plain["level"], plain["message"]) == ("INFO", "Updating the configuration")
    assert jsonlog.to_entry("{not json", "x")["message"] == "{not json"


def _wrapped(*command: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(SCRIPT), "svc", "--", *command],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_the_wrapper_turns_stdout_and_stderr_into_json_lines_and_keeps_the_exit_status() -> None:
    proc = _wrapped("sh", "-c", "echo out; echo err >&2; exit 3")
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 3, err
    entries = [json.loads(line) for line in out.splitlines()]
    assert sorted(e["message"] for e in entries) == ["err", "out"]
    assert all(tuple(e) == SCHEMA and e["service"] == "svc" for e in entries)


def test_the_wrapper_forwards_sigterm_to_the_program() -> None:
    proc = _wrapped("sh", "-c", "trap 'echo got TERM; exit 0' TERM; echo ready; while :; do sleep 0.1; done")
    assert json.loads(proc.stdout.readline())["message"] == "ready"
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert json.loads(out.splitlines()[0])["message"] == "got TERM"


def test_the_wrapper_says_why_a_program_cannot_start_and_refuses_a_bad_call() -> None:
    proc = _wrapped("/nonexistent/program")
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 127 and json.loads(out)["level"] == "CRITICAL"
    bad = subprocess.run([sys.executable, str(SCRIPT), "svc", "program"], capture_output=True, text=True)
    assert bad.returncode == 2 and "usage" in bad.stderr


def test_a_program_killed_by_a_signal_exits_as_a_shell_would_say() -> None:
    started = time.monotonic()
    proc = _wrapped("sh", "-c", "kill -KILL $$")
    proc.communicate(timeout=30)
    assert proc.returncode == 128 + signal.SIGKILL and time.monotonic() - started < 30


def test_nginx_access_lines_keep_their_request_id_and_an_empty_user_is_null() -> None:
    line = (
        '{"time":"2026-12-02T10:00:00+00:00","level":"INFO","service":"front","user":"",'
        '"request_id":"4f2a","message":"GET /hub/home 200 5120 B 0.012 s 127.0.0.1"}'
    )
    e = jsonlog.to_entry(line, "front")
    assert e == {
        "time": "2026-12-02T10:00:00.000Z",
        "level": "INFO",
        "service": "front",
        "user": None,
        "request_id": "4f2a",
        "message": "GET /hub/home 200 5120 B 0.012 s 127.0.0.1",
    }
