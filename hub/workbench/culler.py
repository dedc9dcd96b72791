"""``configure_hub``: the idle culler as a hub-managed service (``jupyterhub-idle-culler``).

A lab nobody used for ``WORKBENCH_CULL_IDLE_TIMEOUT`` seconds is stopped, as a user's own *Stop*
button would: its home (volume or folder) stays, and the user starts it again from the home page.
"Used" is the hub's ``last_activity`` of the server, fed by the proxy (browser traffic) and by the lab
itself (kernels and terminals that run, every few minutes). Users are never deleted.

The service runs as the hub's OS user with a token that may only list users, read their servers'
activity and stop servers (role ``idle-culler``); it runs no user code.
"""

from __future__ import annotations

import sys
from typing import Any

from workbench.secrets import HubSecrets
from workbench.settings import Settings

SERVICE_NAME = "idle-culler"
SCOPES = ["list:users", "read:users:activity", "read:servers", "delete:servers"]
"""What the culler's token may do: find idle servers and stop them (never delete a user)."""


def cull_interval(settings: Settings) -> int:
    """Seconds between two looks: ``WORKBENCH_CULL_EVERY``, or a tenth of the timeout in [5, 300]."""
    if settings.cull_every:
        return settings.cull_every
    return max(5, min(300, settings.cull_idle_timeout // 10))


def command(settings: Settings) -> list[str]:
    """The culler's command line."""
    return [
        sys.executable,
        "-m",
        "jupyterhub_idle_culler",
        f"--timeout={settings.cull_idle_timeout}",
        f"--cull-every={cull_interval(settings)}",
        "--cull-users=false",
        "--remove-named-servers=false",
        "--concurrency=5",
    ]


def configure_hub(c: Any, settings: Settings, secrets: HubSecrets) -> None:
    """Add the culler service and its role to the hub configuration ``c``, whose ``services`` and
    ``load_roles`` are lists already (nothing when the timeout is 0)."""
    if settings.cull_idle_timeout <= 0:
        return
    # hubconfig.configure has set both lists (as for the jobs service, workbench.jobs.hub).
    c.JupyterHub.services.append(
        {"name": SERVICE_NAME, "command": command(settings), "cwd": str(settings.state_dir)}
    )
    c.JupyterHub.load_roles.append(
        {
            "name": SERVICE_NAME,
            "description": "Stop labs idle for longer than WORKBENCH_CULL_IDLE_TIMEOUT",
            "scopes": SCOPES,
            "services": [SERVICE_NAME],
        }
    )
