"""s2p.data_path / DataPath: user-given paths stay inside the data folder."""

from __future__ import annotations

from pathlib import Path

import pytest

import s2p
from s2p.paths import DataPathError, data_path


def test_resolves_shipped_file(data_dir: Path) -> None:
    some = next(p for p in sorted(data_dir.rglob("*")) if p.is_file() and not p.is_symlink())
    rel = some.relative_to(data_dir).as_posix()
    assert data_path(rel, root=data_dir) == some.resolve()


@pytest.mark.parametrize(
    "value", ["/etc/passwd", "../secrets/x", "a/../../b", "~/x", "a\\b", "", "  ", "a\x00b", 3, None]
)
def test_refuses_escapes_and_non_paths(tmp_path: Path, value: object) -> None:
    with pytest.raises(DataPathError):
        data_path(value, root=tmp_path, must_exist=False)  # type: ignore[arg-type]


def test_refuses_symlink_out_of_the_folder(tmp_path: Path) -> None:
    root, outside = tmp_path / "data", tmp_path / "secret"
    root.mkdir()
    outside.mkdir()
    (outside / "token").write_text("x")
    (root / "link").symlink_to(outside)
    with pytest.raises(DataPathError, match="outside"):
        data_path("link/token", root=root)


def test_missing_is_data_not_found(tmp_path: Path) -> None:
    with pytest.raises(s2p.DataNotFoundError, match="cdm_folder"):
        data_path("nothing/here", root=tmp_path, name="cdm_folder")
    assert data_path("nothing/here", root=tmp_path, must_exist=False) == (tmp_path / "nothing/here").resolve()


def test_datapath_is_a_str_annotation() -> None:
    assert isinstance(s2p.DataPath("a/b"), str)
    assert s2p.DataPath("a/b") == "a/b"
