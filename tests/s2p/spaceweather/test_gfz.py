"""GFZ Kp/Hpo files, and agreement of CelesTrak's Kp/ap with GFZ's (the producer of Kp)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from s2p.spaceweather import daily_ap, kp_to_ap, read_gfz_kp

# GFZ writes Kp with three decimals (4.333), CelesTrak as tenths of thirds (43): after rounding to
# thirds they agree exactly; before, the difference is GFZ's rounding, at most 0.0005.
KP_DECIMALS_TOL = 5e-4


def _overlap(a: xr.DataArray, b: xr.DataArray) -> tuple[np.ndarray, np.ndarray]:
    a2, b2 = xr.align(a, b)
    return a2.values, b2.values


def test_celestrak_and_gfz_agree_2006_2022(
    sw_obs: xr.Dataset, gfz_2006_2022: xr.Dataset, sw_dir: Path
) -> None:
    c, g = _overlap(sw_obs.kp, gfz_2006_2022.kp)
    assert c.size == 8 * 6209  # every three-hour interval of 2006-2022
    assert np.abs(c - g).max() <= KP_DECIMALS_TOL
    assert np.array_equal(kp_to_ap(c), kp_to_ap(g))
    ap_gfz = read_gfz_kp(sw_dir / "gfz" / "GFZ_Potsdam_Ap_2006-2022.csv")
    c_ap, g_ap = _overlap(sw_obs.ap_daily, ap_gfz.ap_daily)
    assert c_ap.size == 6209 and np.array_equal(c_ap, g_ap)


def test_celestrak_and_gfz_agree_january_2024(sw_obs: xr.Dataset, sw_dir: Path) -> None:
    g = read_gfz_kp(sw_dir / "gfz" / "Kp_ap_Ap_SN_F107_since_2024.txt")
    assert (g.definitive.values >= 1).all()
    c, k = _overlap(sw_obs.kp, g.kp)
    assert c.size == 31 * 8 and np.abs(c - k).max() <= KP_DECIMALS_TOL
    for var in ("ap", "ap_daily", "f107_obs", "f107_adj"):
        a, b = _overlap(sw_obs[var], g[var])
        assert np.array_equal(a, b), var


def test_nowcast_missing_values_and_definitive_days(sw_obs: xr.Dataset, sw_dir: Path) -> None:
    g = read_gfz_kp(sw_dir / "gfz" / "Kp_ap_Ap_SN_F107_nowcast.txt")
    # the last line carries -1.000 / -1 / -1.0 for the intervals not yet observed
    assert np.isnan(g.kp.values[-2:]).all() and np.isnan(g.ap.values[-2:]).all()
    assert np.isnan(g.ap_daily.values[-1]) and np.isnan(g.f107_obs.values[-1])
    assert g.sn.values[-1] == 135
    # days that were already definitive in the nowcast file agree with CelesTrak
    definitive_days = g.date.values[g.definitive.values >= 1]
    assert definitive_days.size > 0
    sel = np.isin(g.time.values.astype("datetime64[D]"), definitive_days.astype("datetime64[D]"))
    c, k = _overlap(sw_obs.kp, g.kp.isel(time=sel))
    assert np.abs(c - k).max() <= KP_DECIMALS_TOL
    # GFZ's own daily Ap is the rounded mean of its eight ap
    full = np.isfinite(g.ap_daily.values)
    assert np.array_equal(daily_ap(g.ap.values)[full], g.ap_daily.values[full])


def test_hpo_files(sw_dir: Path) -> None:
    h30 = read_gfz_kp(sw_dir / "gfz" / "Hp30_ap30_complete_series.txt")
    h60 = read_gfz_kp(sw_dir / "gfz" / "Hp60_ap60_complete_series.txt")
    assert h30.sizes["time"] == 1488 and h60.sizes["time"] == 744
    assert h30.time.values[1] - h30.time.values[0] == np.timedelta64(30, "m")
    assert h60.time.values[1] - h60.time.values[0] == np.timedelta64(60, "m")
    assert str(h30.time.values[0]).startswith("2025-06-17T00:00")
    # ap30 follows Hp30 by the Kp table where Hp30 is within the Kp range
    inside = h30.hp30.values <= 9
    assert np.array_equal(kp_to_ap(h30.hp30.values[inside]), h30.ap30.values[inside])
    assert h30.hp30.attrs["long_name"].startswith("half-hourly") and "CC BY 4.0" in h30.attrs["license"]
