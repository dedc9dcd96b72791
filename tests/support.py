"""Helpers shared by tests: prerequisites that skip on a laptop but fail under ``CI=true``, free ports.

Import as ``from tests.support import need, need_executable, free_port, ROOT, DATA, IN_CI``.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def need(condition: bool, what: str) -> None:
    """Skip (laptop) or fail (CI) when a prerequisite is missing."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"prerequisite missing under CI=true: {what}")
    pytest.skip(f"prerequisite missing (a failure under CI=true): {what}")


def need_executable(name: str) -> str:
    """Path of an executable, or skip/fail as :func:`need` does."""
    path = shutil.which(name)
    need(path is not None, f"executable {name!r} on PATH")
    assert path is not None
    return path


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def reachable_dir(prefix: str) -> Path:
    """A new 0711 folder of ours in the system's temporary folder (remove it after the test).

    Local job runs execute as another account (when the tests run as root), which must reach its work
    folder by name through every parent: pytest's own temporary folders are 0700.
    """
    path = Path(tempfile.mkdtemp(prefix=prefix))
    os.chmod(path, 0o711)
    return path
