"""workbench.settings and workbench.secrets: parsing, messages, production refusals, secret files."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from tests.support import ROOT
from workbench.cli import main
from workbench.commands.settings import markdown_reference
from workbench.secrets import SECRET_SIZES, SecretsError, ensure_secrets
from workbench.settings import PROJECT_ROOT, SEGMENT_GROUPS, Settings, SettingsError, setting

# A configuration operations would accept; tests change one thing at a time.
PRODUCTION = {
    "WORKBENCH_ENV": "ope",
    "WORKBENCH_AUTH": "keycloak",
    "WORKBENCH_OIDC_ISSUER": "https://sso.example.org/realms/s2p",
    "WORKBENCH_OIDC_CLIENT_SECRET": "k3y-cl0ak-generated-0123456789abcdef",
    "WORKBENCH_PUBLIC_URL": "https://workbench.example.org",
    "WORKBENCH_SPAWNER": "docker",
}


def test_defaults_live_in_the_project_and_derive_from_each_other(tmp_path: Path) -> None:
    s = Settings.from_env({})
    assert PROJECT_ROOT == ROOT
    assert s.env == "dev" and s.auth == "dev-idp" and s.spawner == "local"
    assert s.state_dir == ROOT / ".state"
    assert s.db_url == f"sqlite:///{ROOT / '.state' / 'jupyterhub.sqlite'}"
    assert s.public_url == "http://127.0.0.1:8000"
    assert s.oidc_issuer == "http://127.0.0.1:8080/realms/s2p"  # realm name read from the realm file
    assert s.oidc_client_id == "workbench"
    assert s.allowed_groups == SEGMENT_GROUPS and s.admin_groups == ("admins",)

    moved = Settings.from_env({"WORKBENCH_STATE_DIR": str(tmp_path), "WORKBENCH_IDP_PORT": "9999"})
    assert moved.db_url == f"sqlite:///{tmp_path / 'jupyterhub.sqlite'}"
    assert moved.oidc_issuer == "http://127.0.0.1:9999/realms/s2p"


def test_values_are_parsed_and_typed() -> None:
    s = Settings.from_env(
        {
            "WORKBENCH_HUB_PORT": " 8443 ",
            "WORKBENCH_ALLOWED_GROUPS": "/swe, debris  neo,/admins",
            "WORKBENCH_LOG_LEVEL": "debug",
            "WORKBENCH_HUB_IP": "0.0.0.0",
            "WORKBENCH_PUBLIC_URL": "https://wb.example.org/",
        }
    )
    assert s.hub_port == 8443
    assert s.allowed_groups == ("swe", "debris", "neo", "admins")
    assert s.log_level == "DEBUG"
    assert s.public_url == "https://wb.example.org"
    assert s.local_url == "http://127.0.0.1:8443"  # health checks stay on this machine
    assert (
        Settings.from_env({"WORKBENCH_PUBLIC_URL": "https://x.org/wb"}).local_url
        == "http://127.0.0.1:8000/wb"
    )


def test_cli_override_wins_over_environment() -> None:
    assert Settings.from_env({"WORKBENCH_SPAWNER": "docker"}, spawner="swarm").spawner == "swarm"
    with pytest.raises(TypeError, match="unknown settings: colour"):
        Settings.from_env({}, colour="red")


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        (
            "WORKBENCH_ENV",
            "prod",
            "WORKBENCH_ENV='prod' is invalid: allowed values are dev, ire, pre-ope, ope.",
        ),
        ("WORKBENCH_AUTH", "ldap", "allowed values are dev-idp, keycloak"),
        (
            "WORKBENCH_SPAWNER",
            "k8s",
            "WORKBENCH_SPAWNER='k8s' is invalid: allowed values are local, docker, swarm",
        ),
        ("WORKBENCH_HUB_PORT", "http", "WORKBENCH_HUB_PORT='http' is invalid: expected an integer."),
        ("WORKBENCH_HUB_PORT", "70000", "expected a TCP port between 1 and 65535"),
        ("WORKBENCH_HUB_IP", "localhost", "WORKBENCH_HUB_IP='localhost' is invalid: expected an IP address"),
        ("WORKBENCH_OIDC_ISSUER", "sso.example.org", "expected an http:// or https:// URL"),
        ("WORKBENCH_LOG_LEVEL", "chatty", "allowed values are DEBUG, INFO, WARNING, ERROR"),
    ],
)
def test_invalid_value_names_variable_and_allowed_values(variable: str, value: str, expected: str) -> None:
    with pytest.raises(SettingsError) as err:
        Settings.from_env({variable: value})
    assert expected in str(err.value)
    assert str(err.value).startswith(variable)


def test_combinations_are_checked() -> None:
    with pytest.raises(SettingsError, match="WORKBENCH_AUTH=keycloak needs WORKBENCH_OIDC_ISSUER"):
        Settings.from_env({"WORKBENCH_AUTH": "keycloak"})
    with pytest.raises(SettingsError, match="needs WORKBENCH_OIDC_CLIENT_SECRET"):
        Settings.from_env(
            {"WORKBENCH_AUTH": "keycloak", "WORKBENCH_OIDC_ISSUER": "https://sso.example.org/realms/x"}
        )
    with pytest.raises(SettingsError, match="WORKBENCH_ADMIN_GROUPS has root, which is not in"):
        Settings.from_env({"WORKBENCH_ADMIN_GROUPS": "root"})
    with pytest.raises(
        SettingsError, match="WORKBENCH_HUB_PORT and WORKBENCH_IDP_PORT use the same port 8000"
    ):
        Settings.from_env({"WORKBENCH_IDP_PORT": "8000"})
    with pytest.raises(SettingsError, match="WORKBENCH_KEEP_LABS needs labs that can outlive"):
        Settings.from_env({"WORKBENCH_KEEP_LABS": "1"})  # the local spawner's labs cannot
    assert Settings.from_env({"WORKBENCH_KEEP_LABS": "1", "WORKBENCH_SPAWNER": "swarm"}).keep_labs


def test_production_configuration_is_accepted() -> None:
    assert Settings.from_env(PRODUCTION).production_problems() == []


@pytest.mark.parametrize(
    ("change", "refusal"),
    [
        ({"WORKBENCH_AUTH": "dev-idp"}, "WORKBENCH_AUTH=dev-idp"),
        ({"WORKBENCH_PUBLIC_URL": "http://workbench.example.org"}, "plain HTTP on a public address"),
        (
            {"WORKBENCH_PUBLIC_URL": "http://127.0.0.1:8000", "WORKBENCH_HUB_IP": "0.0.0.0"},
            "WORKBENCH_HUB_IP=0.0.0.0",
        ),
        ({"WORKBENCH_OIDC_ISSUER": "http://sso.example.org/realms/s2p"}, "tokens over plain HTTP"),
        ({"WORKBENCH_OIDC_CLIENT_SECRET": "changeme"}, "WORKBENCH_OIDC_CLIENT_SECRET is empty, short"),
        ({"WORKBENCH_OIDC_CLIENT_SECRET": "short-secret"}, "WORKBENCH_OIDC_CLIENT_SECRET is empty, short"),
        # settings under which users' code would run as the hub's OS user or see its files
        (
            {"WORKBENCH_SPAWNER": "local"},
            "WORKBENCH_SPAWNER=local: every lab (and tool) would run as the hub's",
        ),
        ({"WORKBENCH_APPS_KERNEL_FILTER": "false"}, "WORKBENCH_APPS_KERNEL_FILTER=false"),
        (
            {"WORKBENCH_DATA_DIR": "/srv/s2p", "WORKBENCH_STATE_DIR": "/srv/s2p/state"},
            "WORKBENCH_DATA_DIR=/srv/s2p contains WORKBENCH_STATE_DIR=/srv/s2p/state",
        ),
    ],
)
def test_production_refusals_name_the_setting(change: dict[str, str], refusal: str) -> None:
    problems = Settings.from_env({**PRODUCTION, **change}).production_problems()
    assert len(problems) == 1, problems
    assert refusal in problems[0]


def test_production_refuses_the_generated_dev_client_secret(tmp_path: Path) -> None:
    dev = ensure_secrets(tmp_path).dev_client_secret
    s = Settings.from_env({**PRODUCTION, "WORKBENCH_OIDC_CLIENT_SECRET": dev})
    assert s.production_problems() == []
    assert "development default" in s.production_problems(dev_client_secret=dev)[0]


def test_plain_http_on_loopback_is_fine_for_operations_tests() -> None:
    s = Settings.from_env({**PRODUCTION, "WORKBENCH_PUBLIC_URL": "http://127.0.0.1:8000"})
    assert s.production_problems() == []


def test_secrets_are_generated_0600_and_stable(tmp_path: Path) -> None:
    first = ensure_secrets(tmp_path)
    assert stat.S_IMODE((tmp_path / "secrets").stat().st_mode) == 0o700
    for name, nbytes in SECRET_SIZES.items():
        path = tmp_path / "secrets" / name
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, name
        assert len(getattr(first, name)) == 2 * nbytes
        int(getattr(first, name), 16)  # hex
    assert len({getattr(first, n) for n in SECRET_SIZES}) == len(SECRET_SIZES)  # all different
    assert ensure_secrets(tmp_path) == first
    assert ensure_secrets(tmp_path / "other").cookie_secret != first.cookie_secret


def test_secret_readable_by_others_is_refused(tmp_path: Path) -> None:
    ensure_secrets(tmp_path)
    path = tmp_path / "secrets" / "cookie_secret"
    os.chmod(path, 0o644)
    with pytest.raises(SecretsError, match="readable by other users .*chmod 600"):
        ensure_secrets(tmp_path)


def test_settings_command_masks_secrets(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("WORKBENCH_OIDC_CLIENT_SECRET", "very-secret-value-1234567890")
    monkeypatch.setenv("WORKBENCH_DB_URL", "postgresql://hub:hunter2@127.0.0.1:5432/hub")
    assert main(["settings"]) == 0
    out = capsys.readouterr().out
    assert "very-secret-value" not in out and "hunter2" not in out
    assert "WORKBENCH_OIDC_CLIENT_SECRET = ****" in out
    assert "WORKBENCH_DB_URL = postgresql://hub:****@127.0.0.1:5432/hub" in out
    for spec in Settings.specs().values():
        assert f"{spec.env} = " in out


def test_settings_check_reports_production_refusals(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("WORKBENCH_ENV", "pre-ope")
    assert main(["settings", "--check"]) == 1
    assert "WORKBENCH_AUTH=dev-idp" in capsys.readouterr().out


def test_invalid_setting_is_one_line_and_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("WORKBENCH_SPAWNER", "kubernetes")
    assert main(["settings"]) == 2
    err = capsys.readouterr().err
    assert err.strip().count("\n") == 0
    assert "WORKBENCH_SPAWNER='kubernetes' is invalid" in err


def test_every_setting_has_help_and_a_workbench_variable() -> None:
    for name, spec in Settings.specs().items():
        assert spec.env.startswith("WORKBENCH_"), name
        assert len(spec.help) > 20, name
        assert spec.default is not None or spec.derive is not None, name


def test_a_field_is_one_declaration() -> None:
    """The table is open to extension: a subclass (or a new field) needs nothing but `setting`."""
    from dataclasses import dataclass

    @dataclass(frozen=True)
    class Extended(Settings):
        jobs_workers: int = setting("WORKBENCH_JOBS_WORKERS", default=2, parse=int, help="Runs at once.")

    assert Extended.from_env({"WORKBENCH_JOBS_WORKERS": "5"}).jobs_workers == 5
    assert Extended.from_env({}).jobs_workers == 2


def test_docs_settings_reference_is_current() -> None:
    doc = (ROOT / "docs" / "settings.md").read_text()
    assert markdown_reference() in doc, (
        "docs/settings.md is stale: regenerate with `workbench settings --markdown`"
    )


def test_secrets_are_read_from_their_file_settings(tmp_path: Path) -> None:
    """`WORKBENCH_<SECRET>_FILE` (a Swarm secret) gives the value when the variable itself is unset."""
    secret = tmp_path / "oidc_client_secret"
    secret.write_text("a-generated-secret-of-32-characters\n")
    db = tmp_path / "db_url"
    db.write_text("postgresql://hub:pw@127.0.0.1:5432/jupyterhub")
    env = {
        "WORKBENCH_AUTH": "keycloak",
        "WORKBENCH_OIDC_ISSUER": "https://sso.example.org/realms/s2p",
        "WORKBENCH_OIDC_CLIENT_SECRET_FILE": str(secret),
        "WORKBENCH_DB_URL_FILE": str(db),
    }
    s = Settings.from_env(env)
    assert s.oidc_client_secret == "a-generated-secret-of-32-characters"
    assert s.db_url == "postgresql://hub:pw@127.0.0.1:5432/jupyterhub"
    # the variable wins over its file; a missing file is a clear error naming the variable
    assert Settings.from_env({**env, "WORKBENCH_OIDC_CLIENT_SECRET": "x" * 20}).oidc_client_secret == "x" * 20
    with pytest.raises(SettingsError, match="WORKBENCH_DB_URL_FILE"):
        Settings.from_env({**env, "WORKBENCH_DB_URL_FILE": str(tmp_path / "missing")})
    # a setting that is not a secret has no _FILE form
    assert Settings.from_env({**env, "WORKBENCH_HUB_PORT_FILE": str(secret)}).hub_port != 0
