"""``workbench.stackbackup``'s archive checks: what a restore refuses before it touches anything (the
backup and restore themselves run against a real stack in tests/e2e/test_stack.py)."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest

from workbench.stackbackup import DATABASES, FORMAT, MANIFEST, StackBackupError, unpack

WHOLE = {
    "state.tar": b"state",
    "secrets/postgres_password": b"pw",
    **{f"postgres/{db}.dump": db.encode() for db in DATABASES},
    "volumes/home-swe-2dscientist.tar": b"home",
}


def make(
    path: Path,
    members: dict[str, bytes],
    *,
    listed: dict[str, bytes] | None = None,
    volumes: object = ("home-swe-2dscientist",),
    fmt: str = FORMAT,
    first: str = MANIFEST,
) -> Path:
    listed = members if listed is None else listed
    manifest = {
        "format": fmt,
        "volumes": list(volumes) if isinstance(volumes, tuple) else volumes,
        "files": [
            {"name": n, "size": len(b), "sha256": hashlib.sha256(b).hexdigest()} for n, b in listed.items()
        ],
    }
    with tarfile.open(path, "w:gz") as tar:
        items = [(MANIFEST, json.dumps(manifest).encode()), *members.items()]
        if first != MANIFEST:
            items.reverse()
        for name, data in items:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_a_whole_archive_unpacks_and_says_what_it_holds(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    manifest = unpack(make(tmp_path / "a.tar.gz", WHOLE), out)
    assert manifest["volumes"] == ["home-swe-2dscientist"]
    assert (out / "postgres" / "keycloak.dump").read_bytes() == b"keycloak"
    assert oct((out / "secrets" / "postgres_password").stat().st_mode & 0o777) == "0o600"


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("traversal", "not one a stack backup has"),
        ("absolute", "not one a stack backup has"),
        ("unlisted", "not in its manifest"),
        ("damaged", "checksum mismatch"),
        ("partial", "lacks"),
        ("no secrets", "not a whole stack backup"),
        ("bad volume", "Docker would not take"),
        ("format", "expected s2p-workbench-stack-backup/1"),
        ("order", "does not start with"),
        ("not a tar", "is not a stack backup"),
    ],
)
def test_a_restore_refuses_an_unsound_archive(tmp_path: Path, case: str, message: str) -> None:
    path = tmp_path / "a.tar.gz"
    if case == "traversal":
        make(path, {**WHOLE, "volumes/../../etc/x": b"x"})
    elif case == "absolute":
        make(path, {**WHOLE, "/etc/x": b"x"})
    elif case == "unlisted":
        make(path, {**WHOLE, "secrets/extra": b"x"}, listed=WHOLE)
    elif case == "damaged":
        make(path, {**WHOLE, "state.tar": b"STATE"}, listed=WHOLE)
    elif case == "partial":
        make(path, {k: v for k, v in WHOLE.items() if k != "state.tar"}, listed=WHOLE)
    elif case == "no secrets":
        without = {k: v for k, v in WHOLE.items() if not k.startswith("secrets/")}
        make(path, without)
    elif case == "bad volume":
        make(path, WHOLE, volumes=["home; rm -rf /"])
    elif case == "format":
        make(path, WHOLE, fmt="s2p-workbench-backup/1")
    elif case == "order":
        make(path, WHOLE, first="state.tar")
    else:
        path.write_bytes(b"not an archive")
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(StackBackupError, match=message):
        unpack(path, out)
