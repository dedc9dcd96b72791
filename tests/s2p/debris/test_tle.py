"""read_tle: every shipped CelesTrak file, 2- and 3-line forms, Alpha-5, selection, and malformed input."""

from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from s2p import ParseError
from s2p.debris import TLESet, read_tle
from s2p.debris.tle import alpha5_to_int, checksum
from tests.support import DATA

TLE_DIR = DATA / "space_debris" / "tle"
TLE_FILES = sorted(TLE_DIR.glob("*.tle"))
ISS = (
    "ISS (ZARYA)\n"
    "1 25544U 98067A   26150.51748228  .00011776  00000+0  21767-3 0  9998\n"
    "2 25544  51.6337  27.5746 0007245 114.7080 245.4664 15.49496548569014\n"
)
L0, L1, L2 = ISS.splitlines()


def _with_checksum(line: str) -> str:
    return line[:68] + str(checksum(line))


@pytest.mark.parametrize("path", TLE_FILES, ids=[p.stem for p in TLE_FILES])
def test_reads_every_shipped_celestrak_file(path):
    tles = read_tle(path)
    n_lines = sum(1 for ln in path.read_text().splitlines() if ln.strip())
    assert len(tles) == n_lines // 3  # CelesTrak's 3-line format
    assert tles.rejected == []
    assert np.all(tles.norad_id > 0)
    assert tles.epoch.dtype == np.dtype("datetime64[ns]")
    assert np.all((tles.eccentricity >= 0) & (tles.eccentricity < 1))
    assert all(name and name == name.strip() for name in tles.name)


def test_fields_of_a_known_record():
    tles = read_tle(ISS)
    assert len(tles) == 1
    assert tles.norad_id[0] == 25544
    assert tles.name[0] == "ISS (ZARYA)"
    assert tles.intl_designator[0] == "98067A"
    # 2026 day 150.51748228 = 30 May + 44710.468992 s (1e-8 day = 864 µs: exact in ns)
    assert tles.epoch[0] == np.datetime64("2026-05-30T12:25:10.468992", "ns")
    assert tles.inclination_deg[0] == 51.6337
    assert tles.raan_deg[0] == 27.5746
    assert tles.eccentricity[0] == 0.0007245
    assert tles.arg_perigee_deg[0] == 114.7080
    assert tles.mean_anomaly_deg[0] == 245.4664
    assert tles.mean_motion_rev_per_day[0] == 15.49496548
    assert tles.rev_number[0] == 56901
    assert tles.bstar[0] == pytest.approx(0.21767e-3, rel=1e-15)
    assert tles.ndot[0] == 0.00011776
    assert tles.element_number[0] == 999


def test_two_line_three_line_zero_name_file_object_and_path_agree(tmp_path):
    two = read_tle(f"{L1}\n{L2}\n")
    three = read_tle(ISS)
    zero = read_tle(f"0 {L0}\n{L1}\n{L2}\n")
    fobj = read_tle(io.StringIO(ISS))
    binary = read_tle(io.BytesIO(ISS.encode()))
    p = tmp_path / "iss.tle"
    p.write_text(ISS.replace("\n", "\r\n"))
    from_path = read_tle(p)
    from_str_path = read_tle(str(p))
    assert two.name[0] == ""
    for other in (three, zero, fobj, binary, from_path, from_str_path):
        assert other.name[0] == "ISS (ZARYA)"
        assert other.norad_id[0] == two.norad_id[0]
        assert other.epoch[0] == two.epoch[0]
    assert from_path.source == str(p)


def test_alpha5_catalogue_numbers():
    assert alpha5_to_int("00005") == 5
    assert alpha5_to_int("A0000") == 100000
    assert alpha5_to_int("E8493") == 148493
    assert alpha5_to_int("J2931") == 182931  # I is skipped
    assert alpha5_to_int("P0000") == 230000  # O is skipped
    assert alpha5_to_int("Z9999") == 339999
    a1 = _with_checksum(L1[:2] + "E8493" + L1[7:])
    a2 = _with_checksum(L2[:2] + "E8493" + L2[7:])
    assert read_tle(f"{a1}\n{a2}\n").norad_id[0] == 148493
    with pytest.raises(ValueError):
        alpha5_to_int("I0000")


def test_selection_by_mask_index_and_slice():
    tles = read_tle(TLE_DIR / "celestrak_stations_2026-05-30.tle")
    sub = tles[tles.norad_id == 25544]
    assert isinstance(sub, TLESet) and len(sub) == 1 and sub.name[0] == "ISS (ZARYA)"
    assert list(tles[[2, 0]].norad_id) == [tles.norad_id[2], tles.norad_id[0]]
    assert len(tles[3:7]) == 4
    assert tles[1].norad_id[0] == tles.norad_id[1]


def _bad(text: str, fault: str, line: int):
    with pytest.raises(ParseError) as info:
        read_tle(text)
    assert info.value.line == line, str(info.value)
    assert fault in info.value.reason, str(info.value)
    assert info.value.source == "<text>"
    return info.value


def test_malformed_input_names_line_and_fault():
    _bad(f"{L0}\n{L1[:50]}\n{L2}\n", "columns", 2)  # truncated line 1
    _bad(f"{L0}\n{L1}\n{L2[:60]}\n", "columns", 3)  # truncated line 2
    _bad(f"{L0}\n{L1[:68]}7\n{L2}\n", "checksum", 2)
    _bad(f"{L0}\n{L1}\n{L2[:68]}0\n", "checksum", 3)
    non_numeric = _with_checksum(L2[:8] + " 51.6X37" + L2[16:])
    _bad(f"{L0}\n{L1}\n{non_numeric}\n", "inclination", 3)
    other_sat = _with_checksum(L2[:2] + "25545" + L2[7:])
    _bad(f"{L0}\n{L1}\n{other_sat}\n", "differs", 3)
    _bad(f"{L0}\n{L1}\n", "missing line 2", 3)
    _bad(f"{L0}\n{L1}\n{L0}\n{L1}\n{L2}\n", "missing line 2", 3)
    _bad(f"{L2}\n", "line 2 without", 1)


def test_skip_collects_rejected_records():
    text = f"{ISS}{L0}\n{L1[:68]}7\n{L2}\n{ISS}"
    tles = read_tle(text, errors="skip")
    assert len(tles) == 2
    assert len(tles.rejected) == 1
    line, reason, bad = tles.rejected[0]
    assert line == 5 and "checksum" in reason and bad.startswith("1 25544")
    with pytest.raises(ParseError, match="line 5"):
        read_tle(text)


def test_file_errors_name_the_file(tmp_path):
    p = tmp_path / "broken.tle"
    p.write_text(f"{L0}\n{L1[:68]}7\n{L2}\n")
    with pytest.raises(ParseError) as info:
        read_tle(p)
    assert info.value.source == str(p) and info.value.line == 2
    assert str(p) in str(info.value)


_REAL_LINES = [ln for ln in (TLE_DIR / "celestrak_weather_2026-05-30.tle").read_text().splitlines()]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    record=st.integers(min_value=0, max_value=len(_REAL_LINES) // 3 - 1),
    edits=st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=2),  # which line of the record
            st.integers(min_value=0, max_value=75),  # column
            st.sampled_from(["replace", "delete", "insert", "truncate"]),
            st.characters(codec="utf-8", exclude_categories=("Cs",)),
        ),
        min_size=1,
        max_size=4,
    ),
)
def test_random_corruptions_raise_parse_error_or_parse_valid_records(record, edits):
    lines = list(_REAL_LINES[3 * record : 3 * record + 3])
    for which, col, op, ch in edits:
        s = lines[which]
        col = min(col, len(s))
        if op == "replace":
            s = s[:col] + ch + s[col + 1 :]
        elif op == "delete":
            s = s[:col] + s[col + 1 :]
        elif op == "insert":
            s = s[:col] + ch + s[col:]
        else:
            s = s[:col]
        lines[which] = s
    text = "\n".join(lines) + "\n"
    try:
        tles = read_tle(text)
    except ParseError as exc:
        assert exc.line is not None or "no element sets" in exc.reason
        return
    for a, b in zip(tles.line1, tles.line2, strict=True):
        assert checksum(a) == int(a[68]) and checksum(b) == int(b[68])
    # a parsed record can always be propagated without a Python exception
    from s2p.debris import sgp4

    r, v, err = sgp4(tles, tles.epoch[:1])
    assert r.shape == (len(tles), 1, 3)
