"""Cost of the tools' gateway kernel message filter, beside what Jupyter Server does with every frame.

For each frame a visitor's page sends (a widget's ``comm_msg``, with and without a 1 MB buffer, in the
``v1.kernel.websocket.jupyter.org`` framing browsers use and in the legacy JSON framing), it times:

- ours: :func:`workbench.apps.messages.admit` (parse, check, re-serialise);
- the peer, same run: the work Voila's server (Jupyter Server 2) does on the same frame before it
  reaches the kernel: ``deserialize_msg_from_ws_v1`` and the unpacking of the header for its own
  allowlist (v1), or ``json.loads`` of the message (legacy).

Run: ``.venv/bin/python bench/gateway_filter.py``.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable

from jupyter_client.session import Session
from jupyter_server.services.kernels.connection.base import deserialize_msg_from_ws_v1, serialize_msg_to_ws_v1

from workbench.apps.messages import V1_PROTOCOL, admit


def per_call(fn: Callable[[], object], seconds: float = 1.0) -> float:
    """Median time of one call [s] over batches filling ``seconds``."""
    n = 1
    while True:
        start = time.perf_counter()
        for _ in range(n):
            fn()
        elapsed = time.perf_counter() - start
        if elapsed > 0.05:
            break
        n *= 4
    batches = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline or len(batches) < 5:
        start = time.perf_counter()
        for _ in range(n):
            fn()
        batches.append((time.perf_counter() - start) / n)
    return sorted(batches)[len(batches) // 2]


def main() -> None:
    header = {
        "msg_id": uuid.uuid4().hex,
        "msg_type": "comm_msg",
        "session": uuid.uuid4().hex,
        "username": "visitor",
        "version": "5.3",
        "date": "2026-12-02T00:00:00Z",
    }
    content = {
        "comm_id": uuid.uuid4().hex,
        "data": {"method": "update", "state": {"index": 1}, "buffer_paths": []},
    }
    parts = [json.dumps(p).encode() for p in (header, {}, {}, content)]
    session = Session()
    frames = {
        "v1 comm_msg": (serialize_msg_to_ws_v1(parts, "shell"), V1_PROTOCOL),
        "v1 comm_msg + 1 MB buffer": (
            serialize_msg_to_ws_v1([*parts, b"\0" * 1_000_000], "shell"),
            V1_PROTOCOL,
        ),
        "json comm_msg": (
            json.dumps(
                {
                    "channel": "shell",
                    "header": header,
                    "parent_header": {},
                    "metadata": {},
                    "content": content,
                }
            ),
            None,
        ),
    }

    def server_v1(frame: bytes) -> object:
        _, msg_list = deserialize_msg_from_ws_v1(frame)
        return session.unpack(msg_list[0])["msg_type"]

    print(f"{'frame':28} {'ours: admit()':>16} {'Jupyter Server':>16} {'ratio':>7}")
    for name, (frame, protocol) in frames.items():
        ours = per_call(lambda f=frame, p=protocol: admit(f, p))
        if protocol:
            peer = per_call(lambda f=frame: server_v1(f))
        else:
            peer = per_call(lambda f=frame: json.loads(f))
        print(f"{name:28} {ours * 1e6:13.1f} µs {peer * 1e6:13.1f} µs {ours / peer:6.1f}×")


if __name__ == "__main__":
    main()
