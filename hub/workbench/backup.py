"""Back up and restore the workbench's state directory: one archive holds everything a deployment needs.

What a backup holds (everything under ``WORKBENCH_STATE_DIR`` but what is rebuilt at start):

- the hub database and the jobs store when they are SQLite files (``*.sqlite``), copied with SQLite's
  online backup API, so a backup taken while the workbench runs is consistent;
- ``secrets/`` (cookie secret, crypt key, tokens: without them the restored hub could not read its
  own encrypted OIDC tokens and every user would log in again);
- ``users/`` (the homes of the local spawner), ``jobs/`` (run outputs: notebooks, reports, logs,
  values), the dev IdP's state and every other file.

Left out: ``logs/``, pid files, ``jobs/runtime`` (kernel connection files) and sockets. Databases on
PostgreSQL (``WORKBENCH_DB_URL``, ``WORKBENCH_JOBS_DB_URL``) are not in the archive: back them up with
``pg_dump`` beside it (:func:`backup` says so).

The archive is a gzip'd tar with ``MANIFEST.json`` first: format, time, workbench version, and every
member's size and SHA-256. :func:`restore` checks the manifest before writing anything, writes only
into an empty (or missing) state directory, refuses members that would land outside it (absolute
paths, ``..``, links), verifies every checksum, and sets the state directory to 0700 and the secrets to
0600.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from workbench import archive as archives
from workbench.settings import Settings

FORMAT = "s2p-workbench-backup/1"
MANIFEST = archives.MANIFEST
SKIPPED_DIRS = ("logs", "jobs/runtime", "apps/config")
SKIPPED_SUFFIXES = (".pid", ".sock", "-journal", "-wal", "-shm")
"""Rebuilt at start, or part of a SQLite database that the online backup already holds."""


class BackupError(RuntimeError):
    """A backup cannot be taken, or an archive cannot be restored (the message says why)."""


@dataclass(frozen=True)
class Summary:
    """What a backup or restore did: members written, their total size [bytes], what it could not hold."""

    files: int
    bytes: int
    notes: tuple[str, ...] = ()


def _skipped(rel: PurePosixPath) -> bool:
    text = rel.as_posix()
    if any(text == d or text.startswith(d + "/") for d in SKIPPED_DIRS):
        return True
    return rel.name.endswith(SKIPPED_SUFFIXES)


def _members(state: Path) -> Iterator[tuple[PurePosixPath, Path]]:
    """(name in the archive, path) of every regular file to back up, sorted."""
    for root, dirs, files in os.walk(state):
        dirs.sort()
        for name in sorted(files):
            path = Path(root) / name
            rel = PurePosixPath(path.relative_to(state).as_posix())
            if _skipped(rel) or not stat.S_ISREG(path.lstat().st_mode):
                continue
            yield rel, path


def _is_sqlite(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            return fh.read(16) == b"SQLite format 3\x00"
    except OSError:
        return False


def _sqlite_copy(path: Path, into: Path) -> None:
    """A consistent copy of a live SQLite database (the online backup API)."""
    source = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    target = sqlite3.connect(into)
    try:
        source.backup(target)
    finally:
        target.close()
        source.close()


def _external_databases(settings: Settings) -> list[str]:
    notes = []
    for variable, url in (
        ("WORKBENCH_DB_URL", settings.db_url),
        ("WORKBENCH_JOBS_DB_URL", settings.jobs_db_url),
    ):
        if not url.startswith("sqlite"):
            notes.append(f"{variable} is not SQLite: back that database up with pg_dump beside this archive")
    return notes


def backup(settings: Settings, archive: Path, *, progress: Callable[[str], None] | None = None) -> Summary:
    """Write every piece of state of ``settings.state_dir`` into the archive ``archive`` (``.tar.gz``).

    Raises
    ------
    BackupError
        When the state directory does not exist or the archive already exists.
    """
    state = settings.state_dir
    if not (state / "secrets").is_dir():
        raise BackupError(f"{state} holds no workbench state (no secrets/ folder): nothing to back up")
    archive = Path(archive)
    if archive.exists():
        raise BackupError(f"{archive} exists already: choose a new file name")
    if archive.resolve().is_relative_to(state.resolve()):
        raise BackupError(f"{archive} lies inside the state directory it backs up: write it elsewhere")
    say = progress or (lambda _line: None)
    with tempfile.TemporaryDirectory() as scratch:
        staged: list[tuple[str, Path]] = []
        for rel, path in _members(state):
            if rel.suffix == ".sqlite" and _is_sqlite(path):
                copy = Path(scratch) / f"{len(staged)}.sqlite"
                _sqlite_copy(path, copy)
                path = copy
            staged.append((f"state/{rel}", path))
        entries = [archives.entry(name, path) for name, path in staged]
        total = sum(int(e["size"]) for e in entries)
        manifest: dict[str, object] = {
            "format": FORMAT,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "state_dir": str(state),
            "files": entries,
        }

        def written(n: int) -> None:
            if n % 200 == 0 or n == len(staged):
                say(f"{n}/{len(staged)} files")

        archives.write(archive, manifest, staged, progress=written)
    return Summary(len(entries), total, tuple(_external_databases(settings)))


def _safe_name(name: str) -> PurePosixPath:
    rel = PurePosixPath(name)
    if (
        rel.is_absolute()
        or ".." in rel.parts
        or not rel.parts
        or rel.parts[0] != "state"
        or len(rel.parts) < 2
    ):
        raise BackupError(f"archive member {name!r} would land outside the state directory: refused")
    return PurePosixPath(*rel.parts[1:])


def restore(settings: Settings, archive: Path, *, progress: Callable[[str], None] | None = None) -> Summary:
    """Restore ``archive`` (made by :func:`backup`) into ``settings.state_dir``, which must be empty or missing.

    The archive is unpacked beside the state directory and moved into place only once every member is
    checked: a damaged archive leaves nothing behind.

    Raises
    ------
    BackupError
        When the state directory is not empty, the archive is not a workbench backup, a member would land
        outside the state directory or is not a regular file, or a checksum does not match.
    """
    state = settings.state_dir
    if state.exists() and any(state.iterdir()):
        raise BackupError(f"{state} is not empty: restore into a new WORKBENCH_STATE_DIR")
    state.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{state.name}.restoring-", dir=state.parent))
    try:
        summary = _unpack(archive, staging, progress or (lambda _line: None))
        if state.exists():
            state.rmdir()
        os.replace(staging, state)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return Summary(summary.files, summary.bytes, tuple(_external_databases(settings)))


def _unpack(archive: Path, state: Path, say: Callable[[str], None]) -> Summary:
    """Check and unpack ``archive`` into the (new, empty) folder ``state``."""
    try:
        tar = tarfile.open(archive, mode="r:gz")  # noqa: SIM115 (closed by the with below)
    except (OSError, tarfile.TarError) as exc:
        raise BackupError(f"{archive} is not a workbench backup: {exc}") from None
    with tar:
        return _unpack_open(tar, archive, state, say)


def _unpack_open(tar: tarfile.TarFile, archive: Path, state: Path, say: Callable[[str], None]) -> Summary:
    _, expected = archives.read_manifest(tar, archive, FORMAT, "workbench backup", BackupError)
    os.chmod(state, 0o700)
    seen: set[str] = set()
    total = 0
    while (member := tar.next()) is not None:  # after the manifest, in archive order
        rel = _safe_name(member.name)
        if not member.isfile():
            raise BackupError(f"archive member {member.name!r} is not a regular file: refused")
        if member.name not in expected or member.name in seen:
            raise BackupError(f"archive member {member.name!r} is not in its manifest: refused")
        target = state / rel
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        mode = 0o600 if rel.parts[0] == "secrets" else (member.mode & 0o700) or 0o600
        total += archives.extract(tar, member, target, mode, expected[member.name], BackupError)
        seen.add(member.name)
        if len(seen) % 200 == 0:
            say(f"{len(seen)}/{len(expected)} files")
    missing = sorted(set(expected) - seen)
    if missing:
        raise BackupError(f"the archive lacks {len(missing)} file(s) its manifest lists, e.g. {missing[0]}")
    say(f"{len(seen)}/{len(expected)} files")
    return Summary(len(seen), total)
