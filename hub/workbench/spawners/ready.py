"""Noticing a new lab the moment it listens.

After ``Spawner.start`` returns, JupyterHub asks the lab's URL with an exponential back-off (waits
drawn up to 0.2, 0.4, 0.8, 1.6 … s), so a lab that is ready 1.5 s after its start is seen up to a
second later. The spawners instead wait in ``start`` until the lab's port accepts a connection,
trying every few hundredths of a second (a connection attempt to a closed loopback port costs
microseconds); the hub's first request then finds the server at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable

TRY_EVERY_S = 0.02
"""Seconds between two connection attempts."""

CHECK_RUNNING_EVERY_S = 0.5
"""Seconds between two questions whether the lab is still running (they may cost a Docker API call)."""


async def accepts_connections(host: str, port: int) -> bool:
    """Whether a TCP connection to ``host:port`` is accepted now."""
    try:
        _reader, writer = await asyncio.open_connection(host, port)
    except OSError:
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


async def until_listening(
    host: str,
    port: int,
    *,
    running: Callable[[], Awaitable[bool]],
    timeout: float,
) -> bool:
    """Wait until ``host:port`` accepts connections, the lab stops running, or ``timeout`` passes.

    Parameters
    ----------
    host, port
        Where the lab will listen.
    running
        Whether the lab's process (container, service) still runs; asked every
        :data:`CHECK_RUNNING_EVERY_S` seconds, so a lab that died is not waited for.
    timeout
        The longest wait [s]; the hub's own wait takes over after it.

    Returns
    -------
    bool
        Whether the port accepts connections (``False``: stopped or timed out; the caller lets the hub
        report it as it always does).
    """
    deadline = time.monotonic() + timeout
    next_check = time.monotonic() + CHECK_RUNNING_EVERY_S
    while time.monotonic() < deadline:
        if await accepts_connections(host, port):
            return True
        if time.monotonic() >= next_check:
            if not await running():
                return False
            next_check = time.monotonic() + CHECK_RUNNING_EVERY_S
        await asyncio.sleep(TRY_EVERY_S)
    return False
