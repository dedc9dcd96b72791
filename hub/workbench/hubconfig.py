"""Build the JupyterHub configuration from :class:`workbench.settings.Settings`.

``hub/jupyterhub_config.py`` only calls :func:`configure`; everything the hub does is decided here and
in the modules it calls: :mod:`workbench.auth` (OIDC login and groups), :mod:`workbench.spawners`
(where labs run), and the extensions listed in :data:`HUB_EXTENSIONS` (jobs service, published apps),
each of which exposes ``configure_hub(c, settings, secrets)``.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit

from workbench import auth, spawners
from workbench.hubdb import guard_activity_writes
from workbench.jobs.client import API_PATH as JOBS_API_PATH
from workbench.plugins import import_optional
from workbench.proxy import WorkbenchProxy
from workbench.secrets import HubSecrets, ensure_secrets
from workbench.settings import PROJECT_ROOT, Settings

# Modules that add services, roles or handlers to the hub; absent ones are skipped.
HUB_EXTENSIONS: tuple[str, ...] = (
    "workbench.jobs.hub",
    "workbench.apps.hub",
    "workbench.culler",
)

ADMIN_SERVICE = "workbench-admin"
"""Hub service whose token (``<state>/secrets/admin_api_token``) the CLI, tests and ops scripts use."""

ADMIN_SCOPES = [
    "admin:users",
    "admin:servers",
    "admin:groups",
    "admin-ui",
    "read:hub",
    "list:users",
    "list:groups",
    "list:services",
    "read:services",
    "access:servers",
    "tokens",
    "shutdown",  # `workbench up` stops the hub with its servers through /hub/api/shutdown
]

LAB_POLL_INTERVAL_S = 10
"""How often the hub asks each spawner whether its lab still runs [s]."""

PROXY_COMMAND = PROJECT_ROOT / "node_modules" / ".bin" / "configurable-http-proxy"


class HubConfigError(RuntimeError):
    """The hub cannot be configured as asked (refused production settings, unreachable issuer…)."""


def effective_client_secret(settings: Settings, secrets: HubSecrets) -> str:
    """The OIDC client secret the hub uses: the configured one, or the generated dev one (dev-idp)."""
    return settings.oidc_client_secret or secrets.dev_client_secret


def check_environment(settings: Settings, secrets: HubSecrets) -> None:
    """Refuse what ``WORKBENCH_ENV=ope`` forbids.

    Raises
    ------
    HubConfigError
        Listing every problem, one per line.
    """
    executors = import_optional("workbench.jobs.executors.local")
    if executors is not None and settings.jobs_executor == "local":
        refused = executors.refusal(settings.env, os.geteuid())  # local job runs sharing the hub's identity
        if refused:
            raise HubConfigError(refused)
    if settings.env != "ope":
        return
    problems = settings.production_problems(dev_client_secret=secrets.dev_client_secret)
    if problems:
        raise HubConfigError(
            "WORKBENCH_ENV=ope refuses this configuration:\n" + "\n".join(f"  - {p}" for p in problems)
        )


def proxy_command() -> list[str]:
    """The project-local configurable-http-proxy (installed by ``make install``)."""
    if not PROXY_COMMAND.exists():
        raise HubConfigError(f"configurable-http-proxy is missing ({PROXY_COMMAND}); run `make install`.")
    return [str(PROXY_COMMAND)]


def lab_environment(settings: Settings) -> dict[str, str]:
    """The ``WORKBENCH_*`` settings a user's lab needs to find and read the data the same way the hub does,
    and where ``workbench jobs`` in the lab finds the jobs service (through the proxy, as the browser)."""
    return {
        **settings.lab_environment(),
        "WORKBENCH_JOBS_URL": settings.local_url.rstrip("/") + JOBS_API_PATH,
    }


def configure(c: Any, settings: Settings, *, discover_timeout: float = 20.0) -> None:
    """Fill the hub's traitlets config ``c`` from ``settings``.

    Parameters
    ----------
    c
        The config object of ``jupyterhub_config.py`` (``get_config()``).
    settings
        The workbench settings.
    discover_timeout
        How long to wait for the issuer's OpenID Connect metadata [s].

    Raises
    ------
    HubConfigError
        When the settings are refused (``WORKBENCH_ENV=ope``), the proxy is not installed, the issuer
        does not answer or refuses the client's credentials, or the chosen spawner is unavailable.
    """
    settings.ensure_dirs()
    secrets = ensure_secrets(settings.state_dir)
    check_environment(settings, secrets)
    state = settings.state_dir

    # where the public proxy listens, and where the hub's own API listens (loopback only)
    public = urlsplit(settings.public_url)
    c.JupyterHub.bind_url = f"http://{settings.hub_ip}:{settings.hub_port}{public.path}/"
    c.JupyterHub.hub_bind_url = f"http://127.0.0.1:{settings.hub_api_port}"
    c.JupyterHub.log_level = settings.log_level
    c.JupyterHub.db_url = settings.db_url
    guard_activity_writes(settings.db_url)  # a full state disk must not log everybody out (workbench.hubdb)
    c.JupyterHub.upgrade_db = True  # schema upgrades on start (SQLite is backed up first)
    c.JupyterHub.pid_file = str(state / "jupyterhub.pid")
    # After login, land on the home page (servers, published tools) rather than spawning at once:
    # partners who only use published tools never need a lab.
    c.JupyterHub.redirect_to_server = False
    c.JupyterHub.cookie_secret_file = str(secrets.cookie_secret_file)
    c.CryptKeeper.keys = [secrets.crypt_key]

    # configurable-http-proxy, adopted by the next hub when the hub restarts (workbench.proxy)
    c.JupyterHub.proxy_class = WorkbenchProxy
    c.ConfigurableHTTPProxy.command = proxy_command()
    c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{settings.proxy_api_port}"
    c.ConfigurableHTTPProxy.auth_token = secrets.proxy_auth_token
    c.ConfigurableHTTPProxy.pid_file = str(state / "proxy.pid")
    c.ConfigurableHTTPProxy.should_start = True
    # A hub that stops (a crash, a restart) leaves the labs and the proxy running: the next hub resumes
    # them from its database, and users keep their kernels and their login. A deliberate stop asks
    # for both through /hub/api/shutdown (workbench.supervisor).
    c.JupyterHub.cleanup_servers = False
    c.JupyterHub.cleanup_proxy = False

    # Spawns may take longer than JupyterHub's 10 s before the API answers "pending" (and 6.1.1 answers
    # a 500 to a spawn POST that outlasts it); clients poll the server state anyway.
    c.JupyterHub.tornado_settings = {"slow_spawn_timeout": 30, "slow_stop_timeout": 30}
    c.Spawner.start_timeout = settings.spawn_timeout
    c.Spawner.http_timeout = settings.spawn_timeout
    # A lab that died (out of memory, container removed) is noticed within this, not JupyterHub's 30 s.
    c.Spawner.poll_interval = LAB_POLL_INTERVAL_S
    c.Spawner.environment = lab_environment(settings)

    c.JupyterHub.services = [{"name": ADMIN_SERVICE, "api_token": secrets.admin_api_token}]
    c.JupyterHub.load_roles = [
        {
            "name": ADMIN_SERVICE,
            "description": "Operations token of the workbench CLI and tests",
            "scopes": ADMIN_SCOPES,
            "services": [ADMIN_SERVICE],
        }
    ]

    client_secret = effective_client_secret(settings, secrets)
    try:
        metadata = auth.discover(settings.oidc_issuer, timeout=discover_timeout)
        auth.check_client(metadata, settings.oidc_client_id, client_secret)
    except (auth.DiscoveryError, auth.ClientCredentialsError) as exc:
        raise HubConfigError(str(exc)) from None
    auth.configure(c, settings, metadata, client_secret=client_secret)

    try:
        spawners.configure(c, settings)
    except spawners.SpawnerUnavailable as exc:
        raise HubConfigError(str(exc)) from None

    for name in HUB_EXTENSIONS:
        module = import_optional(name)
        if module is not None:
            module.configure_hub(c, settings, secrets)
