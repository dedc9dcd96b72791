"""A visitor of a published tool, as a script would be: it loads the page through the proxy and the
gateway, then talks to the page's kernel over the same websocket the page uses, in either framing
(``v1.kernel.websocket.jupyter.org``, or the legacy JSON one) and sends whatever it likes.

Frames are built and read with Jupyter Server's own functions (the reference implementation of the
framing), not with the gateway's parser under test.
"""

from __future__ import annotations

import html
import json
import re
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests
import websocket
from jupyter_server.services.kernels.connection.base import (
    deserialize_binary_message,
    deserialize_msg_from_ws_v1,
    serialize_msg_to_ws_v1,
)

V1 = "v1.kernel.websocket.jupyter.org"
RENDER_TIMEOUT = 240.0
"""Bound of one page render on a busy 2-core machine (a cold kernel runs the whole notebook) [s]."""

KERNEL_ID = re.compile(r'"kernelId":\s*"([0-9a-f-]{36})"')
CELL_OUTPUT = re.compile(
    r'<script[^>]*type="application/vnd.voila.cell-output\+json"[^>]*>\s*(.*?)\s*</script>', re.S
)
PROBE = re.compile(r'\{"probe": [^{}]*\}')


def page_text(page: str) -> str:
    """A rendered Voila page with its cell outputs readable (embedded JSON or HTML), unescaped."""
    parts = [html.unescape(page)]
    for raw in CELL_OUTPUT.findall(page):
        output = json.loads(raw)
        parts.append(output.get("data", {}).get("text/html", "") + output.get("text", ""))
    return "\n".join(parts)


@dataclass
class Page:
    """A tool's page as rendered for a visitor."""

    url: str
    html: str

    @property
    def kernel_id(self) -> str:
        m = KERNEL_ID.search(self.html)
        assert m, f"no kernel id in the page at {self.url}:\n{self.html[:1000]}"
        return m.group(1)

    @property
    def probe(self) -> dict[str, str]:
        """The JSON line the test tool printed (widget model ids)."""
        m = PROBE.search(page_text(self.html))
        assert m, f"no probe line in the page at {self.url}"
        return dict(json.loads(m.group(0)))


def render(hub_url: str, tool: str, session: requests.Session | None = None) -> Page:
    """Load ``/services/<tool>/`` (following the redirect to its page) and return the page."""
    r = (session or requests.Session()).get(f"{hub_url}/services/{tool}/", timeout=RENDER_TIMEOUT)
    assert r.status_code == 200, f"{tool}: HTTP {r.status_code}\n{r.text[:1000]}"
    return Page(r.url, r.text)


def message(msg_type: str, content: dict[str, Any], channel: str = "shell") -> dict[str, Any]:
    """A kernel message as a Jupyter client writes it."""
    return {
        "header": {
            "msg_id": uuid.uuid4().hex,
            "msg_type": msg_type,
            "username": "visitor",
            "session": uuid.uuid4().hex,
            "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "version": "5.3",
        },
        "parent_header": {},
        "metadata": {},
        "content": content,
        "channel": channel,
    }


@dataclass
class KernelSocket:
    """A visitor's websocket to a page's kernel, through the proxy and the gateway."""

    ws: websocket.WebSocket
    protocol: str | None
    received: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def open(
        cls,
        hub_url: str,
        page: Page,
        *,
        protocol: str | None = V1,
        session: requests.Session | None = None,
        headers: dict[str, str] | None = None,
    ) -> KernelSocket:
        """Open the kernel websocket of ``page`` (raises ``websocket.WebSocketBadStatusException``)."""
        path = urlsplit(page.url).path.split("/voila/")[0]
        url = "ws" + hub_url[len("http") :] + f"{path}/api/kernels/{page.kernel_id}/channels"
        return cls.connect(url, hub_url, protocol=protocol, session=session, headers=headers)

    @classmethod
    def connect(
        cls,
        url: str,
        hub_url: str,
        *,
        protocol: str | None = V1,
        session: requests.Session | None = None,
        headers: dict[str, str] | None = None,
    ) -> KernelSocket:
        cookie = "; ".join(f"{c.name}={c.value}" for c in session.cookies) if session is not None else None
        ws = websocket.create_connection(
            url,
            subprotocols=[protocol] if protocol else None,
            header=[f"{k}: {v}" for k, v in (headers or {}).items()],
            cookie=cookie or None,
            origin=hub_url,
            timeout=30,
        )
        chosen = ws.getsubprotocol() if protocol else None
        assert chosen == protocol, f"asked for {protocol}, the gateway answered {chosen}"
        return cls(ws, protocol)

    def send(self, msg: dict[str, Any]) -> str:
        """Send one message (in the socket's framing); return its ``msg_id``."""
        if self.protocol == V1:
            frame = serialize_msg_to_ws_v1(msg, msg["channel"], pack=lambda part: json.dumps(part).encode())
            self.ws.send_binary(frame)
        else:
            self.ws.send(json.dumps(msg))
        return str(msg["header"]["msg_id"])

    def send_raw(self, frame: str | bytes) -> None:
        """Send a frame as it is (malformed ones included)."""
        if isinstance(frame, bytes):
            self.ws.send_binary(frame)
        else:
            self.ws.send(frame)

    def _read(self, timeout: float) -> dict[str, Any] | None:
        self.ws.settimeout(max(0.05, timeout))
        try:
            raw = self.ws.recv()
        except websocket.WebSocketTimeoutException:
            return None
        if raw in ("", b""):
            raise websocket.WebSocketConnectionClosedException("the gateway or Voila closed the socket")
        if isinstance(raw, bytes) and self.protocol == V1:
            channel, parts = deserialize_msg_from_ws_v1(raw)
            msg = {
                "channel": channel,
                "header": json.loads(parts[0]),
                "parent_header": json.loads(parts[1]),
                "metadata": json.loads(parts[2]),
                "content": json.loads(parts[3]),
            }
        elif isinstance(raw, bytes):
            msg = deserialize_binary_message(raw)
        else:
            msg = json.loads(raw)
        self.received.append(msg)
        return msg

    def collect(self, seconds: float) -> list[dict[str, Any]]:
        """Everything the kernel sends during ``seconds``."""
        out = []
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            msg = self._read(min(left, 1.0))
            if msg is not None:
                out.append(msg)
        return out

    def wait_for(self, predicate: Any, timeout: float = 60.0) -> dict[str, Any]:
        """The first message (already received or to come) for which ``predicate(msg)`` holds."""
        for msg in self.received:
            if predicate(msg):
                return msg
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            msg = self._read(min(left, 1.0))
            if msg is not None and predicate(msg):
                return msg
        raise AssertionError(f"no matching message within {timeout:.0f} s; got {len(self.received)} others")

    def replies_to(self, msg_id: str) -> list[dict[str, Any]]:
        return [m for m in self.received if m.get("parent_header", {}).get("msg_id") == msg_id]

    def kernel_info(self, timeout: float = 60.0) -> dict[str, Any]:
        """Ask for the kernel's info and wait for the reply (the socket and the kernel are alive)."""
        msg_id = self.send(message("kernel_info_request", {}))
        return self.wait_for(
            lambda m: (
                m["parent_header"].get("msg_id") == msg_id and m["header"]["msg_type"] == "kernel_info_reply"
            ),
            timeout,
        )

    def set_widget(self, model_id: str, **state: Any) -> str:
        """Change a widget's state as the page does when the visitor types or picks (a ``comm_msg``)."""
        return self.send(
            message(
                "comm_msg",
                {"comm_id": model_id, "data": {"method": "update", "state": state, "buffer_paths": []}},
            )
        )

    def widget_value(self, model_id: str, timeout: float = 60.0) -> Any:
        """The next value the kernel sets on widget ``model_id``."""
        msg = self.wait_for(
            lambda m: (
                m["header"]["msg_type"] == "comm_msg"
                and m["content"].get("comm_id") == model_id
                and "value" in m["content"].get("data", {}).get("state", {})
            ),
            timeout,
        )
        self.received.remove(msg)
        return msg["content"]["data"]["state"]["value"]

    def close(self) -> None:
        self.ws.close()


class PhoneHome:
    """A TCP listener on 127.0.0.1: code that runs in a kernel can announce itself by connecting.

    Containers use the host network, so a tool's kernel reaches it in every runtime.
    """

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = int(self.sock.getsockname()[1])
        self.calls: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            with conn:
                conn.settimeout(5)
                try:
                    self.calls.append(conn.recv(1024))
                except OSError:
                    self.calls.append(b"")

    def code(self, word: str) -> str:
        """Python code (one expression) that connects and sends ``word``."""
        return (
            f"__import__('socket').create_connection(('127.0.0.1', {self.port})).sendall({word.encode()!r})"
        )

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.sock.close()
