"""`workbench up` checks that refuse before anything starts, and the demo logins it prints."""

from __future__ import annotations

import json
import os
import socket
import subprocess
from pathlib import Path

import pytest

from tests.support import ROOT, need_executable
from workbench.cli import main
from workbench.commands.up import _print_banner, demo_logins
from workbench.logs import SCHEMA
from workbench.settings import Settings


def test_demo_logins_come_from_the_realm_file() -> None:
    logins = {
        user: (password, groups)
        for user, password, groups in demo_logins(ROOT / "deploy/keycloak/realm-s2p.json")
    }
    assert logins["swe-scientist"] == ("dev-swe-scientist", "swe")
    assert logins["operator"][1] == "operators, debris"
    assert logins["nogroup"][1] == "(none: refused)"
    assert set(logins) >= {"swe-scientist", "debris-analyst", "neo-analyst", "operator", "admin", "nogroup"}


def test_demo_logins_of_a_missing_realm_file_are_none(tmp_path: Path) -> None:
    assert demo_logins(tmp_path / "absent.json") == []


def test_port_in_use_is_named_and_nothing_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        monkeypatch.setenv("WORKBENCH_STATE_DIR", str(tmp_path))
        monkeypatch.setenv("WORKBENCH_HUB_PORT", str(port))
        assert main(["up"]) == 2
    err = capsys.readouterr().err
    assert f"port already in use on 127.0.0.1: WORKBENCH_HUB_PORT={port}" in err
    assert not (tmp_path / "logs" / "hub.log").exists()


def test_invalid_setting_refuses_before_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("WORKBENCH_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("WORKBENCH_AUTH", "saml")
    assert main(["up"]) == 2
    assert (
        "WORKBENCH_AUTH='saml' is invalid: allowed values are dev-idp, keycloak, keycloak-local."
        in capsys.readouterr().err
    )
    assert not (tmp_path / "secrets").exists()


def test_json_logs_hold_a_refusal_before_start_too(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "WORKBENCH_STATE_DIR": str(tmp_path),
        "WORKBENCH_LOG_FORMAT": "json",
        "WORKBENCH_AUTH": "saml",
    }
    proc = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "workbench"), "up", "--log-to-terminal"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2 and proc.stderr == ""
    (entry,) = [json.loads(line) for line in proc.stdout.splitlines()]
    assert tuple(entry) == SCHEMA and entry["service"] == "workbench" and entry["level"] == "WARNING"
    assert "WORKBENCH_AUTH='saml' is invalid" in entry["message"]


def test_pre_operations_warns_about_what_ope_refuses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as busy:  # stop right after the warnings, before anything starts
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        monkeypatch.setenv("WORKBENCH_STATE_DIR", str(tmp_path))
        monkeypatch.setenv("WORKBENCH_ENV", "pre-ope")
        monkeypatch.setenv("WORKBENCH_HUB_PORT", str(busy.getsockname()[1]))
        assert main(["up"]) == 2
    err = capsys.readouterr().err
    assert "warning (refused with WORKBENCH_ENV=ope): WORKBENCH_AUTH=dev-idp" in err
    assert "port already in use" in err


@pytest.mark.parametrize("auth", ["dev-idp", "keycloak"])
def test_banner_promises_to_stop_only_what_up_started(
    auth: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env = {"WORKBENCH_STATE_DIR": str(tmp_path), "WORKBENCH_AUTH": auth}
    if auth == "keycloak":
        env |= {
            "WORKBENCH_OIDC_ISSUER": "https://sso.example.org/realms/s2p",
            "WORKBENCH_OIDC_CLIENT_SECRET": "s" * 32,
        }
    settings = Settings.from_env(env)
    _print_banner(settings, settings.oidc_issuer, tmp_path / "logs")
    out = capsys.readouterr().out
    assert f"S2P Workbench is up:  {settings.public_url}" in out
    # The dev IdP is started (and stopped) by `workbench up`; an external Keycloak is not.
    assert ("and the IdP" in out) is (auth == "dev-idp")
    assert ("demo logins" in out) is (auth == "dev-idp")


def test_readme_demo_logins_are_the_realm_files() -> None:
    """The README's table is what `make up` prints: same users, passwords and groups."""
    section = (ROOT / "README.md").read_text().split("## Demo logins", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip().strip("`") for c in line.strip().strip("|").split("|")]
        if line.startswith("| `") and len(cells) >= 3:
            rows[cells[0]] = (cells[1], cells[2])
    realm = {
        user: (password, "none" if groups.startswith("(none") else groups)
        for user, password, groups in demo_logins(ROOT / "deploy/keycloak/realm-s2p.json")
    }
    assert rows == realm


def test_misspelt_spawner_names_the_variable_and_builds_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`WORKBENCH_SPAWNER=lcoal make up`: one line about the variable, no image build first."""
    monkeypatch.setenv("WORKBENCH_STATE_DIR", str(tmp_path))
    assert main(["up", "--spawner", "lcoal"]) == 2
    err = capsys.readouterr().err
    assert "WORKBENCH_SPAWNER='lcoal' is invalid: allowed values are local, docker, swarm." in err
    assert not (tmp_path / "secrets").exists()
    need_executable("make")
    env = {k: v for k, v in os.environ.items() if not k.startswith("WORKBENCH_")}
    env["WORKBENCH_STATE_DIR"] = str(tmp_path)
    env["WORKBENCH_SPAWNER"] = "lcoal"
    # `-o install`: the test checks the `up` recipe; it must not (re)install the shared .venv.
    made = subprocess.run(
        ["make", "-o", "install", "up"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert made.returncode != 0
    assert "workbench: --spawner / WORKBENCH_SPAWNER='lcoal' is invalid" in made.stderr
    # The image build (minutes, needs Docker) is only for the docker and swarm spawners.
    assert "images build" not in made.stdout + made.stderr
    assert "lab:latest" not in made.stdout + made.stderr
