"""What a visitor of a public tool may try on its kernel's websocket: every kernel message that runs,
inspects or completes code, answers an input prompt, or opens a comm the page never opens; and
frames that are no kernel message at all.

Each attack's code, if it ever ran, would leave a mark the test can see from outside: it connects to
a :class:`~tests.security.visitor.PhoneHome` listener and creates a marker file.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

from tests.security.visitor import KernelSocket, PhoneHome, message

QUIET_S = 6.0
"""How long the kernel is watched for an answer to the attacks [s] (a reply comes within ~0.1 s)."""


def payload(phone: PhoneHome, marker: Path) -> str:
    """Python that, if run, creates ``marker`` and phones home."""
    return f"open({str(marker)!r}, 'w').write('pwned'); {phone.code('pwned')}"


def attacks(phone: PhoneHome, marker: Path) -> list[tuple[str, dict[str, Any]]]:
    """(label, message) of every attack; ``label`` is what the gateway's log names when it drops it."""
    code = payload(phone, marker)
    execute = {
        "code": code,
        "silent": False,
        "store_history": True,
        "user_expressions": {"x": code},
        "allow_stdin": True,
        "stop_on_error": False,
    }
    return [
        ("execute_request on shell", message("execute_request", execute)),
        ("execute_request on control", message("execute_request", execute, channel="control")),
        (
            "inspect_request on shell",
            message("inspect_request", {"code": code, "cursor_pos": 4, "detail_level": 1}),
        ),
        ("complete_request on shell", message("complete_request", {"code": code, "cursor_pos": len(code)})),
        ("is_complete_request on shell", message("is_complete_request", {"code": code})),
        (
            "history_request on shell",
            message("history_request", {"output": True, "raw": True, "hist_access_type": "tail", "n": 100}),
        ),
        ("input_reply on stdin", message("input_reply", {"value": code}, channel="stdin")),
        ("interrupt_request on control", message("interrupt_request", {}, channel="control")),
        (
            "comm_open to target 'evil.target'",
            message("comm_open", {"comm_id": uuid.uuid4().hex, "target_name": "evil.target", "data": {}}),
        ),
        (
            "comm_open to target 'jupyter.widget'",
            message(
                "comm_open",
                {
                    "comm_id": uuid.uuid4().hex,
                    "target_name": "jupyter.widget",
                    "data": {
                        "state": {"_model_name": "TextModel", "_model_module": "@jupyter-widgets/controls"}
                    },
                },
            ),
        ),
    ]


def launch(ks: KernelSocket, phone: PhoneHome, marker: Path, *, malformed: bool = True) -> dict[str, str]:
    """Send every attack on ``ks`` (and, if ``malformed``, two frames that are no kernel message);
    return label → msg id."""
    sent = {label: ks.send(msg) for label, msg in attacks(phone, marker)}
    if malformed:
        send_malformed(ks)
    return sent


def send_malformed(ks: KernelSocket) -> None:
    """Frames that are no kernel message in the socket's framing."""
    if ks.protocol:
        ks.send_raw('{"header": {"msg_type": "execute_request"}}')  # a text frame on a binary socket
    ks.send_raw(b"\x00\xff garbage \x00")


def assert_nothing_ran(ks: KernelSocket, silent: dict[str, str], phone: PhoneHome, marker: Path) -> None:
    """No phone call, no marker, no answer at all to the ``silent`` attacks (label → msg id); and the
    kernel still answers the page."""
    ks.collect(QUIET_S)
    answered = {label: [m["header"]["msg_type"] for m in ks.replies_to(i)] for label, i in silent.items()}
    assert not any(answered.values()), answered
    time.sleep(0.5)
    assert phone.calls == [], phone.calls
    assert not marker.exists()
    assert ks.kernel_info()["content"]["status"] == "ok"
