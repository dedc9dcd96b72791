"""The local spawner's first-start experience: examples in a new user's directory, an offline lab."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.support import ROOT
from workbench.spawners.local import EXAMPLES_DIR, LAB_CONFIG_DIR, seed_home

ANNOUNCEMENTS = "@jupyterlab/apputils-extension:announcements"


def test_new_user_gets_a_copy_of_the_examples(tmp_path: Path) -> None:
    home = tmp_path / "users" / "swe-scientist"
    home.parent.mkdir()
    assert seed_home(home) is True
    assert EXAMPLES_DIR == ROOT / "notebooks" / "examples"
    originals = sorted(p.name for p in EXAMPLES_DIR.glob("*.ipynb"))
    assert originals, "the project ships example notebooks"
    assert sorted(p.name for p in (home / "examples").glob("*.ipynb")) == originals
    # The user's own copy: editing it leaves the project's notebook alone.
    copy = home / "examples" / originals[0]
    copy.write_text("{}")
    assert (EXAMPLES_DIR / originals[0]).read_text() != "{}"


def test_existing_directory_is_left_as_its_user_left_it(tmp_path: Path) -> None:
    home = tmp_path / "neo-analyst"
    home.mkdir()
    (home / "mine.ipynb").write_text("{}")
    assert seed_home(home) is False
    assert [p.name for p in home.iterdir()] == ["mine.ipynb"]  # a deleted examples/ stays deleted


def test_missing_examples_folder_still_creates_the_directory(tmp_path: Path) -> None:
    assert seed_home(tmp_path / "u", examples=tmp_path / "absent") is True
    assert list((tmp_path / "u").iterdir()) == []


def test_lab_config_disables_the_news_and_update_prompt() -> None:
    """JupyterLab, given the spawner's JUPYTER_CONFIG_PATH, puts the plugin in disabledExtensions."""
    code = (
        "import json; from jupyterlab_server.config import get_static_page_config; "
        "print(json.dumps(get_static_page_config()))"
    )
    env = {**os.environ, "JUPYTER_CONFIG_PATH": str(LAB_CONFIG_DIR)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert json.loads(out.stdout)["disabledExtensions"].get(ANNOUNCEMENTS) is True
