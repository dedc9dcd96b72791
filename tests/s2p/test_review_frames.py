"""Review regressions for s2p.frames: inputs broadcast, scalars give scalars back, NaT gives NaN."""

from __future__ import annotations

import numpy as np
import pytest

from s2p.frames import geodetic_to_itrf, gmst82, itrf_to_geodetic, teme_to_gcrs, teme_to_itrf

ROUND_TRIP_DEG = 1e-9
ROUND_TRIP_KM = 1e-9


def test_geodetic_to_itrf_broadcasts_a_latitude_column_against_a_longitude_row():
    lat = np.array([[-60.0], [0.0], [45.0]])
    lon = np.array([-170.0, 10.0, 120.0, 179.0])
    r = geodetic_to_itrf(lat, lon, 0.4)  # used to fail in np.stack ("same shape")
    assert r.shape == (3, 4, 3)
    for i in range(3):
        for j in range(4):
            np.testing.assert_array_equal(r[i, j], geodetic_to_itrf(lat[i, 0], lon[j], 0.4))
    back_lat, back_lon, back_h = itrf_to_geodetic(r)
    np.testing.assert_allclose(back_lat, np.broadcast_to(lat, (3, 4)), atol=ROUND_TRIP_DEG)
    np.testing.assert_allclose(back_lon, np.broadcast_to(lon, (3, 4)), atol=ROUND_TRIP_DEG)
    np.testing.assert_allclose(back_h, 0.4, atol=ROUND_TRIP_KM)


def test_one_vector_and_one_time_keep_their_shape():
    r, v = np.array([7000.0, 0.0, 0.0]), np.array([0.0, 7.5, 0.0])
    assert geodetic_to_itrf(45.0, 7.0).shape == (3,)
    assert [np.shape(x) for x in itrf_to_geodetic(r)] == [(), (), ()]
    assert [x.shape for x in teme_to_itrf(r, v, times="2026-05-31T00:00")] == [(3,), (3,)]
    assert [x.shape for x in teme_to_gcrs(r, v, times="2026-05-31T00:00")] == [(3,), (3,)]


def test_a_missing_time_gives_nan_not_a_date_in_1677():
    times = np.array(["2026-05-31T00:00", "NaT"], dtype="datetime64[ns]")
    r, v = np.array([7000.0, 0.0, 0.0]), np.array([0.0, 7.5, 1.0])
    theta, rate = gmst82(times)
    assert np.isfinite(theta[0]) and np.isnan(theta[1]) and np.isnan(rate[1])
    for out in (*teme_to_itrf(r, v, times=times), *teme_to_gcrs(r, v, times=times)):
        assert np.isfinite(out[0]).all() and np.isnan(out[1]).all()  # used to be a finite, wrong vector
    lat, lon, alt = itrf_to_geodetic(teme_to_itrf(r, times=times))
    assert np.isnan([lat[1], lon[1], alt[1]]).all()


def test_times_passed_positionally_as_the_velocity_get_a_message_showing_the_keyword():
    with pytest.raises(TypeError, match=r"times=\.\.\."):
        teme_to_itrf(np.array([7000.0, 0.0, 0.0]), np.datetime64("2026-05-31"))
    with pytest.raises(TypeError, match=r"times=\.\.\."):
        teme_to_gcrs(np.array([7000.0, 0.0, 0.0]), "2026-05-31")
