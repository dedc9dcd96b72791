"""Small notebooks written for the jobs tests (a parameters cell, a scrap, a sleep, an optional failure),
and a work folder the run account can reach (pytest's own temporary folders are 0700 root's)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from tests.support import reachable_dir

PARAMETERS = """\
seconds: float = 0.0  # how long the notebook sleeps
fail: bool = False
label = "tiny"
count = 3
"""

BODY = """\
import time
from workbench.jobs.scraps import glue
glue("label", label)
glue("squares", [i * i for i in range(count)])
"""

SLEEP = """\
time.sleep(seconds)
"""

FAIL = """\
if fail:
    raise ValueError(f"asked to fail after {seconds} s")
glue("done", True)
"""


def write_notebook(path: Path, parameters: str, *cells: str) -> Path:
    """A Python notebook at ``path``: the ``parameters``-tagged cell (papermill's), then ``cells``."""
    params = new_code_cell(parameters)
    params.metadata["tags"] = ["parameters"]
    nb = new_notebook(
        cells=[params, *(new_code_cell(c) for c in cells)],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def write_tiny(path: Path) -> Path:
    """The notebook every runner test executes (3 code cells after the parameters cell;
    the sleep has a cell of its own, so the scraps before it are saved while it sleeps)."""
    return write_notebook(path, PARAMETERS, BODY, SLEEP, FAIL)


@pytest.fixture
def notebooks(tmp_path: Path) -> Path:
    root = tmp_path / "notebooks"
    write_tiny(root / "jobs" / "tiny.ipynb")
    (root / "jobs" / "notes.txt").write_text("not a notebook")
    return root


@pytest.fixture
def work_dir() -> Iterator[Path]:
    """Parent of the local runs' folders for one test."""
    path = reachable_dir("s2p-jobs-test-")
    yield path / "runs"
    shutil.rmtree(path, ignore_errors=True)
