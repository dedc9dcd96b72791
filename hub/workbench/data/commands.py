"""``workbench data …`` sub-commands (registered by :mod:`workbench.cli`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from s2p.catalogs import EntrySpec, S2PCatalog
from workbench.data.fetch import FetchOptions, fetch_entries, summary


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``data`` (with ``fetch``) to the ``workbench`` command."""
    data = subparsers.add_parser("data", help="manage the data folder the catalogs read")
    sub = data.add_subparsers(dest="data_command", metavar="COMMAND")
    fetch = sub.add_parser(
        "fetch",
        help="refresh the data folder from the providers' URLs",
        description="Download each catalog entry's files from its provider (or a mirror), verify them "
        "(fixed files against the catalog's sha256; updating files by parsing them with the entry's "
        "reader), replace the old files atomically and record the new provenance. A failed or "
        "partial download never replaces a file; the command then exits with status 1.",
    )
    fetch.add_argument(
        "--segment", action="append", choices=("swe", "debris", "neo"), help="only this segment (repeatable)"
    )
    fetch.add_argument(
        "--entry",
        action="append",
        metavar="NAME",
        help="only this entry, e.g. celestrak_sw or swe.celestrak_sw (repeatable)",
    )
    fetch.add_argument(
        "--base-url",
        metavar="URL",
        help="mirror replacing the providers' scheme and host (default: WORKBENCH_DATA_BASE_URL)",
    )
    fetch.add_argument(
        "--data-dir", type=Path, metavar="DIR", help="data folder to refresh (default: WORKBENCH_DATA_DIR)"
    )
    fetch.add_argument(
        "--catalog", metavar="PATH_OR_URL", help="root catalog (default: the project's catalogs/s2p.yaml)"
    )
    fetch.add_argument(
        "--retries", type=int, default=3, help="further attempts after a transport failure (default 3)"
    )
    fetch.add_argument(
        "--backoff",
        type=float,
        default=1.0,
        metavar="SECONDS",
        help="first back-off delay, doubled per retry (default 1)",
    )
    fetch.add_argument(
        "--timeout",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="connect/read time-out per request (default 60)",
    )
    fetch.add_argument(
        "--force", action="store_true", help="download fixed files even when the local copy verifies"
    )
    fetch.add_argument(
        "--no-validate", action="store_true", help="do not parse updated files with their reader"
    )
    fetch.add_argument("--no-progress", action="store_true", help="no progress bars")
    fetch.set_defaults(handler=run_fetch)
    data.set_defaults(handler=lambda args: data.print_help() or 2)


def run_fetch(args: argparse.Namespace) -> int:
    """Run ``workbench data fetch``; 0 when every selected file is in place, 1 otherwise."""
    import s2p
    from s2p import _paths
    from s2p.catalogs import CatalogError
    from workbench.settings import Settings

    data_dir = args.data_dir or Settings.from_env().data_dir
    try:
        cat = s2p.catalog(args.catalog)
        specs = select(cat, segments=args.segment, entries=args.entry)
    except (CatalogError, LookupError) as exc:
        print(f"workbench data fetch: {exc}", file=sys.stderr)
        return 2
    options = FetchOptions(
        base_url=args.base_url or _paths.data_base_url(),
        retries=max(0, args.retries),
        backoff_s=max(0.0, args.backoff),
        timeout_s=args.timeout,
        force=args.force,
        validate=not args.no_validate,
        progress=not args.no_progress and sys.stderr.isatty(),
    )
    files = sum(len(spec.files) for _, spec in specs)
    print(f"fetching {files} file(s) of {len(specs)} entr{'y' if len(specs) == 1 else 'ies'} into {data_dir}")
    results = fetch_entries(specs, Path(data_dir), options)
    text = summary(results)
    failed = any(r.status == "failed" for r in results)
    print(text, file=sys.stderr if failed else sys.stdout)
    return 1 if failed else 0


def select(
    cat: S2PCatalog, *, segments: list[str] | None, entries: list[str] | None
) -> list[tuple[str, EntrySpec]]:
    """The (dotted name, spec) pairs chosen by ``--segment`` and ``--entry``."""
    chosen = []
    for name, spec in cat.specs():
        if segments and spec.segment not in segments:
            continue
        if entries and name not in entries and spec.name not in entries:
            continue
        chosen.append((name, spec))
    if entries:
        known = {n for n, _ in chosen} | {s.name for _, s in chosen}
        unknown = [e for e in entries if e not in known]
        if unknown:
            raise LookupError(f"no catalog entry named {', '.join(unknown)} (in the selected segments)")
    return chosen
