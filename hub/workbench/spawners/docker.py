"""``WORKBENCH_SPAWNER=docker``: each user's lab in a container of the lab image.

Network
    Containers share the host's network namespace (``network_name="host"``) and the single-user
    server binds 127.0.0.1 on a port of its own, chosen free when the server starts. So the engine
    needs no bridge and no iptables rules (``dockerd --bridge=none --iptables=false``), nothing is
    published, and the hub reaches the server on loopback. Host mode refuses port bindings, hence
    ``use_internal_ip`` and :meth:`get_ip_and_port` returning 127.0.0.1 and that port.
Storage
    ``<prefix>-home-<user>`` (a named volume) at ``/home/jovyan``, kept when the container is
    removed, so files survive a server restart; the host's data folder read-only at ``/data``; for
    each segment group of the user, the named volume ``<prefix>-shared-<group>`` at
    ``/shared/<group>``. ``<prefix>`` is ``s2p-<instance>``, the instance being a short digest of
    the hub's state directory: several workbenches (a developer's, the tests') can share one
    engine without ever mounting each other's volumes or clashing on container names.
    Everyone runs as ``jovyan`` (uid 1000) inside, so Unix permissions cannot separate users of
    one group: the separation is that a group's volume is *mounted only into its members'
    containers* (admins get all). Another user's home volume is never mounted.
Limits and hardening
    Memory and CPU from the chosen profile (:mod:`workbench.spawners.profiles`): the kernel that
    goes beyond the memory limit is killed by the container's cgroup, nothing else. Capabilities
    dropped, ``no-new-privileges``, an init process to reap kernels, no Docker socket inside;
    containers are removed on stop.
"""

from __future__ import annotations

import hashlib
import socket
from pathlib import Path
from typing import Any

from dockerspawner import DockerSpawner
from traitlets import Dict, List, Unicode, default
from traitlets.config import LoggingConfigurable

from workbench.images.build import DEFAULT_IMAGE
from workbench.spawners.profiles import ADMIN_GROUP, SEGMENTS, ProfilesMixin, user_groups
from workbench.spawners.ready import until_listening

ROOT = Path(__file__).resolve().parents[3]

HARDENING: dict[str, Any] = {
    "security_opt": ["no-new-privileges"],
    "cap_drop": ["ALL"],
    "init": True,
    "pids_limit": 2048,
}
"""Host-config entries every lab container gets (on top of the profile's limits)."""


def free_loopback_port() -> int:
    """A TCP port free on 127.0.0.1 now (the server binds it a moment later)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class StorageMixin(LoggingConfigurable):
    """Home, data and group-share mounts, shared by the Docker and Swarm spawners."""

    data_dir = Unicode(
        help="Host folder with the segment data, mounted read-only at /data (default: the project's data/).",
    ).tag(config=True)

    @default("data_dir")
    def _default_data_dir(self) -> str:
        return str(ROOT / "data")

    home_volume = Unicode(
        "{prefix}-home-{username}",
        help="Named volume mounted at /home/jovyan; {prefix} and {username} as in name_template.",
    ).tag(config=True)

    shared_volume = Unicode(
        "{prefix}-shared-{group}",
        help="Named volume of a group's shared folder, mounted at /shared/<group> for members only.",
    ).tag(config=True)

    shared_groups = List(
        Unicode(),
        default_value=list(SEGMENTS),
        help="Groups that have a shared folder. The lab image pre-creates /shared/<group> for these.",
    ).tag(config=True)

    def shares_for_user(self) -> list[str]:
        """The groups whose shared folder this user gets: their own segment groups; admins all."""
        groups, admin = user_groups(self.user)  # type: ignore[attr-defined]
        if admin or ADMIN_GROUP in groups:
            return list(self.shared_groups)
        return [g for g in self.shared_groups if g in groups]

    def user_volumes(self) -> dict[str, Any]:
        """``volumes`` for this user: home, the group shares (rw) and the data (ro)."""
        volumes: dict[str, Any] = {self.home_volume: "/home/jovyan"}
        for group in self.shares_for_user():
            volumes[self.shared_volume.replace("{group}", group)] = {"bind": f"/shared/{group}", "mode": "rw"}
        volumes[self.data_dir] = {"bind": "/data", "mode": "ro"}
        return volumes


class LoopbackLabMixin(LoggingConfigurable):
    """What the Docker and Swarm spawners share: the lab image, the host network on loopback.

    Each start picks a free port on 127.0.0.1 for the single-user server (host mode has no port
    bindings, so ports must be unique on the machine) and the hub reaches it there.
    """

    port: int
    volumes: Any

    @default("image")
    def _default_image(self) -> str:
        return DEFAULT_IMAGE

    @default("pull_policy")
    def _default_pull_policy(self) -> str:
        # The image is built here (`workbench images build`); there may be no registry to pull from.
        return "never"

    @default("network_name")
    def _default_network_name(self) -> str:
        return "host"

    @default("use_internal_ip")
    def _default_use_internal_ip(self) -> bool:
        return True

    @default("ip")
    def _ip_default(self) -> str:
        return "127.0.0.1"

    @default("cmd")
    def _default_cmd(self) -> list[str]:
        return ["jupyterhub-singleuser"]

    @default("prefix")
    def _default_prefix(self) -> str:
        return "s2p"

    @default("name_template")
    def _default_name_template(self) -> str:
        return "{prefix}-lab-{username}{servername}"

    async def start(self) -> tuple[str, int]:
        self.port = free_loopback_port()
        self.volumes = self.user_volumes()  # type: ignore[attr-defined]
        started = await super().start()  # type: ignore[misc]
        await until_listening(
            "127.0.0.1",
            self.port,
            running=self._lab_running,
            timeout=self.http_timeout,  # type: ignore[attr-defined]
        )
        return started  # type: ignore[no-any-return]

    async def _lab_running(self) -> bool:
        return await self.poll() is None  # type: ignore[attr-defined, no-any-return]

    async def get_ip_and_port(self) -> tuple[str, int]:
        return "127.0.0.1", self.port


class WorkbenchDockerSpawner(ProfilesMixin, StorageMixin, LoopbackLabMixin, DockerSpawner):  # type: ignore[misc]
    """DockerSpawner on the host network with profiles, per-user volumes and hardening."""

    @default("remove")
    def _default_remove(self) -> bool:
        return True

    extra_labels = Dict(
        default_value={"org.s2p.workbench": "lab"},
        help="Labels on every lab container/service (cleanup and monitoring select on them).",
    ).tag(config=True)

    @default("extra_host_config")
    def _default_extra_host_config(self) -> dict[str, Any]:
        return dict(HARDENING)

    @default("extra_create_kwargs")
    def _default_extra_create_kwargs(self) -> dict[str, Any]:
        return {"labels": dict(self.extra_labels)}

    async def start(self) -> tuple[str, int]:  # type: ignore[override]
        # LoopbackLabMixin.start (next in the MRO) picks the port and the volumes.
        if self.mem_limit:
            # memory + swap = memory: the limit is a limit, not an invitation to swap
            host_config: dict[str, Any] = dict(self.extra_host_config)  # type: ignore[has-type]
            host_config["memswap_limit"] = self.mem_limit
            self.extra_host_config = host_config
        return await super().start()


def configure(c: Any, settings: Any) -> None:
    """Make the hub spawn :class:`WorkbenchDockerSpawner` (``WORKBENCH_SPAWNER=docker``).

    Reads from ``settings`` (``workbench.settings``): ``image`` (``WORKBENCH_IMAGE``) and
    ``data_dir`` (``WORKBENCH_DATA_DIR``), when they are set.
    """
    c.JupyterHub.spawner_class = WorkbenchDockerSpawner
    apply_common(c, "WorkbenchDockerSpawner", settings)


def instance_prefix(settings: Any) -> str:
    """``s2p-<6 hex>``: names this workbench's containers and volumes after its state directory."""
    state_dir = getattr(settings, "state_dir", None)
    if state_dir is None:
        return "s2p"
    digest = hashlib.sha256(str(Path(state_dir).resolve()).encode()).hexdigest()[:6]
    return f"s2p-{digest}"


def apply_common(c: Any, section: str, settings: Any) -> None:
    """Settings shared by the Docker and Swarm spawners."""
    cfg = c[section]
    cfg.prefix = instance_prefix(settings)
    image = getattr(settings, "image", None)
    if image:
        cfg.image = str(image)
    data_dir = getattr(settings, "data_dir", None)
    if data_dir:
        cfg.data_dir = str(Path(data_dir).resolve())
    # The hub's own environment names host paths; inside, the data is always at /data.
    environment = dict(c.Spawner.get("environment", {}) or {})
    environment["WORKBENCH_DATA_DIR"] = "/data"
    cfg.environment = environment
    cfg.default_url = "/lab"
