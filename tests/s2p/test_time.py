"""s2p.time against independent references: Skyfield's timescale (leap seconds, TT, TDB) and astropy-free
arithmetic on known epochs."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from skyfield.api import load

from s2p import time as st

NS_TOL_DAYS = 2e-14  # ~2 ns expressed in days: split JDs must be this exact


def test_j2000_epoch_is_exact():
    whole, frac = st.jd_utc("2000-01-01T12:00:00")
    assert whole == 2451544.5 and frac == 0.5


@pytest.mark.parametrize(
    "value",
    ["2024-05-10T17:00:00", np.datetime64("2024-05-10T17:00:00"), dt.datetime(2024, 5, 10, 17),
     dt.datetime(2024, 5, 10, 19, tzinfo=dt.timezone(dt.timedelta(hours=2))), pd.Timestamp("2024-05-10 17:00Z")],
)  # fmt: skip
def test_inputs_are_utc(value):
    assert st.to_datetime64(value) == np.datetime64("2024-05-10T17:00:00", "ns")


def test_shape_is_kept():
    t = np.array([["2020-01-01", "2021-01-01"]], dtype="datetime64[s]")
    assert st.jd_utc(t)[0].shape == (1, 2)
    assert st.to_datetime64("2020-01-01").shape == ()


def test_leap_seconds_and_tt_match_skyfield():
    ts = load.timescale(builtin=True)
    t = np.array(["1975-06-01", "1999-01-01T00:00:01", "2016-12-31T23:59:59", "2017-01-01", "2026-11-22"],
                 dtype="datetime64[ns]")  # fmt: skip
    py = [pd.Timestamp(x).to_pydatetime().replace(tzinfo=dt.UTC) for x in t]
    sf = ts.from_datetimes(py)
    whole, frac = st.jd_tt(t)
    np.testing.assert_allclose((whole - sf.whole) + (frac - sf.tt_fraction), 0.0, atol=NS_TOL_DAYS * 10)
    whole, frac = st.jd_tdb(t)
    # TDB from two periodic terms: within 30 µs of Skyfield's series.
    np.testing.assert_allclose(((whole - sf.whole) + (frac - sf.tdb_fraction)) * 86400, 0.0, atol=3e-5)


def test_round_trip_and_year_day():
    t = st.to_datetime64(["2026-05-30T12:34:56.123456789", "1957-10-04T19:28:34"])
    assert (st.from_jd(*st.jd_utc(t)) == t).all()
    # TLE epoch 26150.52400000 = day 150 of 2026 at 0.524 d.
    got = st.from_year_day(2026, 150.524)
    assert got == np.datetime64("2026-05-30T12:34:33.600", "ns")


def test_bad_input_is_a_type_error():
    with pytest.raises(TypeError):
        st.to_datetime64(np.array([1.5, 2.5]))


def test_missing_times_give_nan_not_1677():
    t = np.array(["2024-01-01", "NaT"], dtype="datetime64[ns]")
    whole, frac = st.jd_utc(t)
    assert np.isfinite(whole[0]) and np.isnan(whole[1]) and np.isnan(frac[1])
    assert np.isnan(st.mjd_utc(t)[1]) and np.isnan(st.leap_seconds(t)[1])
    assert np.isnan(st.jd_tdb(t)[1][1])
