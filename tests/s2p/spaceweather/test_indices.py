"""Kp <-> ap, G-scale, storm episodes; numpy, xarray and dask-backed xarray alike."""

from __future__ import annotations

from pathlib import Path

import dask
import numpy as np
import pytest
import xarray as xr

from s2p.spaceweather import KP_AP_TABLE, ap_to_kp, daily_ap, g_scale, kp_thirds, kp_to_ap, storms

# Every Kp = 9o (written "90") interval of the observed record of SW-All, read from the text by
# hand (grep), grouped into the storm episodes that contain them. They include the three G5 events
# that NOAA SWPC cites: 13-14 March 1989, 29-31 October 2003 ("Halloween") and 10-11 May 2024
# ("Gannon"), and the Bastille Day storm of 15 July 2000.
G5_EPISODES = [
    ("1958-02-11T00", "1958-02-12T12"),
    ("1958-07-08T06", "1958-07-09T18"),
    ("1959-07-15T03", "1959-07-16T06"),
    ("1960-04-30T00", "1960-05-01T09"),
    ("1960-10-05T21", "1960-10-08T03"),
    ("1960-11-12T12", "1960-11-14T09"),
    ("1967-05-25T09", "1967-05-26T15"),
    ("1970-03-08T03", "1970-03-09T06"),
    ("1972-08-04T18", "1972-08-06T21"),
    ("1982-07-13T15", "1982-07-15T06"),
    ("1986-02-07T09", "1986-02-09T21"),
    ("1989-03-13T00", "1989-03-15T12"),
    ("2000-07-15T12", "2000-07-16T06"),
    ("2003-10-29T06", "2003-10-31T18"),
    ("2024-05-10T15", "2024-05-12T06"),
]


def test_kp_ap_table_round_trip() -> None:
    kp = np.arange(28) / 3
    assert np.array_equal(kp_to_ap(kp), KP_AP_TABLE)
    assert np.allclose(ap_to_kp(KP_AP_TABLE), kp, rtol=0, atol=1e-12)
    # the decimal notations in circulation map to the same ap
    assert kp_to_ap(4.333) == 32 and kp_to_ap(4.3) == 32 and kp_to_ap(13 / 3) == 32
    assert kp_to_ap(8.667) == 300 and kp_to_ap(9.0) == 400
    assert np.isnan(kp_to_ap(np.nan)) and np.isnan(kp_to_ap(9.5))
    assert ap_to_kp(30.0) == pytest.approx(4 + 1 / 3 * 3 / 5)  # between 27 (4o) and 32 (4+)


def test_g_scale_boundaries() -> None:
    # NOAA: G1 = Kp 5 (5- included), G2 = 6, G3 = 7, G4 = 8 including 9-, G5 = 9
    kp = np.array(
        [4 + 1 / 3, 4 + 2 / 3, 5, 5 + 1 / 3, 5 + 2 / 3, 6 + 2 / 3, 7 + 2 / 3, 8, 8 + 2 / 3, 9, np.nan]
    )
    assert np.array_equal(g_scale(kp), [0, 1, 1, 1, 2, 3, 4, 4, 4, 5, np.nan], equal_nan=True)
    assert g_scale(9.0) == 5 and g_scale(0) == 0


def test_storms_finds_exactly_the_g5_episodes_of_sw_all(sw_obs: xr.Dataset) -> None:
    table = storms(sw_obs.kp)
    g5 = table[table.g_scale == 5]
    got = [(str(s)[:13], str(e)[:13]) for s, e in zip(g5.start, g5.end, strict=True)]
    assert got == [(s.replace("T", " "), e.replace("T", " ")) for s, e in G5_EPISODES]
    assert (g5.max_kp == 9.0).all()
    # each episode holds a Kp 9o and every interval of it is at least G1
    for s, e in G5_EPISODES:
        seg = sw_obs.kp.sel(time=slice(s, np.datetime64(e) - np.timedelta64(3, "h")))
        assert seg.max() == 9.0 and (g_scale(seg.values) >= 1).all()
    # and every Kp 9o of the record lies in one of them
    nines = sw_obs.time.values[sw_obs.kp.values == 9.0]
    inside = np.zeros(nines.size, bool)
    for s, e in G5_EPISODES:
        inside |= (nines >= np.datetime64(s)) & (nines < np.datetime64(e))
    assert inside.all()


def test_storms_on_the_whole_record_including_predictions(sw_txt: xr.Dataset) -> None:
    table = storms(sw_txt.kp)  # observed + 45 days of daily predictions
    g5 = table[table.g_scale == 5]
    assert [str(s)[:13].replace(" ", "T") for s in g5.start] == [s for s, _ in G5_EPISODES]


def test_storms_on_raw_text_nines(sw_dir: Path) -> None:
    """Independent of the reader: the 9o intervals straight from the text lines."""
    nines = []
    text = (sw_dir / "SW-All.txt").read_text().split("BEGIN OBSERVED")[1].split("END OBSERVED")[0]
    for line in text.splitlines():
        if line.strip():
            for k in range(8):
                if line[18 + 3 * k : 21 + 3 * k].strip() == "90":
                    nines.append(
                        np.datetime64(f"{line[0:4]}-{line[5:7]}-{line[8:10]}T00") + np.timedelta64(3 * k, "h")
                    )
    assert len(nines) == 22
    for t in nines:
        assert any(np.datetime64(s) <= t < np.datetime64(e) for s, e in G5_EPISODES)


def test_storms_without_times_and_with_gaps() -> None:
    kp = np.array([1, 5, 6, 9, 3, 5, np.nan, 5.0])
    table = storms(kp)
    assert table.start.tolist() == [1, 5, 7] and table.end.tolist() == [4, 6, 8]
    assert table.g_scale.tolist() == [5, 1, 1] and table.peak_time.tolist() == [3, 5, 7]
    times = np.datetime64("2024-01-01") + np.array([0, 3, 6, 9, 12, 15, 18, 24], "timedelta64[h]")
    gap = storms(np.array([1, 5, 5, 1, 1, 1, 5, 5.0]), times)
    # the 6-hour step between the last two intervals (a missing interval) splits the second run
    assert gap.n_intervals.tolist() == [2, 1, 1]
    assert gap.end.iloc[1] == np.datetime64("2024-01-01T21:00")


@pytest.mark.parametrize(
    "func",
    [g_scale, kp_to_ap, ap_to_kp, kp_thirds],
    ids=["g_scale", "kp_to_ap", "ap_to_kp", "kp_thirds"],
)
def test_elementwise_numpy_xarray_dask(func, sw_obs: xr.Dataset) -> None:  # type: ignore[no-untyped-def]
    kp = sw_obs.kp.isel(time=slice(0, 20000))
    x = kp if func is not ap_to_kp else sw_obs.ap.isel(time=slice(0, 20000))
    ref = func(x.values)
    as_xr = func(x)
    lazy = func(x.chunk({"time": 4096}))
    assert isinstance(as_xr, xr.DataArray) and as_xr.dims == ("time",)
    assert dask.is_dask_collection(lazy)  # nothing computed yet
    assert np.array_equal(as_xr.values, ref, equal_nan=True)
    assert np.array_equal(lazy.compute().values, ref, equal_nan=True)
    assert "long_name" in as_xr.attrs


def test_daily_ap_and_storms_accept_xarray_and_dask(sw_obs: xr.Dataset) -> None:
    ap = sw_obs.ap.isel(time=slice(0, 8 * 1000))
    ref = sw_obs.ap_daily.isel(date=slice(0, 1000)).values
    lazy = daily_ap(ap.chunk({"time": 800}))
    assert dask.is_dask_collection(lazy)
    assert np.array_equal(lazy.compute().values, ref)
    assert np.array_equal(daily_ap(ap).values, ref)
    assert np.array_equal(daily_ap(ap).date.values, sw_obs.date.values[:1000])
    kp = sw_obs.kp.sel(time=slice("1989-03-01", "1989-03-31"))
    assert storms(kp.chunk({"time": 50})).equals(storms(kp))
