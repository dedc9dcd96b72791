"""Review regression: storms() on a pandas Series reports times from its DatetimeIndex, as on xarray."""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from s2p.spaceweather import storms

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
