"""``WORKBENCH_ENV=ope`` refuses the settings that would let users' code run as the hub's OS user or
see its files, with one line naming the setting: through ``workbench up`` (a real process), the
hub's own configuration (``jupyterhub_config.py`` started some other way) and ``workbench settings
--check``. Nothing is started and no traffic leaves the machine: the refusal comes first."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from traitlets.config import Config

from tests.e2e.harness import WORKBENCH
from tests.support import ROOT
from tests.workbench.test_settings import PRODUCTION  # acceptable in operations but for what a test changes
from workbench.hubconfig import HubConfigError, configure
from workbench.settings import Settings

SHARED_IDENTITY = [
    ({"WORKBENCH_SPAWNER": "local"}, "WORKBENCH_SPAWNER=local"),
    ({"WORKBENCH_APPS_KERNEL_FILTER": "false"}, "WORKBENCH_APPS_KERNEL_FILTER=false"),
]


def _env(state: Path, change: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WORKBENCH_")}
    return {**env, **PRODUCTION, "WORKBENCH_STATE_DIR": str(state), **change}


@pytest.mark.parametrize(("change", "setting"), SHARED_IDENTITY, ids=["local-spawner", "kernel-filter-off"])
def test_workbench_up_refuses_with_one_line_naming_the_setting(
    tmp_path: Path, change: dict[str, str], setting: str
) -> None:
    out = subprocess.run(
        [str(WORKBENCH), "up"],
        env=_env(tmp_path, change),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode != 0
    problems = [line for line in out.stderr.splitlines() if line.startswith("  - ")]
    assert len(problems) == 1 and problems[0].startswith(f"  - {setting}"), out.stderr
    assert not (tmp_path / "logs" / "hub.log").exists()  # nothing started


def test_the_hub_configuration_refuses_the_local_spawner_too(tmp_path: Path) -> None:
    settings = Settings.from_env(_env(tmp_path, {"WORKBENCH_SPAWNER": "local"}))
    with pytest.raises(HubConfigError, match=r"(?m)^  - WORKBENCH_SPAWNER=local: every lab \(and tool\)"):
        configure(Config(), settings)


def test_settings_check_lists_a_data_folder_that_holds_the_state(tmp_path: Path) -> None:
    data = tmp_path / "data"
    change = {"WORKBENCH_DATA_DIR": str(data)}
    env = {**_env(data / "state", change)}
    out = subprocess.run(
        [str(WORKBENCH), "settings", "--check"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 1
    assert (
        f"WORKBENCH_DATA_DIR={data} contains WORKBENCH_STATE_DIR={data / 'state'}" in out.stdout + out.stderr
    )
