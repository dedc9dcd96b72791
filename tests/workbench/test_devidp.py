"""The dev identity provider against the realm export: real node process, real HTTP.

Every test drives the same endpoints the hub (oauthenticator) uses against a production Keycloak:
discovery, the login form of the authorization endpoint, the token endpoint (code and refresh
grants), the JWKS and userinfo.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import select
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlparse

import jwt
import pytest
import requests

from tests.support import ROOT, free_port, need, need_executable

REALM_FILE = ROOT / "deploy" / "keycloak" / "realm-s2p.json"
SECRET = "test-secret-" + secrets.token_hex(8)
CLIENT = "workbench"
# Demo passwords of the realm file (dev only): "dev-<username>".
PASSWORD = {
    u: f"dev-{u}" for u in ("swe-scientist", "debris-analyst", "neo-analyst", "operator", "admin", "nogroup")
}
HTTP_TIMEOUT_S = 10
MAX_REDIRECTS = 10

pytestmark = pytest.mark.integration


def _prerequisites() -> None:
    need_executable("node")
    need(
        (ROOT / "node_modules" / "oidc-provider" / "package.json").is_file(),
        "node_modules (run `make install`)",
    )


def _callback() -> str:
    # Nothing listens there: the flow stops at the redirect and reads `code` from Location.
    return f"http://127.0.0.1:{free_port()}/hub/oauth_callback"


@pytest.fixture(scope="module")
def callback() -> str:
    return _callback()


@pytest.fixture(scope="module")
def idp(callback: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    _prerequisites()
    from workbench.devidp import DevIdP

    state = tmp_path_factory.mktemp("devidp")
    with DevIdP(
        REALM_FILE,
        redirect_uris={CLIENT: [callback]},
        env={"WORKBENCH_OIDC_CLIENT_SECRET": SECRET},
        state_dir=state,
    ) as server:
        yield server


@dataclass
class Tokens:
    id_token: str
    access_token: str
    refresh_token: str
    raw: dict[str, Any]


class Browser:
    """An HTTP client walking the authorization-code flow (with PKCE, as oauthenticator does)."""

    def __init__(self, issuer: str, redirect_uri: str, client_id: str = CLIENT, secret: str = SECRET) -> None:
        self.issuer = issuer
        self.redirect_uri = redirect_uri
        self.client_id = client_id
        self.secret = secret
        self.http = requests.Session()
        self.meta = self.http.get(f"{issuer}/.well-known/openid-configuration", timeout=HTTP_TIMEOUT_S).json()
        self.verifier = secrets.token_urlsafe(48)

    def login_page(self, redirect_uri: str | None = None) -> requests.Response:
        challenge = (
            base64.urlsafe_b64encode(hashlib.sha256(self.verifier.encode()).digest()).rstrip(b"=").decode()
        )
        return self.http.get(
            self.meta["authorization_endpoint"],
            params={
                "client_id": self.client_id,
                "response_type": "code",
                "redirect_uri": redirect_uri or self.redirect_uri,
                "scope": "openid profile email",
                "state": "st-" + secrets.token_hex(4),
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            },
            timeout=HTTP_TIMEOUT_S,
        )

    def submit(self, page: requests.Response, username: str, password: str) -> requests.Response:
        """Submit form#kc-form-login; follow the IdP's redirects but not the one to the client."""
        match = re.search(r'<form id="kc-form-login" action="([^"]+)"', page.text)
        assert match, f"no login form in {page.url}: {page.text[:300]}"
        action = urljoin(page.url, match.group(1).replace("&amp;", "&"))
        response = self.http.post(
            action,
            data={"username": username, "password": password},
            allow_redirects=False,
            timeout=HTTP_TIMEOUT_S,
        )
        for _ in range(MAX_REDIRECTS):
            location = response.headers.get("Location")
            if (
                response.status_code not in (302, 303)
                or not location
                or location.startswith(self.redirect_uri)
            ):
                return response
            response = self.http.get(
                urljoin(response.url, location), allow_redirects=False, timeout=HTTP_TIMEOUT_S
            )
        raise AssertionError("too many redirects")

    def code(self, username: str, password: str) -> str:
        response = self.submit(self.login_page(), username, password)
        location = response.headers.get("Location", "")
        assert location.startswith(self.redirect_uri), (
            f"no redirect to the client: {response.status_code} {response.text[:300]}"
        )
        query = parse_qs(urlparse(location).query)
        assert query["iss"] == [self.issuer]
        return query["code"][0]

    def token(self, **data: str) -> requests.Response:
        return requests.post(
            self.meta["token_endpoint"], data=data, auth=(self.client_id, self.secret), timeout=HTTP_TIMEOUT_S
        )

    def login(self, username: str) -> Tokens:
        code = self.code(username, PASSWORD[username])
        r = self.token(
            grant_type="authorization_code",
            code=code,
            redirect_uri=self.redirect_uri,
            code_verifier=self.verifier,
        )
        assert r.status_code == 200, r.text
        body = r.json()
        return Tokens(body["id_token"], body["access_token"], body["refresh_token"], body)

    def refresh(self, refresh_token: str) -> requests.Response:
        return self.token(grant_type="refresh_token", refresh_token=refresh_token)

    def userinfo(self, access_token: str) -> requests.Response:
        return requests.get(
            self.meta["userinfo_endpoint"],
            headers={"Authorization": f"Bearer {access_token}"},
            timeout=HTTP_TIMEOUT_S,
        )

    def verify(self, token: str, audience: str = CLIENT) -> dict[str, Any]:
        """Decode a JWT, verifying its RS256 signature against the IdP's published `certs`."""
        jwks = jwt.PyJWKClient(self.meta["jwks_uri"])
        key = jwks.get_signing_key_from_jwt(token)
        return jwt.decode(token, key.key, algorithms=["RS256"], audience=audience, issuer=self.issuer)


def _edit_realm(path: Path, change: Any) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data, indent=1))


def _user(data: dict[str, Any], username: str) -> dict[str, Any]:
    return next(u for u in data["users"] if u["username"] == username)


# --------------------------------------------------------------------------------------------------


def test_discovery_has_keycloak_endpoints(idp: Any) -> None:
    meta = requests.get(idp.discovery_url, timeout=HTTP_TIMEOUT_S).json()
    base = f"http://127.0.0.1:{idp.port}/realms/s2p"
    assert idp.issuer == base
    assert meta["issuer"] == base
    oidc = f"{base}/protocol/openid-connect"
    assert meta["authorization_endpoint"] == f"{oidc}/auth"
    assert meta["token_endpoint"] == f"{oidc}/token"
    assert meta["userinfo_endpoint"] == f"{oidc}/userinfo"
    assert meta["jwks_uri"] == f"{oidc}/certs"
    assert meta["end_session_endpoint"] == f"{oidc}/logout"
    assert "authorization_code" in meta["grant_types_supported"]
    assert "refresh_token" in meta["grant_types_supported"]
    keys = requests.get(meta["jwks_uri"], timeout=HTTP_TIMEOUT_S).json()["keys"]
    assert [k["kty"] for k in keys] == ["RSA"]
    assert "d" not in keys[0], "private key material must never be published"


def test_code_flow_claims_of_debris_analyst(idp: Any, callback: str) -> None:
    browser = Browser(idp.issuer, callback)
    tokens = browser.login("debris-analyst")
    claims = browser.verify(tokens.id_token)
    assert claims["preferred_username"] == "debris-analyst"
    assert claims["email"] == "debris-analyst@s2p.example.org"
    assert claims["groups"] == ["debris"]
    assert "s2p-user" in claims["realm_access"]["roles"]
    assert "s2p-admin" not in claims["realm_access"]["roles"]

    # The access token is a JWT too (as Keycloak's), with the same user claims.
    access = browser.verify(tokens.access_token)
    assert access["typ"] == "Bearer"
    assert access["azp"] == CLIENT
    assert access["sub"] == claims["sub"]
    assert access["groups"] == ["debris"]
    assert access["realm_access"] == claims["realm_access"]
    assert "openid" in access["scope"].split()

    info = browser.userinfo(tokens.access_token)
    assert info.status_code == 200, info.text
    body = info.json()
    for name in ("sub", "preferred_username", "email", "groups", "realm_access"):
        assert body[name] == claims[name], name
    assert tokens.raw["token_type"].lower() == "bearer"
    assert f"login ok user=debris-analyst client={CLIENT}" in idp.log_tail()


def test_groups_and_roles_of_operator_and_admin(idp: Any, callback: str) -> None:
    operator = Browser(idp.issuer, callback).login("operator")
    claims = jwt.decode(operator.id_token, options={"verify_signature": False})
    assert claims["groups"] == ["debris", "operators"]  # sorted by name, as Keycloak does
    assert {"s2p-user", "s2p-operator"} <= set(claims["realm_access"]["roles"])
    admin = Browser(idp.issuer, callback).login("admin")
    claims = jwt.decode(admin.id_token, options={"verify_signature": False})
    assert claims["groups"] == ["admins"]
    assert "s2p-admin" in claims["realm_access"]["roles"]


def test_nogroup_user_has_no_groups_claim(idp: Any, callback: str) -> None:
    """As Keycloak's group-membership mapper: no claim at all for a user in no group."""
    browser = Browser(idp.issuer, callback)
    tokens = browser.login("nogroup")
    assert "groups" not in browser.verify(tokens.id_token)
    assert "groups" not in browser.userinfo(tokens.access_token).json()


def test_wrong_password_shows_the_form_with_error(idp: Any, callback: str) -> None:
    browser = Browser(idp.issuer, callback)
    page = browser.login_page()
    assert page.status_code == 200
    for marker in ('id="kc-form-login"', 'name="username"', 'name="password"', 'id="kc-login"'):
        assert marker in page.text
    again = browser.submit(page, "debris-analyst", "not-the-password")
    assert "Invalid username or password." in again.text
    assert 'id="kc-form-login"' in again.text
    assert "Location" not in again.headers
    # The same form still works with the right password.
    ok = browser.submit(again, "debris-analyst", PASSWORD["debris-analyst"])
    assert ok.headers["Location"].startswith(callback)


def test_email_login_and_unknown_user(idp: Any, callback: str) -> None:
    browser = Browser(idp.issuer, callback)
    ok = browser.submit(browser.login_page(), "neo-analyst@s2p.example.org", PASSWORD["neo-analyst"])
    assert ok.headers["Location"].startswith(callback)
    browser = Browser(idp.issuer, callback)
    nobody = browser.submit(browser.login_page(), "nobody", "whatever")
    assert "Invalid username or password." in nobody.text


def test_redirect_uri_not_registered_is_refused(idp: Any, callback: str) -> None:
    browser = Browser(idp.issuer, callback)
    page = browser.login_page(redirect_uri="http://127.0.0.1:1/elsewhere")
    assert page.status_code == 400
    assert "kc-form-login" not in page.text
    assert "redirect_uri" in page.text


def test_wrong_client_secret_is_refused(idp: Any, callback: str) -> None:
    browser = Browser(idp.issuer, callback)
    code = browser.code("swe-scientist", PASSWORD["swe-scientist"])
    browser.secret = "not-the-secret"
    r = browser.token(
        grant_type="authorization_code", code=code, redirect_uri=callback, code_verifier=browser.verifier
    )
    assert r.status_code == 401
    assert r.json()["error"] == "invalid_client"


def test_userinfo_refuses_forged_and_missing_tokens(idp: Any, callback: str) -> None:
    browser = Browser(idp.issuer, callback)
    tokens = browser.login("swe-scientist")
    header, payload, signature = tokens.access_token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["groups"] = ["admins"]
    forged_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    forged = browser.userinfo(f"{header}.{forged_payload}.{signature}")
    assert forged.status_code == 401
    assert "invalid_token" in forged.headers["WWW-Authenticate"]
    assert requests.get(browser.meta["userinfo_endpoint"], timeout=HTTP_TIMEOUT_S).status_code == 401


def test_refresh_reflects_group_removed_from_realm_file(tmp_path: Path) -> None:
    _prerequisites()
    from workbench.devidp import DevIdP

    realm = tmp_path / "realm.json"
    shutil.copy(REALM_FILE, realm)
    cb = _callback()
    with DevIdP(realm, redirect_uris={CLIENT: [cb]}, env={"WORKBENCH_OIDC_CLIENT_SECRET": SECRET}) as idp:
        browser = Browser(idp.issuer, cb)
        tokens = browser.login("operator")
        assert sorted(browser.verify(tokens.id_token)["groups"]) == ["debris", "operators"]

        _edit_realm(realm, lambda d: _user(d, "operator").update(groups=["/operators"]))
        r = browser.refresh(tokens.refresh_token)
        assert r.status_code == 200, r.text
        body = r.json()
        assert browser.verify(body["id_token"])["groups"] == ["operators"]
        assert browser.verify(body["access_token"])["groups"] == ["operators"]
        assert browser.userinfo(body["access_token"]).json()["groups"] == ["operators"]
        # The next login sees it too.
        again = Browser(idp.issuer, cb).login("operator")
        assert jwt.decode(again.id_token, options={"verify_signature": False})["groups"] == ["operators"]
        assert "refresh ok user=operator" in idp.log_tail()
        assert "realm file reloaded" in idp.log_tail()


def test_disabled_user_cannot_login_and_refresh_fails(tmp_path: Path) -> None:
    _prerequisites()
    from workbench.devidp import DevIdP

    realm = tmp_path / "realm.json"
    shutil.copy(REALM_FILE, realm)
    cb = _callback()
    with DevIdP(realm, redirect_uris={CLIENT: [cb]}, env={"WORKBENCH_OIDC_CLIENT_SECRET": SECRET}) as idp:
        browser = Browser(idp.issuer, cb)
        tokens = browser.login("swe-scientist")
        _edit_realm(realm, lambda d: _user(d, "swe-scientist").update(enabled=False))

        refreshed = browser.refresh(tokens.refresh_token)
        assert refreshed.status_code == 400
        assert refreshed.json()["error"] == "invalid_grant"
        assert browser.userinfo(tokens.access_token).status_code == 401

        fresh = Browser(idp.issuer, cb)
        page = fresh.submit(fresh.login_page(), "swe-scientist", PASSWORD["swe-scientist"])
        assert "Location" not in page.headers
        assert "Account is disabled" in page.text


def test_second_instance_other_realm_and_port(idp: Any, tmp_path: Path) -> None:
    from workbench.devidp import DevIdP

    cb = _callback()
    port = free_port()
    with DevIdP(
        REALM_FILE,
        port=port,
        realm="partners",
        redirect_uris={CLIENT: [cb]},
        env={"WORKBENCH_OIDC_CLIENT_SECRET": SECRET},
    ) as other:
        assert other.issuer == f"http://127.0.0.1:{port}/realms/partners"
        assert other.port != idp.port
        browser = Browser(other.issuer, cb)
        assert browser.meta["token_endpoint"] == f"{other.issuer}/protocol/openid-connect/token"
        tokens = browser.login("neo-analyst")
        claims = browser.verify(tokens.id_token)
        assert claims["iss"] == other.issuer
        assert claims["groups"] == ["neo"]
        # The first instance does not serve the other realm, nor accept its tokens.
        missing = requests.get(
            f"{idp.url}/realms/partners/.well-known/openid-configuration", timeout=HTTP_TIMEOUT_S
        )
        assert missing.status_code == 404
        assert Browser(idp.issuer, cb).userinfo(tokens.access_token).status_code == 401


def test_wildcard_redirect_and_secret_placeholder_default(tmp_path: Path) -> None:
    _prerequisites()
    from workbench.devidp import DevIdP

    realm = tmp_path / "realm.json"
    port = free_port()

    def change(d: dict[str, Any]) -> None:
        client = next(c for c in d["clients"] if c["clientId"] == CLIENT)
        client["secret"] = "${DEVIDP_TEST_UNSET_SECRET:fallback-secret}"
        client["redirectUris"] = [f"http://127.0.0.1:{port}/hub/*"]

    shutil.copy(REALM_FILE, realm)
    _edit_realm(realm, change)
    with DevIdP(realm) as idp:
        cb = f"http://127.0.0.1:{port}/hub/oauth_callback"
        browser = Browser(idp.issuer, cb, secret="fallback-secret")
        assert browser.verify(browser.login("swe-scientist").id_token)["groups"] == ["swe"]
        outside = Browser(idp.issuer, f"http://127.0.0.1:{port}/other/cb").login_page()
        assert outside.status_code == 400


def test_logout_with_id_token_hint_ends_the_session_at_once(idp: Any, callback: str) -> None:
    """Like Keycloak: RP-initiated logout with id_token_hint needs no confirmation page."""
    browser = Browser(idp.issuer, callback)
    tokens = browser.login("admin")
    # The realm's post-logout URIs end in `*`: any page under the hub matches.
    after = "http://127.0.0.1:8000/hub/logout"
    r = browser.http.get(
        browser.meta["end_session_endpoint"],
        params={"id_token_hint": tokens.id_token, "post_logout_redirect_uri": after, "state": "s1"},
        allow_redirects=False,
        timeout=HTTP_TIMEOUT_S,
    )
    assert r.status_code == 302, r.text[:500]
    assert r.headers["Location"] == f"{after}?state=s1"
    # The session is gone: a new authorization request shows the login form again, and the
    # refresh token bound to the session is dead.
    assert 'id="kc-form-login"' in browser.login_page().text
    assert browser.refresh(tokens.refresh_token).status_code == 400
    refused = browser.http.get(
        browser.meta["end_session_endpoint"],
        params={"client_id": CLIENT, "post_logout_redirect_uri": "http://127.0.0.1:1/elsewhere"},
        timeout=HTTP_TIMEOUT_S,
    )
    assert refused.status_code == 400


def test_logout_without_id_token_hint_asks_to_confirm(idp: Any, callback: str) -> None:
    browser = Browser(idp.issuer, callback)
    tokens = browser.login("operator")
    r = browser.http.get(
        browser.meta["end_session_endpoint"], params={"client_id": CLIENT}, timeout=HTTP_TIMEOUT_S
    )
    assert r.status_code == 200
    assert "Do you want to log out?" in r.text and 'id="kc-logout"' in r.text
    # Not confirmed: the session and its refresh token still work.
    assert browser.refresh(tokens.refresh_token).status_code == 200
    form = re.search(r'<form[^>]*id="op.logoutForm"[^>]*action="([^"]+)"', r.text) or re.search(
        r'<form[^>]*action="([^"]+)"[^>]*id="op.logoutForm"', r.text
    )
    xsrf = re.search(r'name="xsrf" value="([^"]+)"', r.text)
    assert form and xsrf, r.text[:500]
    done = browser.http.post(
        urljoin(r.url, form.group(1)),
        data={"xsrf": xsrf.group(1), "logout": "yes"},
        allow_redirects=False,
        timeout=HTTP_TIMEOUT_S,
    )
    assert done.status_code == 303
    assert 'id="kc-form-login"' in browser.login_page().text


def test_launcher_reports_missing_node_modules(tmp_path: Path) -> None:
    from workbench.devidp import DevIdPError, find_node_modules

    with pytest.raises(DevIdPError, match="make install"):
        find_node_modules(tmp_path)


def test_launcher_reports_a_bad_realm_file_with_the_log(tmp_path: Path) -> None:
    _prerequisites()
    from workbench.devidp import DevIdP, DevIdPError

    realm = tmp_path / "realm.json"
    realm.write_text('{"realm": "broken", "users": [')
    with pytest.raises(DevIdPError, match="realm"):
        DevIdP(realm)
    realm.write_text('{"realm": "broken", "users": "not a list"}')
    idp = DevIdP(realm)
    try:
        with pytest.raises(DevIdPError, match="exited with status") as failure:
            idp.start(timeout=15)
    finally:
        idp.stop()
    assert '"users" must be a list' in str(failure.value), "the log tail names the field"
    assert not idp.running


def test_stop_is_clean_and_idempotent(tmp_path: Path) -> None:
    _prerequisites()
    from workbench.devidp import DevIdP

    idp = DevIdP(
        REALM_FILE, env={"WORKBENCH_OIDC_CLIENT_SECRET": SECRET}, log_file=tmp_path / "idp.log"
    ).start()
    pid = idp.pid
    assert pid is not None and idp.running
    idp.stop()
    assert idp.returncode == 0
    assert not idp.running and idp.pid is None
    idp.stop()
    assert "SIGTERM received" in (tmp_path / "idp.log").read_text()
    with pytest.raises(requests.ConnectionError):
        requests.get(idp.discovery_url, timeout=HTTP_TIMEOUT_S)


def test_python_m_entry_runs_until_sigint(tmp_path: Path) -> None:
    _prerequisites()
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "workbench.devidp",
            str(REALM_FILE),
            "--port",
            str(port),
            "--state-dir",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        # Wait for the entry point's own "running" banner, not for the server's answer: the server
        # answers a moment before the launcher has printed it, and a SIGINT in that moment is a
        # (silent, exit 0) stop during start-up, which is another case.
        assert proc.stdout is not None
        # (the banner is flushed at once, after the signal handlers are in place)
        assert select.select([proc.stdout], [], [], 30)[0], "python -m workbench.devidp did not come up"
        banner = proc.stdout.readline()
        url = f"http://127.0.0.1:{port}/realms/s2p/.well-known/openid-configuration"
        assert requests.get(url, timeout=HTTP_TIMEOUT_S).status_code == 200
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, banner + out
    assert f"dev IdP running: issuer http://127.0.0.1:{port}/realms/s2p" in banner
    assert (tmp_path / "devidp-keys.json").stat().st_mode & 0o077 == 0


def test_realm_export_is_what_keycloak_imports() -> None:
    """Shape checks of the realm file against Keycloak's RealmRepresentation (no node needed)."""
    realm = json.loads(REALM_FILE.read_text())
    assert realm["realm"] == "s2p" and realm["enabled"] is True
    group_paths = {g["path"] for g in realm["groups"]}
    assert group_paths == {"/swe", "/debris", "/neo", "/operators", "/admins"}
    role_names = {r["name"] for r in realm["roles"]["realm"]}
    assert {"s2p-user", "s2p-operator", "s2p-admin"} <= role_names
    for group in realm["groups"]:
        assert set(group["realmRoles"]) <= role_names

    (client,) = [c for c in realm["clients"] if c["clientId"] == CLIENT]
    assert client["publicClient"] is False and client["standardFlowEnabled"] is True
    assert client["secret"] == "${WORKBENCH_OIDC_CLIENT_SECRET}", (
        "the secret is an import placeholder, never a value"
    )
    assert set(client["redirectUris"]) == {
        "http://127.0.0.1:8000/hub/oauth_callback",
        "http://localhost:8000/hub/oauth_callback",
    }
    assert client["webOrigins"]
    (mapper,) = [
        m for m in client["protocolMappers"] if m["protocolMapper"] == "oidc-group-membership-mapper"
    ]
    assert mapper["config"] == mapper["config"] | {
        "full.path": "false",
        "claim.name": "groups",
        "id.token.claim": "true",
        "access.token.claim": "true",
        "userinfo.token.claim": "true",
    }
    # Defining clientScopes in an import replaces Keycloak's built-in ones (profile, email, roles):
    # the mappers therefore live on the client and the file leaves client scopes to Keycloak.
    assert "clientScopes" not in realm

    users = {u["username"]: u for u in realm["users"]}
    assert set(PASSWORD) <= set(users)
    for name, user in users.items():
        # Keycloak >= 24 asks users without e-mail/first/last name to complete their profile.
        assert user["email"] and user["firstName"] and user["lastName"], name
        assert user["enabled"] is True
        assert set(user["groups"]) <= group_paths, name
        (cred,) = user["credentials"]
        assert cred == {"type": "password", "value": PASSWORD[name], "temporary": False}
    assert users["nogroup"]["groups"] == []
    assert "/operators" in users["operator"]["groups"] and len(users["operator"]["groups"]) == 2


def _alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie waiting for a reaper counts as ended)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status


def test_server_does_not_outlive_a_killed_launcher(tmp_path: Path) -> None:
    _prerequisites()
    script = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from workbench.devidp import DevIdP\n"
        f"idp = DevIdP(Path({str(REALM_FILE)!r}), log_file=Path({str(tmp_path / 'idp.log')!r})).start()\n"
        "print(idp.pid, flush=True)\n"
        "time.sleep(120)\n"
    )
    launcher = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert launcher.stdout is not None
        node_pid = int(launcher.stdout.readline())
        assert _alive(node_pid)
        launcher.kill()  # SIGKILL: stop() never runs
        launcher.wait(timeout=10)
        deadline = time.monotonic() + 10
        while _alive(node_pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _alive(node_pid), "the dev IdP outlived its launcher"
        assert "gone, stopping" in (tmp_path / "idp.log").read_text()
    finally:
        if launcher.poll() is None:
            launcher.kill()


def test_port_in_use_is_one_clear_error(tmp_path: Path) -> None:
    _prerequisites()
    import socket

    from workbench.devidp import DevIdP, DevIdPError

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        idp = DevIdP(REALM_FILE, port=port, log_file=tmp_path / "idp.log")
        with pytest.raises(DevIdPError, match="EADDRINUSE"):
            idp.start(timeout=15)
        assert not idp.running
