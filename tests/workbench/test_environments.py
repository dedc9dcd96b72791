"""deploy/environments: one settings file per environment, each passing the checks of its level.

dev parses and is what `make up` runs; ire, pre-ope and ope pass `workbench settings --check` (what
operations refuses), with their secrets given as files the way the stack gives them (Swarm secrets).
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import ROOT
from workbench.settings import ENVIRONMENTS

ENV_DIR = ROOT / "deploy" / "environments"


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines (comments and blank lines skipped), as `docker stack deploy` reads an env_file."""
    out = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, sep, value = line.partition("=")
            assert sep, f"{path.name}: not KEY=VALUE: {line!r}"
            out[key.strip()] = value
    return out


def check(env: dict[str, str]) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith("WORKBENCH_")}
    return subprocess.run(
        [sys.executable, "-m", "workbench.cli", "settings", "--check"],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def with_secret_files(env: dict[str, str], folder: Path) -> dict[str, str]:
    """``/run/secrets/<name>`` of the file replaced by generated files in ``folder`` (0600)."""
    out = dict(env)
    for key, value in env.items():
        if key.endswith("_FILE") and value.startswith("/run/secrets/"):
            path = folder / Path(value).name
            if not path.exists():
                content = secrets.token_urlsafe(32)
                if "DB_URL" in key:
                    content = f"postgresql://hub:{content}@127.0.0.1:5432/jupyterhub"
                path.write_text(content)
                path.chmod(0o600)
            out[key] = str(path)
    return out


def test_there_is_one_file_per_environment():
    assert sorted(p.stem for p in ENV_DIR.glob("*.env")) == sorted(ENVIRONMENTS)
    for env in ENVIRONMENTS:
        assert read_env_file(ENV_DIR / f"{env}.env")["WORKBENCH_ENV"] == env


@pytest.mark.parametrize("env", ["ire", "pre-ope", "ope"])
def test_rehearsal_and_operations_environments_pass_the_production_check(env: str, tmp_path: Path):
    values = read_env_file(ENV_DIR / f"{env}.env")
    assert not any(k.endswith(("_SECRET", "_PASSWORD")) for k in values), "a secret in the file itself"
    proc = check(with_secret_files(values, tmp_path))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
    assert "Acceptable for WORKBENCH_ENV=ope." in proc.stdout


def test_dev_environment_parses_and_ope_would_refuse_it(tmp_path: Path):
    proc = check(read_env_file(ENV_DIR / "dev.env"))
    assert proc.returncode == 1, proc.stderr  # parses (2 would be a settings error), refused by ope
    assert "WORKBENCH_AUTH=dev-idp" in proc.stdout and "WORKBENCH_SPAWNER=local" in proc.stdout


def test_ope_refuses_a_development_secret_in_its_file(tmp_path: Path):
    values = with_secret_files(read_env_file(ENV_DIR / "ope.env"), tmp_path)
    Path(values["WORKBENCH_OIDC_CLIENT_SECRET_FILE"]).write_text("changeme")
    proc = check(values)
    assert proc.returncode == 1
    assert "WORKBENCH_OIDC_CLIENT_SECRET is empty, short" in proc.stdout
