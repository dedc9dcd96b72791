"""Federation: the programme's Keycloak brokers a partner's OIDC identity provider.

The partner runs its own IdP (here the dev IdP with its own realm ``neocc``: its own users, its own
group claim ``memberOf``). An admin adds it to the ``s2p`` realm with ``workbench keycloak
add-partner`` (identity provider + username and group mappers through the Admin REST API). A partner
user then logs in to the hub through Keycloak's button for the partner and the partner's form, with
no manual step: Keycloak creates ``neocc.<user>``, the mapper puts the user in the realm group the
partner group maps to, and the hub gives the matching hub group and a lab.
"""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import pytest

from tests.e2e.harness import (
    WORKBENCH,
    Workbench,
    find_link,
    find_login_form,
    login_via_partner,
    submit_login_form,
)
from tests.e2e.idps import make_idp
from tests.support import ROOT, need_executable

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PARTNER_REALM = Path(__file__).with_name("partner-realm.json")
ALIAS = "neocc"
GROUP_MAP = {"neocc-analysts": "neo"}


@pytest.fixture(scope="module")
def partner_realm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("partner") / PARTNER_REALM.name
    shutil.copy(PARTNER_REALM, path)
    return path


@pytest.fixture(scope="module")
def partner(keycloak: Any, partner_realm: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The partner's IdP, registered in Keycloak the way docs/identity.md tells an admin to."""
    need_executable("node")
    from workbench.devidp import DevIdP
    from workbench.keycloak import broker_redirect_uri

    secret = secrets.token_hex(16)
    broker = broker_redirect_uri(keycloak.url, "s2p", ALIAS)
    work = tmp_path_factory.mktemp("partner-idp")
    idp = DevIdP(
        partner_realm,
        redirect_uris={"s2p-keycloak": [broker]},
        post_logout_uris={"s2p-keycloak": [f"{broker}/*"]},
        env={"PARTNER_CLIENT_SECRET": secret},
        state_dir=work / "state",
    )
    idp.start()
    try:
        admin_user, admin_password = keycloak.admin_credentials()
        (work / "admin-password").write_text(admin_password)
        (work / "client-secret").write_text(secret)
        argv = [
            str(WORKBENCH),
            "keycloak",
            "add-partner",
            f"--url={keycloak.url}",
            "--realm=s2p",
            f"--admin-user={admin_user}",
            f"--admin-password-file={work / 'admin-password'}",
            f"--alias={ALIAS}",
            "--name=NEO Coordination Centre",
            f"--issuer={idp.issuer}",
            "--client-id=s2p-keycloak",
            f"--client-secret-file={work / 'client-secret'}",
            "--group-claim=memberOf",
            *(f"--map={k}={v}" for k, v in GROUP_MAP.items()),
        ]
        for _ in range(2):  # idempotent: a second run changes nothing
            r = subprocess.run(argv, capture_output=True, text=True, timeout=120, cwd=ROOT)
            assert r.returncode == 0, r.stderr
        assert broker in r.stdout
        yield idp
    finally:
        idp.stop()


@pytest.fixture(scope="module")
def wb(keycloak: Any, partner: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workbench]:
    idp = make_idp("keycloak", tmp_path_factory, keycloak)
    with idp.start_workbench(tmp_path_factory.mktemp("state")) as workbench:
        yield workbench


def _set_partner_groups(realm_file: Path, username: str, groups: list[str]) -> None:
    """What the partner's admin does in the partner's own IdP (the dev IdP re-reads its file)."""
    data = json.loads(realm_file.read_text())
    for user in data["users"]:
        if user["username"] == username:
            user["groups"] = [f"/{g}" for g in groups]
    tmp = realm_file.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2))
    tmp.replace(realm_file)


def test_partner_is_configured_with_its_mappers(keycloak: Any, partner: Any) -> None:
    admin = keycloak.admin("s2p")
    rep = admin.identity_provider(ALIAS)
    assert rep is not None and rep["enabled"] and rep["config"]["syncMode"] == "FORCE"
    assert rep["config"]["issuer"] == partner.issuer
    names = sorted(m["name"] for m in admin.identity_provider_mappers(ALIAS))
    assert names == ["group neocc-analysts -> /neo", "username"]  # two runs, no duplicates


def test_partner_user_reaches_a_running_lab_with_the_mapped_groups(wb: Workbench, keycloak: Any) -> None:
    login = login_via_partner(wb.url, ALIAS, "alice", "partner-alice")
    assert login.ok, f"{login.response.url}\n{login.response.text[:1500]}"
    name = f"{ALIAS}.alice"
    user = wb.user(name)
    assert user["groups"] == ["neo"] and user["admin"] is False
    # Keycloak created the brokered user and the mapper put it in the realm group.
    assert keycloak.admin("s2p").user_groups(name) == ["neo"]
    assert keycloak.admin("s2p").user(name)["email"] == "alice@neocc.example.org"
    url = wb.start_server(name)
    assert url.endswith(f"/user/{name}")
    out = wb.run_code(name, "import os, s2p\nprint(os.environ['JUPYTERHUB_USER'], s2p.__version__)")
    assert out.split()[0] == name
    wb.stop_server(name)


def test_partner_user_without_a_mapped_group_is_refused(wb: Workbench) -> None:
    login = login_via_partner(wb.url, ALIAS, "bob", "partner-bob")
    assert login.response.status_code == 403, login.response.url
    assert 'id="workbench-refusal"' in login.response.text
    assert f"<strong>{ALIAS}.bob</strong>" in login.response.text
    assert wb.api("GET", f"/users/{ALIAS}.bob").status_code == 404


def test_group_removed_at_the_partner_is_removed_at_the_next_login(
    wb: Workbench, keycloak: Any, partner: Any, partner_realm: Path
) -> None:
    name = f"{ALIAS}.alice"
    login = login_via_partner(wb.url, ALIAS, "alice", "partner-alice")
    assert login.ok and wb.user(name)["groups"] == ["neo"]
    try:
        _set_partner_groups(partner_realm, "alice", ["neocc-visitors"])
        # Logging out of the hub ends the Keycloak session and, through it, the partner's.
        out = login.session.get(f"{wb.url}/hub/logout", timeout=60)
        assert out.status_code == 200 and "Successfully logged out" in out.text, out.url
        page = login.session.get(f"{wb.url}/hub/login", timeout=60)
        button = find_link(page.text, f"social-{ALIAS}")
        assert page.url.startswith(keycloak.issuer("s2p")) and button, page.url
        at_partner = login.session.get(urljoin(page.url, button), timeout=60)
        # The partner asks for the password again: no single sign-on left anywhere.
        assert at_partner.url.startswith(partner.issuer) and find_login_form(at_partner.text), at_partner.url
        again = submit_login_form(login.session, at_partner, "alice", "partner-alice")
        # Keycloak's mapper (sync mode FORCE) took the realm group away: the hub refuses.
        assert again.response.status_code == 403, again.response.url
        assert keycloak.admin("s2p").user_groups(name) == []
    finally:
        _set_partner_groups(partner_realm, "alice", ["neocc-analysts"])
