"""The identity providers the identity suite runs against, behind one interface.

The same test code drives both::

    @pytest.fixture(scope="module", params=IDPS)
    def idp(request, tmp_path_factory) -> IdP: return make_idp(request, tmp_path_factory)

    wb = idp.start_workbench(state_dir, {"WORKBENCH_AUTH_REFRESH_AGE": "3"})
    idp.set_groups("operator", ["operators"])     # as the IdP's admin would
    idp.set_enabled("operator", False)

- ``dev-idp``: ``workbench up`` starts the dev IdP itself on a copy of the realm file; its admin
  interface is that file (the dev IdP re-reads it when it changes).
- ``keycloak``: the session's real Keycloak (:func:`tests.e2e.conftest.keycloak`), the realm file
  imported unchanged; the hub uses it as any external issuer (``WORKBENCH_AUTH=keycloak``); its admin
  interface is the Admin REST API. Each hub's URL is registered in the ``workbench`` client first, as
  an admin does for a new deployment.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import Ports, Workbench, free_ports, start_workbench
from tests.support import ROOT, need_executable

REALM_FILE = ROOT / "deploy" / "keycloak" / "realm-s2p.json"
IDPS = ("dev-idp", "keycloak")


def realm_password(username: str, realm_file: Path = REALM_FILE) -> str:
    """A demo user's password, read from the realm file."""
    realm = json.loads(realm_file.read_text())
    user = next(u for u in realm["users"] if u["username"] == username)
    return str(next(c["value"] for c in user["credentials"] if c["type"] == "password"))


@dataclass
class IdP:
    """One identity provider under test (see the module docstring)."""

    name: str
    realm_file: Path
    keycloak: Any = None  # the KeycloakServer, for "keycloak"
    client_secret: str = field(default="", repr=False)

    # -- the hub ------------------------------------------------------------------------------------

    def env(self, ports: Ports) -> dict[str, str]:
        """``WORKBENCH_*`` settings of a hub on ``ports`` using this IdP (registers its URL in Keycloak)."""
        if self.name == "dev-idp":
            return {"WORKBENCH_REALM_FILE": str(self.realm_file)}
        self.keycloak.admin().set_client_urls("workbench", f"http://127.0.0.1:{ports.hub}")
        return {
            "WORKBENCH_AUTH": "keycloak",
            "WORKBENCH_OIDC_ISSUER": self.keycloak.issuer("s2p"),
            "WORKBENCH_OIDC_CLIENT_SECRET": self.client_secret,
        }

    def issuer(self, ports: Ports) -> str:
        """The issuer a hub on ``ports`` talks to."""
        if self.name == "dev-idp":
            return f"http://127.0.0.1:{ports.idp}/realms/s2p"
        return str(self.keycloak.issuer("s2p"))

    def start_workbench(
        self, state_dir: Path, env: Mapping[str, str] | None = None, *, ports: Ports | None = None
    ) -> Workbench:
        """``workbench up`` (see :func:`tests.e2e.harness.start_workbench`) with this IdP."""
        ports = ports or free_ports()
        return start_workbench(state_dir, {**self.env(ports), **(env or {})}, ports=ports)

    # -- what an admin of the IdP does ----------------------------------------------------------------

    def set_groups(self, username: str, groups: list[str]) -> None:
        """Make ``username`` a member of exactly ``groups``."""
        if self.name == "keycloak":
            self.keycloak.admin().set_user_groups(username, groups)
        else:
            self._edit_user(username, groups=[f"/{g}" for g in groups])

    def set_enabled(self, username: str, enabled: bool) -> None:
        """Enable or disable ``username``."""
        if self.name == "keycloak":
            self.keycloak.admin().set_user_enabled(username, enabled)
        else:
            self._edit_user(username, enabled=enabled)

    def set_client_secret(self, secret: str | None) -> None:
        """Give the ``workbench`` client another secret (``None``: back to the one the hub has)."""
        if self.name == "keycloak":
            self.keycloak.admin().update_client("workbench", {"secret": secret or self.client_secret})
            return
        data = json.loads(self.realm_file.read_text())
        client = next(c for c in data["clients"] if c["clientId"] == "workbench")
        client["secret"] = secret or "${WORKBENCH_OIDC_CLIENT_SECRET}"
        self._write(data)

    def _edit_user(self, username: str, **changes: Any) -> None:
        data = json.loads(self.realm_file.read_text())
        for user in data["users"]:
            if user["username"] == username:
                user.update(changes)
        self._write(data)

    def _write(self, data: dict[str, Any]) -> None:
        tmp = self.realm_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2))
        tmp.replace(self.realm_file)


def make_idp(name: str, tmp_path_factory: pytest.TempPathFactory, keycloak: Any = None) -> IdP:
    """The :class:`IdP` called ``name``; ``keycloak`` is the session's server (for ``keycloak``)."""
    if name == "dev-idp":
        need_executable("node")
        copy = tmp_path_factory.mktemp("realm") / REALM_FILE.name
        shutil.copy(REALM_FILE, copy)
        return IdP(name, copy)
    return IdP(name, REALM_FILE, keycloak=keycloak, client_secret=keycloak.client_secret)
