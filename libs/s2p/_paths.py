"""Where the shipped data lives.

The library runs inside lab containers as well as on the host, so it has its own tiny lookup rather
than depending on the platform's settings: ``WORKBENCH_DATA_DIR`` when set, else the project's
``data/`` folder (a source checkout), else ``/data`` (the lab image's read-only mount).
"""

from __future__ import annotations

import os
from pathlib import Path

_PROJECT_DATA = Path(__file__).resolve().parents[2] / "data"


def data_dir() -> Path:
    """Return the root folder of the segment data."""
    env = os.environ.get("WORKBENCH_DATA_DIR")
    if env:
        return Path(env)
    if _PROJECT_DATA.is_dir():
        return _PROJECT_DATA
    return Path("/data")
