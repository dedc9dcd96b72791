"""The real Keycloak, run locally: fetched with Maven, prepared once, started on 127.0.0.1.

- :mod:`~workbench.keycloak.distribution`: the pinned version (:data:`KEYCLOAK_VERSION`), the Maven
  fetch into a cache outside the repository (:func:`fetch`, reused by the container build), the
  one-time augmentation and template database (:func:`prepare`);
- :mod:`~workbench.keycloak.server`: :class:`KeycloakServer`, one Keycloak process with realm files
  imported (tests, ``WORKBENCH_AUTH=keycloak-local``, ``workbench keycloak start``);
- :mod:`~workbench.keycloak.admin`: :class:`KeycloakAdmin`, a small Admin REST API client;
- :mod:`~workbench.keycloak.partners`: federation of a partner's OIDC identity provider.

The ``workbench keycloak`` command (:mod:`~workbench.keycloak.commands`) exposes them.
"""

from workbench.keycloak.admin import KeycloakAdmin, KeycloakAdminError
from workbench.keycloak.distribution import (
    KEYCLOAK_VERSION,
    Distribution,
    KeycloakError,
    augment,
    fetch,
    prepare,
    unpack,
)
from workbench.keycloak.partners import Partner, add_partner, broker_redirect_uri
from workbench.keycloak.server import KeycloakServer

__all__ = [
    "KEYCLOAK_VERSION",
    "Distribution",
    "KeycloakAdmin",
    "KeycloakAdminError",
    "KeycloakError",
    "KeycloakServer",
    "Partner",
    "add_partner",
    "augment",
    "broker_redirect_uri",
    "fetch",
    "prepare",
    "unpack",
]
