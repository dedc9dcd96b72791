"""The ``workbench`` command.

Each command group lives in the module that owns the work (one room, one job) and registers itself
here through a ``register(subparsers)`` function. ``main`` only wires them together.

Commands: ``up`` (hub + dev IdP), ``login``/``logout``, ``images build``, ``jobs …``, ``data fetch``,
``settings``, ``stack deploy|rm``, ``backup``/``restore``, ``monitoring config``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from workbench.plugins import import_optional

# Modules that contribute sub-commands, in the order they are listed in ``workbench --help``.
COMMAND_MODULES: tuple[str, ...] = (
    "workbench.commands.up",
    "workbench.commands.settings",
    "workbench.commands.login",
    "workbench.images.commands",
    "workbench.data.commands",
    "workbench.jobs.commands",
    "workbench.keycloak.commands",
    "workbench.commands.stack",
    "workbench.commands.backup",
    "workbench.commands.monitoring",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="workbench",
        description="S2P Workbench: run and operate the space-safety analysis workbench.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        # A command group that is not part of this installation is simply absent.
        module = import_optional(name)
        if module is not None:
            module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    try:
        return int(handler(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
