"""The data settings of the hub reach every user's lab, so notebooks read data the way the hub does."""

from __future__ import annotations

from pathlib import Path

from workbench.hubconfig import lab_environment
from workbench.settings import Settings


def test_defaults_pass_only_the_data_dir_and_the_jobs_url(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {
            "WORKBENCH_DATA_DIR": str(tmp_path),
            "WORKBENCH_PUBLIC_URL": "https://workbench.example.org/s2p/",
            "WORKBENCH_HUB_PORT": "8123",
        }
    )
    env = lab_environment(settings)
    # The jobs service through the proxy on this machine, whatever the public URL's host.
    assert env == {
        "WORKBENCH_DATA_DIR": str(tmp_path),
        "WORKBENCH_JOBS_URL": "http://127.0.0.1:8123/s2p/services/jobs/api/v1",
    }
    # A tool's kernel and a job run get the data settings only.
    assert settings.lab_environment() == {"WORKBENCH_DATA_DIR": str(tmp_path)}


def test_live_reads_mirror_and_federation_are_passed(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {
            "WORKBENCH_DATA_DIR": str(tmp_path),
            "WORKBENCH_DATA_LIVE": "true",
            "WORKBENCH_DATA_BASE_URL": "http://127.0.0.1:9999/mirror",
            "WORKBENCH_CATALOG_FEDERATION": "partner=http://127.0.0.1:9998/catalog.yaml",
        }
    )
    env = lab_environment(settings)
    assert env["WORKBENCH_DATA_LIVE"] == "1"
    assert env["WORKBENCH_DATA_BASE_URL"] == "http://127.0.0.1:9999/mirror"
    assert env["WORKBENCH_CATALOG_FEDERATION"] == "partner=http://127.0.0.1:9998/catalog.yaml"
    assert "WORKBENCH_CATALOG" not in env
