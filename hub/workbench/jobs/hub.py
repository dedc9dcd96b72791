"""``configure_hub``: the jobs service as a hub-managed service, its token and who may reach it.

The hub starts ``python -m workbench.jobs.service`` with the service's token and URL in
``JUPYTERHUB_*`` variables, and stops it with the hub. Reaching the service needs the scope
``access:services!service=jobs``: every user gets it (``extra_user_scopes``, so a user's own API
token and their browser login work), and the service decides by group what each may do.

A ``prometheus`` hub service gets a token (``WORKBENCH_PROMETHEUS_TOKEN``, by default generated in
``<state>/secrets/prometheus_api_token``) with the scopes
``read:metrics`` and access to the jobs service: with it Prometheus scrapes ``/hub/metrics`` and
``/services/jobs/metrics``.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from workbench.jobs.access import ADMIN_SERVICE
from workbench.jobs.service import SERVICE_NAME
from workbench.secrets import ensure_secret_file
from workbench.settings import PROJECT_ROOT, Settings

ACCESS_SCOPE = f"access:services!service={SERVICE_NAME}"
SERVICE_SCOPES = ["read:users"]
"""What the service's own token may do: read a caller's groups (and admin flag) from the hub."""

TOKEN_FILE = "jobs_api_token"
SERVICE_START_TIMEOUT_S = 180
"""How long the hub waits for the jobs service to answer after starting it [s]."""

PROMETHEUS_SERVICE = "prometheus"
PROMETHEUS_TOKEN_FILE = "prometheus_api_token"
PROMETHEUS_SCOPES = ["read:metrics", ACCESS_SCOPE]
"""What the Prometheus scraper's token may do: read ``/hub/metrics`` and ``/services/jobs/metrics``."""


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def service_token(secrets_dir: Any) -> str:
    """The service's hub API token, generated once in ``<state>/secrets/jobs_api_token`` (0600)."""
    import secrets as random

    path = secrets_dir / TOKEN_FILE
    if path.exists():
        if path.stat().st_mode & 0o077:
            raise ValueError(f"{path} is readable by other users; run `chmod 600 {path}` or delete it")
        return str(path.read_text().strip())
    value = random.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(value + "\n")
    return value


def service_environment(settings: Settings, port: int) -> dict[str, str]:
    """What the service process needs: the hub passes no WORKBENCH_* variable of its own."""
    env = {k: v for k, v in os.environ.items() if k.startswith("WORKBENCH_")}
    env.update(
        {
            "WORKBENCH_STATE_DIR": str(settings.state_dir),
            "WORKBENCH_DATA_DIR": str(settings.data_dir),
            "WORKBENCH_JOBS_PORT": str(port),
            "WORKBENCH_LOG_LEVEL": settings.log_level,
            "WORKBENCH_LOG_FORMAT": settings.log_format,
            "HOME": os.environ.get("HOME", str(settings.state_dir)),
            # Kernels of the runs write their connection files here, not in a shared home.
            "JUPYTER_RUNTIME_DIR": str(settings.state_dir / "jobs" / "runtime"),
        }
    )
    return env


def configure_hub(c: Any, settings: Settings, secrets: Any) -> None:
    """Add the ``jobs`` managed service, its role, and the users' access scope to the hub config ``c``.

    Parameters
    ----------
    c
        The hub's traitlets config (``c.JupyterHub.services`` and ``load_roles`` already hold the
        workbench-admin service, which also gets access to the jobs API for the CLI).
    settings
        The workbench settings (``WORKBENCH_JOBS_*``).
    secrets
        The hub secrets (:class:`workbench.secrets.HubSecrets`); the service's token is kept next to them.
    """
    if (
        not 0 <= settings.jobs_port < 65536
        or settings.jobs_workers < 1
        or settings.jobs_timeout < 1
        or settings.jobs_start_timeout < 1
        or not 0 <= settings.jobs_warm_pool <= 16
    ):
        raise ValueError(
            "WORKBENCH_JOBS_PORT must be a port (0: any free one), WORKBENCH_JOBS_WORKERS >= 1, "
            "WORKBENCH_JOBS_TIMEOUT >= 1 and WORKBENCH_JOBS_START_TIMEOUT >= 1 (seconds), "
            "WORKBENCH_JOBS_WARM_POOL 0 to 16"
        )
    port = settings.jobs_port or _free_port()
    (settings.state_dir / "jobs").mkdir(exist_ok=True)
    c.JupyterHub.services.append(
        {
            "name": SERVICE_NAME,
            "display": True,
            "info": {"description": "Production jobs: papermill runs of notebooks"},
            "url": f"http://127.0.0.1:{port}",
            "command": [sys.executable, "-m", "workbench.jobs.service"],
            "cwd": str(PROJECT_ROOT),
            "environment": service_environment(settings, port),
            "api_token": service_token(secrets.directory),
            "oauth_no_confirm": True,
            # The service upgrades its store and may recover runs before it answers; a loaded
            # machine must not make the hub give up on it (JupyterHub's default is 30 s).
            "timeout": SERVICE_START_TIMEOUT_S,
        }
    )
    for role in c.JupyterHub.load_roles:
        if role.get("name") == ADMIN_SERVICE:  # the CLI's token reaches the jobs API too
            role["scopes"] = [*role.get("scopes", []), ACCESS_SCOPE]
    c.JupyterHub.load_roles.append(
        {
            "name": f"{SERVICE_NAME}-service",
            "description": "The jobs service reads callers' groups",
            "scopes": SERVICE_SCOPES,
            "services": [SERVICE_NAME],
        }
    )
    # Prometheus scrapes the hub's and this service's metrics with one token of its own.
    c.JupyterHub.services.append(
        {
            "name": PROMETHEUS_SERVICE,
            "display": False,
            "info": {"description": "Prometheus scraper: reads /hub/metrics and /services/jobs/metrics"},
            "api_token": settings.prometheus_token
            or ensure_secret_file(secrets.directory / PROMETHEUS_TOKEN_FILE),
        }
    )
    c.JupyterHub.load_roles.append(
        {
            "name": PROMETHEUS_SERVICE,
            "description": "Read the hub's and the jobs service's metrics",
            "scopes": PROMETHEUS_SCOPES,
            "services": [PROMETHEUS_SERVICE],
        }
    )
    c.JupyterHub.authenticate_prometheus = True
    # A lab's own token ($JUPYTERHUB_API_TOKEN) reaches the jobs API as its user, so `workbench jobs` in
    # a lab acts as the person (what JupyterHub gives a server token, plus this service's access).
    from jupyterhub.roles import get_default_roles

    server_role = next(r for r in get_default_roles() if r["name"] == "server")
    c.Spawner.server_token_scopes = [*server_role["scopes"], ACCESS_SCOPE]
    # extra_user_scopes is a Set trait other extensions (published apps) add to as well: add, never replace.
    current = c.JupyterHub.extra_user_scopes
    if isinstance(current, set):
        current.add(ACCESS_SCOPE)
    else:
        c.JupyterHub.extra_user_scopes = {
            *(current if isinstance(current, list | tuple) else ()),
            ACCESS_SCOPE,
        }
