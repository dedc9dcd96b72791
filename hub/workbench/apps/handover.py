"""What the hub hands a tool's gateway: the validated ``app.yaml`` and how to run the tool's Voila.

The hub (:mod:`workbench.apps.hub`) decides everything from its settings and puts it in the managed
service's environment as JSON: ``WORKBENCH_APP_SPEC`` (the :class:`~workbench.apps.spec.AppSpec`)
and ``WORKBENCH_APP_LAUNCH`` (a :class:`Launch`). The gateway reads nothing else of the hub's
configuration.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from workbench.apps.spec import AppSpec, Kernels

SPEC_ENV = "WORKBENCH_APP_SPEC"
LAUNCH_ENV = "WORKBENCH_APP_LAUNCH"
RUNTIMES = ("local", "container")


@dataclass(frozen=True)
class Launch:
    """How and where a tool's Voila and kernels run.

    Attributes
    ----------
    runtime
        ``local`` (a child process of the gateway: the local spawner) or ``container`` (a container
        of the lab image: the Docker and Swarm spawners).
    environment
        The ``WORKBENCH_*`` settings the kernels get (data folder, catalogs), as for labs.
    data_dir
        The host's data folder (mounted read-only at ``/data`` in a container).
    kernel_filter
        Whether the gateway passes only widget messages to the kernels (``WORKBENCH_APPS_KERNEL_FILTER``).
    allowed_groups
        The groups whose members may use the workbench (``WORKBENCH_ALLOWED_GROUPS``); ``None``: any.
    admin_groups
        The workbench's admin groups (``WORKBENCH_ADMIN_GROUPS``): their members may open every tool,
        as they may act on every segment's jobs (one rule, :func:`workbench.apps.policy.decide`).
    local_uid
        ``local``: the uid (and gid) the tool's Voila and kernels run as when the hub runs as root.
    hidden
        ``local``: directories the tool's Voila and kernels must not see (the state directory), hidden
        by the sandbox (:mod:`workbench.apps.sandbox`) when the hub runs as root.
    image
        ``container``: the lab image.
    container_name
        ``container``: the container's name (unique per workbench and tool).
    memory_bytes
        ``container``: memory limit of the tool's container, kernels included [bytes]; 0 for none.
    config_dir
        ``container``: where Voila's configuration is written for the engine to mount (a folder of
        the state directory: a path the engine sees even when the hub runs in a container); empty for
        the system's temporary folder.
    """

    runtime: str = "local"
    environment: dict[str, str] = field(default_factory=dict)
    data_dir: str = ""
    kernel_filter: bool = True
    allowed_groups: list[str] | None = None
    admin_groups: list[str] = field(default_factory=list)
    local_uid: int | None = None
    hidden: list[str] = field(default_factory=list)
    image: str = ""
    container_name: str = ""
    memory_bytes: int = 0
    config_dir: str = ""

    def __post_init__(self) -> None:
        if self.runtime not in RUNTIMES:
            raise ValueError(f"runtime {self.runtime!r}: one of {', '.join(RUNTIMES)}")


def spec_to_json(spec: AppSpec) -> str:
    """The spec as the JSON the hub puts in ``WORKBENCH_APP_SPEC``."""
    data = asdict(spec)
    data["directory"] = str(spec.directory)
    return json.dumps(data)


def spec_from_json(text: str) -> AppSpec:
    """Inverse of :func:`spec_to_json`."""
    data = json.loads(text)
    data["directory"] = Path(data["directory"])
    data["groups"] = tuple(data["groups"])
    data["kernels"] = Kernels(**data["kernels"])
    return AppSpec(**data)


def launch_to_json(launch: Launch) -> str:
    """The launch as the JSON the hub puts in ``WORKBENCH_APP_LAUNCH``."""
    return json.dumps(asdict(launch))


def launch_from_json(text: str) -> Launch:
    """Inverse of :func:`launch_to_json`."""
    return Launch(**json.loads(text))
