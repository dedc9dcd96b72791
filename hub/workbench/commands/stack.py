"""``workbench stack deploy|rm``: the production stack (``deploy/swarm/stack.yaml``) on this swarm.

See :mod:`workbench.stack` and ``docs/operations.md``.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import Any

from workbench.settings import ENVIRONMENTS, Settings, SettingsError


def register(subparsers: Any) -> None:
    from workbench.stack import Ports

    p = subparsers.add_parser(
        "stack",
        help="deploy or remove the production stack (Keycloak, PostgreSQL, hub, TLS front, Prometheus) on the swarm",
        description="Deploy deploy/swarm/stack.yaml with `docker stack deploy` (images from "
        "`workbench images build`), or remove it.",
    )
    sub = p.add_subparsers(dest="stack_command", metavar="ACTION")
    d = sub.add_parser(
        "deploy",
        help="generate the stack's CA, certificate and secrets, then docker stack deploy",
        description="Generate (once) the stack's CA, the TLS front's certificate and the secrets in "
        "--dir/secrets (0600), then `docker stack deploy`. The hub is at https://127.0.0.1:<hub port>; "
        "clients trust --dir/secrets/ca.crt.",
    )
    _add_target(d, "folder of the generated files")
    d.add_argument("--data-dir", type=Path, help="host folder of the data (default: WORKBENCH_DATA_DIR)")
    d.add_argument(
        "--apps-dir", type=Path, help="host folder of the published tools (default: WORKBENCH_APPS_DIR)"
    )
    d.add_argument(
        "--env", default="ope", choices=ENVIRONMENTS, help="WORKBENCH_ENV of the hub (default: ope)"
    )
    d.add_argument(
        "--scrape-interval",
        type=int,
        default=30,
        help="Prometheus' scrape and alert evaluation interval [s] (default: 30)",
    )
    d.add_argument(
        "--wait", type=float, default=600.0, help="seconds to wait for the hub over HTTPS (0: no wait)"
    )
    for field in dataclasses.fields(Ports):
        flag = field.name.replace("_", "-")
        d.add_argument(f"--{flag}-port", type=int, default=field.default, help=f"(default: {field.default})")
    d.set_defaults(handler=_deploy)
    r = sub.add_parser("rm", help="docker stack rm, then wait until nothing of it is left")
    _add_target(r)
    r.add_argument(
        "--volumes",
        action="store_true",
        help="also remove its volumes, the users' volumes and the hub's state (the secrets stay)",
    )
    r.set_defaults(handler=_rm)
    b = sub.add_parser(
        "backup",
        help="every piece of the running stack's state in one archive",
        description="Write the running stack's databases (pg_dump), secrets, hub state folder and the "
        "users' volumes into ARCHIVE (.tar.gz, 0600: it holds the secrets).",
    )
    b.add_argument("archive", type=Path, help="the archive to write (must not exist)")
    _add_target(b)
    b.set_defaults(handler=_backup)
    rs = sub.add_parser(
        "restore",
        help="put a backup back onto an empty deployment (deploy it afterwards)",
        description="Check ARCHIVE (made by `workbench stack backup`), restore it onto an empty "
        "deployment (no such stack, an empty state folder, none of its volumes); then "
        "`workbench stack deploy` with the same --name and --dir starts it.",
    )
    rs.add_argument("archive", type=Path, help="the archive to restore")
    _add_target(rs, "folder to deploy from")
    rs.set_defaults(handler=_restore)
    p.set_defaults(handler=lambda args: p.print_help() or 2)


def _add_target(parser: argparse.ArgumentParser, folder_help: str = "folder given to deploy") -> None:
    """``--name`` and ``--dir``: which deployment an action is about."""
    parser.add_argument("--name", default="s2p", help="stack name (default: s2p)")
    parser.add_argument("--dir", type=Path, help=f"{folder_help} (default: <state>/stack/<name>)")


def _folder(args: argparse.Namespace, settings: Settings) -> Path:
    """The deployment's folder: ``--dir``, else ``<state>/stack/<name>``."""
    return Path(args.dir or settings.state_dir / "stack" / args.name)


def _deploy(args: argparse.Namespace) -> int:
    from workbench.stack import Ports, StackError, deploy

    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"workbench: {exc}", file=sys.stderr)
        return 2
    try:
        ports = Ports(**{f.name: getattr(args, f"{f.name}_port") for f in dataclasses.fields(Ports)})
    except ValueError as exc:
        print(f"workbench stack deploy: {exc}", file=sys.stderr)
        return 2
    folder = _folder(args, settings)
    try:
        d = deploy(
            args.name,
            folder,
            data_dir=args.data_dir or settings.data_dir,
            apps_dir=args.apps_dir or settings.apps_dir,
            ports=ports,
            env=args.env,
            scrape_interval=args.scrape_interval,
            wait=args.wait,
        )
    except (StackError, ValueError) as exc:
        print(f"workbench stack deploy: {exc}", file=sys.stderr)
        return 1
    print(
        f"hub:      {d.url}\nKeycloak: {d.sso_url}/admin/ (user admin, password in {folder}/secrets/keycloak_admin_password)"
    )
    print(f"metrics:  {d.prometheus_url} (Prometheus, loopback only)")
    print(f"CA:       {d.ca_file}")
    return 0


def _rm(args: argparse.Namespace) -> int:
    from workbench.stack import StackError, remove

    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"workbench: {exc}", file=sys.stderr)
        return 2
    try:
        remove(args.name, _folder(args, settings), volumes=args.volumes)
    except StackError as exc:
        print(f"workbench stack rm: {exc}", file=sys.stderr)
        return 1
    return 0


def _backup(args: argparse.Namespace) -> int:
    from workbench.stackbackup import StackBackupError, backup

    try:
        settings = Settings.from_env()
        summary = backup(args.name, _folder(args, settings), args.archive)
    except (SettingsError, StackBackupError) as exc:
        print(f"workbench stack backup: {exc}", file=sys.stderr)
        return 1
    print(
        f"{args.archive}: databases {', '.join(summary.databases)}, {len(summary.volumes)} volume(s), "
        f"{summary.files} members, {summary.bytes} bytes"
    )
    return 0


def _restore(args: argparse.Namespace) -> int:
    from workbench.stackbackup import StackBackupError, restore

    try:
        settings = Settings.from_env()
        summary = restore(args.name, _folder(args, settings), args.archive)
    except (SettingsError, StackBackupError) as exc:
        print(f"workbench stack restore: {exc}", file=sys.stderr)
        return 1
    print(
        f"restored {summary.files} members ({len(summary.volumes)} volume(s)); now run "
        f"`workbench stack deploy --name {args.name}` with the options of the first deploy"
    )
    return 0
