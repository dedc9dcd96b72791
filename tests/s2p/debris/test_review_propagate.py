"""Review regressions for propagate/sgp4: times in every form, zero times, selection, backwards in time."""

from __future__ import annotations

import datetime as dt
import warnings

import numpy as np
import pandas as pd
import pytest
from sgp4.api import Satrec

from s2p.debris import read_tle, sgp4, sgp4_tsince
from tests.support import DATA

STATIONS = DATA / "space_debris" / "tle" / "celestrak_stations_2026-05-30.tle"
POSITION_KM = 1e-6  # agreement with python-sgp4 (the catalogue test asks 1 mm; this is a short arc)


@pytest.fixture(scope="module")
def tles():
    return read_tle(STATIONS)


@pytest.mark.parametrize("empty", [[], (), np.array([]), pd.DatetimeIndex([]), np.array([], "datetime64[s]")])
def test_zero_times_give_an_empty_time_axis(tles, empty):
    # a plain [] used to raise TypeError ("cannot interpret list of dtype float64 as UTC times")
    ds = tles.propagate(empty)
    assert ds["position"].shape == (len(tles), 0, 3)
    r, v, err = sgp4(tles, empty)
    assert r.shape == v.shape == (len(tles), 0, 3) and err.shape == (len(tles), 0)


def test_one_instant_in_every_form_gives_the_same_state(tles):
    ref = tles.propagate(np.datetime64("2026-05-31T06:00:00", "ns"))["position"].values
    forms = [
        "2026-05-31T06:00",
        dt.datetime(2026, 5, 31, 6),
        dt.datetime(2026, 5, 31, 7, tzinfo=dt.timezone(dt.timedelta(hours=1))),
        pd.Timestamp("2026-05-31T06:00"),
        pd.Timestamp("2026-05-31T08:00", tz="Europe/Paris"),
        np.datetime64("2026-05-31T06:00:00"),
        ["2026-05-31T06:00"],
        pd.DatetimeIndex(["2026-05-31T06:00Z"]),
    ]
    for form in forms:
        np.testing.assert_array_equal(tles.propagate(form)["position"].values, ref, err_msg=repr(form))
    # the raw layer keeps a scalar scalar: (N, 3) without a time axis
    r, _v, err = sgp4(tles, "2026-05-31T06:00")
    assert r.shape == (len(tles), 3) and err.shape == (len(tles),)
    np.testing.assert_array_equal(r, ref[:, 0])


def test_selection_then_propagate_backwards_across_the_epoch(tles):
    pick = tles[tles.name == "ISS (ZARYA)"]
    assert len(pick) == 1
    epoch = pick.epoch[0]
    times = epoch + np.arange(720, -721, -30).astype("timedelta64[m]")  # decreasing, crosses the epoch
    ds = pick.propagate(times)
    assert (ds["error"].values == 0).all()
    whole = tles.propagate(times)
    np.testing.assert_array_equal(
        ds["position"].values[0], whole["position"].values[list(tles.name).index("ISS (ZARYA)")]
    )
    sat = Satrec.twoline2rv(pick.line1[0], pick.line2[0])
    minutes = (times - epoch) / np.timedelta64(1, "m")
    ref = np.array([sat.sgp4_tsince(m)[1] for m in minutes])
    np.testing.assert_allclose(ds["position"].values[0], ref, atol=POSITION_KM, rtol=0)


def test_iso_strings_with_a_utc_designator_or_offset_convert_without_warnings(tles):
    ref = tles.propagate(np.datetime64("2026-05-31T06:00:00", "ns"))["position"].values
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # each call used to warn "no explicit representation of timezones"
        for form in ("2026-05-31T06:00Z", "2026-05-31T08:00+02:00", ["2026-05-31T06:00:00Z"]):
            np.testing.assert_array_equal(tles.propagate(form)["position"].values, ref, err_msg=form)


def test_sgp4_tsince_scalar_minutes_drop_the_time_axis_like_sgp4(tles):
    r, v, err = sgp4_tsince(tles, 90.0)  # used to return (N, 1, 3)
    assert r.shape == v.shape == (len(tles), 3) and err.shape == (len(tles),)
    r1, v1, err1 = sgp4_tsince(tles, [90.0])
    np.testing.assert_array_equal(r, r1[:, 0])
    np.testing.assert_array_equal(v, v1[:, 0])
    np.testing.assert_array_equal(err, err1[:, 0])
    with pytest.raises(ValueError, match="one-dimensional"):
        sgp4_tsince(tles, np.zeros((2, 2)))
