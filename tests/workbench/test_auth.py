"""workbench.auth without a hub: discovery against a real HTTP server, group claims, hub config.

The login flow itself (IdP + hub + proxy) is exercised in tests/e2e/test_login.py.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import jwt
import pytest
from traitlets.config import Config

from tests.support import ROOT, free_port, need_executable
from workbench import hubconfig
from workbench.auth import (
    USERNAME_PATTERN,
    AccessRefused,
    ClientCredentialsError,
    DiscoveryError,
    WorkbenchAuthenticator,
    WorkbenchLogoutHandler,
    check_client,
    configure,
    discover,
    groups_from_auth_state,
)
from workbench.settings import Settings

METADATA = {
    "issuer": "ISSUER",
    "authorization_endpoint": "ISSUER/protocol/openid-connect/auth",
    "token_endpoint": "ISSUER/protocol/openid-connect/token",
    "userinfo_endpoint": "ISSUER/protocol/openid-connect/userinfo",
    "end_session_endpoint": "ISSUER/protocol/openid-connect/logout",
    "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
}


@pytest.fixture
def issuer() -> Iterator[str]:
    """A real HTTP server on 127.0.0.1 serving OIDC metadata under /realms/test (and junk elsewhere)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            base = f"http://127.0.0.1:{self.server.server_port}/realms/test"  # type: ignore[attr-defined]
            if self.path == "/realms/test/.well-known/openid-configuration":
                body = json.dumps(METADATA).replace("ISSUER", base).encode()
            elif self.path == "/realms/partial/.well-known/openid-configuration":
                body = json.dumps({"issuer": base}).encode()
            else:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/realms"
    server.shutdown()
    server.server_close()


def test_discover_reads_the_issuer_metadata(issuer: str) -> None:
    meta = discover(f"{issuer}/test/")
    assert meta["token_endpoint"] == f"{issuer}/test/protocol/openid-connect/token"


def test_discover_explains_what_is_wrong(issuer: str) -> None:
    with pytest.raises(DiscoveryError, match=r"WORKBENCH_OIDC_ISSUER=.*/realms/nope .*HTTP 404"):
        discover(f"{issuer}/nope", timeout=0.5)
    with pytest.raises(DiscoveryError, match="lacks authorization_endpoint, token_endpoint"):
        discover(f"{issuer}/partial", timeout=0.5)
    closed = f"http://127.0.0.1:{free_port()}/realms/s2p"
    with pytest.raises(DiscoveryError, match="Is the IdP running and the issuer URL right") as refused:
        discover(closed, timeout=0.5)
    # One readable line: the reason, not urllib3's connection-pool repr.
    assert "(connection refused: nothing listens at that host and port)" in str(refused.value)
    assert "HTTPConnectionPool" not in str(refused.value)
    with pytest.raises(DiscoveryError, match=r"\(TLS handshake failed: the server speaks plain HTTP"):
        discover(issuer.replace("http://", "https://") + "/test", timeout=0.5)


@pytest.mark.parametrize(
    ("auth_state", "groups"),
    [
        ({"oauth_user": {"groups": ["/swe", "/operators"]}}, ["operators", "swe"]),  # Keycloak full paths
        ({"oauth_user": {"groups": ["neo", "neo"]}}, ["neo"]),
        ({"oauth_user": {"groups": "debris"}}, ["debris"]),
        ({"oauth_user": {"groups": []}}, []),
        ({"oauth_user": {}, "id_token": jwt.encode({"groups": ["/admins"]}, "k" * 32)}, ["admins"]),
        ({"oauth_user": {}, "id_token": "not-a-jwt"}, []),
        ({"oauth_user": {}}, []),
        ({"oauth_user": {"groups": ["/", ""]}}, []),
    ],
)
def test_groups_come_from_the_groups_claim(auth_state: dict, groups: list[str]) -> None:
    assert groups_from_auth_state(auth_state) == groups


def test_refusal_names_user_groups_and_contact() -> None:
    exc = AccessRefused("nogroup", [], ["debris", "neo"], "ops@example.org")
    assert exc.status_code == 403
    assert exc.workbench_refusal
    assert "<b>nogroup</b>" in exc.jupyterhub_html_message
    assert "debris, neo" in exc.jupyterhub_html_message and "ops@example.org" in exc.jupyterhub_html_message


def test_authenticator_config_follows_settings_and_metadata(issuer: str, tmp_path: Path) -> None:
    settings = Settings.from_env(
        {
            "WORKBENCH_STATE_DIR": str(tmp_path),
            "WORKBENCH_AUTH": "keycloak",
            "WORKBENCH_OIDC_ISSUER": f"{issuer}/test",
            "WORKBENCH_OIDC_CLIENT_SECRET": "s" * 32,
            "WORKBENCH_PUBLIC_URL": "https://wb.example.org",
            "WORKBENCH_ALLOWED_GROUPS": "swe,admins",
            "WORKBENCH_AUTH_REFRESH_AGE": "60",
        }
    )
    c = Config()
    hubconfig.configure(c, settings, discover_timeout=2)
    a = c.WorkbenchAuthenticator
    assert c.JupyterHub.authenticator_class is WorkbenchAuthenticator
    assert a.authorize_url == f"{issuer}/test/protocol/openid-connect/auth"
    assert a.userdata_url == f"{issuer}/test/protocol/openid-connect/userinfo"
    assert a.oauth_callback_url == "https://wb.example.org/hub/oauth_callback"
    # RP-initiated logout: the hub's logout handler sends the ID token to the end-session endpoint
    # and asks to come back to its own logout page.
    assert a.end_session_url == f"{issuer}/test/protocol/openid-connect/logout"
    assert a.post_logout_url == "https://wb.example.org/hub/logout"
    assert WorkbenchAuthenticator.logout_handler is WorkbenchLogoutHandler
    assert a.scope == ["openid", "email", "profile"]
    assert a.username_claim == "preferred_username"
    assert a.manage_groups and a.enable_auth_state and a.refresh_pre_spawn
    assert a.allowed_groups == {"swe", "admins"} and a.admin_groups == {"admins"}
    assert a.auth_refresh_age == 60
    assert a.client_secret == "s" * 32
    assert a.basic_auth is True
    # The hub's secrets come from the state directory, never from the repository.
    assert c.JupyterHub.cookie_secret_file == str(tmp_path / "secrets" / "cookie_secret")
    assert c.CryptKeeper["keys"] == [(tmp_path / "secrets" / "crypt_key").read_text().strip()]
    assert c.JupyterHub.db_url == f"sqlite:///{tmp_path / 'jupyterhub.sqlite'}"


def test_dev_idp_hub_uses_the_generated_client_secret(issuer: str, tmp_path: Path) -> None:
    settings = Settings.from_env(
        {"WORKBENCH_STATE_DIR": str(tmp_path), "WORKBENCH_OIDC_ISSUER": f"{issuer}/test"}
    )
    c = Config()
    configure(c, settings, discover(settings.oidc_issuer), client_secret="from-state")
    assert c.WorkbenchAuthenticator.client_secret == "from-state"
    c = Config()
    hubconfig.configure(c, settings, discover_timeout=2)
    assert (
        c.WorkbenchAuthenticator.client_secret
        == (tmp_path / "secrets" / "dev_client_secret").read_text().strip()
    )


def test_hub_config_refuses_production_with_dev_idp(tmp_path: Path) -> None:
    settings = Settings.from_env({"WORKBENCH_STATE_DIR": str(tmp_path), "WORKBENCH_ENV": "ope"})
    with pytest.raises(hubconfig.HubConfigError, match="WORKBENCH_ENV=ope refuses this configuration"):
        hubconfig.configure(Config(), settings)


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("swe-scientist", True),
        ("jane.doe@esa.int", True),
        ("op_2", True),
        ("../etc", False),
        ("a/b", False),
        ("", False),
        (".hidden", False),
        ("x" * 65, False),
    ],
)
def test_usernames_that_could_escape_a_path_are_refused(name: str, ok: bool) -> None:
    authenticator = WorkbenchAuthenticator(username_pattern=USERNAME_PATTERN)
    assert authenticator.validate_username(name) is ok


def test_check_client_tells_a_wrong_secret_from_a_right_one(tmp_path: Path) -> None:
    """Against the dev IdP (a real OIDC provider): no user needed, one line naming the settings."""
    need_executable("node")
    from workbench.devidp import DevIdP

    with DevIdP(
        ROOT / "deploy" / "keycloak" / "realm-s2p.json",
        env={"WORKBENCH_OIDC_CLIENT_SECRET": "the-right-secret"},
        state_dir=tmp_path,
    ) as idp:
        meta = discover(idp.issuer)
        check_client(meta, "workbench", "the-right-secret")
        with pytest.raises(ClientCredentialsError) as wrong:
            check_client(meta, "workbench", "not-the-secret")
        with pytest.raises(ClientCredentialsError, match="WORKBENCH_OIDC_CLIENT_ID=nobody"):
            check_client(meta, "nobody", "the-right-secret")
    message = str(wrong.value)
    assert "\n" not in message
    assert message.startswith(f"the IdP {idp.issuer} refuses the hub's client credentials")
    assert 'invalid_client "client authentication failed"' in message
    assert "Clients → workbench → Credentials" in message


def test_check_client_says_when_the_token_endpoint_is_unreachable() -> None:
    meta = {
        "issuer": "http://idp.invalid/realms/s2p",
        "token_endpoint": f"http://127.0.0.1:{free_port()}/token",
    }
    with pytest.raises(ClientCredentialsError, match=r"does not answer \(connection refused"):
        check_client(meta, "workbench", "s" * 32, timeout=2)
