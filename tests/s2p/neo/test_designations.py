"""MPC packed designations and dates."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from s2p import DataNotFoundError, neo


@pytest.mark.parametrize(
    ("packed", "readable"),
    [
        ("00433", "433"),
        ("A0001", "100001"),
        ("h0804", "430804"),
        ("~0000", "620000"),
        ("~000z", "620061"),
        ("K19E01E", "2019 EE1"),
        ("K12V19Z", "2012 VZ19"),
        ("K19F00D", "2019 FD"),
        ("J98Q55S", "1998 QS55"),
        ("K07Tc8A", "2007 TA388"),
        ("PLS6344", "6344 P-L"),
        ("T1S3138", "3138 T-1"),
    ],
)
def test_known_designations(packed: str, readable: str) -> None:
    assert neo.unpack_designation(packed) == readable
    assert neo.pack_designation(readable) == packed


@given(st.integers(1, 15_396_335))
def test_number_round_trip(n: int) -> None:
    assert neo.unpack_designation(neo.pack_designation(str(n))) == str(n)


@given(
    st.integers(1800, 2199),
    st.sampled_from("ABCDEFGHJKLMNOPQRSTUVWXY"),
    st.sampled_from("ABCDEFGHJKLMNOPQRSTUVWXYZ"),
    st.integers(0, 619),
)
def test_provisional_round_trip(year: int, half: str, letter: str, cycle: int) -> None:
    readable = f"{year} {half}{letter}{cycle if cycle else ''}"
    assert neo.unpack_designation(neo.pack_designation(readable)) == readable


def test_packed_dates() -> None:
    assert neo.unpack_epoch("K1972") == np.datetime64("2019-07-02")
    assert neo.unpack_epoch("J9611") == np.datetime64("1996-01-01")
    assert neo.unpack_epoch("K24AV5") == np.datetime64("2024-10-31T12:00")
    for bad in ("Z1972", "K19D2", "K1900", "K19"):
        with pytest.raises(ValueError):
            neo.unpack_epoch(bad)


def test_missing_file_is_reported_as_such() -> None:
    with pytest.raises(DataNotFoundError):
        neo.read_mpcorb("data/planetary_defence/orbits/no_such_file.txt")
