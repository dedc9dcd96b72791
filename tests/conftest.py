"""Session fixtures shared by every test package (helpers live in :mod:`tests.support`)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.images.fixtures import (  # noqa: F401  (session-wide: image, docker, swarm tests)
    clean_clone,
    lab_image,
    stack_images,
)
from tests.support import DATA, ROOT

# The numba cache `make install` filled (python -m s2p.warmup): the tests, and the hubs, labs and jobs they
# start, load the s2p kernels from it rather than compiling them again. Set before anything imports numba.
os.environ.setdefault("NUMBA_CACHE_DIR", str(Path(sys.prefix) / "numba-cache"))


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA


@pytest.fixture(scope="module")
def single_node_swarm() -> Iterator[None]:
    """This engine as a one-node swarm on 127.0.0.1 for a module; it leaves the swarm afterwards
    (removing the ``docker_gwbridge`` bridge ``swarm init`` made) unless it was one already."""
    from tests.images.fixtures import need_docker
    from workbench.spawners import swarm

    need_docker()
    created = swarm.ensure_single_node_swarm()
    try:
        yield
    finally:
        if created:
            swarm.leave_swarm()
