"""OMNI2 hourly (2000) and Kyoto Dst (2006-2022): the Bastille Day storm and Dst phases."""

from __future__ import annotations

from pathlib import Path

import dask
import numpy as np
import xarray as xr

from s2p.spaceweather import dst_storms, read_dst, storms


def test_omni2_bastille_day_dst_minimum(omni_2000: xr.Dataset) -> None:
    assert omni_2000.sizes["time"] == 8784  # 2000 is a leap year
    dst = omni_2000.dst.sel(time=slice("2000-07-15", "2000-07-16"))
    # the file's lines "2000 198  0 ... -300" and "2000 198  1 ... -300": the minimum, first hour
    assert float(dst.min()) == -300.0
    assert dst.idxmin().values == np.datetime64("2000-07-16T00:00")
    assert dst.sel(time="2000-07-15T15:00").item() == 7.0  # sudden commencement (+7 nT)
    assert omni_2000.dst.attrs["units"] == "nT"


def test_omni2_fill_values_are_nan(omni_2000: xr.Dataset) -> None:
    # ">1 MeV proton flux" is 999999.99 (missing) on the first line of the file
    assert np.isnan(omni_2000.proton_flux_1mev.values[0])
    assert omni_2000.f107.values[0] == 125.6 and omni_2000.kp.values[0] == 16 / 3  # "53" = 5+
    assert np.nanmax(omni_2000.proton_temperature.values) < 9999999
    assert not np.any(omni_2000.b_avg.values == 999.9)


def test_omni2_kp_and_ap_agree_with_celestrak(omni_2000: xr.Dataset, sw_obs: xr.Dataset) -> None:
    kp3 = omni_2000.kp.isel(time=slice(0, None, 3))
    ap3 = omni_2000.ap.isel(time=slice(0, None, 3))
    c = sw_obs.kp.sel(time=kp3.time)
    assert np.array_equal(c.values, kp3.values)
    assert np.array_equal(sw_obs.ap.sel(time=ap3.time).values, ap3.values)


def test_bastille_day_phases_and_storms(omni_2000: xr.Dataset) -> None:
    table = dst_storms(omni_2000.dst, threshold_nT=-250)
    row = table[table.minimum_time == np.datetime64("2000-07-16T00:00")]
    assert len(row) == 1
    r = row.iloc[0]
    assert r.min_dst == -300 and r.category == "super"
    assert r.onset == np.datetime64("2000-07-15T15:00")  # last quiet hour: the +7 nT commencement
    assert r.main_phase_hours == 9
    assert np.datetime64("2000-07-17") < r.recovery_end < np.datetime64("2000-07-21")
    # and Kp sees it as a G5 storm
    g = storms(omni_2000.kp.isel(time=slice(0, None, 3)))
    hit = g[(g.start <= np.datetime64("2000-07-15T18")) & (g.end > np.datetime64("2000-07-15T18"))]
    assert len(hit) == 1 and hit.g_scale.iloc[0] == 5


def test_dst_storms_numpy_and_dask(omni_2000: xr.Dataset) -> None:
    d = omni_2000.dst
    ref = dst_storms(d, threshold_nT=-100)
    assert ref.equals(dst_storms(d.chunk({"time": 1000}), threshold_nT=-100))
    raw = dst_storms(d.values, d.time.values, threshold_nT=-100)
    assert raw.equals(ref)
    assert (ref.min_dst <= -100).all() and (ref.onset <= ref.minimum_time).all()


def test_kyoto_dst_wdc(sw_dir: Path) -> None:
    ds = read_dst(sw_dir / "dst" / "WDC_Kyoto_Dst_2006-2022.dat")
    assert ds.sizes["date"] == 6209 and ds.sizes["time"] == 6209 * 24
    # first line: "DST0601*01  X220   0 -19 -12 ..." -> 2006-01-01 00h = -19 nT
    assert ds.dst.values[0] == -19 and ds.time.values[0] == np.datetime64("2006-01-01T00:00")
    # St Patrick's Day storm 2015: the deepest of the record, -234 nT at 22 UT on 17 March
    assert float(ds.dst.min()) == -234 and ds.dst.idxmin().values == np.datetime64("2015-03-17T22:00")
    # the daily mean column is the rounded mean of the hours
    assert np.abs(ds.dst.values.reshape(-1, 24).mean(axis=1) - ds.dst_daily_mean.values).max() <= 0.5
    assert set(np.unique(ds.version.values)) == {1.0, 2.0}  # final until 2016, provisional after
    table = dst_storms(ds.dst.chunk({"time": 24 * 365}), threshold_nT=-150)
    # the intense storms of the record; the two-step storms of Dec 2006 and Dec 2015 count once
    expected = ["2006-12-15 07", "2015-03-17 22", "2015-06-23 04", "2015-12-20 22", "2018-08-26 07"]
    assert list(table.minimum_time.dt.strftime("%Y-%m-%d %H")) == expected
    assert table.min_dst.tolist() == [-162, -234, -198, -166, -176]
    assert dask.is_dask_collection(ds.dst.chunk({"time": 100}))
