"""``WORKBENCH_SPAWNER=swarm``: each user's lab as a Docker Swarm service.

Same image, profiles, mounts and loopback networking as :mod:`workbench.spawners.docker`, on a swarm.
Here (dev, CI) the swarm is one node initialised on 127.0.0.1 (:func:`ensure_single_node_swarm`);
docs/containers.md explains a swarm of several nodes across sites.

Differences from the Docker spawner, and why:

- A service's task is a container the swarm restarts by default; a lab that died must instead be
  reported stopped to the hub, so the restart policy is ``none``.
- Home and group shares are ``volume`` mounts (named volumes on the node that runs the task); the
  stock SwarmSpawner makes every mount a bind mount.
- Docker Engine 20.10's service API has no ``no-new-privileges``; the lab image has no setuid or
  setgid binary and the task drops every capability, which closes the same door.
"""

from __future__ import annotations

import subprocess
from typing import Any

from docker.types import Mount, RestartPolicy
from dockerspawner import SwarmSpawner
from traitlets import default

from workbench.spawners.docker import LoopbackLabMixin, StorageMixin, apply_common
from workbench.spawners.profiles import ProfilesMixin

LOOPBACK = "127.0.0.1"


class WorkbenchSwarmSpawner(ProfilesMixin, StorageMixin, LoopbackLabMixin, SwarmSpawner):  # type: ignore[misc]
    """SwarmSpawner on the host network with profiles, per-user volumes and dropped capabilities."""

    @default("extra_container_spec")
    def _default_extra_container_spec(self) -> dict[str, Any]:
        return {"cap_drop": ["ALL"], "init": True, "labels": {"org.s2p.workbench": "lab"}}

    @default("extra_task_spec")
    def _default_extra_task_spec(self) -> dict[str, Any]:
        return {"restart_policy": RestartPolicy(condition="none")}

    @default("extra_create_kwargs")
    def _default_extra_create_kwargs(self) -> dict[str, Any]:
        return {"labels": {"org.s2p.workbench": "lab"}}

    @property
    def mounts(self) -> list[Mount]:
        """Named volumes as ``volume`` mounts, host folders (absolute paths) as ``bind`` mounts."""
        out = []
        for source, spec in self.volume_binds.items():
            kind = "bind" if source.startswith("/") else "volume"
            out.append(Mount(target=spec["bind"], source=source, type=kind, read_only=spec["mode"] == "ro"))
        return out


def swarm_state() -> str:
    """This engine's swarm state: ``inactive``, ``active``, ``pending``, ``error`` or ``locked``."""
    proc = subprocess.run(
        ["docker", "info", "--format", "{{.Swarm.LocalNodeState}}"],
        capture_output=True,
        text=True,
        check=True,
    )
    return proc.stdout.strip()


def ensure_single_node_swarm() -> bool:
    """Make this engine a one-node swarm listening on loopback only; True when it was initialised.

    ``--listen-addr`` keeps the manager's port 2377 on 127.0.0.1 (the default is every interface).
    """
    if swarm_state() == "active":
        return False
    subprocess.run(
        [
            "docker", "swarm", "init",
            "--advertise-addr", LOOPBACK,
            "--listen-addr", f"{LOOPBACK}:2377",
            "--data-path-addr", LOOPBACK,
        ],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return True


def leave_swarm() -> None:
    """Leave the swarm and remove the ``docker_gwbridge`` bridge that ``swarm init`` created."""
    subprocess.run(["docker", "swarm", "leave", "--force"], capture_output=True, text=True)
    subprocess.run(["docker", "network", "rm", "docker_gwbridge"], capture_output=True, text=True)


def configure(c: Any, settings: Any) -> None:
    """Make the hub spawn :class:`WorkbenchSwarmSpawner` (``WORKBENCH_SPAWNER=swarm``).

    In the ``dev`` environment an engine that is not in a swarm is made a single-node swarm on
    loopback; elsewhere the swarm is the operators' (docs/containers.md) and must already exist.
    """
    if str(getattr(settings, "env", "dev")) == "dev":
        ensure_single_node_swarm()
    c.JupyterHub.spawner_class = WorkbenchSwarmSpawner
    apply_common(c, "WorkbenchSwarmSpawner", settings)
