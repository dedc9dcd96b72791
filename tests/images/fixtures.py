"""Session fixtures for tests that need the lab image (image, Docker and Swarm tests).

``lab_image`` builds the image once per test session with ``workbench images build``'s code: a
fresh CI machine makes the base with debootstrap and builds everything (a few minutes); on a machine
that has built it before, every layer comes from the cache (seconds). It is registered for the whole
suite in ``tests/conftest.py``.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support import ROOT, need, need_executable
from workbench.images import build


def docker_answers() -> bool:
    """Whether a Docker engine answers ``docker info``."""
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "info"], capture_output=True).returncode == 0


def need_docker() -> None:
    """Skip (laptop) or fail (``CI=true``) without a Docker engine."""
    need_executable("docker")
    need(docker_answers(), "a Docker engine answering `docker info` (bash .ci/start-dockerd)")


@pytest.fixture(scope="session")
def clean_clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clean clone of the checkout's HEAD: what the image is built from in the tests.

    Building from it rather than the working tree is what CI does (a fresh clone), and keeps the
    build inputs still while the tests run even if the working tree is being edited.
    """
    clone = tmp_path_factory.mktemp("clone") / "s2p-workbench"
    subprocess.run(["git", "clone", "--quiet", "--local", str(ROOT), str(clone)], check=True)
    return clone


@pytest.fixture(scope="session")
def lab_image(clean_clone: Path) -> build.BuildResult:
    """The lab image, built (or confirmed up to date from the cache) once per session."""
    need_docker()
    need(
        build.image_exists(build.LOCAL_BASE) or shutil.which("debootstrap") is not None,
        "debootstrap (to make the base image) or an existing s2p/base:bookworm",
    )
    lines: list[str] = []
    return build.build_lab_image(build.DEFAULT_IMAGE, log=lines.append, **build_dirs(clean_clone))


def build_dirs(clone: Path) -> dict:
    """Build arguments for a clone: its sources, the checkout's caches (wheelhouse, s2p wheels)."""
    return {"root": clone, "cache_dir": ROOT / ".cache" / "images", "wheelhouse_dir": ROOT / ".wheelhouse"}


@pytest.fixture(scope="session")
def stack_images(lab_image: build.BuildResult, clean_clone: Path) -> dict[str, build.BuildResult]:
    """The production stack's images (hub, keycloak, postgres, front, prometheus), built once per session.

    From the clean clone like the lab image; the downloads (wheelhouse, the nodejs package, the
    Keycloak zip, fetched with Maven when missing) are cached outside the clone.
    """
    from workbench.images import services

    need_executable("apt-get")
    lines: list[str] = []
    return {
        name: services.build_service_image(name, log=lines.append, **service_build_dirs(clean_clone))
        for name in services.SERVICE_IMAGES
    }


def service_build_dirs(clone: Path) -> dict:
    """:func:`build_dirs` plus the checkout's node_modules (a clone has none)."""
    return {**build_dirs(clone), "node_modules": ROOT / "node_modules"}
