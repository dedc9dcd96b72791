"""CelesTrak SW-All: the file's own derived columns recomputed from its raw columns."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from s2p.spaceweather import centred_average, daily_ap, f107_centred_average, kp_to_ap, read_celestrak
from s2p.spaceweather._reference import centred_mean_pandas

# The file gives the 81-day averages to 0.1 sfu, so a correct mean differs by at most 0.05 sfu
# (plus float noise); the acceptance bound is the 0.1 sfu.
CTR81_TOL_SFU = 0.1
ROUNDING_OF_FILE_SFU = 0.05 + 1e-9


def test_ctr81_matches_file_where_window_complete(sw_obs: xr.Dataset) -> None:
    mine = f107_centred_average(sw_obs.f107_obs)
    # the window is complete only where all 81 days are observed days of the file
    dates = sw_obs.date.values
    spaced = np.diff(dates) == np.timedelta64(1, "D")
    assert spaced.all(), "observed days must be contiguous for a sample window to be an 81-day window"
    diff = np.abs(mine.values - sw_obs.f107_obs_ctr81.values)
    complete = np.isfinite(mine.values)
    assert complete.sum() == sw_obs.sizes["date"] - 80
    assert diff[complete].max() <= CTR81_TOL_SFU
    assert diff[complete].max() <= ROUNDING_OF_FILE_SFU  # in fact: exact to the file's rounding
    # and the window really is centred: shifting it by one day breaks the agreement
    shifted = np.abs(np.roll(mine.values, 1) - sw_obs.f107_obs_ctr81.values)[complete][1:]
    assert np.nanmax(shifted) > 1.0


def test_daily_ap_from_eight_ap_matches_every_observed_day(sw_obs: xr.Dataset) -> None:
    ap8 = sw_obs.ap.values.reshape(-1, 8)
    mine = daily_ap(ap8.ravel())
    assert mine.shape == sw_obs.ap_daily.shape
    mismatch = np.flatnonzero(mine != sw_obs.ap_daily.values)
    assert mismatch.size == 0, sw_obs.date.values[mismatch[:5]]
    # the provider rounds halves to even: about 3,100 days have a .5 mean, half of them round down
    halves = np.flatnonzero(ap8.mean(axis=1) % 1 == 0.5)
    assert halves.size > 3000
    assert (sw_obs.ap_daily.values[halves] < ap8.mean(axis=1)[halves]).sum() > 1000


def test_three_hourly_ap_is_the_table_value_of_kp(sw_obs: xr.Dataset) -> None:
    assert np.array_equal(kp_to_ap(sw_obs.kp.values), sw_obs.ap.values)


def test_text_and_csv_forms_agree_on_common_observed_days(sw_txt: xr.Dataset, sw_csv: xr.Dataset) -> None:
    # The two shipped files are different vintages (2025-07-21 and 2026-05-16): CelesTrak revises
    # preliminary values (sunspot number, newest Kp) for a few months, so compare up to 2025-03-31.
    obs_t = sw_txt.date.values[sw_txt.data_type.values == "OBS"]
    common = np.intersect1d(obs_t, sw_csv.date.values[sw_csv.data_type.values != "PRM"])
    common = common[common <= np.datetime64("2025-03-31")]
    assert common.size > 24000
    variables = (
        "ap_daily",
        "f107_obs",
        "f107_adj",
        "f107_obs_ctr81",
        "f107_adj_lst81",
        "isn",
        "cp",
        "c9",
        "kp_sum",
    )
    for var in variables + ("bsrn", "nd"):
        a = sw_txt[var].sel(date=common).values
        b = sw_csv[var].sel(date=common).values
        assert np.array_equal(a, b), var
    kt = sw_txt.kp.sel(time=slice(common[0], common[-1] + np.timedelta64(21, "h")))
    assert kt.size == 8 * common.size
    assert np.array_equal(kt.values, sw_csv.kp.sel(time=kt.time).values)


def test_structure_units_and_sentinels(sw_txt: xr.Dataset) -> None:
    assert sw_txt.kp.dims == ("time",) and sw_txt.f107_obs.dims == ("date",)
    # 1957-10-01: Kp 4+ 4o 3o 2o 4- 2+ 4+ 4-
    assert np.allclose(
        sw_txt.kp.values[:8], [13 / 3, 4, 3, 2, 11 / 3, 7 / 3, 13 / 3, 11 / 3], atol=0, rtol=1e-15
    )
    assert sw_txt.time.values[1] - sw_txt.time.values[0] == np.timedelta64(3, "h")
    assert sw_txt.f107_obs.attrs["units"] == "sfu" and sw_txt.kp.attrs["units"] == "1"
    for var in sw_txt.data_vars:
        assert "long_name" in sw_txt[var].attrs, var
    assert "celestrak" in sw_txt.attrs["source"].lower() and "license" in sw_txt.attrs
    types = set(np.unique(sw_txt.data_type.values))
    assert types == {"OBS", "PRD", "PRM"}
    prm = sw_txt.data_type.values == "PRM"
    assert np.isnan(sw_txt.ap_daily.values[prm]).all()  # monthly predictions have no Ap: NaN, not 0
    assert np.isfinite(sw_txt.f107_obs.values[prm]).all()
    assert sw_txt.date.values[-1] == np.datetime64("2041-10-01")


def test_observed_only_drops_predictions(sw_dir: Path) -> None:
    obs = read_celestrak((sw_dir / "SW-All.txt").read_bytes(), observed_only=True)
    assert obs.sizes["date"] == 24765  # NUM_OBSERVED_POINTS of the file
    assert obs.sizes["time"] == 8 * 24765
    assert str(obs.date.values[-1])[:10] == "2025-07-20"


def test_centred_average_numpy_xarray_dask_agree(sw_txt: xr.Dataset) -> None:
    f = sw_txt.f107_obs.isel(date=slice(0, 3000))
    ref = centred_mean_pandas(f.values, 81)
    as_numpy = centred_average(f.values)
    as_xr = centred_average(f)
    lazy = centred_average(f.chunk({"date": 500}))
    assert lazy.chunks is not None  # still lazy
    for got in (as_numpy, as_xr.values, lazy.compute().values):
        assert np.allclose(got, ref, rtol=0, atol=1e-9, equal_nan=True)


def test_last5years_files_agree_with_sw_all(sw_dir: Path, sw_txt: xr.Dataset, sw_csv: xr.Dataset) -> None:
    for path, full in (
        (sw_dir / "SW-Last5Years.txt", sw_txt),
        (sw_dir / "celestrak_csv" / "SW-Last5Years.csv", sw_csv),
    ):
        five = read_celestrak(path)
        assert str(five.date.values[0])[:10] == "2021-01-01"
        observed = np.isin(five.data_type.values, ["OBS", "INT"])
        common = np.intersect1d(five.date.values[observed], full.date.values)
        common = common[common <= np.datetime64("2025-03-31")]  # before the preliminary months
        assert common.size == 1551
        for var in ("ap_daily", "f107_obs", "f107_obs_ctr81", "isn", "kp_sum"):
            assert np.array_equal(five[var].sel(date=common).values, full[var].sel(date=common).values), var
