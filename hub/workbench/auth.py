"""Hub login through OpenID Connect, exactly as against the programme's Keycloak.

:class:`WorkbenchAuthenticator` is oauthenticator's ``GenericOAuthenticator`` with the workbench's
policy:

- endpoints come from ``<issuer>/.well-known/openid-configuration`` (:func:`discover`), so any
  Keycloak-compatible issuer works from its URL alone;
- the username is ``preferred_username``; hub groups follow the ``groups`` claim (Keycloak may send
  group paths such as ``/swe``: the leading ``/`` is dropped);
- members of ``admin_groups`` are hub admins; only members of ``allowed_groups`` get in, everybody else
  gets a page saying what they lack and whom to ask (``templates/403.html``);
- tokens live in the encrypted auth state and are refreshed with the refresh token every
  ``auth_refresh_age`` seconds and before each spawn, re-reading the claims: a group removed in the
  IdP is removed from the hub then, and a user left in no allowed group must log in again (and is
  refused);
- logging out of the hub also ends the IdP's single sign-on session (RP-initiated logout at the
  issuer's ``end_session_endpoint`` with ``id_token_hint``), so the next visit asks for the password;
- a client id/secret the issuer refuses is found at start (:func:`check_client`) and, should it change
  later, reported at login as one line naming the setting, never as a traceback;
- an IdP that does not answer (down, restarting, answering 5xx) costs no one their session: the
  periodic and pre-spawn refreshes keep the tokens and groups the user has until it answers again,
  and a new login gets a page saying the sign-in service is unreachable (``templates/503.html``,
  :class:`IdPUnavailable`) rather than the browser's connection error or a traceback.
"""

from __future__ import annotations

import json
import re
import time
from html import escape
from pathlib import Path
from typing import Any

import jwt
import requests
from oauthenticator.generic import GenericOAuthenticator
from oauthenticator.oauth2 import OAuthLoginHandler, OAuthLogoutHandler
from tornado import web
from tornado.httpclient import HTTPClientError, HTTPRequest
from tornado.httputil import url_concat
from traitlets import Unicode

from workbench.settings import Settings

TEMPLATES_DIR = Path(__file__).with_name("templates")


USERNAME_PATTERN = r"^[a-z0-9][a-z0-9._@+-]{0,63}$"
"""Hub usernames accepted from ``preferred_username`` (after JupyterHub lower-cases them)."""


class DiscoveryError(RuntimeError):
    """The issuer's OpenID Connect metadata could not be read."""


def discover(issuer: str, *, timeout: float = 20.0) -> dict[str, Any]:
    """Read the OpenID Connect metadata of ``issuer``.

    Retries until ``timeout`` [s] (an IdP started next to the hub may still be coming up).

    Raises
    ------
    DiscoveryError
        Naming the URL and the last failure.
    """
    url = f"{issuer.rstrip('/')}/.well-known/openid-configuration"
    deadline = time.monotonic() + timeout
    last = "no attempt"
    while True:
        try:
            r = requests.get(url, timeout=5)
            if r.status_code == 200:
                meta = r.json()
                missing = [k for k in ("authorization_endpoint", "token_endpoint") if k not in meta]
                if missing:
                    raise DiscoveryError(f"{url} lacks {', '.join(missing)}: is it an OpenID Connect issuer?")
                return dict(meta)
            last = f"HTTP {r.status_code}"
        except requests.RequestException as exc:
            last = _why_unreachable(exc)
        except ValueError:
            last = "the answer is not JSON"
        if time.monotonic() >= deadline:
            raise DiscoveryError(
                f"cannot read the OpenID Connect metadata of WORKBENCH_OIDC_ISSUER={issuer} at {url} "
                f"({last}). Is the IdP running and the issuer URL right?"
            )
        time.sleep(0.5)


# What urllib3 buries in a long message, said the way an admin checks it.
_NETWORK_REASONS = (
    ("Connection refused", "connection refused: nothing listens at that host and port"),
    ("Name or service not known", "host name not found"),
    ("Failed to resolve", "host name not found"),
    ("No route to host", "no route to host"),
    ("Network is unreachable", "network unreachable"),
    ("CERTIFICATE_VERIFY_FAILED", "TLS certificate not trusted by this machine (CERTIFICATE_VERIFY_FAILED)"),
    ("WRONG_VERSION_NUMBER", "TLS handshake failed: the server speaks plain HTTP (an http:// issuer?)"),
)


def _why_unreachable(exc: requests.RequestException) -> str:
    """A short reason for a failed metadata request (urllib3's own text repeats the URL and pool)."""
    if isinstance(exc, requests.Timeout):
        return "no answer in time"
    text = str(exc)
    for needle, reason in _NETWORK_REASONS:
        if needle in text:
            return reason
    tls = re.search(r"\[SSL: ([A-Z0-9_]+)\]", text)
    if tls:
        return f"TLS error {tls.group(1)}"
    return f"{type(exc).__name__}: {text}"


class ClientCredentialsError(RuntimeError):
    """The issuer refuses the hub's client id and secret."""


# What an OIDC token endpoint answers to a client it does not authenticate: RFC 6749 says
# invalid_client (HTTP 401); Keycloak says unauthorized_client (HTTP 401) for a wrong secret.
_BAD_CLIENT_ERRORS = frozenset({"invalid_client", "unauthorized_client"})


def _refused_credentials_message(issuer: str, client_id: str, reason: str) -> str:
    return (
        f"the IdP {issuer} refuses the hub's client credentials (WORKBENCH_OIDC_CLIENT_ID={client_id} and "
        f"WORKBENCH_OIDC_CLIENT_SECRET: {reason}); set the secret shown in Keycloak under "
        f"Clients → {client_id} → Credentials"
    )


def check_client(
    metadata: dict[str, Any], client_id: str, client_secret: str, *, timeout: float = 30.0
) -> None:
    """Check that the issuer accepts ``client_id`` / ``client_secret``, without any user.

    The token endpoint is asked to refresh a token that cannot exist: an issuer authenticates the
    client first, so it answers ``invalid_grant`` to a good client and ``invalid_client`` (Keycloak:
    ``unauthorized_client``, HTTP 401) to a bad secret. Any other answer is inconclusive and accepted.

    Raises
    ------
    ClientCredentialsError
        One line naming the issuer, the settings and the issuer's reason.
    """
    issuer = str(metadata.get("issuer", metadata["token_endpoint"]))
    methods = metadata.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
    data = {"grant_type": "refresh_token", "refresh_token": "workbench-client-credentials-check"}
    auth = None
    if "client_secret_basic" in methods:
        auth = (client_id, client_secret)
    else:
        data.update({"client_id": client_id, "client_secret": client_secret})
    try:
        r = requests.post(metadata["token_endpoint"], data=data, auth=auth, timeout=timeout)
    except requests.RequestException as exc:
        raise ClientCredentialsError(
            f"the token endpoint {metadata['token_endpoint']} of WORKBENCH_OIDC_ISSUER={issuer} does not "
            f"answer ({_why_unreachable(exc)})"
        ) from None
    try:
        body = r.json()
    except ValueError:
        body = {}
    error = str(body.get("error", "")) if isinstance(body, dict) else ""
    if r.status_code == 401 or error in _BAD_CLIENT_ERRORS:
        reason = error or f"HTTP {r.status_code}"
        if isinstance(body, dict) and body.get("error_description"):
            reason += f' "{body["error_description"]}"'
        raise ClientCredentialsError(_refused_credentials_message(issuer, client_id, reason))


class AccessRefused(web.HTTPError):
    """403 for an authenticated user who is in none of the allowed groups (rendered by 403.html)."""

    def __init__(self, username: str, groups: list[str], allowed: list[str], contact: str) -> None:
        super().__init__(403, f"{username} is in none of the groups {', '.join(allowed)}")
        self.workbench_refusal = True
        self.username = username
        self.groups = groups
        self.allowed = allowed
        self.contact = contact
        # Shown by the stock error page if our template is not on the template path.
        self.jupyterhub_html_message = (
            f"You are signed in as <b>{escape(username)}</b>, but your account is in none of the groups "
            f"that may use this workbench ({escape(', '.join(allowed))}). "
            f"Ask {escape(contact)} to add you to your segment's group."
        )


IDP_PROBE_TIMEOUT_S = 5.0
"""How long a login waits for the IdP's metadata before going on without it [s]."""
IDP_PROBE_CACHE_S = 10.0
"""After an answer of the IdP, logins within this time skip the probe [s]."""


class IdPUnavailable(web.HTTPError):
    """503: the IdP does not answer (connection refused, timeout, 5xx); rendered by 503.html."""

    def __init__(self, issuer: str, reason: str) -> None:
        super().__init__(503, "the sign-in service %s does not answer (%s)", issuer, reason)
        self.workbench_idp_down = True
        self.issuer = issuer
        self.reason = reason
        self.summary = f"the sign-in service {issuer} does not answer ({reason})"
        # Shown by the stock error page if our template is not on the template path.
        self.jupyterhub_html_message = (
            "The sign-in service is not reachable right now, so nobody can sign in. Users already "
            "signed in keep working. Please try again in a few minutes."
        )


def unreachable_reason(exc: BaseException) -> str | None:
    """Why a request to the IdP got no usable answer, or None if the IdP answered (even with 4xx)."""
    if isinstance(exc, HTTPClientError):
        if exc.code == 599 or exc.response is None:
            return f"no answer: {exc.message or exc}"
        if exc.code >= 500:
            return f"HTTP {exc.code}"
        return None
    if isinstance(exc, TimeoutError):
        return "no answer in time"
    if isinstance(exc, OSError):  # refused, reset, name not found, stream closed
        return exc.strerror or type(exc).__name__
    return None


def _is_timeout(exc: BaseException) -> bool:
    """A request that got no answer in time (as opposed to one refused)."""
    if isinstance(exc, TimeoutError):
        return True
    return isinstance(exc, HTTPClientError) and exc.code == 599 and "time" in str(exc).lower()


class WorkbenchLoginHandler(OAuthLoginHandler):
    """Send the browser to the IdP only if the IdP answers; else say so (503 page)."""

    async def get(self) -> None:
        await self.authenticator.probe_idp()
        super().get()


def groups_from_auth_state(auth_state: dict[str, Any]) -> list[str]:
    """The IdP groups of a user: the ``groups`` claim of userinfo (else of the ID token), '/' stripped.

    Keycloak sends plain names with ``full.path=false`` and paths (``/swe``) otherwise; both work.
    """
    claims = auth_state.get(WorkbenchAuthenticator.user_auth_state_key) or {}
    groups = claims.get("groups")
    if groups is None and auth_state.get("id_token"):
        # An IdP whose userinfo lacks the claim (a Keycloak mapper without "add to userinfo"): the ID
        # token came straight from the token endpoint, so it is read without checking the signature,
        # as oauthenticator does for userdata_from_id_token.
        try:
            groups = jwt.decode(auth_state["id_token"], options={"verify_signature": False}).get("groups")
        except jwt.PyJWTError:
            groups = None
    if groups is None:
        groups = []
    if isinstance(groups, str):
        groups = [groups]
    return sorted({str(g).lstrip("/") for g in groups if str(g).strip("/")})


class WorkbenchLogoutHandler(OAuthLogoutHandler):
    """Log out of the hub, then of the IdP's single sign-on session (RP-initiated logout).

    With a user logged in: clear the hub's cookies and send the browser to the issuer's
    ``end_session_endpoint`` with the user's ID token as ``id_token_hint``; Keycloak then ends the SSO
    session without asking and returns to ``post_logout_redirect_uri`` (this page again). Without a
    user (that return, or a second visit): JupyterHub's "Successfully logged out" page.
    """

    async def get(self) -> None:
        user = self.current_user
        id_token = None
        if user is not None:
            auth_state = await user.get_auth_state()
            id_token = (auth_state or {}).get("id_token")
        await self.default_handle_logout()
        await self.handle_logout()
        self._jupyterhub_user = None
        authenticator = self.authenticator
        if user is not None and authenticator.end_session_url:
            params = {"client_id": authenticator.client_id}
            if id_token:
                params["id_token_hint"] = id_token
                params["post_logout_redirect_uri"] = authenticator.post_logout_url
            self.redirect(url_concat(authenticator.end_session_url, params))
            return
        self.finish(await self.render_template("logout.html"))


class WorkbenchAuthenticator(GenericOAuthenticator):
    """GenericOAuthenticator with the workbench's discovery, group, refusal and logout policy."""

    access_contact = Unicode(
        "your segment's workbench administrator",
        config=True,
        help="Who to ask for access, named on the refusal page.",
    )
    issuer = Unicode("", config=True, help="OpenID Connect issuer URL the endpoints were discovered from.")
    end_session_url = Unicode(
        "", config=True, help="The issuer's end_session_endpoint (RP-initiated logout); empty: none."
    )
    post_logout_url = Unicode(
        "", config=True, help="Where the IdP returns the browser after logout (the hub's /hub/logout)."
    )
    logout_handler = WorkbenchLogoutHandler
    login_handler = WorkbenchLoginHandler

    async def fetch(self, req: Any, label: str = "fetching", parse_json: bool = True, **kwargs: Any) -> Any:
        """Every request to the IdP; no answer (refused, timeout, 5xx) raises :class:`IdPUnavailable`."""
        try:
            return await super().fetch(req, label=label, parse_json=parse_json, **kwargs)
        except (HTTPClientError, OSError, TimeoutError) as exc:
            reason = unreachable_reason(exc)
            if reason is None:
                raise
            # the next login probes the IdP instead of trusting an old answer
            self._idp_seen_at = float("-inf")
            self.log.warning("The IdP %s does not answer while %s: %s", self.issuer, label, reason)
            raise IdPUnavailable(self.issuer, reason) from None

    _idp_seen_at: float = float("-inf")

    async def probe_idp(self) -> None:
        """Raise :class:`IdPUnavailable` if the issuer is down: its metadata refused, or a 5xx.

        A slow IdP (no answer within :data:`IDP_PROBE_TIMEOUT_S`, as under a burst of logins) is not
        down: the browser is sent there anyway. An answer is trusted for :data:`IDP_PROBE_CACHE_S`, so
        a burst of logins costs the IdP one probe, not one each; any request of the hub that finds the IdP
        unreachable (a token refresh, say) ends that trust at once.
        """
        if not self.issuer or time.monotonic() - self._idp_seen_at < IDP_PROBE_CACHE_S:
            return
        url = f"{self.issuer.rstrip('/')}/.well-known/openid-configuration"
        request = HTTPRequest(url, connect_timeout=IDP_PROBE_TIMEOUT_S, request_timeout=IDP_PROBE_TIMEOUT_S)
        try:
            await self.http_client.fetch(request)
        except (HTTPClientError, OSError, TimeoutError) as exc:
            if _is_timeout(exc):  # simple client: HTTPTimeoutError; curl: 599 "Operation timed out"
                self.log.warning(
                    "The IdP %s is slow (no metadata within %g s): login goes on",
                    self.issuer,
                    IDP_PROBE_TIMEOUT_S,
                )
                return
            reason = unreachable_reason(exc)
            if reason is not None:
                self.log.warning("The IdP %s does not answer before a login: %s", self.issuer, reason)
                raise IdPUnavailable(self.issuer, reason) from None
        self._idp_seen_at = time.monotonic()

    async def get_token_info(self, handler: Any, params: dict[str, Any]) -> dict[str, Any]:
        """The token endpoint's answer; a refused client is one clear line in the log and the page."""
        try:
            return dict(await super().get_token_info(handler, params))
        except HTTPClientError as exc:
            error = ""
            if exc.response is not None and exc.response.body:
                try:
                    error = str(json.loads(exc.response.body).get("error", ""))
                except (ValueError, AttributeError):
                    error = ""
            if exc.code == 401 or error in _BAD_CLIENT_ERRORS:
                message = _refused_credentials_message(
                    self.issuer, self.client_id, error or f"HTTP {exc.code}"
                )
                self.log.error("Login failed: %s", message)
                if params.get("grant_type") == "refresh_token":
                    raise  # refresh_user: the user logs in again, and meets the same page
                raise web.HTTPError(
                    502, "The sign-in service refused this workbench's credentials: tell its administrator."
                ) from None
            raise

    async def check_allowed(self, username: str, auth_model: dict[str, Any] | None) -> bool:
        if await super().check_allowed(username, auth_model):
            return True
        groups = list((auth_model or {}).get("groups") or [])
        self.log.warning("Refusing %s: groups %s, allowed %s", username, groups, sorted(self.allowed_groups))
        raise AccessRefused(username, groups, sorted(self.allowed_groups), self.access_contact)

    async def refresh_user(self, user: Any, handler: Any = None, **kwargs: Any) -> Any:
        """Refresh tokens with the refresh token and re-read the claims.

        Returns the new auth model (groups updated by the hub), or ``False`` to require a new login
        when the IdP refuses the refresh or the user is no longer in an allowed group.
        """
        auth_state = await user.get_auth_state()
        refresh_token = (auth_state or {}).get("refresh_token")
        if not refresh_token:
            return await super().refresh_user(user, handler, **kwargs)
        try:
            token_info = await self.get_token_info(
                handler, self.build_refresh_token_request_params(refresh_token)
            )
        except IdPUnavailable as exc:
            # The IdP is down, not refusing: the user keeps what the last answer granted, and the
            # refresh is tried again after auth_refresh_age. Nobody loses a session to an outage.
            self.log.warning("Keeping %s signed in with their current groups: %s", user.name, exc.summary)
            return True
        except Exception as exc:  # the IdP said no (expired session, disabled user): log in again
            self.log.info("Refresh token of %s refused (%s): login required", user.name, exc)
            return False
        token_info.setdefault("refresh_token", refresh_token)
        try:
            auth_model = await self._token_to_auth_model(token_info)
        except IdPUnavailable as exc:
            self.log.warning("Keeping %s signed in with their current groups: %s", user.name, exc.summary)
            return True
        except Exception as exc:
            self.log.warning("Fresh token of %s did not work (%s): login required", user.name, exc)
            return False
        if not (set(auth_model.get("groups") or []) & self.allowed_groups) and not auth_model.get("admin"):
            # Apply the loss now (groups, admin flag) rather than at the next login, which is refused.
            self.log.info("%s is no longer in an allowed group: groups cleared, login required", user.name)
            revoke_access(user, auth_model.get("groups") or [])
            return False
        self.log.info("Refreshed %s: groups %s", user.name, auth_model.get("groups"))
        return auth_model


def revoke_access(user: Any, groups: list[str]) -> None:
    """Set a hub user's groups to ``groups`` and drop admin rights (user left every allowed group)."""
    from jupyterhub import roles

    user.sync_groups(groups)
    if user.admin:
        user.admin = False
        roles.assign_default_roles(user.db, entity=user)
    user.db.commit()


def configure(c: Any, settings: Settings, metadata: dict[str, Any], *, client_secret: str) -> None:
    """Configure the hub's authenticator from the settings and the issuer's discovered metadata.

    ``client_secret`` is passed apart: with the dev IdP it is the one generated in the state directory.
    """
    c.JupyterHub.authenticator_class = WorkbenchAuthenticator
    a = c.WorkbenchAuthenticator
    a.issuer = settings.oidc_issuer
    a.client_id = settings.oidc_client_id
    a.client_secret = client_secret
    a.oauth_callback_url = f"{settings.public_url}/hub/oauth_callback"
    a.authorize_url = metadata["authorization_endpoint"]
    a.token_url = metadata["token_endpoint"]
    a.userdata_url = metadata.get("userinfo_endpoint", "")
    a.userdata_from_id_token = not metadata.get("userinfo_endpoint")
    # RP-initiated logout: the hub's logout ends the IdP session too (WorkbenchLogoutHandler).
    a.end_session_url = metadata.get("end_session_endpoint", "")
    a.post_logout_url = f"{settings.public_url}/hub/logout"
    # Keycloak's userinfo requires the openid scope.
    a.scope = ["openid", "email", "profile"]
    a.username_claim = "preferred_username"
    # Keycloak lower-cases usernames; anything outside this set (a '/' in particular) could reach a
    # path or a container name, so such a login is refused rather than escaped.
    a.username_pattern = USERNAME_PATTERN
    a.login_service = "S2P dev IdP" if settings.auth == "dev-idp" else "S2P single sign-on"
    a.auto_login = True
    a.manage_groups = True
    a.auth_state_groups_key = groups_from_auth_state
    a.allowed_groups = set(settings.allowed_groups)
    a.admin_groups = set(settings.admin_groups)
    a.access_contact = settings.access_contact
    a.enable_auth_state = True
    a.refresh_pre_spawn = True
    a.auth_refresh_age = settings.auth_refresh_age
    # Send the client secret the way the issuer prefers (Keycloak accepts both).
    methods = metadata.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
    a.basic_auth = "client_secret_basic" in methods
    c.JupyterHub.template_paths = [str(TEMPLATES_DIR)]
