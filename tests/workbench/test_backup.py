"""workbench.backup: a consistent copy of live SQLite databases, every file checked on restore, and
archives that would write outside the state directory refused."""

from __future__ import annotations

import io
import json
import os
import sqlite3
import tarfile
from pathlib import Path

import pytest

from workbench.backup import MANIFEST, BackupError, backup, restore
from workbench.settings import Settings

LIVE: list[sqlite3.Connection] = []


def _state(tmp_path: Path) -> Settings:
    settings = Settings.from_env({}, state_dir=tmp_path / "state")
    state = settings.state_dir
    settings.ensure_dirs()
    (state / "secrets").mkdir(mode=0o700)
    (state / "secrets" / "cookie_secret").write_bytes(os.urandom(32))
    (state / "users" / "ann" / "work").mkdir(parents=True)
    (state / "users" / "ann" / "work" / "a.ipynb").write_text("{}")
    (state / "logs" / "hub.log").write_text("not kept")
    (state / "jupyterhub.pid").write_text("1")
    (state / "jobs" / "runtime").mkdir(parents=True)
    (state / "jobs" / "runtime" / "kernel-1.json").write_text("{}")
    db = sqlite3.connect(state / "jupyterhub.sqlite")
    db.execute("PRAGMA journal_mode=WAL")  # rows that live only in the -wal file until a checkpoint
    db.execute("CREATE TABLE users (name TEXT)")
    db.executemany("INSERT INTO users VALUES (?)", [("ann",), ("bob",)])
    db.commit()
    LIVE.append(db)  # kept open: a live database
    return settings


def _restored(tmp_path: Path) -> Settings:
    return Settings.from_env({}, state_dir=tmp_path / "restored")


def test_round_trip_of_a_live_state_directory(tmp_path: Path) -> None:
    settings = _state(tmp_path)
    archive = tmp_path / "b.tar.gz"
    summary = backup(settings, archive)
    assert archive.stat().st_mode & 0o077 == 0
    target = _restored(tmp_path)
    assert restore(target, archive).files == summary.files
    root = target.state_dir
    rows = (
        sqlite3.connect(root / "jupyterhub.sqlite").execute("SELECT name FROM users ORDER BY name").fetchall()
    )
    assert rows == [("ann",), ("bob",)]  # the WAL's rows are in the copy
    assert (root / "users/ann/work/a.ipynb").read_text() == "{}"
    assert (root / "secrets/cookie_secret").read_bytes() == (
        settings.state_dir / "secrets/cookie_secret"
    ).read_bytes()
    assert (root / "secrets/cookie_secret").stat().st_mode & 0o077 == 0 and root.stat().st_mode & 0o077 == 0
    assert not (root / "logs").exists() and not (root / "jupyterhub.pid").exists()
    assert not (root / "jobs" / "runtime").exists()


def test_refusals(tmp_path: Path) -> None:
    settings = _state(tmp_path)
    archive = tmp_path / "b.tar.gz"
    backup(settings, archive)
    with pytest.raises(BackupError, match="exists already"):
        backup(settings, archive)
    with pytest.raises(BackupError, match="inside the state directory"):
        backup(settings, settings.state_dir / "b.tar.gz")
    with pytest.raises(BackupError, match="no workbench state"):
        backup(Settings.from_env({}, state_dir=tmp_path / "nothing"), tmp_path / "c.tar.gz")
    with pytest.raises(BackupError, match="not empty"):
        restore(settings, archive)
    with pytest.raises(BackupError, match="not a workbench backup"):
        (tmp_path / "junk.tar.gz").write_bytes(b"junk")
        restore(_restored(tmp_path), tmp_path / "junk.tar.gz")


def _forged(tmp_path: Path, members: list[tuple[tarfile.TarInfo, bytes]], files: list[dict]) -> Path:
    path = tmp_path / "forged.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        data = json.dumps({"format": "s2p-workbench-backup/1", "files": files}).encode()
        info = tarfile.TarInfo(MANIFEST)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
        for info, body in members:
            tar.addfile(info, io.BytesIO(body))
    return path


def _file(name: str, body: bytes) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size = len(body)
    return info, body


@pytest.mark.parametrize(
    "member",
    ["state/../escape", "/etc/passwd-copy", "elsewhere/x", "state/secrets/../../../escape"],
)
def test_members_outside_the_state_directory_are_refused_and_nothing_is_left(
    tmp_path: Path, member: str
) -> None:
    archive = _forged(tmp_path, [_file(member, b"x")], [{"name": member, "size": 1, "sha256": "0"}])
    target = _restored(tmp_path)
    with pytest.raises(BackupError, match="outside the state directory"):
        restore(target, archive)
    assert not target.state_dir.exists() and not (tmp_path / "escape").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".restored")] == []


def test_links_unlisted_members_and_damage_are_refused(tmp_path: Path) -> None:
    link = tarfile.TarInfo("state/secrets/key")
    link.type, link.linkname = tarfile.SYMTYPE, "/etc/shadow"
    target = _restored(tmp_path)
    with pytest.raises(BackupError, match="not a regular file"):
        restore(
            target, _forged(tmp_path, [(link, b"")], [{"name": "state/secrets/key", "size": 0, "sha256": ""}])
        )
    with pytest.raises(BackupError, match="not in its manifest"):
        restore(target, _forged(tmp_path, [_file("state/x", b"x")], []))
    with pytest.raises(BackupError, match="checksum mismatch"):
        restore(
            target,
            _forged(tmp_path, [_file("state/x", b"x")], [{"name": "state/x", "size": 1, "sha256": "00"}]),
        )
    assert not target.state_dir.exists()
