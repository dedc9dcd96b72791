"""One log schema for every process of the workbench, as JSON lines for a log shipper (ELK, Loki).

With ``WORKBENCH_LOG_FORMAT=json`` every line a workbench process writes to its standard output is one
JSON object with exactly the keys of :data:`SCHEMA`::

    {"time": "2026-12-02T10:00:00.123Z", "level": "INFO", "service": "jobs", "user": "operator",
     "request_id": "9f0c…", "message": "201 POST /services/jobs/api/v1/jobs/pc-digest/runs 12.3ms"}

- ``time``: UTC, ISO 8601 with milliseconds; ``level``: ``DEBUG``, ``INFO``, ``WARNING``, ``ERROR`` or
  ``CRITICAL``; ``service``: which process (``hub``, ``proxy``, ``jobs``, ``tool:<name>``, ``idp``,
  ``idle-culler``…); ``user``: the hub user the line is about, ``null`` when none; ``request_id``: the
  HTTP request's ``X-Request-Id`` (set by the TLS front, else made by the service), ``null`` outside a
  request; ``message``: the text (a traceback is appended to it).

The workbench's own services log through :class:`JsonFormatter` (:func:`configure`). Processes it does
not write (JupyterHub, configurable-http-proxy, a service's stray ``print``) are read by ``workbench up``
line by line and each line is put in the schema by :func:`to_record` (:class:`LinePump`): JupyterHub's
and the proxy's own prefixes give the level, the service and, for the hub's access lines, the user.
"""

from __future__ import annotations

import io
import json
import logging
import re
import sys
import threading
import time
import uuid
from collections.abc import Callable
from typing import IO, Any

SCHEMA = ("time", "level", "service", "user", "request_id", "message")
"""The keys of every JSON log line, in order."""
FORMATS = ("text", "json")
LEVELS = {"D": "DEBUG", "I": "INFO", "W": "WARNING", "E": "ERROR", "C": "CRITICAL"}

# [I 2026-12-02 10:00:00.123 JupyterHub app:3340] message   (JupyterHub, its services, the single-user)
_JUPYTER = re.compile(
    r"^\[(?P<l>[DIWEC]) [\d\-]+ [\d:.]+ (?P<name>[\w.\-]+)(?: [\w.\-]+:\d+)?\]\s?(?P<m>.*)$"
)
# [I 251202 10:00:00 module:123] message                       (tornado's default, e.g. the idle culler)
_TORNADO = re.compile(r"^\[(?P<l>[DIWEC]) \d{6} [\d:]+ [\w.\-]+:\d+\]\s?(?P<m>.*)$")
# 2026-12-02T10:00:00.123Z [ConfigProxy] info: message          (configurable-http-proxy, colours removed)
_PROXY = re.compile(r"^\S+ \[ConfigProxy\] (?P<l>\w+): (?P<m>.*)$")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
# 200 GET /hub/api/users (swe-scientist@127.0.0.1) 3.21ms         (JupyterHub's access lines)
_ACCESS_USER = re.compile(r"^\d{3} [A-Z]+ \S+ \((?P<user>[^@()\s]+)@[^)]*\)")
_SERVICES = {
    "JupyterHub": "hub",
    "ServerApp": "lab",
    "LabApp": "lab",
    "SingleUserLabApp": "lab",
    "JupyterHubSingleUser": "lab",
    "Voila": "tool",
    "VoilaApp": "tool",
    "IdleCuller": "idle-culler",
}
"""The service of a JupyterHub-style line, by the application name in its prefix."""
_WORDS = {"debug": "DEBUG", "info": "INFO", "warn": "WARNING", "warning": "WARNING", "error": "ERROR"}


def now_iso(seconds: float | None = None) -> str:
    """``seconds`` (default: now) as UTC ISO 8601 with milliseconds and ``Z``."""
    t = time.time() if seconds is None else seconds
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1000):03d}Z"


def record(
    message: str,
    *,
    service: str,
    level: str = "INFO",
    user: str | None = None,
    request_id: str | None = None,
    at: float | None = None,
) -> dict[str, Any]:
    """One log line of the schema."""
    return {
        "time": now_iso(at),
        "level": level,
        "service": service,
        "user": user,
        "request_id": request_id,
        "message": message,
    }


class JsonFormatter(logging.Formatter):
    """Formats a :class:`logging.LogRecord` as one JSON line of the schema.

    ``user`` and ``request_id`` come from the record's attributes of those names (``extra=`` of the
    logging call), ``service`` from the record's ``service`` attribute or else the formatter's.
    """

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, rec: logging.LogRecord) -> str:
        message = rec.getMessage()
        if rec.exc_info:
            message += "\n" + self.formatException(rec.exc_info)
        line = record(
            message,
            service=str(getattr(rec, "service", None) or self.service),
            level=rec.levelname if rec.levelname in LEVELS.values() else "INFO",
            user=getattr(rec, "user", None),
            request_id=getattr(rec, "request_id", None),
            at=rec.created,
        )
        return json.dumps(line, ensure_ascii=False)


def configure(service: str, log_format: str, level: str | int = logging.INFO, *, text_format: str) -> None:
    """The root logger of a workbench process: JSON lines of ``service`` on stdout, or ``text_format``."""
    handler = logging.StreamHandler(sys.stdout if log_format == "json" else sys.stderr)
    if log_format == "json":
        handler.setFormatter(JsonFormatter(service))
    else:
        handler.setFormatter(logging.Formatter(text_format, datefmt="%H:%M:%S"))
    logging.basicConfig(level=level, handlers=[handler], force=True)


_REQUEST_ID = re.compile(r"^[\w.\-]{1,64}$")


def request_id(headers: Any) -> str:
    """The request's ``X-Request-Id`` (set by the TLS front) when it is a plain token, else a new one."""
    given = headers.get("X-Request-Id", "") if headers is not None else ""
    return given if _REQUEST_ID.match(given or "") else uuid.uuid4().hex


def access_log(handler: Any) -> None:
    """Tornado's ``log_function`` for the workbench's services: one line per request, with the hub user
    (when the hub identified one) and the request id as fields of the record."""
    status = handler.get_status()
    level = logging.INFO if status < 400 else logging.WARNING if status < 500 else logging.ERROR
    model = getattr(handler, "_hub_auth_user_cache", None) or getattr(handler, "_current_user", None)
    user = model.get("name") if isinstance(model, dict) else None
    req = handler.request
    logging.getLogger("tornado.access").log(
        level,
        "%d %s %s %.1fms",
        status,
        req.method,
        req.uri,
        1000.0 * req.request_time(),
        extra={"user": user, "request_id": request_id(req.headers)},
    )


def to_record(line: str, service: str) -> dict[str, Any]:
    """A line a process wrote, in the schema: a JSON line of the schema as it is; JupyterHub's and the
    proxy's prefixes read for the level, the service and the user; anything else as ``INFO`` text of
    ``service``."""
    text = _ANSI.sub("", line.rstrip("\r\n"))
    if text.startswith("{"):
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict) and tuple(parsed) == SCHEMA:
            return parsed
    m = _JUPYTER.match(text)
    if m:
        message = m.group("m")
        who = _SERVICES.get(m.group("name"), service)  # another logger of the same process
        access = _ACCESS_USER.match(message)
        return record(
            message,
            service=who,
            level=LEVELS[m.group("l")],
            user=access.group("user") if access else None,
        )
    m = _TORNADO.match(text)
    if m:
        return record(m.group("m"), service=service, level=LEVELS[m.group("l")])
    m = _PROXY.match(text)
    if m:
        return record(m.group("m"), service="proxy", level=_WORDS.get(m.group("l").lower(), "INFO"))
    return record(text, service=service)


class LinePump(threading.Thread):
    """Reads a child's output line by line and writes each as a JSON line of the schema to ``out``.

    A line of a traceback or any other continuation becomes a line of its own (a log shipper joins
    them by ``service`` and ``time`` if it wants them joined).
    """

    def __init__(self, stream: IO[bytes], service: str, out: Callable[[str], None] | None = None) -> None:
        super().__init__(name=f"log-{service}", daemon=True)
        self.stream = stream
        self.service = service
        self.out = out or _write_stdout

    def run(self) -> None:
        for raw in iter(self.stream.readline, b""):
            text = raw.decode("utf-8", errors="replace")
            if text.strip():
                self.out(json.dumps(to_record(text, self.service), ensure_ascii=False))
        self.stream.close()


class JsonLines(io.TextIOBase):
    """A text stream whose every line is written to the process's real stdout as a JSON line of the
    schema (what ``workbench up`` itself prints, in JSON mode)."""

    def __init__(self, service: str, level: str = "INFO") -> None:
        super().__init__()
        self.service = service
        self.level = level
        self._buffer = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self._buffer += text
        *lines, self._buffer = self._buffer.split("\n")
        for line in lines:
            if line.strip():
                entry = to_record(line, self.service)
                if entry["service"] == self.service and entry["level"] == "INFO":
                    entry["level"] = self.level
                _write_stdout(json.dumps(entry, ensure_ascii=False))
        return len(text)

    def flush(self) -> None:
        if self._buffer.strip():
            self.write("\n")


_stdout_lock = threading.Lock()


def _write_stdout(line: str) -> None:
    out = sys.__stdout__ or sys.stdout
    with _stdout_lock:
        out.write(line + "\n")
        out.flush()
