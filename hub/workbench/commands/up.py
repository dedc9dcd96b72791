"""``workbench up``: start the local IdP (unless ``WORKBENCH_AUTH=keycloak``) and the hub, stop both on exit.

The local IdP is the dev IdP (``WORKBENCH_AUTH=dev-idp``, the default: starts in a second) or a real
Keycloak (``WORKBENCH_AUTH=keycloak-local``: fetched and prepared once per machine, then about 30 s to
start; its database stays in ``<state>/keycloak`` between runs).

Order of events: read and check the settings (``WORKBENCH_ENV=ope`` refusals happen here, before
anything starts), make sure the ports are free, generate the secrets, start the IdP with the hub's
callback as redirect URI, start the hub (which starts configurable-http-proxy and later the users'
servers), wait until it answers, print the URL and the demo logins, then wait.

A hub that exits unasked (a crash, or an admin's ``kill $(cat <state>/jupyterhub.pid)``) is started
again; the labs and the proxy keep running meanwhile and the new hub resumes them
(:mod:`workbench.supervisor`).

On Ctrl-C or SIGTERM the hub is asked through its API to stop the servers (unless
``WORKBENCH_KEEP_LABS``: container labs then wait for the next hub) and the proxy, then itself;
anything of ours still alive is terminated (we are a child subreaper, so orphans of the hub come back
to us), then the IdP. Exit code: 0 after a requested stop, 1 when the hub died and could not be
restarted, 2 when refused before start.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import sys
from pathlib import Path
from types import FrameType
from typing import Any

from workbench.settings import LOCAL_IDPS, PROJECT_ROOT, SPAWNERS, Settings, SettingsError

HUB_CONFIG = PROJECT_ROOT / "hub" / "jupyterhub_config.py"
HUB_START_TIMEOUT = 120.0  # [s] until /hub/health answers through the proxy (database upgrade included)


class _Stop(Exception):
    """Raised from the SIGTERM handler to leave the wait loop like Ctrl-C does."""


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "up",
        help="start the dev IdP and the hub; Ctrl-C stops everything",
        description=(
            "Start the workbench: the local IdP (dev IdP, or a real Keycloak with "
            "WORKBENCH_AUTH=keycloak-local; none with WORKBENCH_AUTH=keycloak), JupyterHub and its proxy. "
            "Settings come from WORKBENCH_* variables (see `workbench settings`)."
        ),
    )
    # Checked in run(), not by argparse: `make up` passes WORKBENCH_SPAWNER here, and its user should
    # read about the variable they set, not about an option they never typed.
    p.add_argument(
        "--spawner",
        metavar="{" + ",".join(SPAWNERS) + "}",
        help="where labs run (overrides WORKBENCH_SPAWNER)",
    )
    p.add_argument(
        "--log-to-terminal",
        action="store_true",
        help="stream the hub's and IdP's logs here instead of <state>/logs/",
    )
    p.set_defaults(handler=run)


def demo_logins(realm_file: Path) -> list[tuple[str, str, str]]:
    """(username, password, groups) of the realm file's users that have a plain dev password."""
    try:
        realm = json.loads(realm_file.read_text())
    except (OSError, ValueError):
        return []
    rows = []
    for user in realm.get("users", []):
        passwords = [c.get("value") for c in user.get("credentials", []) if c.get("type") == "password"]
        if not passwords or not passwords[0]:
            continue
        groups = ", ".join(g.lstrip("/") for g in user.get("groups", [])) or "(none: refused)"
        rows.append((user["username"], passwords[0], groups))
    return rows


def _port_in_use(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def busy_ports(settings: Settings) -> list[str]:
    """The workbench's ports that something else already listens on, as 'VARIABLE=port'."""
    return [f"{name}={port}" for name, port in settings.listen_ports().items() if _port_in_use(port)]


def _fail(message: str) -> int:
    print(f"workbench: {message}", file=sys.stderr)
    return 2


def _tail(path: Path, lines: int = 25) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _print_banner(settings: Settings, issuer: str, log_dir: Path | None, keycloak: Any = None) -> None:
    print()
    print(f"  S2P Workbench is up:  {settings.public_url}")
    print(f"  identity provider:    {issuer} ({settings.auth})")
    print(f"  labs:                 {settings.spawner} spawner")
    if log_dir is not None:
        print(f"  logs:                 {log_dir}/")
    if keycloak is not None:
        user, _ = keycloak.admin_credentials()
        print(
            f"  Keycloak admin:       {keycloak.url}/admin/ (user {user}, password in "
            f"{keycloak.run_dir / 'admin.json'})"
        )
    logins = demo_logins(settings.realm_file) if settings.auth in LOCAL_IDPS else []
    if logins:
        print()
        print("  demo logins (dev only):")
        width = max(len(u) for u, _, _ in logins)
        for user, password, groups in logins:
            print(f"    {user:<{width}}  {password:<20}  groups: {groups}")
    print()
    if settings.auth in LOCAL_IDPS:
        print("  Ctrl-C stops the hub, the proxy, the users' servers and the IdP.")
    else:  # an external Keycloak is not ours to stop
        print("  Ctrl-C stops the hub, the proxy and the users' servers.")
    print(flush=True)


def _start_keycloak(settings: Settings, client_secret: str) -> Any:
    """Start the local Keycloak (``keycloak-local``) and allow the hub's URL in its client.

    Raises
    ------
    RuntimeError
        :class:`~workbench.keycloak.KeycloakError` when Java or Maven is missing or Keycloak fails.
    """
    from workbench.keycloak.commands import local_server

    server = local_server(settings, client_secret)
    print(f"workbench: starting Keycloak on {server.url} (first start imports {settings.realm_file.name}) …")
    server.start()
    admin = server.admin()
    # The realm file names the default hub URL; the hub may run on another port or host.
    admin.set_client_urls(settings.oidc_client_id, settings.public_url)
    # A database kept from an earlier run may hold another secret (e.g. the state's secrets were
    # regenerated): the local Keycloak belongs to this workbench, so it takes the hub's.
    admin.update_client(settings.oidc_client_id, {"secret": client_secret})
    return server


def _remove_tool_containers(settings: Settings) -> None:
    """Remove the published tools' containers a killed gateway left (each gateway removes its own)."""
    from workbench.apps.launch_container import remove_tool_containers
    from workbench.spawners.docker import instance_prefix

    try:
        removed = remove_tool_containers(instance_prefix(settings))
    except Exception as exc:  # the engine is gone: nothing more to do here
        print(f"workbench: could not look for left-over tool containers: {exc}", file=sys.stderr)
        return
    if removed:
        print(f"workbench: removed left-over tool containers {removed}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    # Imported here: oauthenticator takes seconds to import, and `workbench --help` needs none of it.
    from workbench.auth import ClientCredentialsError, DiscoveryError, check_client, discover
    from workbench.hubconfig import HubConfigError, check_environment, effective_client_secret, proxy_command
    from workbench.process import ManagedProcess, become_subreaper, stop_descendants
    from workbench.secrets import SecretsError, ensure_secrets
    from workbench.supervisor import HubSupervisor, OrphanReaper

    # What we print ourselves is in the log schema too (docs/operations.md, "Logs"), from the first
    # line: a refusal before anything starts included (read before the settings, which may be refused).
    json_logs = args.log_to_terminal and os.environ.get("WORKBENCH_LOG_FORMAT", "").strip() == "json"
    if json_logs:
        from workbench.logs import JsonLines

        sys.stdout = JsonLines("workbench")  # type: ignore[assignment]
        sys.stderr = JsonLines("workbench", level="WARNING")  # type: ignore[assignment]
    if args.spawner and args.spawner not in SPAWNERS:
        return _fail(
            f"--spawner / WORKBENCH_SPAWNER={args.spawner!r} is invalid: allowed values are {', '.join(SPAWNERS)}."
        )
    overrides = {"spawner": args.spawner} if args.spawner else {}
    try:
        settings = Settings.from_env(**overrides)
        settings.ensure_dirs()
        secrets = ensure_secrets(settings.state_dir)
        check_environment(settings, secrets)
        proxy_command()
    except (SettingsError, SecretsError, HubConfigError) as exc:
        return _fail(str(exc))
    if settings.env in {"ire", "pre-ope"}:
        # Integration and pre-operations rehearse operations: show what ope would refuse, but start.
        for problem in settings.production_problems(dev_client_secret=secrets.dev_client_secret):
            print(f"workbench: warning (refused with WORKBENCH_ENV=ope): {problem}", file=sys.stderr)
    busy = busy_ports(settings)
    if busy:
        return _fail(
            f"port already in use on 127.0.0.1: {', '.join(busy)} (choose free ports with these variables)"
        )
    if not HUB_CONFIG.exists():
        return _fail(f"{HUB_CONFIG} is missing: run workbench from the project checkout")
    if settings.auth == "keycloak":
        # Fail here, with one line, rather than in the hub's log.
        try:
            check_client(
                discover(settings.oidc_issuer, timeout=5),
                settings.oidc_client_id,
                settings.oidc_client_secret,
            )
        except (DiscoveryError, ClientCredentialsError) as exc:
            return _fail(str(exc))

    become_subreaper()

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        raise _Stop()

    # Explicitly: a shell that starts us in the background makes us inherit SIGINT as ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, on_sigterm)
    signal.signal(signal.SIGHUP, on_sigterm)

    log_dir = None if args.log_to_terminal else settings.logs_dir
    client_secret = effective_client_secret(settings, secrets)
    idp: Any = None
    keycloak: Any = None
    hub: Any = None
    reaper: Any = None
    code = 0
    try:
        issuer = settings.oidc_issuer
        if settings.auth == "dev-idp":
            from workbench.devidp import DevIdP

            idp = DevIdP(
                settings.realm_file,
                port=settings.idp_port,
                redirect_uris={settings.oidc_client_id: [f"{settings.public_url}/hub/oauth_callback"]},
                post_logout_uris={settings.oidc_client_id: [f"{settings.public_url}/hub/*"]},
                env={"WORKBENCH_OIDC_CLIENT_SECRET": client_secret},
                state_dir=settings.state_dir / "idp",
                log_file=None if log_dir is None else log_dir / "idp.log",
            )
            idp.start(timeout=30)
            issuer = idp.issuer
        elif settings.auth == "keycloak-local":
            keycloak = _start_keycloak(settings, client_secret)
            issuer = keycloak.issuer()

        env = dict(os.environ)
        env.update(
            {
                "WORKBENCH_SPAWNER": settings.spawner,
                "WORKBENCH_OIDC_ISSUER": issuer,
                "WORKBENCH_STATE_DIR": str(settings.state_dir),
            }
        )
        hub = HubSupervisor(
            lambda: ManagedProcess(
                "hub",
                [str(Path(sys.executable).parent / "jupyterhub"), "-f", str(HUB_CONFIG)],
                env=env,
                cwd=settings.state_dir,
                log_file=None if log_dir is None else log_dir / "hub.log",
                json_service="hub" if json_logs else None,
            ),
            settings.local_url,
            secrets.admin_api_token,
            start_timeout=HUB_START_TIMEOUT,
            say=lambda line: print(line, file=sys.stderr, flush=True),
        )
        # Labs of a hub that exited are ours now (subreaper): reap them when they exit.
        reaper = OrphanReaper(
            lambda: {p.pid for p in (hub.hub, idp, keycloak) if p is not None and p.pid}
        ).start()
        hub.start()
        _print_banner(settings, issuer, log_dir, keycloak)
        last = hub.watch()  # restarts a hub that exits unasked; returns when it may not any more
        code = 1
        print(f"workbench: the hub exited with code {last}", file=sys.stderr)
        if log_dir is not None:
            print(_tail(log_dir / "hub.log"), file=sys.stderr)
    except (KeyboardInterrupt, _Stop):
        print("\nworkbench: stopping…", flush=True)
    except RuntimeError as exc:  # a process did not come up
        code = 1
        print(f"workbench: {exc}", file=sys.stderr)
        if log_dir is not None:
            for name in ("hub.log", "idp.log", "keycloak.log"):
                if (log_dir / name).exists():
                    print(f"--- {log_dir / name} (last lines)\n{_tail(log_dir / name)}", file=sys.stderr)
    finally:
        # Don't let a second Ctrl-C interrupt the clean-up half-way.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if hub is not None:
            # The hub stops the proxy and (unless they are kept for the next hub) the users' servers.
            hub.shutdown(servers=not settings.keep_labs)
        if reaper is not None:
            reaper.stop()
        if idp is not None:
            idp.stop()
        if keycloak is not None:
            keycloak.stop()
        # Whatever is left (a server or kernel orphaned by a hub that died) came back to us.
        leftovers = stop_descendants(timeout=10)
        if leftovers:
            print(f"workbench: stopped left-over processes {leftovers}", file=sys.stderr)
        if settings.spawner in {"docker", "swarm"}:
            _remove_tool_containers(settings)
        print("workbench: stopped.", flush=True)
    return code
