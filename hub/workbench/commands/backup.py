"""``workbench backup ARCHIVE`` and ``workbench restore ARCHIVE``: all state in one archive, and back.

See :mod:`workbench.backup` for what the archive holds and how a restore is checked.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from workbench.settings import Settings, SettingsError


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "backup",
        help="write all state (hub and jobs databases, secrets, run outputs, homes) into one archive",
        description="Back up WORKBENCH_STATE_DIR into a new .tar.gz (safe while the workbench runs; "
        "see docs/operations.md).",
    )
    p.add_argument("archive", type=Path, help="the archive to write (must not exist; mode 0600)")
    p.set_defaults(handler=run_backup)
    r = subparsers.add_parser(
        "restore",
        help="restore an archive of `workbench backup` into an empty WORKBENCH_STATE_DIR",
        description="Restore a `workbench backup` archive into an empty (or missing) WORKBENCH_STATE_DIR; "
        "every file is checked against the archive's manifest before the state directory appears.",
    )
    r.add_argument("archive", type=Path, help="the archive to restore")
    r.set_defaults(handler=run_restore)


def _say(line: str) -> None:
    print(f"workbench: {line}", file=sys.stderr, flush=True)


def _run(args: argparse.Namespace, action: str) -> int:
    from workbench.backup import BackupError, backup, restore

    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        _say(str(exc))
        return 2
    start = time.monotonic()
    try:
        if action == "backup":
            summary = backup(settings, args.archive, progress=_say)
        else:
            summary = restore(settings, args.archive, progress=_say)
    except BackupError as exc:
        _say(str(exc))
        return 2
    verb = "backed up" if action == "backup" else "restored"
    where = (
        f"{settings.state_dir} → {args.archive}"
        if action == "backup"
        else f"{args.archive} → {settings.state_dir}"
    )
    _say(
        f"{verb} {summary.files} files ({summary.bytes / 1e6:.1f} MB) in {time.monotonic() - start:.1f} s: {where}"
    )
    for note in summary.notes:
        _say(f"note: {note}")
    return 0


def run_backup(args: argparse.Namespace) -> int:
    return _run(args, "backup")


def run_restore(args: argparse.Namespace) -> int:
    return _run(args, "restore")
