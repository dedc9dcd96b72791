"""Corrupted inputs: every reader raises s2p.ParseError naming the offending line."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from s2p import ParseError
from s2p.spaceweather import read_celestrak, read_dst, read_gfz_kp, read_goes_xrs, read_ionex, read_omni2
from tests.support import DATA

SW = DATA / "space_weather"
SW_TEXT = (SW / "SW-All.txt").read_bytes().decode("latin-1").split("\n")
FIRST_OBS = SW_TEXT.index("BEGIN OBSERVED\r") + 1  # 0-based index of the first observed record
BAD_CHARS = "abcxyzXE#?,;:/*!_"


def _with_line(lines: list[str], index: int, new: str) -> str:
    out = list(lines)
    out[index] = new
    return "\n".join(out)


def _raises_at(call, line: int) -> ParseError:  # type: ignore[no-untyped-def]
    with pytest.raises(ParseError) as info:
        call()
    assert info.value.line == line, str(info.value)
    return info.value


# ---- CelesTrak text ---------------------------------------------------------------------------
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    row=st.integers(min_value=0, max_value=24764),
    col=st.integers(min_value=0, max_value=129),
    char=st.sampled_from(BAD_CHARS),
)
def test_celestrak_text_bad_character_anywhere(row: int, col: int, char: str) -> None:
    i = FIRST_OBS + row
    line = SW_TEXT[i]
    text = _with_line(SW_TEXT, i, line[:col] + char + line[col + 1 :])
    err = _raises_at(lambda: read_celestrak(text), i + 1)
    assert "not a number" in err.reason or "date" in err.reason


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(row=st.integers(min_value=0, max_value=24764), cut=st.integers(min_value=0, max_value=129))
def test_celestrak_text_truncated_record(row: int, cut: int) -> None:
    i = FIRST_OBS + row
    text = _with_line(SW_TEXT, i, SW_TEXT[i][:cut])
    err = _raises_at(lambda: read_celestrak(text), i + 1)
    assert "truncated" in err.reason


def test_celestrak_text_header_count_and_order() -> None:
    _raises_at(lambda: read_celestrak(_with_line(SW_TEXT, 0, "DATATYPE Something")), 1)
    _raises_at(lambda: read_celestrak("hello\nworld\n"), 1)
    dropped = "\n".join(SW_TEXT[: FIRST_OBS + 10] + SW_TEXT[FIRST_OBS + 11 :])
    err = _raises_at(lambda: read_celestrak(dropped), SW_TEXT.index("END OBSERVED\r"))
    assert "NUM_" in err.reason
    swapped = list(SW_TEXT)
    swapped[FIRST_OBS + 5], swapped[FIRST_OBS + 6] = swapped[FIRST_OBS + 6], swapped[FIRST_OBS + 5]
    _raises_at(lambda: read_celestrak("\n".join(swapped)), FIRST_OBS + 7)
    impossible = SW_TEXT[FIRST_OBS].replace("1957 10 01", "1957 02 30", 1)
    _raises_at(lambda: read_celestrak(_with_line(SW_TEXT, FIRST_OBS, impossible)), FIRST_OBS + 1)
    cut = "\n".join(SW_TEXT[: FIRST_OBS + 100])  # file ends inside the observed section
    with pytest.raises(ParseError, match="END OBSERVED"):
        read_celestrak(cut)


# ---- CelesTrak CSV ----------------------------------------------------------------------------
CSV = (SW / "celestrak_csv" / "SW-Last5Years.csv").read_text().split("\n")


def test_celestrak_csv_corruptions() -> None:
    _raises_at(lambda: read_celestrak(_with_line(CSV, 0, CSV[0].replace("AP_AVG", "APAVG"))), 1)
    bad = CSV[10].split(",")
    bad[5] = "4x"
    _raises_at(lambda: read_celestrak(_with_line(CSV, 10, ",".join(bad))), 11)
    _raises_at(lambda: read_celestrak(_with_line(CSV, 20, CSV[20][:25])), 21)  # truncated record
    _raises_at(lambda: read_celestrak(_with_line(CSV, 30, CSV[30] + ",7")), 31)  # one field too many
    _raises_at(lambda: read_celestrak(_with_line(CSV, 40, CSV[40].replace("OBS", "OBX"))), 41)
    _raises_at(lambda: read_celestrak(_with_line(CSV, 50, "2023-13-01" + CSV[50][10:])), 51)


# ---- GFZ --------------------------------------------------------------------------------------
def test_gfz_corruptions() -> None:
    kp = (SW / "gfz" / "Kp_ap_Ap_SN_F107_since_2024.txt").read_text().split("\n")
    _raises_at(lambda: read_gfz_kp(_with_line(kp, 45, kp[45][:100])), 46)
    _raises_at(lambda: read_gfz_kp(_with_line(kp, 45, kp[45][:36] + "x" + kp[45][37:])), 46)
    _raises_at(lambda: read_gfz_kp("2024 01 01 garbage\n"), 1)
    hp = (SW / "gfz" / "Hp30_ap30_complete_series.txt").read_text().split("\n")
    _raises_at(lambda: read_gfz_kp(_with_line(hp, 100, hp[100].replace(".", ",", 1))), 101)
    csv = (SW / "gfz" / "GFZ_Potsdam_Kp_2006-2022.csv").read_text().split("\n")
    _raises_at(lambda: read_gfz_kp(_with_line(csv, 7, csv[7].replace(",", ",abc", 1))), 8)
    _raises_at(lambda: read_gfz_kp(_with_line(csv, 9, csv[9][:12])), 10)


# ---- OMNI2, Dst -------------------------------------------------------------------------------
def test_omni2_corruptions() -> None:
    omni = (SW / "omni" / "omni2_2000.dat").read_text().split("\n")[:200]
    _raises_at(lambda: read_omni2(_with_line(omni, 150, omni[150][:200])), 151)
    _raises_at(lambda: read_omni2(_with_line(omni, 20, omni[20][:40] + "?" + omni[20][41:])), 21)
    _raises_at(lambda: read_omni2(_with_line(omni, 3, omni[3][:8] + "400" + omni[3][11:])), 4)  # hour 400


def test_dst_corruptions() -> None:
    dst = (SW / "dst" / "WDC_Kyoto_Dst_2006-2022.dat").read_text().split("\n")[:100]
    _raises_at(lambda: read_dst(_with_line(dst, 40, "AE" + dst[40][2:])), 41)
    _raises_at(lambda: read_dst(_with_line(dst, 41, dst[41][:60])), 42)
    _raises_at(lambda: read_dst(_with_line(dst, 42, dst[42][:30] + "x" + dst[42][31:])), 43)
    _raises_at(lambda: read_dst(_with_line(dst, 43, dst[43][:8] + "32" + dst[43][10:])), 44)  # day 32


# ---- IONEX ------------------------------------------------------------------------------------
IONEX = gzip.decompress((SW / "ionex" / "jplg0010.17i.gz").read_bytes()).decode("latin-1").split("\n")
_LABELS = {"START OF TEC MAP", "EPOCH OF CURRENT MAP", "LAT/LON1/LON2/DLON/H", "END OF TEC MAP"}
_LABELS |= {"START OF RMS MAP", "END OF RMS MAP", "END OF FILE"}
_END_HEADER = next(i for i, t in enumerate(IONEX) if "END OF HEADER" in t)
VALUE_LINES = [
    i for i, t in enumerate(IONEX) if i > _END_HEADER and t.strip() and t[60:80].strip() not in _LABELS
]


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    k=st.integers(min_value=0, max_value=len(VALUE_LINES) - 1),
    col=st.integers(0, 79),
    char=st.sampled_from(BAD_CHARS),
)
def test_ionex_bad_value(k: int, col: int, char: str) -> None:
    i = VALUE_LINES[k]
    line = IONEX[i]
    if col >= len(line):
        col = len(line) - 1
    _raises_at(lambda: read_ionex(_with_line(IONEX, i, line[:col] + char + line[col + 1 :])), i + 1)


def test_ionex_structure_errors(tmp_path: Path) -> None:
    _raises_at(
        lambda: read_ionex(
            _with_line(
                IONEX, 0, "     1.0            OBSERVATION DATA    G                   RINEX VERSION / TYPE"
            )
        ),
        1,
    )
    lat_row = next(i for i, t in enumerate(IONEX) if "LAT/LON1/LON2/DLON/H" in t)
    _raises_at(
        lambda: read_ionex(_with_line(IONEX, lat_row, IONEX[lat_row].replace("87.5", "86.5", 1))), lat_row + 1
    )
    short = VALUE_LINES[500]
    with pytest.raises(ParseError):  # one value missing from a latitude row
        read_ionex(_with_line(IONEX, short, IONEX[short][:-5]))
    truncated = "\n".join(IONEX[: VALUE_LINES[3000]])
    with pytest.raises(ParseError) as info:
        read_ionex(truncated)
    assert info.value.line is not None
    path = tmp_path / "cut.17i.gz"
    path.write_bytes(gzip.compress("\n".join(IONEX).encode())[:5000])
    with pytest.raises(ParseError, match="gzip"):
        read_ionex(path)
    three_d = [
        t.replace(
            "     2                                                      MAP DIMENSION",
            "     3                                                      MAP DIMENSION",
        )
        for t in IONEX
    ]
    with pytest.raises(ParseError, match="MAP DIMENSION 3"):
        read_ionex("\n".join(three_d))


def test_goes_not_netcdf() -> None:
    with pytest.raises(ParseError, match="not a netCDF"):
        read_goes_xrs(b"just some text\n")
    data = (SW / "goes_xrs" / "sci_xrsf-l2-avg1m_g16_d20210101_truncated.nc").read_bytes()
    with pytest.raises(ParseError):
        read_goes_xrs(data[:4000])
