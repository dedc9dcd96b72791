"""Which kernel messages a visitor of a tool may send: the gateway's filter on the kernel websocket.

A published tool's page talks to its kernel only through widgets: the page asks for the kernel's
info, opens the widget manager's control comm and exchanges comm messages with the widgets the
notebook created. Anything else a visitor's socket carries (``execute_request``, ``inspect_request``,
``complete_request``, ``history_request``, ``input_reply``, a comm to another target…) is not
something a tool's page sends, so the gateway drops it before Voila sees it. Voila has its own
allowlist of message types; this filter is the second, independent layer (a Voila release that
widens its list does not widen the gateway's).

Every frame is parsed in the framing the socket negotiated, as Jupyter Server reads it:

- no subprotocol: a text frame is one JSON message with a ``channel`` key; a binary frame is the
  legacy buffer framing (big-endian 32-bit count and offsets, the JSON message, then its buffers);
- ``v1.kernel.websocket.jupyter.org``: every frame is binary, little-endian 64-bit offsets, then
  the channel name and the message's header, parent header, metadata, content and buffers.

What passes is re-serialised from what was checked (:func:`serialize`), so Voila and the kernel
never read bytes that the filter read differently.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

V1_PROTOCOL = "v1.kernel.websocket.jupyter.org"
"""The binary framing of Jupyter Server's kernel websocket (the one JupyterLab and Voila prefer)."""

WIDGET_MESSAGES: frozenset[tuple[str, str]] = frozenset(
    {
        ("shell", "kernel_info_request"),
        ("control", "kernel_info_request"),
        ("shell", "comm_info_request"),
        ("shell", "comm_open"),
        ("shell", "comm_msg"),
        ("shell", "comm_close"),
    }
)
"""(channel, message type) a tool's page sends to its kernel: kernel info, the widgets' comms."""

WIDGET_COMM_TARGETS: frozenset[str] = frozenset({"jupyter.widget.control"})
"""Comm targets a page may open: the widget manager's control comm, which asks the kernel for the
state of every widget at once. Widgets themselves are opened by the kernel, never by the page."""

MAX_PARTS = 64
"""Most buffers one frame may carry (a widget message has a handful)."""


class FrameError(ValueError):
    """A websocket frame that is not a kernel message in the negotiated framing."""


@dataclass
class KernelMessage:
    """One kernel message as read from a visitor's websocket frame.

    Attributes
    ----------
    channel
        ``shell``, ``control``, ``stdin`` or ``iopub``.
    framing
        ``json`` (text frame), ``binary`` (legacy buffers) or ``v1``.
    """

    channel: str
    header: dict[str, Any]
    parent_header: dict[str, Any]
    metadata: dict[str, Any]
    content: dict[str, Any]
    buffers: list[bytes | memoryview] = field(default_factory=list)
    framing: str = "json"

    @property
    def msg_type(self) -> str:
        return str(self.header.get("msg_type", ""))


def _json_object(raw: bytes | str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise FrameError(f"{what} is not JSON ({exc})") from None
    if not isinstance(value, dict):
        raise FrameError(f"{what} is not a JSON object")
    return value


def _from_dict(msg: Mapping[str, Any], buffers: list[bytes | memoryview], framing: str) -> KernelMessage:
    parts = {}
    for key in ("header", "parent_header", "metadata", "content"):
        value = msg.get(key, {})
        if not isinstance(value, dict):
            raise FrameError(f"{key} is not a JSON object")
        parts[key] = value
    # Jupyter Server assumes the shell channel when a JSON message names none.
    channel = msg.get("channel") or "shell"
    if not isinstance(channel, str):
        raise FrameError("channel is not a string")
    return KernelMessage(channel=channel, buffers=buffers, framing=framing, **parts)


def _parse_legacy_binary(frame: bytes) -> KernelMessage:
    if len(frame) < 8:
        raise FrameError("binary frame shorter than its header")
    (count,) = struct.unpack("!I", frame[:4])
    if not 1 <= count <= MAX_PARTS or len(frame) < 4 * (count + 1):
        raise FrameError(f"binary frame announces {count} parts")
    offsets = list(struct.unpack(f"!{count}I", frame[4 : 4 * (count + 1)]))
    bounds = [*offsets, len(frame)]
    if offsets[0] != 4 * (count + 1) or any(a > b for a, b in zip(bounds, bounds[1:], strict=False)):
        raise FrameError("binary frame offsets are out of order")
    view = memoryview(frame)  # slices of a view are not copies: a plot's buffers stay where they are
    parts: list[bytes | memoryview] = [view[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]
    return _from_dict(_json_object(bytes(parts[0]), "message"), parts[1:], "binary")


def _parse_v1(frame: bytes) -> KernelMessage:
    if len(frame) < 8:
        raise FrameError("v1 frame shorter than its header")
    count = int.from_bytes(frame[:8], "little")
    # channel, header, parent header, metadata, content (+ buffers), each bounded by two offsets
    if not 6 <= count <= MAX_PARTS + 6 or len(frame) < 8 * (count + 1):
        raise FrameError(f"v1 frame announces {count} offsets")
    offsets = [int.from_bytes(frame[8 * (i + 1) : 8 * (i + 2)], "little") for i in range(count)]
    if offsets[0] != 8 * (count + 1) or offsets[-1] > len(frame):
        raise FrameError("v1 frame offsets point outside the frame")
    if any(a > b for a, b in zip(offsets, offsets[1:], strict=False)):
        raise FrameError("v1 frame offsets are out of order")
    # As Jupyter Server reads it: the parts lie between consecutive offsets; the last offset ends
    # the last part.
    view = memoryview(frame)  # slices of a view are not copies: a plot's buffers stay where they are
    parts = [view[a:b] for a, b in zip(offsets, offsets[1:], strict=False)]
    try:
        channel = bytes(parts[0]).decode("utf-8")
    except UnicodeDecodeError:
        raise FrameError("v1 channel is not UTF-8") from None
    header, parent, metadata, content = (
        _json_object(bytes(p), name)
        for p, name in zip(parts[1:5], ("header", "parent_header", "metadata", "content"), strict=True)
    )
    return KernelMessage(channel, header, parent, metadata, content, list(parts[5:]), "v1")


def parse(frame: str | bytes, protocol: str | None) -> KernelMessage:
    """Read one frame a visitor sent, in the framing of the socket's subprotocol.

    Parameters
    ----------
    frame
        The websocket message (``str`` for a text frame, ``bytes`` for a binary one).
    protocol
        The negotiated subprotocol: :data:`V1_PROTOCOL`, or ``None``/empty for the legacy framing.

    Raises
    ------
    FrameError
        When the frame is not a kernel message in that framing.
    """
    if protocol == V1_PROTOCOL:
        if isinstance(frame, str):
            raise FrameError("text frame on a v1 socket (every v1 message is binary)")
        return _parse_v1(frame)
    if protocol:
        raise FrameError(f"unknown kernel websocket protocol {protocol!r}")
    if isinstance(frame, str):
        return _from_dict(_json_object(frame, "message"), [], "json")
    return _parse_legacy_binary(frame)


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def serialize(msg: KernelMessage) -> str | bytes:
    """The frame that carries ``msg`` in its own framing (inverse of :func:`parse`)."""
    if msg.framing == "v1":
        parts = [
            msg.channel.encode("utf-8"),
            _dumps(msg.header),
            _dumps(msg.parent_header),
            _dumps(msg.metadata),
            _dumps(msg.content),
            *msg.buffers,
        ]
        offsets = [8 * (len(parts) + 2)]
        for part in parts:
            offsets.append(offsets[-1] + len(part))
        head = [len(offsets).to_bytes(8, "little"), *(o.to_bytes(8, "little") for o in offsets)]
        return b"".join([*head, *parts])  # one copy of the buffers
    body = {
        "channel": msg.channel,
        "header": msg.header,
        "parent_header": msg.parent_header,
        "metadata": msg.metadata,
        "content": msg.content,
    }
    if msg.framing == "json":
        return json.dumps(body, separators=(",", ":"))
    parts = [_dumps(body), *msg.buffers]
    offsets = [4 * (len(parts) + 1)]
    for part in parts[:-1]:
        offsets.append(offsets[-1] + len(part))
    return b"".join([struct.pack(f"!{len(parts) + 1}I", len(parts), *offsets), *parts])


def refusal(msg: KernelMessage) -> str | None:
    """Why a tool's page would never send ``msg`` (None: it is a widget message, let it pass)."""
    if (msg.channel, msg.msg_type) not in WIDGET_MESSAGES:
        return f"{msg.msg_type or 'untyped message'} on {msg.channel}"
    if msg.msg_type == "comm_open":
        target = msg.content.get("target_name")
        if target not in WIDGET_COMM_TARGETS:
            return f"comm_open to target {target!r}"
    return None


@dataclass
class Verdict:
    """The filter's decision on one frame: what to forward (None: drop) and why it was dropped."""

    forward: str | bytes | None
    reason: str = ""


def admit(frame: str | bytes, protocol: str | None) -> Verdict:
    """Decide on one frame from a visitor: the re-serialised frame to pass on, or why it is dropped."""
    try:
        msg = parse(frame, protocol)
    except FrameError as exc:
        return Verdict(None, f"unreadable frame: {exc}")
    reason = refusal(msg)
    if reason is not None:
        return Verdict(None, reason)
    return Verdict(serialize(msg))
