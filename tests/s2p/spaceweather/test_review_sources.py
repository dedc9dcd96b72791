"""Review regressions: every text reader takes empty input and a UTF-8 byte-order mark in its stride."""

from __future__ import annotations

import io

import pytest

from s2p.errors import ParseError
from s2p.spaceweather import read_celestrak, read_dst, read_gfz_kp, read_ionex, read_omni2
from tests.support import DATA

SW = DATA / "space_weather"
BOM = b"\xef\xbb\xbf"


@pytest.mark.parametrize("reader", [read_celestrak, read_gfz_kp, read_dst, read_ionex, read_omni2])
@pytest.mark.parametrize("empty", [b"", io.BytesIO(b"")], ids=["bytes", "binary-file"])
def test_empty_input_is_a_parse_error_at_line_1(reader, empty) -> None:
    # an empty buffer used to raise IndexError from the line splitter
    with pytest.raises(ParseError) as info:
        reader(empty)
    assert info.value.line == 1


@pytest.mark.parametrize(
    ("reader", "path"),
    [
        (read_celestrak, SW / "SW-Last5Years.txt"),
        (read_celestrak, SW / "celestrak_csv" / "SW-Last5Years.csv"),
        (read_gfz_kp, SW / "gfz" / "Kp_ap_Ap_SN_F107_since_2024.txt"),
        (read_ionex, SW / "ionex" / "gpsg0150.19i"),
    ],
    ids=["celestrak-txt", "celestrak-csv", "gfz", "ionex"],
)
def test_utf8_bom_is_ignored(reader, path, tmp_path) -> None:
    raw = path.read_bytes()
    plain = reader(raw)
    with_bom = tmp_path / path.name
    with_bom.write_bytes(BOM + raw)
    with with_bom.open(encoding="utf-8") as text_file:  # text mode keeps the BOM as U+FEFF
        for source in (with_bom, BOM + raw, "\ufeff" + raw.decode("latin-1"), text_file):
            got = reader(source)
            assert dict(got.sizes) == dict(plain.sizes)
            for name in plain.data_vars:
                assert got[name].equals(plain[name]), name


def test_a_path_under_the_home_folder_may_be_written_with_a_tilde(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    src = SW / "gfz" / "Kp_ap_Ap_SN_F107_since_2024.txt"
    (tmp_path / src.name).write_bytes(src.read_bytes())
    got = read_gfz_kp(f"~/{src.name}")  # used to raise FileNotFoundError
    assert got["kp"].equals(read_gfz_kp(src)["kp"])
