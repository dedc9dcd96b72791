"""Session fixtures shared by every test package (helpers live in :mod:`tests.support`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.images.fixtures import clean_clone, lab_image  # noqa: F401  (session-wide: image, docker, swarm tests)
from tests.support import DATA, ROOT


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA
