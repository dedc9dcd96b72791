"""A tool's Voila in a container of the lab image (the Docker and Swarm spawners: production).

The gateway stays on the hub's side (it holds the hub's OAuth client and the tool's service token) and
starts one container per tool on the engine it talks to, on the host network, where Voila listens on
127.0.0.1 and a free port as it would locally. The container holds nothing worth taking:

- it runs as ``jovyan`` (uid 1000, the image's only user; the gateway's own user when the hub is not
  root, as in the stack: :mod:`workbench.runas`), every capability dropped,
  ``no-new-privileges``, an init process, a process and a memory limit;
- it mounts the tool's folder and the data, read-only, and Voila's configuration (its token), one
  read-only file written under ``Launch.config_dir`` (in the state directory, which the engine can
  mount even when the hub itself runs in a container); no state directory, no users' homes, no Docker
  socket;
- its environment is the data settings of the labs: no hub, OIDC or database credential.

With the Swarm spawner the tool's container runs on the hub's node (the gateway reaches Voila on
loopback), beside the hub rather than as a swarm service.

A container left by a gateway that was killed (``SIGKILL``) is removed, by its name, when the hub
starts the tool again.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
from pathlib import Path
from typing import Any

from workbench.apps.handover import Launch
from workbench.apps.spec import AppSpec
from workbench.apps.voila import VoilaServer
from workbench.runas import JOVYAN, container_user, user_spec

log = logging.getLogger("workbench.apps.gateway")

TOOL_DIR = "/srv/tool"
"""The tool's folder inside the container (read-only)."""
CONFIG_DIR = "/etc/workbench-voila"
"""Where Voila's configuration is mounted (one read-only file, readable by jovyan only)."""
PIDS_LIMIT = 1024
"""Processes a tool's container may hold (Voila, its kernels and their threads)."""
LABEL = "org.s2p.workbench"


class ContainerVoila(VoilaServer):
    """Voila in a hardened container of the lab image, on the host network."""

    def __init__(self, spec: AppSpec, prefix: str, launch: Launch) -> None:
        super().__init__(spec, prefix, launch)
        self.container: Any = None
        self._exit: int | None = None
        self._threads: list[threading.Thread] = []
        self.user = container_user()

    @property
    def where(self) -> str:
        return f"container {self.launch.container_name} of {self.launch.image}"

    def environment(self) -> dict[str, str]:
        """The tool's settings, with the data where the container sees it (and a writable ``HOME`` for a
        user other than the image's own)."""
        env = {**self.launch.environment, "WORKBENCH_DATA_DIR": "/data", "PYTHONUNBUFFERED": "1"}
        if self.user != JOVYAN:
            env["HOME"] = "/tmp"
        return env

    def run_kwargs(self, config_file: Path) -> dict[str, Any]:
        """The arguments of ``docker.containers.run`` for this tool (what the container may do)."""
        launch = self.launch
        volumes: dict[str, dict[str, str]] = {
            str(self.spec.directory): {"bind": TOOL_DIR, "mode": "ro"},
            str(config_file): {"bind": f"{CONFIG_DIR}/voila.json", "mode": "ro"},
        }
        if launch.data_dir:
            volumes[launch.data_dir] = {"bind": "/data", "mode": "ro"}
        kwargs: dict[str, Any] = {
            "image": launch.image,
            "command": ["python", "-m", "voila", *self.voila_args(TOOL_DIR, CONFIG_DIR)],
            "name": launch.container_name,
            "user": user_spec(self.user),
            "working_dir": TOOL_DIR,
            "environment": self.environment(),
            "volumes": volumes,
            "network_mode": "host",
            "cap_drop": ["ALL"],
            "security_opt": ["no-new-privileges"],
            "init": True,
            "pids_limit": PIDS_LIMIT,
            "labels": {LABEL: "tool", f"{LABEL}.tool": self.spec.name},
            "auto_remove": True,
            "detach": True,
        }
        if launch.memory_bytes:
            kwargs["mem_limit"] = launch.memory_bytes
            kwargs["memswap_limit"] = launch.memory_bytes
        return kwargs

    def _client(self) -> Any:
        import docker

        return docker.from_env(timeout=60)

    def _remove(self, name: str) -> None:
        import docker.errors

        try:
            self._client().containers.get(name).remove(force=True)
        except docker.errors.NotFound:
            return
        except docker.errors.APIError as exc:  # "removal already in progress" (auto_remove)
            log.debug("removing %s: %s", name, exc)

    async def start(self) -> None:
        await asyncio.to_thread(self._start)  # the Docker API blocks

    def _start(self) -> None:
        import docker.errors

        name = self.launch.container_name
        self._remove(name)  # left by a gateway that was killed
        config = self.write_config(
            self.user, parent=Path(self.launch.config_dir) if self.launch.config_dir else None
        )
        try:
            self.container = self._client().containers.run(**self.run_kwargs(config))
        except docker.errors.ImageNotFound:
            raise RuntimeError(
                f"the lab image {self.launch.image} is missing: build it with `workbench images build`"
            ) from None
        log.info("tool %s: Voila and its kernels run in %s", self.spec.name, self.where)
        for target in (self._follow_logs, self._wait):
            thread = threading.Thread(target=target, name=f"{name}-{target.__name__}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def _follow_logs(self) -> None:
        """Voila's output into the gateway's (the hub's log)."""
        try:
            for chunk in self.container.logs(stream=True, follow=True):
                sys.stderr.buffer.write(chunk)
                sys.stderr.buffer.flush()
        except Exception as exc:  # the container is gone: nothing more to show
            log.debug("logs of %s ended: %s", self.launch.container_name, exc)

    def _wait(self) -> None:
        try:
            self._exit = int(self.container.wait()["StatusCode"])
        except Exception as exc:  # removed before wait() looked (auto_remove)
            log.debug("wait on %s: %s", self.launch.container_name, exc)
            self._exit = -1

    def exit_code(self) -> int | None:
        return self._exit

    def stop(self) -> None:
        # Removed at once (killed): the kernels hold nothing to save, everything of the tool lives in
        # the container, and the hub stops its services one after the other before the users' labs.
        if self.container is not None:
            self._remove(self.launch.container_name)
        self.remove_config()


def remove_tool_containers(prefix: str) -> list[str]:
    """Remove the tool containers of one workbench (``<prefix>-tool-*``) left by gateways that were
    killed; return their names. Used by ``workbench up`` once the hub has stopped."""
    import docker

    client = docker.from_env(timeout=60)
    removed = []
    for container in client.containers.list(all=True, filters={"label": f"{LABEL}=tool"}):
        if container.name.startswith(f"{prefix}-tool-"):
            container.remove(force=True)
            removed.append(container.name)
    return removed
