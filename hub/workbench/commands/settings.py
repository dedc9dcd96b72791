"""``workbench settings``: every setting with its value (secrets masked), default and help.

``--markdown`` prints the same table as Markdown (that is how ``docs/settings.md`` is made), and
``--check`` also reports what ``WORKBENCH_ENV=ope`` would refuse, exiting 1 if anything.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import textwrap
from typing import Any

from workbench.settings import PROJECT_ROOT, Settings, SettingsError


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "settings",
        help="show every WORKBENCH_* setting: value, default and help",
        description="Show the workbench settings read from WORKBENCH_* variables (secrets masked).",
    )
    p.add_argument("--markdown", action="store_true", help="print the reference table as Markdown")
    p.add_argument(
        "--check",
        action="store_true",
        help="also list what operations (WORKBENCH_ENV=ope) would refuse; exit 1 if anything",
    )
    p.set_defaults(handler=run)


def markdown_reference() -> str:
    """The settings reference as Markdown, from the defaults (what ``docs/settings.md`` holds)."""
    settings = Settings.from_env({})
    lines = [
        "| variable | default | what it does |",
        "|---|---|---|",
    ]
    for env, _value, default, help_text in settings.display_rows():
        shown = default.replace(str(PROJECT_ROOT), "<project>")
        cell = help_text.replace("|", r"\|")
        lines.append(f"| `{env}` | `{shown}` | {cell} |")
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> int:
    if args.markdown:
        print(markdown_reference(), end="")
        return 0
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"workbench: {exc}", file=sys.stderr)
        return 2
    width = shutil.get_terminal_size((110, 20)).columns
    for env, value, default, help_text in settings.display_rows():
        print(f"{env} = {value}")
        print(f"    default: {default}")
        for line in textwrap.wrap(help_text, width=max(40, width - 4)):
            print(f"    {line}")
    if args.check:
        problems = settings.production_problems()
        print()
        if problems:
            print("WORKBENCH_ENV=ope would refuse:")
            for p in problems:
                print(f"  - {p}")
            return 1
        print("Acceptable for WORKBENCH_ENV=ope.")
    return 0
