"""Partner federation: Keycloak brokers a partner's OpenID Connect identity provider.

A partner organisation keeps its own users in its own IdP. The programme's Keycloak lists the
partner as an *identity provider* of the ``s2p`` realm: the login page shows a button for it, the
partner's IdP authenticates the user, and Keycloak creates (first login) or updates (every login) a
local user named ``<alias>.<partner username>``. *Identity-provider mappers* turn the partner's group
claim into realm groups, so the hub sees ordinary realm groups (``neo``, ``debris`` …) and applies its
usual policy; a partner group without a mapping gives no access.

::

    partner = Partner(alias="neocc", display_name="NEO Coordination Centre",
                      issuer="https://idp.neocc.example.org/realms/neocc",
                      client_id="s2p-keycloak", client_secret=secret,
                      group_claim="memberOf", group_map={"neocc-analysts": "neo"})
    add_partner(admin, partner)      # admin: KeycloakAdmin of the s2p realm; idempotent

The partner registers Keycloak as a client with the redirect URI :func:`broker_redirect_uri`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from workbench.keycloak.admin import KeycloakAdmin
from workbench.keycloak.distribution import KeycloakError

ALIAS_PATTERN = r"^[a-z0-9][a-z0-9-]{0,30}$"
"""Aliases become part of URLs and of usernames (``<alias>.<username>``): lower case, digits, '-'."""


@dataclass(frozen=True)
class Partner:
    """One partner identity provider and how its groups map to realm groups.

    Attributes
    ----------
    alias
        Short name in Keycloak (URLs, usernames ``<alias>.<partner username>``).
    display_name
        The login button's text.
    issuer
        The partner's OIDC issuer URL; endpoints are discovered from it.
    client_id, client_secret
        The client the partner registered for the programme's Keycloak.
    group_claim
        Name of the partner's claim listing the user's groups (``groups``, ``memberOf`` …).
    group_map
        Partner group → realm group (name or path) granted while the user holds that partner group.
    """

    alias: str
    display_name: str
    issuer: str
    client_id: str
    client_secret: str = field(repr=False)
    group_claim: str = "groups"
    group_map: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not re.match(ALIAS_PATTERN, self.alias):
            raise KeycloakError(
                f"partner alias {self.alias!r} is invalid: use lower-case letters, digits and '-' "
                "(at most 31 characters, starting with a letter or digit)"
            )
        if not self.issuer.startswith(("http://", "https://")):
            raise KeycloakError(f"partner issuer {self.issuer!r} is not an http(s) URL")


def broker_redirect_uri(keycloak_url: str, realm: str, alias: str) -> str:
    """The redirect URI the partner must register for our Keycloak's client."""
    return f"{keycloak_url.rstrip('/')}/realms/{realm}/broker/{alias}/endpoint"


def identity_provider_representation(partner: Partner, metadata: Mapping[str, Any]) -> dict[str, Any]:
    """Keycloak's ``IdentityProviderRepresentation`` of ``partner`` from its discovered ``metadata``.

    ``syncMode=FORCE`` re-applies the mappers at every login, so a group the partner removes is
    removed from the realm user at their next login through the partner.
    """
    config = {
        "issuer": str(metadata.get("issuer", partner.issuer)),
        "authorizationUrl": str(metadata["authorization_endpoint"]),
        "tokenUrl": str(metadata["token_endpoint"]),
        "jwksUrl": str(metadata.get("jwks_uri", "")),
        "useJwksUrl": "true",
        "validateSignature": "true",
        "clientId": partner.client_id,
        "clientSecret": partner.client_secret,
        "clientAuthMethod": "client_secret_basic"
        if "client_secret_basic" in (metadata.get("token_endpoint_auth_methods_supported") or [])
        else "client_secret_post",
        "defaultScope": "openid profile email",
        "pkceEnabled": "true",
        "pkceMethod": "S256",
        "syncMode": "FORCE",
    }
    if metadata.get("userinfo_endpoint"):
        config["userInfoUrl"] = str(metadata["userinfo_endpoint"])
    else:
        config["disableUserInfo"] = "true"
    if metadata.get("end_session_endpoint"):
        config["logoutUrl"] = str(metadata["end_session_endpoint"])
    return {
        "alias": partner.alias,
        "displayName": partner.display_name,
        "providerId": "oidc",
        "enabled": True,
        "hideOnLogin": False,
        # The partner vouches for its users' e-mail addresses: no verification e-mail from us.
        "trustEmail": True,
        "storeToken": False,
        "linkOnly": False,
        "firstBrokerLoginFlowAlias": "first broker login",
        "config": config,
    }


def mapper_representations(partner: Partner) -> list[dict[str, Any]]:
    """The identity-provider mappers of ``partner``: its username template and one per group mapping."""
    mappers: list[dict[str, Any]] = [
        {
            "name": "username",
            "identityProviderMapper": "oidc-username-idp-mapper",
            "config": {
                "template": "${ALIAS}.${CLAIM.preferred_username}",
                "target": "LOCAL",
                "syncMode": "INHERIT",
            },
        }
    ]
    for partner_group, realm_group in sorted(partner.group_map.items()):
        path = realm_group if realm_group.startswith("/") else f"/{realm_group}"
        mappers.append(
            {
                "name": group_mapper_name(partner_group, path),
                "identityProviderMapper": "oidc-advanced-group-idp-mapper",
                "config": {
                    # Matches when the claim (a list) contains the value.
                    "claims": json.dumps([{"key": partner.group_claim, "value": partner_group}]),
                    "are.claim.values.regex": "false",
                    "group": path,
                    "syncMode": "INHERIT",
                },
            }
        )
    return mappers


def group_mapper_name(partner_group: str, realm_group: str) -> str:
    """The name of the mapper granting ``realm_group`` to holders of ``partner_group``."""
    return f"group {partner_group} -> {realm_group}"


def add_partner(admin: KeycloakAdmin, partner: Partner, *, metadata: Mapping[str, Any] | None = None) -> None:
    """Create or update ``partner`` in ``admin``'s realm with its mappers (idempotent).

    Group mappings that were removed from ``partner.group_map`` since the last call are deleted.

    Parameters
    ----------
    admin
        Admin REST API client of the realm that brokers (``s2p``).
    partner
        The partner.
    metadata
        The partner's OIDC metadata (default: discovered from ``partner.issuer``).

    Raises
    ------
    KeycloakError
        When the partner's metadata cannot be read, a realm group does not exist, or Keycloak refuses.
    """
    if metadata is None:
        from workbench.auth import DiscoveryError, discover

        try:
            metadata = discover(partner.issuer, timeout=10)
        except DiscoveryError as exc:
            raise KeycloakError(f"partner {partner.alias}: {exc}") from None
    for realm_group in partner.group_map.values():
        admin.group_id(realm_group)  # raises, naming the call, if the realm lacks the group
    admin.put_identity_provider(identity_provider_representation(partner, metadata))
    wanted = mapper_representations(partner)
    for rep in wanted:
        admin.put_identity_provider_mapper(partner.alias, rep)
    names = {m["name"] for m in wanted}
    for existing in admin.identity_provider_mappers(partner.alias):
        if existing["name"] not in names and existing["name"].startswith("group "):
            admin.delete_identity_provider_mapper(partner.alias, existing["name"])
