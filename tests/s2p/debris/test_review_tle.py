"""Review regressions for read_tle's input handling: BOM, gzip, UTF-8 names, empty text."""

from __future__ import annotations

import gzip
import io
from pathlib import Path

import numpy as np
import pytest

from s2p import ParseError
from s2p.debris import read_tle
from tests.support import DATA

STATIONS = DATA / "space_debris" / "tle" / "celestrak_stations_2026-05-30.tle"


def _same(a, b) -> None:
    assert len(a) == len(b)
    assert list(a.name) == list(b.name)
    np.testing.assert_array_equal(a.norad_id, b.norad_id)
    np.testing.assert_array_equal(a.epoch, b.epoch)


def test_utf8_bom_in_every_form_of_source(tmp_path):
    raw = STATIONS.read_bytes()
    plain = read_tle(STATIONS)
    bom_file = tmp_path / "bom.tle"
    bom_file.write_bytes(b"\xef\xbb\xbf" + raw)
    with bom_file.open("rb") as binary, bom_file.open(encoding="utf-8") as text:
        for source in (bom_file, str(bom_file), b"\xef\xbb\xbf" + raw, "\ufeff" + raw.decode(), binary, text):
            got = read_tle(source)
            _same(got, plain)  # the name of the first record used to carry the BOM
    # a 2-line file with a BOM: line 1 used to be refused ("expected a name line or line 1")
    two = "\n".join(ln for ln in raw.decode().splitlines() if ln[:2] in ("1 ", "2 "))
    assert len(read_tle("\ufeff" + two)) == len(plain)


def test_gzip_file_is_read_by_its_magic_bytes(tmp_path):
    packed = gzip.compress(STATIONS.read_bytes())
    for name in ("stations.tle.gz", "stations.tle"):  # renamed by a download tool: still gzip
        path = tmp_path / name
        path.write_bytes(packed)
        _same(read_tle(path), read_tle(STATIONS))
    _same(read_tle(io.BytesIO(packed)), read_tle(STATIONS))
    broken = tmp_path / "cut.tle.gz"
    broken.write_bytes(packed[: len(packed) // 2])
    with pytest.raises(ParseError, match="cut.tle.gz.*gzip"):
        read_tle(broken)


def test_utf8_names_are_decoded_not_mangled(tmp_path):
    lines = STATIONS.read_text().splitlines()[1:3]
    text = "\n".join(["CAFÉ-SAT Ø1", *lines]) + "\n"
    path = tmp_path / "utf8.tle"
    path.write_bytes(text.encode("utf-8"))
    assert read_tle(path).name[0] == "CAFÉ-SAT Ø1"
    path.write_bytes(text.encode("latin-1"))  # not UTF-8: read as Latin-1 rather than refused
    assert read_tle(path).name[0] == "CAFÉ-SAT Ø1"


@pytest.mark.parametrize("text", ["", "   ", "\n\n"])
def test_empty_text_is_a_parse_error(text):
    # "" used to be taken for the path "." and raise IsADirectoryError
    with pytest.raises(ParseError, match="no element sets"):
        read_tle(text)
    assert len(read_tle(text, errors="skip")) == 0


def test_a_two_line_record_missing_its_line_2_is_reported_not_swallowed():
    pairs = [ln for ln in STATIONS.read_text().splitlines() if ln[:2] in ("1 ", "2 ")]
    text = "\n".join([pairs[0], *pairs[2:6]])  # record 1 lost its line 2; records 2 and 3 intact
    # line 1 of record 1 used to be taken for the *name* of record 2: one record gone, no error
    with pytest.raises(ParseError) as info:
        read_tle(text)
    assert info.value.line == 2 and "missing line 2" in info.value.reason
    tles = read_tle(text, errors="skip")
    assert list(tles.norad_id) == [int(pairs[2][2:7]), int(pairs[4][2:7])]
    assert list(tles.name) == ["", ""]
    assert [(line, reason) for line, reason, _ in tles.rejected] == [(2, "missing line 2 after line 1")]


def test_tles_pasted_into_an_indented_string_are_read():
    lines = STATIONS.read_text().splitlines()[:6]
    pasted = "\n" + "".join(f"        {ln}\n" for ln in lines) + "    "
    tles = read_tle(pasted)  # used to fail at line 2: "expected a name line or line 1"
    _same(tles, read_tle("\n".join(lines)))
    assert list(tles.line1) == [lines[1][:69], lines[4][:69]]


def test_a_path_under_the_home_folder_may_be_written_with_a_tilde(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "stations.tle").write_bytes(STATIONS.read_bytes())
    for source in ("~/stations.tle", Path("~/stations.tle")):  # used to raise FileNotFoundError
        tles = read_tle(source)
        _same(tles, read_tle(STATIONS))
        assert tles.source == str(tmp_path / "stations.tle")
