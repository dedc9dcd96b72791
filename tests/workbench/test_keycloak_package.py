"""workbench.keycloak without a running Keycloak: version pin, Java check, partner representations,
settings of ``keycloak-local``. The server, its Admin REST API and federation are exercised against a
real Keycloak in tests/e2e/test_keycloak.py and tests/e2e/test_federation.py.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support import ROOT, need
from workbench.keycloak import KEYCLOAK_VERSION, KeycloakError, Partner, broker_redirect_uri
from workbench.keycloak.distribution import BUILD_OPTIONS, RUNTIME_OPTIONS, java_command, run_home, unpack
from workbench.keycloak.partners import identity_provider_representation, mapper_representations
from workbench.settings import Settings, SettingsError

METADATA = {
    "issuer": "https://idp.partner.example.org/realms/p",
    "authorization_endpoint": "https://idp.partner.example.org/realms/p/auth",
    "token_endpoint": "https://idp.partner.example.org/realms/p/token",
    "userinfo_endpoint": "https://idp.partner.example.org/realms/p/userinfo",
    "jwks_uri": "https://idp.partner.example.org/realms/p/certs",
    "end_session_endpoint": "https://idp.partner.example.org/realms/p/logout",
    "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
}


def test_the_version_is_pinned_in_one_place() -> None:
    assert re.fullmatch(r"26\.\d+\.\d+", KEYCLOAK_VERSION)
    # No other Python or shell file names a Keycloak version (docs and the lock file may).
    out = subprocess.run(
        ["git", "grep", "-n", "-I", "-F", KEYCLOAK_VERSION, "--", "*.py", "*.sh", "Makefile", ".ci/*"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    hits = [
        line
        for line in out.stdout.splitlines()
        if not line.startswith("hub/workbench/keycloak/distribution.py:")
    ]
    assert hits == []


def test_local_servers_open_no_cluster_ports_and_use_the_embedded_database() -> None:
    assert "--cache=local" in RUNTIME_OPTIONS
    assert "--db=dev-file" in BUILD_OPTIONS


def test_java_of_this_machine_is_accepted() -> None:
    need(shutil.which("java") is not None, "a JDK 17+ (`java` on PATH)")
    assert java_command() == shutil.which("java")


def test_java_home_without_java_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(KeycloakError, match=rf"WORKBENCH_KEYCLOAK_JAVA_HOME={tmp_path} has no bin/java"):
        java_command(tmp_path)


def test_unpack_strips_the_top_folder_and_keeps_executable_bits(tmp_path: Path) -> None:
    import zipfile

    archive = tmp_path / "dist.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        info = zipfile.ZipInfo("keycloak-x/bin/kc.sh")
        info.external_attr = 0o755 << 16
        zf.writestr(info, "#!/bin/sh\necho kc\n")
        zf.writestr("keycloak-x/lib/a.jar", "jar")
        zf.writestr("keycloak-x/../escape", "no")
    unpack(archive, tmp_path / "home")
    kc = tmp_path / "home" / "bin" / "kc.sh"
    assert kc.read_text().startswith("#!/bin/sh") and kc.stat().st_mode & 0o111
    assert (tmp_path / "home" / "lib" / "a.jar").is_file()
    assert not (tmp_path / "escape").exists()


def test_run_home_shares_the_distribution_but_owns_its_data(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    for name in ("bin", "lib", "conf", "providers", "themes"):
        (dist / name).mkdir(parents=True)
    (dist / "bin" / "kc.sh").write_text("#!/bin/sh\n")
    home = run_home(dist, tmp_path / "run" / "home")
    assert (home / "bin" / "kc.sh").is_file() and not (home / "bin" / "kc.sh").is_symlink()
    for name in ("lib", "conf", "providers", "themes"):
        assert (home / name).is_symlink() and (home / name).resolve() == (dist / name).resolve()
    assert (home / "data").is_dir() and not (home / "data").is_symlink()
    assert run_home(dist, home) == home  # idempotent


def _partner(**changes: object) -> Partner:
    values: dict[str, object] = {
        "alias": "neocc",
        "display_name": "NEO Coordination Centre",
        "issuer": METADATA["issuer"],
        "client_id": "s2p-keycloak",
        "client_secret": "partner-secret",
        "group_claim": "memberOf",
        "group_map": {"neocc-analysts": "neo", "neocc-ops": "/operators"},
    }
    values.update(changes)
    return Partner(**values)  # type: ignore[arg-type]


def test_partner_identity_provider_is_brokered_with_forced_sync() -> None:
    rep = identity_provider_representation(_partner(), METADATA)
    assert rep["alias"] == "neocc" and rep["providerId"] == "oidc" and rep["enabled"] is True
    config = rep["config"]
    assert config["syncMode"] == "FORCE"  # the mappers run at every login
    assert config["authorizationUrl"] == METADATA["authorization_endpoint"]
    assert config["tokenUrl"] == METADATA["token_endpoint"]
    assert config["userInfoUrl"] == METADATA["userinfo_endpoint"]
    assert config["logoutUrl"] == METADATA["end_session_endpoint"]
    assert config["clientAuthMethod"] == "client_secret_basic"
    assert config["validateSignature"] == "true" and config["pkceEnabled"] == "true"
    post_only = {**METADATA, "token_endpoint_auth_methods_supported": ["client_secret_post"]}
    assert identity_provider_representation(_partner(), post_only)["config"]["clientAuthMethod"] == (
        "client_secret_post"
    )
    assert "partner-secret" not in repr(_partner())


def test_partner_mappers_give_usernames_and_one_group_per_mapping() -> None:
    mappers = {m["name"]: m for m in mapper_representations(_partner())}
    assert mappers["username"]["config"]["template"] == "${ALIAS}.${CLAIM.preferred_username}"
    neo = mappers["group neocc-analysts -> /neo"]
    assert neo["identityProviderMapper"] == "oidc-advanced-group-idp-mapper"
    assert neo["config"]["group"] == "/neo"
    assert json.loads(neo["config"]["claims"]) == [{"key": "memberOf", "value": "neocc-analysts"}]
    assert mappers["group neocc-ops -> /operators"]["config"]["group"] == "/operators"
    assert len(mappers) == 3


@pytest.mark.parametrize("alias", ["", "Neo", "neo cc", "-neo", "a" * 32, "neo/cc"])
def test_partner_alias_must_be_safe_in_urls_and_usernames(alias: str) -> None:
    with pytest.raises(KeycloakError, match="partner alias"):
        _partner(alias=alias)


def test_broker_redirect_uri() -> None:
    assert broker_redirect_uri("https://sso.example.org/", "s2p", "neocc") == (
        "https://sso.example.org/realms/s2p/broker/neocc/endpoint"
    )


def test_keycloak_local_uses_the_idp_port_and_is_refused_in_operations(tmp_path: Path) -> None:
    s = Settings.from_env({"WORKBENCH_AUTH": "keycloak-local", "WORKBENCH_IDP_PORT": "8181"})
    assert s.oidc_issuer == "http://127.0.0.1:8181/realms/s2p"
    with pytest.raises(SettingsError, match="WORKBENCH_HUB_PORT and WORKBENCH_IDP_PORT use the same port"):
        Settings.from_env({"WORKBENCH_AUTH": "keycloak-local", "WORKBENCH_IDP_PORT": "8000"})
    ope = Settings.from_env({"WORKBENCH_AUTH": "keycloak-local", "WORKBENCH_ENV": "ope"})
    assert any(p.startswith("WORKBENCH_AUTH=keycloak-local") for p in ope.production_problems())
    cache = Settings.from_env({"WORKBENCH_KEYCLOAK_CACHE": str(tmp_path / "kc")})
    assert cache.keycloak_cache == tmp_path / "kc" and cache.keycloak_java_home is None
