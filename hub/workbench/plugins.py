"""Optional parts of the platform, found by module name.

The CLI's command groups and the hub's extensions (jobs service, published apps) are modules that an
installation may or may not have. :func:`import_optional` tells the two cases apart: the module is
absent (skip it), or it is present but broken (a bug: let the error surface).
"""

from __future__ import annotations

import importlib
from types import ModuleType


def import_optional(name: str) -> ModuleType | None:
    """Import ``name``; ``None`` when that module (or a package on its path) is not installed.

    Any other failure, including a missing dependency *inside* the module, is raised.
    """
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and name.startswith(exc.name):
            return None
        raise
