"""Checked archives, as ``workbench backup`` and ``workbench stack backup`` write them.

A gzip'd tar whose first member is ``MANIFEST.json``: a format name, whatever the writer adds, and
``files``, each member's name, size and SHA-256. :func:`write` makes it 0600 (backups hold secrets)
under a ``.partial`` name and renames it only once whole; :func:`read_manifest` and :func:`extract`
check it back member by member, hashing while they copy, so a damaged archive is refused before its
content is used. What a member may be called and where it lands is each reader's own rule.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

MANIFEST = "MANIFEST.json"
BLOCK = 1 << 20

Error = Callable[[str], Exception]
"""What a reader raises (its own error class), given the message."""


def entry(name: str, path: Path) -> dict[str, Any]:
    """The manifest's line for member ``name`` holding the file ``path``."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(partial(fh.read, BLOCK), b""):
            digest.update(block)
    return {"name": name, "size": path.stat().st_size, "sha256": digest.hexdigest()}


def write(
    archive: Path,
    manifest: dict[str, object],
    members: Sequence[tuple[str, Path]],
    *,
    progress: Callable[[int], None] | None = None,
) -> None:
    """Write ``manifest`` then each ``(name, path)`` of ``members`` into ``archive`` (0600); nothing
    is left at ``archive`` unless it is whole. ``progress`` gets the count of members written."""
    partial_file = archive.with_name(archive.name + ".partial")
    fd = os.open(partial_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as tar:
            data = json.dumps(manifest, indent=1).encode()
            info = tarfile.TarInfo(MANIFEST)
            info.size, info.mtime, info.mode = len(data), int(time.time()), 0o600
            tar.addfile(info, io.BytesIO(data))
            for n, (name, path) in enumerate(members, 1):
                tar.add(path, arcname=name, recursive=False)
                if progress is not None:
                    progress(n)
        os.replace(partial_file, archive)
    except BaseException:
        partial_file.unlink(missing_ok=True)
        raise


def read_manifest(
    tar: tarfile.TarFile, archive: Path, fmt: str, noun: str, error: Error
) -> tuple[dict[str, Any], dict[str, tuple[int, str]]]:
    """The manifest of the open ``tar`` (its first member) and what it expects: name → (size, SHA-256).

    Raises ``error`` when the first member is not the manifest, is not JSON, is not of format ``fmt``
    or lists a file without name, size or SHA-256 (``noun`` names the kind of archive).
    """
    first = tar.next()
    if first is None or first.name != MANIFEST or not first.isfile():
        raise error(f"{archive} is not a {noun}: it does not start with {MANIFEST}")
    fh = tar.extractfile(first)
    try:
        manifest = json.loads(fh.read() if fh else b"")
    except ValueError:
        raise error(f"{archive}: {MANIFEST} is not JSON") from None
    if not isinstance(manifest, dict) or manifest.get("format") != fmt:
        found = manifest.get("format") if isinstance(manifest, dict) else None
        raise error(f"{archive}: format {found!r}, expected {fmt}")
    try:
        expected = {str(e["name"]): (int(e["size"]), str(e["sha256"])) for e in manifest.get("files", [])}
    except (KeyError, TypeError, ValueError, AttributeError):
        raise error(f"{archive}: {MANIFEST} lists files without name, size or sha256") from None
    return manifest, expected


def extract(
    tar: tarfile.TarFile,
    member: tarfile.TarInfo,
    target: Path,
    mode: int,
    expected: tuple[int, str],
    error: Error,
) -> int:
    """Copy ``member`` into the new file ``target`` (never an existing one: ``O_EXCL``; ``mode``),
    hashing on the way; its size. Raises ``error`` when it does not match ``expected``."""
    source = tar.extractfile(member)
    if source is None:
        raise error(f"archive member {member.name!r} cannot be read")
    digest = hashlib.sha256()
    out = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(out, "wb") as dst:
        for block in iter(partial(source.read, BLOCK), b""):
            digest.update(block)
            dst.write(block)
    size, sha = expected
    if digest.hexdigest() != sha or target.stat().st_size != size:
        raise error(f"{member.name}: checksum mismatch (the archive is damaged)")
    return size
