"""A small client of Keycloak's Admin REST API: what tests and admins of the workbench need.

::

    admin = KeycloakAdmin("https://sso.example.org", "kcadmin", password, realm="s2p")
    admin.set_user_groups("operator", ["operators"])   # group change, effective at the hub's next refresh
    admin.set_user_enabled("operator", False)          # the next refresh fails: login required, refused
    admin.set_client_urls("workbench", "https://workbench.example.org")

The admin signs in to the ``master`` realm with the ``admin-cli`` client (password grant), as
``kcadm.sh`` does; the token is renewed when it expires. Every failure is a :class:`KeycloakAdminError`
naming the call and Keycloak's own message.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

import requests

from workbench.keycloak.distribution import KeycloakError


class KeycloakAdminError(KeycloakError):
    """An Admin REST API call failed (the message names the call and Keycloak's answer)."""


class KeycloakAdmin:
    """Admin REST API of one realm.

    Parameters
    ----------
    url
        Keycloak's base URL (``http://127.0.0.1:8080``), without ``/realms/…``.
    username, password
        An admin of the ``master`` realm.
    realm
        The realm administered.
    timeout
        Per-request timeout [s].
    """

    def __init__(self, url: str, username: str, password: str, *, realm: str, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.username = username
        self._password = password
        self.realm = realm
        self.timeout = timeout
        self._token = ""
        self._token_expires = 0.0
        self._http = requests.Session()

    # -- plumbing -------------------------------------------------------------------------------

    def _access_token(self) -> str:
        if self._token and time.monotonic() < self._token_expires:
            return self._token
        r = self._http.post(
            f"{self.url}/realms/master/protocol/openid-connect/token",
            data={
                "grant_type": "password",
                "client_id": "admin-cli",
                "username": self.username,
                "password": self._password,
            },
            timeout=self.timeout,
        )
        if r.status_code != 200:
            raise KeycloakAdminError(
                f"signing in to {self.url} as admin {self.username!r} failed: HTTP {r.status_code} {_reason(r)}"
            )
        body = r.json()
        self._token = str(body["access_token"])
        self._token_expires = time.monotonic() + float(body.get("expires_in", 60)) - 10
        return self._token

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """Call ``/admin/realms/<realm><path>``; raise :class:`KeycloakAdminError` on HTTP ≥ 400."""
        url = f"{self.url}/admin/realms/{quote(self.realm)}{path}"
        for attempt in (1, 2):
            headers = {"Authorization": f"Bearer {self._access_token()}"}
            r = self._http.request(method, url, headers=headers, timeout=self.timeout, **kwargs)
            if r.status_code == 401 and attempt == 1:
                self._token = ""  # expired early (e.g. the admin session was ended): sign in again
                continue
            break
        if r.status_code >= 400:
            raise KeycloakAdminError(f"{method} {url}: HTTP {r.status_code} {_reason(r)}")
        return r

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        r = self.request(method, path, **kwargs)
        return r.json() if r.content else None

    # -- realm ----------------------------------------------------------------------------------

    def realm_representation(self) -> dict[str, Any]:
        """The realm's settings (``GET /admin/realms/<realm>``)."""
        return dict(self._json("GET", ""))

    # -- users ----------------------------------------------------------------------------------

    def user(self, username: str) -> dict[str, Any]:
        """The user representation of ``username`` (exact match)."""
        found = self._json("GET", "/users", params={"username": username, "exact": "true"})
        if not found:
            raise KeycloakAdminError(f"no user {username!r} in realm {self.realm}")
        return dict(found[0])

    def user_groups(self, username: str) -> list[str]:
        """Names of the groups ``username`` is a direct member of, sorted."""
        uid = self.user(username)["id"]
        return sorted(g["name"] for g in self._json("GET", f"/users/{uid}/groups"))

    def group_id(self, name: str) -> str:
        """Id of the top-level group ``name`` (or of a path such as ``/parent/child``)."""
        path = name if name.startswith("/") else f"/{name}"
        return str(self._json("GET", f"/group-by-path/{quote(path.lstrip('/'))}")["id"])

    def set_user_groups(self, username: str, groups: list[str]) -> None:
        """Make ``username`` a member of exactly ``groups`` (names or paths)."""
        uid = self.user(username)["id"]
        current = {g["path"]: g["id"] for g in self._json("GET", f"/users/{uid}/groups")}
        wanted = {g if g.startswith("/") else f"/{g}" for g in groups}
        for path, gid in current.items():
            if path not in wanted:
                self.request("DELETE", f"/users/{uid}/groups/{gid}")
        for path in sorted(wanted - set(current)):
            self.request("PUT", f"/users/{uid}/groups/{self.group_id(path)}")

    def set_user_enabled(self, username: str, enabled: bool) -> None:
        """Enable or disable ``username`` (a disabled user cannot log in or refresh tokens)."""
        uid = self.user(username)["id"]
        self.request("PUT", f"/users/{uid}", json={"enabled": enabled})

    def user_sessions(self, username: str) -> list[dict[str, Any]]:
        """The user's active SSO sessions."""
        uid = self.user(username)["id"]
        return list(self._json("GET", f"/users/{uid}/sessions"))

    def logout_user(self, username: str) -> None:
        """End every session of ``username`` (their refresh tokens stop working)."""
        uid = self.user(username)["id"]
        self.request("POST", f"/users/{uid}/logout")

    def delete_user(self, username: str) -> None:
        """Delete ``username`` (e.g. a brokered user, to replay a first login)."""
        uid = self.user(username)["id"]
        self.request("DELETE", f"/users/{uid}")

    # -- clients --------------------------------------------------------------------------------

    def client(self, client_id: str) -> dict[str, Any]:
        """The representation of the client ``client_id`` (its ``clientId``, not its internal id)."""
        found = self._json("GET", "/clients", params={"clientId": client_id})
        if not found:
            raise KeycloakAdminError(f"no client {client_id!r} in realm {self.realm}")
        return dict(found[0])

    def update_client(self, client_id: str, changes: dict[str, Any]) -> None:
        """Apply ``changes`` (top-level fields; ``attributes`` merged) to the client."""
        rep = self.client(client_id)
        # Sent back, the mappers would be saved again (Keycloak then adds its defaults to their
        # config); left out, they stay as they are.
        rep.pop("protocolMappers", None)
        attributes = {**rep.get("attributes", {}), **changes.pop("attributes", {})}
        rep.update(changes)
        rep["attributes"] = attributes
        self.request("PUT", f"/clients/{rep['id']}", json=rep)

    def set_client_urls(self, client_id: str, *hub_urls: str, replace: bool = False) -> None:
        """Allow hubs at ``hub_urls`` (public URLs) as redirect, logout and web origins of the client.

        Each hub adds ``<url>/hub/oauth_callback`` (login), ``<url>/hub/*`` (after logout) and
        ``<url>`` (web origin); with ``replace`` the client's previous URLs are dropped.
        """
        rep = self.client(client_id)
        redirects = [] if replace else list(rep.get("redirectUris", []))
        origins = [] if replace else list(rep.get("webOrigins", []))
        logout_attr = rep.get("attributes", {}).get("post.logout.redirect.uris", "")
        logouts = [] if replace or not logout_attr else logout_attr.split("##")
        for url in hub_urls:
            url = url.rstrip("/")
            for items, value in (
                (redirects, f"{url}/hub/oauth_callback"),
                (origins, url),
                (logouts, f"{url}/hub/*"),
            ):
                if value not in items:
                    items.append(value)
        self.update_client(
            client_id,
            {
                "redirectUris": redirects,
                "webOrigins": origins,
                "attributes": {"post.logout.redirect.uris": "##".join(logouts)},
            },
        )

    # -- identity providers (federation) --------------------------------------------------------

    def identity_provider(self, alias: str) -> dict[str, Any] | None:
        """The identity provider ``alias``, or ``None``."""
        try:
            return dict(self._json("GET", f"/identity-provider/instances/{quote(alias)}"))
        except KeycloakAdminError as exc:
            if "HTTP 404" in str(exc):
                return None
            raise

    def put_identity_provider(self, rep: dict[str, Any]) -> None:
        """Create the identity provider ``rep['alias']``, or replace its settings."""
        alias = rep["alias"]
        if self.identity_provider(alias) is None:
            self.request("POST", "/identity-provider/instances", json=rep)
        else:
            self.request("PUT", f"/identity-provider/instances/{quote(alias)}", json=rep)

    def identity_provider_mappers(self, alias: str) -> list[dict[str, Any]]:
        """The mappers of identity provider ``alias``."""
        return list(self._json("GET", f"/identity-provider/instances/{quote(alias)}/mappers"))

    def put_identity_provider_mapper(self, alias: str, rep: dict[str, Any]) -> None:
        """Create the mapper ``rep['name']`` of identity provider ``alias``, or replace it."""
        base = f"/identity-provider/instances/{quote(alias)}/mappers"
        rep = {**rep, "identityProviderAlias": alias}
        existing = {m["name"]: m["id"] for m in self.identity_provider_mappers(alias)}
        if rep["name"] in existing:
            mid = existing[rep["name"]]
            self.request("PUT", f"{base}/{mid}", json={**rep, "id": mid})
        else:
            self.request("POST", base, json=rep)

    def delete_identity_provider_mapper(self, alias: str, name: str) -> None:
        """Remove the mapper ``name`` of identity provider ``alias`` (no-op when absent)."""
        for m in self.identity_provider_mappers(alias):
            if m["name"] == name:
                self.request("DELETE", f"/identity-provider/instances/{quote(alias)}/mappers/{m['id']}")


def _reason(r: requests.Response) -> str:
    """Keycloak's own error text of a failed call."""
    try:
        body = r.json()
    except ValueError:
        return r.text[:300]
    if isinstance(body, dict):
        for key in ("errorMessage", "error_description", "error"):
            if body.get(key):
                return str(body[key])
    return str(body)[:300]
