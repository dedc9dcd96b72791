"""``workbench keycloak …``: get the real Keycloak, run it locally, add a partner identity provider."""

from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path
from types import FrameType
from typing import Any

from workbench.settings import Settings, SettingsError


def register(subparsers: Any) -> None:
    """Add ``keycloak`` (``fetch``, ``start``, ``add-partner``) to the ``workbench`` command."""
    kc = subparsers.add_parser("keycloak", help="get, run and configure a real Keycloak")
    sub = kc.add_subparsers(dest="keycloak_command", metavar="COMMAND")

    fetch = sub.add_parser(
        "fetch",
        help="download Keycloak with Maven into WORKBENCH_KEYCLOAK_CACHE and prepare it once",
        description="Download the pinned Keycloak server distribution from Maven Central "
        "(mvn dependency:copy of org.keycloak:keycloak-quarkus-dist) into WORKBENCH_KEYCLOAK_CACHE, "
        "augment it (kc.sh build) and initialise its template database. Each step is skipped when done.",
    )
    fetch.add_argument(
        "--zip-only", action="store_true", help="only download the distribution zip (e.g. for an image build)"
    )
    fetch.set_defaults(handler=run_fetch)

    start = sub.add_parser(
        "start",
        help="run a local Keycloak with the realm file imported until Ctrl-C",
        description="Start Keycloak on 127.0.0.1:WORKBENCH_IDP_PORT with WORKBENCH_REALM_FILE imported "
        "(its ${WORKBENCH_OIDC_CLIENT_SECRET} is the configured secret or the one generated in the state "
        "directory), its database in <state>/keycloak. Prints the issuer and the admin console's login.",
    )
    start.add_argument("--port", type=int, help="HTTP port (default: WORKBENCH_IDP_PORT)")
    start.add_argument(
        "--realm-file",
        type=Path,
        action="append",
        help="realm export to import (repeatable; default: WORKBENCH_REALM_FILE)",
    )
    start.set_defaults(handler=run_start)

    partner = sub.add_parser(
        "add-partner",
        help="let a partner's OIDC IdP sign users in, its groups mapped to realm groups",
        description="Create or update an identity provider in the realm through the Admin REST API, with "
        "a username mapper (<alias>.<partner username>) and one group mapper per --map. Idempotent. "
        "Default target: the local Keycloak of `workbench keycloak start` / keycloak-local.",
    )
    partner.add_argument(
        "--alias", required=True, help="short name: login button id, usernames <alias>.<user>"
    )
    partner.add_argument("--name", help="text of the login button (default: the alias)")
    partner.add_argument("--issuer", required=True, help="the partner's OIDC issuer URL")
    partner.add_argument("--client-id", required=True, help="client id the partner registered for us")
    partner.add_argument(
        "--client-secret-file", type=Path, required=True, help="file holding that client's secret"
    )
    partner.add_argument(
        "--group-claim", default="groups", help="the partner's claim listing groups (default: groups)"
    )
    partner.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="PARTNER_GROUP=REALM_GROUP",
        help="grant REALM_GROUP to holders of PARTNER_GROUP (repeatable)",
    )
    partner.add_argument(
        "--url", help="Keycloak base URL (default: the local one, 127.0.0.1:WORKBENCH_IDP_PORT)"
    )
    partner.add_argument("--realm", default="s2p", help="realm that brokers (default: s2p)")
    partner.add_argument("--admin-user", help="admin of the master realm (default: the local Keycloak's)")
    partner.add_argument("--admin-password-file", type=Path, help="file holding the admin's password")
    partner.set_defaults(handler=run_add_partner)

    kc.set_defaults(handler=lambda args: kc.print_help() or 2)


def _settings() -> Settings:
    return Settings.from_env()


def _err(message: str) -> int:
    print(f"workbench keycloak: {message}", file=sys.stderr)
    return 2


def run_fetch(args: argparse.Namespace) -> int:
    from workbench.keycloak.distribution import KeycloakError, fetch, prepare

    try:
        settings = _settings()
        if args.zip_only:
            print(fetch(settings.keycloak_cache))
            return 0
        dist = prepare(settings.keycloak_cache, java_home=settings.keycloak_java_home)
    except (SettingsError, KeycloakError) as exc:
        return _err(str(exc))
    print(f"Keycloak {dist.version} ready: {dist.home}")
    return 0


def local_server(
    settings: Settings, client_secret: str, *, port: int | None = None, realm_files: Any = None
) -> Any:
    """The local Keycloak of ``settings`` (database in ``<state>/keycloak``), not yet started."""
    from workbench.keycloak.distribution import prepare
    from workbench.keycloak.server import KeycloakServer

    dist = prepare(settings.keycloak_cache, java_home=settings.keycloak_java_home)
    return KeycloakServer(
        dist,
        settings.state_dir / "keycloak",
        realm_files=realm_files or [settings.realm_file],
        port=port or settings.idp_port,
        env={"WORKBENCH_OIDC_CLIENT_SECRET": client_secret},
        log_file=settings.logs_dir / "keycloak.log",
    )


def run_start(args: argparse.Namespace) -> int:
    from workbench.hubconfig import effective_client_secret
    from workbench.keycloak.distribution import KeycloakError
    from workbench.secrets import SecretsError, ensure_secrets

    try:
        settings = _settings()
        settings.ensure_dirs()
        secret = effective_client_secret(settings, ensure_secrets(settings.state_dir))
        server = local_server(settings, secret, port=args.port, realm_files=args.realm_file)
        print(f"starting Keycloak on {server.url} (log: {server.log_file}) …", flush=True)
        server.start()
    except (SettingsError, SecretsError, KeycloakError) as exc:
        return _err(str(exc))
    stop = False

    def on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    user, _ = server.admin_credentials()
    print(f"Keycloak is up in {server.start_seconds:.0f} s:")
    for realm in server.realms:
        print(f"  issuer:        {server.issuer(realm)}")
    print(f"  admin console: {server.url}/admin/  (user {user}, password in {server.run_dir / 'admin.json'})")
    print("Ctrl-C stops it.", flush=True)
    try:
        while not stop and server.running:
            time.sleep(0.5)
    finally:
        server.stop()
    return 0


def run_add_partner(args: argparse.Namespace) -> int:
    import json

    from workbench.keycloak.admin import KeycloakAdmin
    from workbench.keycloak.distribution import KeycloakError
    from workbench.keycloak.partners import Partner, add_partner, broker_redirect_uri

    try:
        settings = _settings()
        group_map = {}
        for item in args.map:
            partner_group, sep, realm_group = item.partition("=")
            if not sep or not partner_group or not realm_group:
                return _err(f"--map {item!r}: expected PARTNER_GROUP=REALM_GROUP")
            group_map[partner_group] = realm_group
        url = args.url or f"http://127.0.0.1:{settings.idp_port}"
        if args.admin_user and args.admin_password_file:
            user, password = args.admin_user, args.admin_password_file.read_text().strip()
        else:
            local = json.loads((settings.state_dir / "keycloak" / "admin.json").read_text())
            user, password = local["username"], local["password"]
        partner = Partner(
            alias=args.alias,
            display_name=args.name or args.alias,
            issuer=args.issuer,
            client_id=args.client_id,
            client_secret=args.client_secret_file.read_text().strip(),
            group_claim=args.group_claim,
            group_map=group_map,
        )
        add_partner(KeycloakAdmin(url, user, password, realm=args.realm), partner)
    except (SettingsError, KeycloakError, OSError, ValueError, KeyError) as exc:
        return _err(str(exc))
    print(f"partner {partner.alias} added to realm {args.realm} at {url}")
    print(f"  the partner registers this redirect URI: {broker_redirect_uri(url, args.realm, partner.alias)}")
    for partner_group, realm_group in sorted(group_map.items()):
        print(f"  {partner.group_claim} contains {partner_group!r} -> realm group {realm_group}")
    return 0
