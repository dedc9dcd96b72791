"""The provenance ledger: what ``workbench data fetch`` put into a data folder, and when.

The catalog files record the checksum and retrieval date of the shipped samples. A data folder
that was refreshed from the providers carries its own record beside the files,
``<data dir>/provenance.jsonl``: one JSON object per fetched file, appended, never rewritten, so
the history of a folder can be read back. When a catalog is opened, the newest record of each
file overrides the catalog's values in the entry's metadata, so ``entry.metadata["files"]``
always describes the bytes that will actually be read.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

LEDGER_NAME = "provenance.jsonl"


def ledger_path(data_dir: Path) -> Path:
    """Path of the ledger of ``data_dir``."""
    return Path(data_dir) / LEDGER_NAME


def latest_records(data_dir: Path) -> dict[str, dict[str, Any]]:
    """Newest ledger record per file path (relative to ``data_dir``); empty without a ledger.

    A line that is not valid JSON (a write cut by a crash) is ignored rather than fatal: the
    ledger is informative, the files themselves were replaced atomically.
    """
    path = ledger_path(data_dir)
    records: dict[str, dict[str, Any]] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return records
    for line in lines:
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict) and isinstance(record.get("path"), str):
            records[record["path"]] = record
    return records


def append_records(data_dir: Path, records: list[dict[str, Any]]) -> None:
    """Append ``records`` to the ledger of ``data_dir`` and flush them to disk."""
    if not records:
        return
    text = "".join(json.dumps(r, sort_keys=True) + "\n" for r in records)
    with open(ledger_path(data_dir), "a", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
