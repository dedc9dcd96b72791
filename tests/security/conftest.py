"""The workbench the security tests attack: one ``workbench up`` (local spawner) for the package.

It publishes the test-only tools of :mod:`tests.security.tools` and a tiny job notebook, in a folder
every uid may traverse (a tool's sandboxed uid must read its folder), next to the state directory.
The container tests (``test_tool_containers.py``) start their own workbench with the Docker spawner.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import nbformat
import psutil
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from tests.e2e.harness import Workbench, start_workbench
from tests.security.tools import TOOLS, write_tools
from tests.support import need_executable
from workbench.apps.launch_local import tool_uid
from workbench.settings import Settings

JOB_NOTEBOOK = "security/tiny.ipynb"


def write_job_notebook(root: Path) -> Path:
    """A parametrised notebook that runs in a second (``WORKBENCH_JOBS_NOTEBOOKS_DIR``)."""
    params = new_code_cell("label = 'matrix'")
    params.metadata["tags"] = ["parameters"]
    nb = new_notebook(
        cells=[params, new_code_cell("print(f'tiny job {label}')")],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
    )
    path = root / JOB_NOTEBOOK
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return root


@pytest.fixture(scope="package")
def open_root() -> Iterator[Path]:
    """A temporary folder every uid may traverse (pytest's own are 0700)."""
    root = Path(tempfile.mkdtemp(prefix="s2p-security-", dir="/tmp"))
    os.chmod(root, 0o755)
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="package")
def local_wb(open_root: Path) -> Iterator[Workbench]:
    """The package's workbench: local spawner, the test tools, the tiny job notebook."""
    need_executable("node")
    apps = write_tools(open_root / "voila-apps", sorted(TOOLS))
    notebooks = write_job_notebook(open_root / "notebooks")
    markers = open_root / "markers"
    markers.mkdir()
    os.chmod(markers, 0o777)  # a tool's kernel could write here: an absent marker means something
    env = {
        "WORKBENCH_APPS_DIR": str(apps),
        "WORKBENCH_JOBS_NOTEBOOKS_DIR": str(notebooks),
        "WORKBENCH_JOBS_WORKERS": "2",
    }
    workbench = start_workbench(open_root / "state", env)
    workbench.markers = markers  # type: ignore[attr-defined]
    try:
        yield workbench
    finally:
        workbench.stop()
    # Nothing of a tool outlives the workbench, under the tools' uids least of all.
    settings = Settings.from_env(workbench.env)
    uids = {tool_uid(settings.apps_uid_base, workbench.state_dir, name) for name in TOOLS}
    deadline = time.monotonic() + 20
    while left := [
        p.pid for p in psutil.process_iter(["uids"]) if p.info["uids"] and p.info["uids"].real in uids
    ]:
        assert time.monotonic() < deadline, f"processes of the tools' uids left: {left}"
        time.sleep(0.5)
