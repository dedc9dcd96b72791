"""Fixtures of the end-to-end tests: one real Keycloak for the whole test session.

Keycloak is prepared once per machine (Maven fetch, augmentation, template database: cached in
``WORKBENCH_KEYCLOAK_CACHE``) and started once per session with the realm file imported unchanged,
then shared by the identity suite (:mod:`tests.e2e.idps`), the federation tests and the browser tests:
CI pays its start-up once. Tests that need it request the ``keycloak`` fixture, which skips on a laptop
without Java or Maven and fails under ``CI=true``.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.idps import IDPS, REALM_FILE, IdP, make_idp
from tests.support import need


@pytest.fixture(scope="session")
def keycloak(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A started :class:`workbench.keycloak.KeycloakServer` with ``realm-s2p.json`` imported.

    Its ``client_secret`` attribute is the secret the realm's ``${WORKBENCH_OIDC_CLIENT_SECRET}``
    placeholder resolved to at import.
    """
    from workbench.keycloak import KEYCLOAK_VERSION, KeycloakServer, prepare
    from workbench.settings import Settings

    # Only the Keycloak settings of the caller's environment apply (cache and JDK).
    settings = Settings.from_env({k: v for k, v in os.environ.items() if k.startswith("WORKBENCH_KEYCLOAK_")})
    if settings.keycloak_java_home is None:
        need(shutil.which("java") is not None, "a JDK 17+ (`java` on PATH) to run Keycloak")
    need(
        shutil.which("mvn") is not None or (settings.keycloak_cache / KEYCLOAK_VERSION / "dist").exists(),
        "Maven (`mvn` on PATH) to fetch Keycloak",
    )
    dist = prepare(settings.keycloak_cache, java_home=settings.keycloak_java_home)
    secret = secrets.token_hex(24)
    server = KeycloakServer(
        dist,
        tmp_path_factory.mktemp("keycloak"),
        realm_files=[REALM_FILE],
        env={"WORKBENCH_OIDC_CLIENT_SECRET": secret},
    )
    server.start()
    server.client_secret = secret  # type: ignore[attr-defined]
    print(f"keycloak fixture: started in {server.start_seconds:.1f} s at {server.url}")
    yield server
    server.stop()


@pytest.fixture(scope="module", params=IDPS)
def idp(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> IdP:
    """The identity provider of the module's tests, once per IdP of :data:`tests.e2e.idps.IDPS`."""
    name = request.param
    return make_idp(
        name, tmp_path_factory, request.getfixturevalue("keycloak") if name == "keycloak" else None
    )


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the browser tests leave their screenshots, kept as test artefacts:
    ``WORKBENCH_TEST_SCREENSHOTS``, else a pytest temporary folder."""
    chosen = os.environ.get("WORKBENCH_TEST_SCREENSHOTS")
    folder = Path(chosen) if chosen else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder
