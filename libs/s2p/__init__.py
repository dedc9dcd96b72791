"""s2p — the shared, numba-accelerated library of the S2P Workbench.

Segments:

- :mod:`s2p.debris` — TLE catalogues, SGP4/SDP4, conjunction screening, CDMs and collision probability.
- :mod:`s2p.neo` — NEO orbits, two-body propagation, MOID, ephemerides, close approaches, risk lists.
- :mod:`s2p.spaceweather` — geomagnetic and solar indices, ionosphere maps, storms and flares.

``s2p.catalog()`` opens the Intake catalog over the shipped data (or ``WORKBENCH_DATA_DIR``);
``s2p.data_path()`` resolves a user-given path inside that folder (see :mod:`s2p.paths`).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from s2p.errors import DataNotFoundError, ParseError, S2PError
from s2p.paths import DataPath, DataPathError, data_path

__version__ = "0.1.0"

__all__ = [
    "DataNotFoundError",
    "DataPath",
    "DataPathError",
    "ParseError",
    "S2PError",
    "__version__",
    "catalog",
    "data_path",
    "debris",
    "frames",
    "neo",
    "spaceweather",
    "time",
]

_SUBMODULES = {"debris", "frames", "neo", "spaceweather", "time"}


def catalog(*args: Any, **kwargs: Any) -> Any:
    """Open the root Intake catalog (see :func:`s2p.catalogs.catalog`)."""
    from s2p.catalogs import catalog as _catalog

    return _catalog(*args, **kwargs)


def __getattr__(name: str) -> Any:
    # Segments are imported lazily: ``import s2p`` stays fast in every kernel, and numba only
    # compiles what a notebook actually uses.
    if name in _SUBMODULES:
        module = import_module(f"s2p.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 's2p' has no attribute {name!r}")


def __dir__() -> list[str]:
    # Tab completion in a fresh kernel lists the lazily imported segments, not this module's helpers.
    # Subpackages imported explicitly (``import s2p.catalogs``) are listed too.
    loaded = (n for n, v in globals().items() if getattr(v, "__name__", "").startswith("s2p."))
    return sorted({*__all__, *loaded, *(name for name in globals() if name.startswith("__"))})
