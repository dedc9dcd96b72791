"""Real receivers of notifications on 127.0.0.1 for tests: a webhook endpoint and an SMTP server (aiosmtpd).

Both can be started late on a port chosen early, so a test can make a delivery fail first (nothing
listens) and succeed later (the receiver is up)::

    hook = WebhookReceiver(secret)          # .url is fixed now; .start() later; .deliveries, .stop()
    mail = SmtpReceiver()                   # .port is fixed now; .start() later; .messages, .stop()
"""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
import threading
import time
from dataclasses import dataclass
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.support import free_port


@dataclass
class Delivery:
    headers: dict[str, str]
    body: bytes
    verified: bool

    @property
    def json(self) -> Any:
        return json.loads(self.body)


def verify(secret: str, headers: dict[str, str], body: bytes, tolerance_s: float = 300) -> bool:
    """The receiver's check, written from docs/jobs.md (not with the service's code)."""
    ts = headers.get("X-Workbench-Timestamp", "")
    given = headers.get("X-Workbench-Signature", "")
    if not ts.isdigit() or abs(time.time() - int(ts)) > tolerance_s:
        return False
    expected = "sha256=" + hmac.new(secret.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, given)


class WebhookReceiver:
    """Accepts POSTs at ``/hook`` with a valid signature (204), refuses others (401)."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.deliveries: list[Delivery] = []
        self.refused: list[Delivery] = []
        self._server: ThreadingHTTPServer | None = None

    def start(self) -> WebhookReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                headers = {k: v for k, v in self.headers.items()}
                ok = self.path == "/hook" and verify(receiver.secret, headers, body)
                (receiver.deliveries if ok else receiver.refused).append(Delivery(headers, body, ok))
                self.send_response(204 if ok else 401)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


class SmtpReceiver:
    """An aiosmtpd SMTP server on 127.0.0.1 keeping every message it is given."""

    def __init__(self, tls_context: Any = None) -> None:
        self.port = free_port()
        self.messages: list[Message] = []
        self.tls_context = tls_context
        """An ``ssl.SSLContext``: the server offers STARTTLS and requires it."""
        self._controller: Any = None

    def start(self) -> SmtpReceiver:
        from aiosmtpd.controller import Controller

        receiver = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                msg = message_from_bytes(envelope.original_content or envelope.content)
                msg["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
                receiver.messages.append(msg)
                return "250 Message accepted for delivery"

        tls = {"tls_context": self.tls_context, "require_starttls": True} if self.tls_context else {}
        self._controller = Controller(Handler(), hostname="127.0.0.1", port=self.port, **tls)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """(certificate, key) PEM files for 127.0.0.1, made with the openssl command."""
    cert, key = folder / "smtp-cert.pem", folder / "smtp-key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def wait_for(predicate: Any, bound_s: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + bound_s
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)
