"""workbench.culler: the idle culler's service, its least-privilege role and its timing settings."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from traitlets.config import Config

from workbench.culler import SCOPES, SERVICE_NAME, command, configure_hub, cull_interval
from workbench.secrets import ensure_secrets
from workbench.settings import Settings, SettingsError


def _settings(tmp_path: Path, **env: str) -> Settings:
    return Settings.from_env(env, state_dir=tmp_path / "state")


def test_service_and_role_stop_servers_only(tmp_path: Path) -> None:
    settings = _settings(tmp_path, WORKBENCH_CULL_IDLE_TIMEOUT="600")
    settings.ensure_dirs()
    c = Config()
    c.JupyterHub.services = [{"name": "other"}]
    c.JupyterHub.load_roles = []
    configure_hub(c, settings, ensure_secrets(settings.state_dir))
    services = {s["name"]: s for s in c.JupyterHub.services}
    assert set(services) == {"other", SERVICE_NAME}
    argv = services[SERVICE_NAME]["command"]
    assert argv[:3] == [sys.executable, "-m", "jupyterhub_idle_culler"]
    assert "--timeout=600" in argv and "--cull-every=60" in argv and "--cull-users=false" in argv
    (role,) = c.JupyterHub.load_roles
    assert role["services"] == [SERVICE_NAME]
    # never delete users, never admin anything: list, read activity, stop servers
    assert (
        set(role["scopes"])
        == set(SCOPES)
        == {"list:users", "read:users:activity", "read:servers", "delete:servers"}
    )


def test_timeout_zero_adds_nothing(tmp_path: Path) -> None:
    settings = _settings(tmp_path, WORKBENCH_CULL_IDLE_TIMEOUT="0")
    c = Config()
    c.JupyterHub.services, c.JupyterHub.load_roles = [], []
    configure_hub(c, settings, ensure_secrets(tmp_path))
    assert c.JupyterHub.services == [] and c.JupyterHub.load_roles == []


@pytest.mark.parametrize(
    ("timeout", "every", "expected"), [(3600, 0, 300), (600, 0, 60), (20, 0, 5), (20, 7, 7)]
)
def test_interval(tmp_path: Path, timeout: int, every: int, expected: int) -> None:
    settings = _settings(tmp_path, WORKBENCH_CULL_IDLE_TIMEOUT=str(timeout), WORKBENCH_CULL_EVERY=str(every))
    assert cull_interval(settings) == expected


def test_negative_values_are_refused(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="WORKBENCH_CULL_IDLE_TIMEOUT"):
        _settings(tmp_path, WORKBENCH_CULL_IDLE_TIMEOUT="-1")


def test_the_command_is_one_the_installed_culler_accepts(tmp_path: Path) -> None:
    argv = command(_settings(tmp_path))
    r = subprocess.run([*argv, "--help"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    for option in argv[3:]:
        assert f"--{option[2:].split('=')[0]}=" in r.stdout, option
