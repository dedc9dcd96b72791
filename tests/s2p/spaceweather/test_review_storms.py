"""Review regression: storms() and dst_storms() on a pandas Series report times from its DatetimeIndex."""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from s2p.spaceweather import dst_storms, read_omni2, storms
from tests.support import DATA

# Kp of 10-11 May 2024 (the G5 "Gannon" storm), 3-hourly from 2024-05-10 00:00 UTC, rounded to thirds
KP = [3.0, 3.333, 4.0, 5.0, 6.667, 8.0, 9.0, 9.0, 8.667, 8.667, 8.333, 7.0, 5.333, 4.0, 3.0, 2.0]
TIMES = pd.date_range("2024-05-10", periods=len(KP), freq="3h")


def test_series_with_a_datetime_index_gives_times_like_a_dataarray():
    ref = storms(xr.DataArray(KP, coords={"time": TIMES}, dims="time"))
    assert len(ref) == 1 and ref["start"][0] == pd.Timestamp("2024-05-10T09:00")
    got = storms(pd.Series(KP, index=TIMES))  # used to report sample indices 3 .. 12
    pd.testing.assert_frame_equal(got, ref)
    aware = storms(pd.Series(KP, index=TIMES.tz_localize("UTC").tz_convert("Asia/Tokyo")))
    pd.testing.assert_frame_equal(aware, ref)


def test_times_given_beside_a_numpy_array_may_be_time_zone_aware():
    ref = storms(np.array(KP), times=TIMES.values)
    pd.testing.assert_frame_equal(storms(np.array(KP), times=TIMES.tz_localize("UTC")), ref)
    assert ref["end"][0] == pd.Timestamp("2024-05-11T15:00")


def test_dst_storms_on_a_series_gives_times_like_a_dataarray():
    # Bastille Day 2000 from the shipped OMNI2 file: the Series form used to report sample indices
    dst = read_omni2(DATA / "space_weather" / "omni" / "omni2_2000.dat")["dst"].sel(
        time=slice("2000-07-13", "2000-07-19")
    )
    ref = dst_storms(dst)
    assert (ref["onset"].dt.year == 2000).all()
    pd.testing.assert_frame_equal(dst_storms(dst.to_series()), ref)
    aware = dst.to_series().tz_localize("UTC").tz_convert("America/Denver")
    pd.testing.assert_frame_equal(dst_storms(aware), ref)
