"""Published tools as hub services: what :func:`configure_hub` adds to the hub's configuration.

For every valid folder of ``voila-apps/`` (``WORKBENCH_APPS_DIR``):

- a hub-managed service named after the folder, reachable at ``/services/<name>/``, whose command is
  the tool's gateway (:mod:`workbench.apps.gateway`) on a free port of 127.0.0.1; the hub starts and
  stops it with itself, lists it in ``GET /hub/api/services`` (with ``info``: title, description,
  access) and logs users in to it by OAuth without a confirmation page. How the tool's Voila runs
  (:func:`launch_for`) follows the spawner: a container of the lab image with the Docker and Swarm
  spawners, a local process (under a uid of its own when the hub runs as root) with the local one;
- the scope ``access:services!service=<name>`` for whom the policy lets in: every user for
  ``public`` and ``logged-in`` tools, the members of the listed groups and of the admin groups
  (``WORKBENCH_ADMIN_GROUPS``, who reach every segment's tools as they do its jobs) for ``groups``
  tools (a role ``app-<name>``). The hub refuses the others at its OAuth step; the gateway checks again;
- the OAuth tokens of the service may read the user's groups (``read:users:groups!user``).

A broken ``app.yaml`` does not stop the hub: the tool is left out and the hub log says which file and
field is wrong (``workbench apps check`` is not needed: the same message appears at every start).
The home page's "Published tools" list comes from the template variable ``workbench_tools``.
"""

from __future__ import annotations

import socket
import sys
from collections.abc import Callable
from typing import Any

from traitlets.log import get_logger

from workbench.apps.handover import LAUNCH_ENV, SPEC_ENV, Launch, launch_to_json, spec_to_json
from workbench.apps.spec import AppSpec, discover
from workbench.secrets import HubSecrets
from workbench.settings import Settings

GROUPS_SCOPE = "read:users:groups!user"
"""What the tools' OAuth tokens may read besides the user's name: the groups of the policy."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def launch_for(spec: AppSpec, settings: Settings) -> Launch:
    """How ``spec``'s Voila runs under ``settings`` (see :class:`workbench.apps.handover.Launch`)."""
    from workbench.apps.launch_local import tool_uid

    common: dict[str, Any] = {
        "environment": settings.lab_environment(),
        "data_dir": str(settings.data_dir),
        "kernel_filter": settings.apps_kernel_filter,
        "allowed_groups": list(settings.allowed_groups),
        "admin_groups": list(settings.admin_groups),
    }
    if settings.spawner in {"docker", "swarm"}:
        from workbench.spawners.docker import instance_prefix
        from workbench.spawners.profiles import parse_bytes

        return Launch(
            runtime="container",
            image=settings.image,
            container_name=f"{instance_prefix(settings)}-tool-{spec.name}",
            memory_bytes=parse_bytes(settings.apps_memory),
            config_dir=str(settings.state_dir / "apps" / "config"),
            **common,
        )
    return Launch(
        runtime="local",
        local_uid=tool_uid(settings.apps_uid_base, settings.state_dir, spec.name),
        hidden=[str(settings.state_dir)],
        **common,
    )


def service_for(spec: AppSpec, environment: dict[str, str], port: int, launch: Launch) -> dict[str, Any]:
    """The ``c.JupyterHub.services`` entry of a tool."""
    return {
        "name": spec.name,
        "url": f"http://127.0.0.1:{port}",
        "command": [sys.executable, "-m", "workbench.apps.gateway"],
        "cwd": str(spec.directory),
        "environment": {**environment, SPEC_ENV: spec_to_json(spec), LAUNCH_ENV: launch_to_json(launch)},
        "display": True,
        "oauth_no_confirm": True,
        "oauth_client_allowed_scopes": [GROUPS_SCOPE],
        # Voila's first start imports the science stack; the hub waits for the gateway only.
        "timeout": 60,
        "info": {
            "title": spec.title,
            "description": spec.description,
            "segment": spec.segment,
            "access": spec.access,
            "groups": list(spec.groups),
            "kind": "voila-app",
        },
    }


def tools_for(
    apps: list[AppSpec], admin_groups: tuple[str, ...] = ()
) -> Callable[[Any], list[dict[str, str]]]:
    """The home page's template variable: the tools a hub user may open (title, description, URL);
    members of ``admin_groups`` may open every tool."""

    def visible(user: Any) -> list[dict[str, str]]:
        groups = None if user is None else {g.name for g in user.groups}
        return [
            {
                "name": a.name,
                "title": a.title,
                "description": a.description,
                "segment": a.segment,
                "access": a.access,
                "url": a.url_path,
            }
            for a in apps
            if a.may_open(groups, admin_groups)
        ]

    return visible


def _add_user_scopes(c: Any, scopes: set[str]) -> None:
    # Add, never replace: another extension (the jobs service) may have added its own. Unset, the
    # value is traitlets' LazyConfigValue, whose update() is applied on top of the trait's default.
    c.JupyterHub.extra_user_scopes.update(scopes)


def configure_hub(c: Any, settings: Settings, secrets: HubSecrets) -> list[AppSpec]:
    """Add the published tools of ``settings.apps_dir`` to the hub configuration ``c``.

    Returns
    -------
    list of AppSpec
        The tools published (the broken ones are logged and left out).
    """
    log = get_logger()  # the hub's log (hub.log) while the hub reads its configuration
    apps, errors = discover(settings.apps_dir, known_groups=settings.allowed_groups)
    for error in errors:
        log.error("workbench apps: tool left out: %s", error)
    if not apps:
        log.info("workbench apps: no published tools in %s", settings.apps_dir)
        return apps

    # The gateway's own environment: its log level (what its Voila and kernels get is in the launch).
    environment = {"WORKBENCH_LOG_LEVEL": settings.log_level, "WORKBENCH_LOG_FORMAT": settings.log_format}
    services = list(c.JupyterHub.services) if isinstance(c.JupyterHub.services, list) else []
    roles = list(c.JupyterHub.load_roles) if isinstance(c.JupyterHub.load_roles, list) else []
    everyone: set[str] = set()
    for spec in apps:
        services.append(service_for(spec, environment, _free_port(), launch_for(spec, settings)))
        scope = f"access:services!service={spec.name}"
        if spec.access == "groups":
            roles.append(
                {
                    "name": f"app-{spec.name}",
                    "description": f"Open the published tool {spec.title}",
                    "scopes": [scope],
                    # One rule for tools and jobs: the admin groups reach every segment's.
                    "groups": sorted({*spec.groups, *settings.admin_groups}),
                }
            )
        else:
            everyone.add(scope)
        log.info("workbench apps: %s at %s (%s)", spec.name, spec.url_path, spec.describe_access())
    c.JupyterHub.services = services
    c.JupyterHub.load_roles = roles
    if everyone:
        _add_user_scopes(c, everyone)
    c.JupyterHub.template_vars.update({"workbench_tools": tools_for(apps, settings.admin_groups)})
    return apps
