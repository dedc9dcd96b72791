"""Flare detection on XRS-B series (``s2p.spaceweather.flares``): shipped GOES data and constructed runs."""

from __future__ import annotations

import numpy as np
import pandas as pd

from s2p import spaceweather as sw
from tests.support import DATA


def test_the_c2_flare_of_the_goes15_sample() -> None:
    xrs = sw.read_goes_xrs(
        DATA / "space_weather" / "goes_xrs" / "sci_gxrs-l2-irrad_g15_d20131028_truncated.nc"
    )
    found = sw.flares(xrs.xrsb_flux)
    assert len(found) == 1
    row = found.iloc[0]
    peak = int(np.nanargmax(xrs.xrsb_flux.values))
    assert row.flare_class == "C2.3" and row.peak_time == xrs.time.values[peak]
    assert row.peak_flux_wm2 == float(xrs.xrsb_flux.values[peak])
    above = xrs.time.values[xrs.xrsb_flux.values >= 1e-6]
    assert row.start == above[0] and row.end == above[-1]
    # a higher threshold finds nothing, a lower one (B5) finds at least this one
    assert sw.flares(xrs.xrsb_flux, threshold="C5.0").empty
    assert len(sw.flares(xrs.xrsb_flux, threshold=5e-7)) >= 1


def test_quiet_samples_have_no_flare_above_c1() -> None:
    xrs = sw.read_goes_xrs(
        DATA / "space_weather" / "goes_xrs" / "sci_xrsf-l2-avg1m_g16_d20210101_truncated.nc"
    )
    assert sw.flares(xrs.xrsb_flux).empty
    assert list(sw.flares(xrs.xrsb_flux).columns) == [
        "start",
        "peak_time",
        "end",
        "peak_flux_wm2",
        "flare_class",
        "n_samples",
    ]


def test_runs_closer_than_the_merge_gap_are_one_flare() -> None:
    t = np.datetime64("2024-05-14T00:00") + np.arange(120) * np.timedelta64(1, "m")
    flux = np.full(120, 2e-7)
    flux[10:20] = 3e-6  # C3
    flux[25:30] = 1.2e-4  # X1.2, 5 min after the first run
    flux[70:75] = 5e-6  # C5, 40 min later
    found = sw.flares(pd.Series(flux, index=pd.DatetimeIndex(t)))
    assert found.flare_class.tolist() == ["X1.2", "C5.0"]
    assert found.start.iloc[0] == t[10] and found.end.iloc[0] == t[29] and found.peak_time.iloc[0] == t[25]
    assert sw.flares(flux, t, merge_minutes=2).flare_class.tolist() == ["C3.0", "X1.2", "C5.0"]
