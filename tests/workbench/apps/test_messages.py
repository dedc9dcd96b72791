"""The gateway's kernel message filter, frame by frame, against Jupyter Server's own framing code.

Frames are made with ``jupyter_server``'s serialisers (what Voila's server reads) and what the filter
passes on is read back with its deserialisers: the filter must read each framing exactly as the
server does, and pass on only widget messages.
"""

from __future__ import annotations

import json
import struct
import uuid
from typing import Any

import pytest
from jupyter_server.services.kernels.connection.base import (
    deserialize_binary_message,
    deserialize_msg_from_ws_v1,
    serialize_binary_message,
    serialize_msg_to_ws_v1,
)

from workbench.apps import messages
from workbench.apps.messages import V1_PROTOCOL, admit, parse


def msg(msg_type: str, content: dict[str, Any] | None = None, channel: str = "shell") -> dict[str, Any]:
    return {
        "header": {
            "msg_id": uuid.uuid4().hex,
            "msg_type": msg_type,
            "session": "s",
            "username": "u",
            "version": "5.3",
        },
        "parent_header": {},
        "metadata": {"m": 1},
        "content": content or {},
        "channel": channel,
        "buffers": [],
    }


def frame(m: dict[str, Any], framing: str, buffers: list[bytes] | None = None) -> str | bytes:
    if framing == "v1":
        parts = [json.dumps(m[k]).encode() for k in ("header", "parent_header", "metadata", "content")]
        return serialize_msg_to_ws_v1([*parts, *(buffers or [])], m["channel"])
    if framing == "binary":
        return serialize_binary_message({**m, "buffers": buffers or [b"\x00\x01"]})
    return json.dumps({k: v for k, v in m.items() if k != "buffers"})


def read_back(data: str | bytes, framing: str) -> tuple[str, dict[str, Any], list[bytes]]:
    """(channel, message, buffers) as Jupyter Server reads a frame."""
    if framing == "v1":
        channel, parts = deserialize_msg_from_ws_v1(data)
        keys = ("header", "parent_header", "metadata", "content")
        return channel, {k: json.loads(p) for k, p in zip(keys, parts[:4], strict=True)}, list(parts[4:])
    if framing == "binary":
        m = deserialize_binary_message(data)
        return m.pop("channel"), m, [bytes(b) for b in m.pop("buffers")]
    m = json.loads(data)
    return m.pop("channel"), m, []


def protocol_of(framing: str) -> str | None:
    return V1_PROTOCOL if framing == "v1" else None


FRAMINGS = ["v1", "binary", "json"]
WIDGET = [
    msg("kernel_info_request"),
    msg("kernel_info_request", channel="control"),
    msg("comm_info_request", {"target_name": "jupyter.widget"}),
    msg("comm_open", {"comm_id": "c", "target_name": "jupyter.widget.control", "data": {}}),
    msg(
        "comm_msg", {"comm_id": "c", "data": {"method": "update", "state": {"index": 1}, "buffer_paths": []}}
    ),
    msg("comm_close", {"comm_id": "c", "data": {}}),
]
NOT_WIDGET = [
    msg("execute_request", {"code": "import os; os.system('id')", "silent": False}),
    msg("execute_request", {"code": "1"}, channel="control"),
    msg("inspect_request", {"code": "os", "cursor_pos": 2}),
    msg("complete_request", {"code": "os.", "cursor_pos": 3}),
    msg("history_request", {"hist_access_type": "tail", "n": 10}),
    msg("is_complete_request", {"code": "x"}),
    msg("input_reply", {"value": "secret"}, channel="stdin"),
    msg("interrupt_request", channel="control"),
    msg("shutdown_request", {"restart": False}, channel="control"),
    msg("debug_request", {"command": "evaluate"}, channel="control"),
    msg("comm_open", {"comm_id": "c", "target_name": "jupyter.widget", "data": {"state": {}}}),
    msg("comm_open", {"comm_id": "c", "target_name": "evil", "data": {}}),
    msg("comm_msg", {"comm_id": "c", "data": {}}, channel="control"),
    msg("comm_msg", {"comm_id": "c", "data": {}}, channel="iopub"),
]


@pytest.mark.parametrize("framing", FRAMINGS)
@pytest.mark.parametrize("m", WIDGET, ids=lambda m: f"{m['channel']}-{m['header']['msg_type']}")
def test_widget_messages_pass_unchanged_in_meaning(framing: str, m: dict[str, Any]) -> None:
    buffers = [b"\x00\xffplot"] if framing != "json" else []
    verdict = admit(frame(m, framing, buffers), protocol_of(framing))
    assert verdict.forward is not None, verdict.reason
    channel, back, back_buffers = read_back(verdict.forward, framing)
    assert channel == m["channel"]
    for key in ("header", "parent_header", "metadata", "content"):
        assert back[key] == m[key]
    if framing == "v1":
        assert back_buffers == buffers
    if framing == "binary":
        assert back_buffers == (buffers or [b"\x00\x01"])


@pytest.mark.parametrize("framing", FRAMINGS)
@pytest.mark.parametrize(
    "m",
    NOT_WIDGET,
    ids=lambda m: f"{m['channel']}-{m['header']['msg_type']}-{m['content'].get('target_name', '')}",
)
def test_everything_else_is_dropped_with_its_reason(framing: str, m: dict[str, Any]) -> None:
    verdict = admit(frame(m, framing), protocol_of(framing))
    assert verdict.forward is None
    assert m["header"]["msg_type"] in verdict.reason


def test_a_json_message_without_channel_is_read_as_shell_like_the_server_does() -> None:
    m = msg("execute_request", {"code": "1"})
    del m["channel"]
    assert parse(json.dumps(m), None).channel == "shell"
    assert admit(json.dumps(m), None).reason == "execute_request on shell"


def test_what_passes_is_what_was_checked() -> None:
    """A JSON object with the key twice is read by Python with the last value: the filter forwards
    the message re-serialised from what it read, never the visitor's bytes."""
    raw = (
        '{"channel": "shell", "header": {"msg_type": "execute_request", "msg_type": "comm_msg", "msg_id": "x"},'
        ' "parent_header": {}, "metadata": {}, "content": {"comm_id": "c", "data": {}}}'
    )
    verdict = admit(raw, None)
    assert verdict.forward is not None and "execute_request" not in verdict.forward


@pytest.mark.parametrize(
    ("data", "protocol"),
    [
        ("not json", None),
        ("[1, 2]", None),
        ('{"header": "x"}', None),
        ('{"header": {"msg_type": "comm_msg"}}', V1_PROTOCOL),  # text frame on a v1 socket
        (b"\x00" * 4, V1_PROTOCOL),
        (b"\xff" * 64, V1_PROTOCOL),
        ((7).to_bytes(8, "little") + (10_000).to_bytes(8, "little") * 7, V1_PROTOCOL),  # offsets past the end
        (struct.pack("!I", 100) + b"\x00" * 8, None),  # legacy binary announcing 100 parts
        (struct.pack("!II", 1, 8) + b"{not json", None),
        (b"anything", "some.other.protocol"),
    ],
)
def test_unreadable_frames_are_dropped(data: str | bytes, protocol: str | None) -> None:
    verdict = admit(data, protocol)
    assert verdict.forward is None and verdict.reason.startswith("unreadable frame")


def test_v1_offsets_out_of_order_are_refused() -> None:
    good = frame(msg("comm_msg", {"comm_id": "c", "data": {}}), "v1")
    assert isinstance(good, bytes)
    count = int.from_bytes(good[:8], "little")
    offsets = [int.from_bytes(good[8 * (i + 1) : 8 * (i + 2)], "little") for i in range(count)]
    offsets[2], offsets[3] = offsets[3], offsets[2]
    bad = good[:8] + b"".join(o.to_bytes(8, "little") for o in offsets) + good[8 * (count + 1) :]
    assert admit(bad, V1_PROTOCOL).reason.startswith("unreadable frame")


def test_the_allowlist_is_what_a_widget_page_needs() -> None:
    assert {t for _, t in messages.WIDGET_MESSAGES} == {
        "kernel_info_request",
        "comm_info_request",
        "comm_open",
        "comm_msg",
        "comm_close",
    }
    assert {"jupyter.widget.control"} == messages.WIDGET_COMM_TARGETS
