"""The real Keycloak itself: the realm file imports unchanged, the dev IdP answers as it does, the
local server stays on loopback, and ``WORKBENCH_AUTH=keycloak-local`` runs it under ``workbench up``.

Uses the session's Keycloak (``keycloak`` fixture); only the ``keycloak-local`` test starts one of its
own, as ``workbench up`` does.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import secrets
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import psutil
import pytest
import requests

from tests.e2e.harness import (
    WORKBENCH,
    browser_session,
    find_login_form,
    free_ports,
    start_workbench,
)
from tests.e2e.idps import REALM_FILE, realm_password
from tests.support import need_executable

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REALM = json.loads(REALM_FILE.read_text())


@pytest.fixture(scope="module")
def admin(keycloak: Any) -> Any:
    return keycloak.admin("s2p")


# ------------------------------------------------------------------------------------------------
# the realm file, as Keycloak imported it


def test_realm_settings_are_imported(admin: Any) -> None:
    rep = admin.realm_representation()
    for key in (
        "displayName",
        "sslRequired",
        "loginWithEmailAllowed",
        "registrationAllowed",
        "bruteForceProtected",
        "accessTokenLifespan",
        "ssoSessionIdleTimeout",
        "ssoSessionMaxLifespan",
    ):
        assert rep[key] == REALM[key], key
    assert rep["defaultRole"]["name"] == "default-roles-s2p"


def test_client_secret_placeholder_is_resolved_at_import(keycloak: Any, admin: Any) -> None:
    client = admin.client("workbench")
    assert (
        REALM["clients"][0]["secret"] == "${WORKBENCH_OIDC_CLIENT_SECRET}"
    )  # the file keeps the placeholder
    assert client["secret"] == keycloak.client_secret  # Keycloak took it from its environment
    assert client["publicClient"] is False and client["standardFlowEnabled"] is True
    assert client["directAccessGrantsEnabled"] is False
    assert "http://127.0.0.1:8000/hub/oauth_callback" in client["redirectUris"]
    assert "http://127.0.0.1:8000/hub/*" in client["attributes"]["post.logout.redirect.uris"].split("##")
    # Keycloak's default client scopes were kept (the realm file defines none of its own).
    assert {"profile", "email", "roles"} <= set(client["defaultClientScopes"])


def test_group_and_role_mappers_are_imported_as_written(admin: Any) -> None:
    written = {m["name"]: m for m in REALM["clients"][0]["protocolMappers"]}
    imported = {m["name"]: m for m in admin.client("workbench")["protocolMappers"]}
    assert set(imported) == set(written)
    for name, mapper in written.items():
        assert imported[name]["protocolMapper"] == mapper["protocolMapper"]
        assert imported[name]["config"] == mapper["config"], name


def test_demo_users_groups_and_roles_are_imported(admin: Any) -> None:
    for user in REALM["users"]:
        rep = admin.user(user["username"])
        assert rep["enabled"] is True and rep["emailVerified"] is True
        assert (rep["email"], rep["firstName"], rep["lastName"]) == (
            user["email"],
            user["firstName"],
            user["lastName"],
        )
        assert rep.get("requiredActions", []) == []  # nothing asked at first login
        assert admin.user_groups(user["username"]) == sorted(g.lstrip("/") for g in user["groups"])
    roles = {r["name"]: r for r in admin.request("GET", "/roles").json()}
    assert {"s2p-user", "s2p-operator", "s2p-admin"} <= set(roles)
    groups = {
        g["name"]: g for g in admin.request("GET", "/groups", params={"briefRepresentation": "false"}).json()
    }
    for group in REALM["groups"]:
        assert sorted(groups[group["name"]]["realmRoles"]) == sorted(group["realmRoles"])
        assert groups[group["name"]]["attributes"] == group["attributes"]


def test_import_logged_no_warning(keycloak: Any) -> None:
    log = keycloak.log_file.read_text()
    start = log.index("Full importing from file")
    end = log.index("Realm 's2p' imported")
    assert not re.search(r"\b(WARN|ERROR)\b", log[start:end]), log[start:end]


# ------------------------------------------------------------------------------------------------
# the dev IdP answers like Keycloak


def _tokens(issuer: str, username: str, secret: str, redirect_uri: str) -> dict[str, Any]:
    """The authorization-code flow with PKCE (as the hub does), stopped at the redirect to the hub."""
    s = browser_session()
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    page = s.get(
        f"{issuer}/protocol/openid-connect/auth",
        params={
            "client_id": "workbench",
            "response_type": "code",
            "scope": "openid email profile",
            "redirect_uri": redirect_uri,
            "state": "st",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        },
        timeout=30,
    )
    form = find_login_form(page.text)
    assert form, page.text[:500]
    action, fields = form
    fields.update(username=username, password=realm_password(username))
    r = s.post(urljoin(page.url, action), data=fields, allow_redirects=False, timeout=30)
    while r.status_code in (302, 303) and not r.headers["Location"].startswith(redirect_uri):
        r = s.get(urljoin(r.url, r.headers["Location"]), allow_redirects=False, timeout=30)
    query = parse_qs(urlsplit(r.headers["Location"]).query)
    assert query["iss"] == [issuer]
    token = requests.post(
        f"{issuer}/protocol/openid-connect/token",
        data={
            "grant_type": "authorization_code",
            "code": query["code"][0],
            "redirect_uri": redirect_uri,
            "code_verifier": verifier,
        },
        auth=("workbench", secret),
        timeout=30,
    )
    assert token.status_code == 200, token.text
    body = dict(token.json())
    body["userinfo"] = requests.get(
        f"{issuer}/protocol/openid-connect/userinfo",
        headers={"Authorization": f"Bearer {body['access_token']}"},
        timeout=30,
    ).json()
    return body


def _claims(jwt_text: str) -> dict[str, Any]:
    payload = jwt_text.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


@pytest.mark.parametrize("username", ["operator", "nogroup"])
def test_dev_idp_claims_are_keycloaks(keycloak: Any, tmp_path: Path, username: str) -> None:
    """The same user, the same claims: userinfo and ID token of the dev IdP match real Keycloak's."""
    need_executable("node")
    from workbench.devidp import DevIdP

    redirect = "http://127.0.0.1:8000/hub/oauth_callback"  # the realm file's own (nothing listens)
    secret = secrets.token_hex(16)
    with DevIdP(REALM_FILE, env={"WORKBENCH_OIDC_CLIENT_SECRET": secret}, state_dir=tmp_path) as dev:
        ours = _tokens(dev.issuer, username, secret, redirect)
    theirs = _tokens(keycloak.issuer("s2p"), username, keycloak.client_secret, redirect)
    assert set(ours) >= {"access_token", "id_token", "refresh_token", "expires_in", "token_type"}
    assert set(ours) - {"userinfo"} <= set(theirs)

    def same(claims: dict[str, Any]) -> dict[str, Any]:
        # sub is each IdP's own user id; the role order is not significant
        out = {k: v for k, v in claims.items() if k != "sub"}
        if "realm_access" in out:
            out["realm_access"] = sorted(out["realm_access"]["roles"])
        return out

    assert same(ours["userinfo"]) == same(theirs["userinfo"])
    user_claims = set(theirs["userinfo"]) - {"sub"}
    ours_id, theirs_id = _claims(ours["id_token"]), _claims(theirs["id_token"])
    assert {k: ours_id[k] for k in user_claims - {"realm_access"}} == {
        k: theirs_id[k] for k in user_claims - {"realm_access"}
    }
    assert sorted(ours_id["realm_access"]["roles"]) == sorted(theirs_id["realm_access"]["roles"])
    assert ours_id["aud"] == theirs_id["aud"] == "workbench" and ours_id["azp"] == theirs_id["azp"]
    ours_at, theirs_at = _claims(ours["access_token"]), _claims(theirs["access_token"])
    for claim in ("typ", "azp", "preferred_username", "groups"):
        assert ours_at.get(claim) == theirs_at.get(claim), claim
    assert set(ours_at["scope"].split()) == set(theirs_at["scope"].split())


# ------------------------------------------------------------------------------------------------
# the server


def test_keycloak_listens_on_loopback_only(keycloak: Any) -> None:
    java = [p for p in psutil.Process(keycloak.pid).children(recursive=True) if p.name() == "java"]
    assert len(java) == 1
    listening = [c.laddr for c in java[0].net_connections(kind="inet") if c.status == psutil.CONN_LISTEN]
    assert listening, "Keycloak listens nowhere?"
    for addr in listening:
        assert addr.ip in {"127.0.0.1", "::ffff:127.0.0.1", "::1"}, listening
    assert any(addr.port == keycloak.port for addr in listening)


def test_admin_client_says_what_failed(keycloak: Any) -> None:
    from workbench.keycloak import KeycloakAdmin, KeycloakAdminError

    user, _ = keycloak.admin_credentials()
    with pytest.raises(
        KeycloakAdminError, match=r"signing in to http://127\.0\.0\.1:\d+ as admin .* HTTP 401"
    ):
        KeycloakAdmin(keycloak.url, user, "not-the-password", realm="s2p").user("admin")
    with pytest.raises(KeycloakAdminError, match="no user 'nobody' in realm s2p"):
        keycloak.admin("s2p").user("nobody")
    with pytest.raises(KeycloakAdminError, match="HTTP 404"):
        keycloak.admin("s2p").group_id("no-such-group")


def test_fetch_is_instant_when_prepared(keycloak: Any) -> None:
    r = subprocess.run([str(WORKBENCH), "keycloak", "fetch"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"Keycloak {keycloak.distribution.version} ready: {keycloak.distribution.home}"


@pytest.fixture
def local_keycloak_up(tmp_path: Path) -> Iterator[Any]:
    ports = free_ports()
    # The same cache and JDK as the session's Keycloak (the harness drops the caller's WORKBENCH_*).
    env = {k: v for k, v in os.environ.items() if k.startswith("WORKBENCH_KEYCLOAK_")}
    wb = start_workbench(tmp_path, {**env, "WORKBENCH_AUTH": "keycloak-local"}, ports=ports, timeout=600)
    yield wb
    wb.stop()


def test_keycloak_local_runs_a_real_keycloak_under_workbench_up(
    keycloak: Any, local_keycloak_up: Any
) -> None:
    """``WORKBENCH_AUTH=keycloak-local workbench up``: one setting for the real Keycloak locally."""
    wb = local_keycloak_up
    banner = wb.output.read_text()
    assert f"identity provider:    http://127.0.0.1:{wb.ports.idp}/realms/s2p (keycloak-local)" in banner
    assert "Keycloak admin:" in banner and "swe-scientist" in banner  # the demo logins are printed
    login = wb.login("swe-scientist", realm_password("swe-scientist"))
    assert login.ok, login.response.text[:500]
    # The login page was real Keycloak's (its theme), on the port workbench up gave it.
    assert wb.user("swe-scientist")["groups"] == ["swe"]
    java = [p for p in wb.processes() if p.name() == "java"]
    assert len(java) == 1 and f"--http-port={wb.ports.idp}" in " ".join(java[0].cmdline())
    assert wb.stop(sig=signal.SIGINT) == 0
    assert not java[0].is_running() or java[0].status() == psutil.STATUS_ZOMBIE
    assert (wb.state_dir / "keycloak" / "home" / "data" / "h2").is_dir()  # kept for the next start
