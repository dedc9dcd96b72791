"""Where each user's JupyterLab runs, chosen by ``WORKBENCH_SPAWNER``.

:func:`configure` dispatches on the setting to the module that owns that kind of spawner; each module
exposes ``configure(c, settings)``. Only the chosen module is imported, so a machine without Docker
never imports the Docker client. To add a kind: add its module and one entry to :data:`SPAWNER_MODULES`
(and its name to ``workbench.settings.SPAWNERS``).
"""

from __future__ import annotations

import importlib
from typing import Any

from workbench.settings import Settings

SPAWNER_MODULES: dict[str, str] = {
    "local": "workbench.spawners.local",
    "docker": "workbench.spawners.docker",
    "swarm": "workbench.spawners.swarm",
}


class SpawnerUnavailable(RuntimeError):
    """The chosen spawner is not part of this installation."""


def configure(c: Any, settings: Settings) -> None:
    """Configure ``c`` (the hub's traitlets config) for ``settings.spawner``.

    Raises
    ------
    SpawnerUnavailable
        If the module of that spawner is missing.
    """
    name = SPAWNER_MODULES.get(settings.spawner)
    if name is None:
        raise SpawnerUnavailable(f"WORKBENCH_SPAWNER={settings.spawner}: no spawner module is registered")
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and name.startswith(exc.name):
            raise SpawnerUnavailable(
                f"WORKBENCH_SPAWNER={settings.spawner}: {name} is not part of this installation"
            ) from None
        raise
    module.configure(c, settings)
