"""The one log schema (workbench.logs): lines of JupyterHub, the proxy, tornado and anything else put in
it; the formatter of the workbench's own services; the request id taken from the front or made."""

from __future__ import annotations

import json
import logging
import subprocess
import sys

from workbench.logs import SCHEMA, JsonFormatter, LinePump, request_id, to_record


def test_jupyterhub_lines_give_level_service_and_the_user_of_access_lines() -> None:
    line = "[W 2026-12-02 10:00:00.123 JupyterHub log:192] 403 GET /hub/api/users (swe-scientist@127.0.0.1) 3.21ms\n"
    entry = to_record(line, "hub")
    assert tuple(entry) == SCHEMA
    assert entry["level"] == "WARNING" and entry["service"] == "hub" and entry["user"] == "swe-scientist"
    assert entry["message"] == "403 GET /hub/api/users (swe-scientist@127.0.0.1) 3.21ms"
    # another logger of the hub's process (alembic) stays the hub's; a lab's own prefix is the lab's
    alembic = to_record("[I 2026-12-02 10:00:00.123 alembic.runtime.migration migration:207] Running", "hub")
    assert alembic["service"] == "hub" and alembic["user"] is None
    assert to_record("[E 2026-12-02 10:00:00.123 ServerApp] boom", "hub")["service"] == "lab"


def test_proxy_tornado_and_plain_lines() -> None:
    proxy = to_record("2026-12-02T10:00:00.394Z [ConfigProxy] \x1b[31merror\x1b[39m: 503 GET /user/x/", "hub")
    assert (proxy["service"], proxy["level"], proxy["message"]) == ("proxy", "ERROR", "503 GET /user/x/")
    culler = to_record("[W 251202 10:00:00 __init__:156] Culling server alice", "idle-culler")
    assert (culler["service"], culler["level"], culler["message"]) == (
        "idle-culler",
        "WARNING",
        "Culling server alice",
    )
    plain = to_record('Traceback (most recent call last): {"not": "ours"}', "hub")
    assert (plain["service"], plain["level"]) == ("hub", "INFO")
    # a JSON line of the schema passes as it is; any other JSON is text
    ours = json.dumps(dict.fromkeys(SCHEMA, "x"))
    assert to_record(ours, "hub") == json.loads(ours)
    assert to_record('{"level": "ERROR"}', "hub")["message"] == '{"level": "ERROR"}'


def test_formatter_writes_the_schema_with_user_request_id_and_traceback() -> None:
    logger = logging.getLogger("test.logs")
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logger.addHandler(handler)
    try:
        logger.warning("run %d refused", 7, extra={"user": "operator", "request_id": "r-1"})
        try:
            raise ValueError("bad <input>")
        except ValueError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
    first, second = (json.loads(JsonFormatter("jobs").format(r)) for r in records)
    assert tuple(first) == SCHEMA
    assert first["level"] == "WARNING" and first["service"] == "jobs" and first["message"] == "run 7 refused"
    assert (first["user"], first["request_id"]) == ("operator", "r-1")
    assert second["user"] is None and "ValueError: bad <input>" in second["message"]


def test_request_id_is_the_fronts_when_plain_else_new() -> None:
    assert request_id({"X-Request-Id": "0f3a-77.b_c"}) == "0f3a-77.b_c"
    made = {
        request_id({"X-Request-Id": 'x" {"level": "ERROR"}'}),
        request_id({}),
        request_id({"X-Request-Id": "a" * 65}),
    }
    assert len(made) == 3 and all(len(r) == 32 and r.isalnum() for r in made)


def test_pump_turns_a_childs_every_line_into_the_schema() -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", "import sys; print('plain'); print('[E 2026-12-02 10:00:00.000 JupyterHub app:1] x'); sys.stderr.write('err\\n')"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    out: list[str] = []
    assert child.stdout is not None
    pump = LinePump(child.stdout, "hub", out.append)
    pump.start()
    child.wait(30)
    pump.join(30)
    entries = [json.loads(line) for line in out]
    assert [e["message"] for e in entries] == ["plain", "x", "err"]
    assert [e["level"] for e in entries] == ["INFO", "ERROR", "INFO"]
