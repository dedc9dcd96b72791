"""Start-up work a workbench lab never needs, left out before JupyterLab loads.

Called from the labs' Jupyter Server configuration (``labconfig/jupyter_server_config.py``, which local
labs find on ``JUPYTER_CONFIG_PATH`` and the lab image has in ``/etc/jupyter``). A config file is read
before the server imports its extensions, so what is set here is in place when ``jupyterlab`` loads.

What it leaves out, and why that changes nothing a user sees:

- **Yarn's configuration.** ``jupyterlab.labapp`` asks ``node yarn.js config`` for the npm registry
  when the module is imported (for its version banner), which starts a Node.js process on every lab
  start when ``node`` is on the ``PATH`` (0.3 s on an idle core, over 1 s on a busy machine). A
  workbench lab never builds extensions nor reaches a registry (the extension manager is read-only,
  the deployment is offline), so the registry is JupyterLab's own default without asking Node.

The other large start-up cost, ``jsonschema`` building an RFC 3987 grammar at import (1.4 s of CPU in
every Jupyter process), is removed where the environments are made: ``rfc3987-syntax`` is not
installed (Makefile, images); :func:`check_environment` reports when it is.
"""

from __future__ import annotations

import importlib.util
from typing import Any

SLOW_IMPORTS: tuple[str, ...] = ("rfc3987_syntax",)
"""Modules that must not be importable in a lab's environment: each costs over a second at import and
is needed by nothing the workbench runs (``jsonschema``'s optional ``iri`` format checks; no schema of
Jupyter's uses that format)."""


def _registry_without_node(logger: Any = None) -> dict[str, dict[str, str]]:
    """What ``jupyterlab.commands._yarn_config`` returns when Node.js is absent: no user configuration."""
    return {"yarn config": {}, "npm config": {}}


def quick_start() -> None:
    """Leave out the start-up work listed in the module's docstring (idempotent)."""
    import jupyterlab.commands

    jupyterlab.commands._yarn_config = _registry_without_node  # type: ignore[assignment]


def check_environment() -> list[str]:
    """Names of :data:`SLOW_IMPORTS` that this environment can import (empty when it is as built)."""
    return [name for name in SLOW_IMPORTS if importlib.util.find_spec(name) is not None]
