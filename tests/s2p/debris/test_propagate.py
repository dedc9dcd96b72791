"""The public propagation layer: shapes, labels, time handling and the TLESet method."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from s2p.debris import ERROR_CODES, propagate, read_tle, sgp4, sgp4_tsince
from tests.support import DATA

STATIONS = DATA / "space_debris" / "tle" / "celestrak_stations_2026-05-30.tle"


def test_propagate_dataset_is_labelled():
    tles = read_tle(STATIONS)[:3]
    times = tles.epoch.max() + np.arange(0, 60, 10).astype("timedelta64[m]")
    ds = tles.propagate(times)
    assert ds["position"].dims == ("norad_id", "time", "axis")
    assert ds["position"].shape == (3, 6, 3)
    assert ds["error"].dims == ("norad_id", "time")
    assert list(ds["axis"].values) == ["x", "y", "z"]
    assert ds["position"].attrs["units"] == "km" and ds["velocity"].attrs["units"] == "km/s"
    assert ds.attrs["frame"] == "TEME"
    assert list(ds["norad_id"].values) == list(tles.norad_id)
    assert ds["name"].values[0] == tles.name[0]
    np.testing.assert_array_equal(ds["time"].values, times)
    r, v, err = sgp4(tles, times)
    np.testing.assert_array_equal(ds["position"].values, r)
    np.testing.assert_array_equal(ds["velocity"].values, v)
    assert (err == 0).all()
    assert propagate(STATIONS.read_text(), times).sel(norad_id=tles.norad_id).identical(ds)


def test_times_in_any_form_give_the_same_result():
    tles = read_tle(STATIONS)[:2]
    t64 = np.datetime64("2026-05-31T06:30:00", "ns")
    r_ref, _, _ = sgp4(tles, np.array([t64]))
    for form in ("2026-05-31T06:30:00", dt.datetime(2026, 5, 31, 6, 30, tzinfo=dt.UTC), [t64], t64):
        r, _, _ = sgp4(tles, form)
        np.testing.assert_array_equal(r.reshape(2, 3), r_ref.reshape(2, 3))
    r_scalar, _, err = sgp4(tles, t64)
    assert r_scalar.shape == (2, 3) and err.shape == (2,)


def test_tsince_equals_absolute_times():
    tles = read_tle(STATIONS)[:1]
    minutes = np.array([0.0, 90.0, 1440.0])
    r1, v1, _ = sgp4_tsince(tles, minutes)
    times = tles.epoch[0] + (minutes * 60e9).astype("timedelta64[ns]")
    r2, v2, _ = sgp4(tles, times)
    np.testing.assert_allclose(r1, r2, rtol=0, atol=1e-9)
    np.testing.assert_allclose(v1, v2, rtol=0, atol=1e-12)


def test_sources_other_than_a_tleset_and_bad_arguments():
    text = STATIONS.read_text()
    r, _, _ = sgp4(text, "2026-05-31")
    assert r.shape[0] == len(read_tle(STATIONS))
    with pytest.raises(ValueError, match="opsmode"):
        sgp4(read_tle(STATIONS), "2026-05-31", opsmode="x")
    with pytest.raises(ValueError, match="NaT"):
        sgp4(read_tle(STATIONS), np.array(["NaT"], dtype="datetime64[ns]"))
    assert set(ERROR_CODES) == {0, 1, 2, 3, 4, 6}


def test_empty_set():
    tles = read_tle(STATIONS)[:0]
    r, v, err = sgp4(tles, ["2026-05-31", "2026-06-01"])
    assert r.shape == (0, 2, 3) and err.shape == (0, 2)


def test_sgp4_fills_given_arrays_and_checks_them():
    tles = read_tle(STATIONS)[:4]
    times = tles.epoch.max() + np.arange(0, 600, 60).astype("timedelta64[m]")
    want = sgp4(tles, times)
    # stale contents (an earlier batch, an error code) must not survive
    out = (np.full((4, 10, 3), 7.0), np.full((4, 10, 3), 7.0), np.full((4, 10), 3, dtype=np.int8))
    got = sgp4(tles, times, out=out)
    for g, w, o in zip(got, want, out, strict=True):
        assert np.shares_memory(g, o)
        np.testing.assert_array_equal(g, w)
    with pytest.raises(ValueError, match=r"out v must be a float64 array of shape \(4, 10, 3\)"):
        sgp4(tles, times, out=(out[0], np.empty((4, 9, 3)), out[2]))
    with pytest.raises(ValueError, match="out err must be a int8 array"):
        sgp4(tles, times, out=(out[0], out[1], np.zeros((4, 10))))
    with pytest.raises(ValueError, match="C-contiguous"):
        sgp4(tles, times, out=(np.empty((4, 3, 10)).transpose(0, 2, 1), out[1], out[2]))
    with pytest.raises(TypeError, match="tuple"):
        sgp4(tles, times, out=out[0])
