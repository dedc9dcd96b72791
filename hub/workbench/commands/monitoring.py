"""``workbench monitoring config DIR``: Prometheus' scrape configuration and alert rules for this workbench."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from workbench.settings import Settings, SettingsError


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "monitoring", help="Prometheus configuration and alert rules for this workbench"
    )
    sub = p.add_subparsers(dest="monitoring_command", metavar="COMMAND", required=True)
    c = sub.add_parser(
        "config",
        help="write prometheus.yml (the hub, the jobs service and each tool's gateway, with the prometheus token's file) and rules.yml",
        description="Write DIR/prometheus.yml and DIR/rules.yml for Debian's prometheus "
        "(see docs/operations.md, Metrics).",
    )
    c.add_argument("dir", type=Path, help="folder to write the two files into")
    c.add_argument(
        "--interval", type=int, default=30, help="scrape and rule evaluation interval [s] (default 30)"
    )
    c.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from workbench.monitoring import local_target, published_tools, write_config

    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"workbench: {exc}", file=sys.stderr)
        return 2
    if args.interval < 1:
        print("workbench: --interval must be at least 1 second", file=sys.stderr)
        return 2
    try:
        url, token_file = local_target(settings)
    except ValueError as exc:
        print(f"workbench: {exc}", file=sys.stderr)
        return 2
    tools = published_tools(settings.apps_dir, settings.allowed_groups)
    config, rules = write_config(args.dir, url, token_file, interval_s=args.interval, tools=tools)
    print(f"workbench: wrote {config} and {rules}; run: prometheus --config.file={config}", file=sys.stderr)
    return 0
