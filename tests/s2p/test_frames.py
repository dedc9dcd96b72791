"""s2p.frames against ERFA (GMST-82) and Skyfield (ITRS latitude/longitude/height, GCRS positions)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from s2p.debris import read_tle, sgp4
from s2p.frames import (
    geodetic_to_itrf,
    gmst82,
    ground_track,
    itrf_to_geodetic,
    teme_to_gcrs,
    teme_to_itrf,
)
from s2p.time import jd_utc
from tests.support import DATA

GEODETIC_TOL_M = 10.0  # acceptance: same sub-satellite point and height as Skyfield to 10 m
GEODETIC_OBSERVED_M = 0.01  # what we actually get with Skyfield's UT1 (both use GMST-82, no polar motion)
# IAU-76/80 (+ frame bias) vs Skyfield's IAU-2006/2000A: measured 1.6e-7 of the radius in 2026
GCRS_REL_TOL = 2.5e-7
GMST_TOL_RAD = 1e-12
ROUND_TRIP_TOL_KM = 1e-9
TLE_DIR = DATA / "space_debris" / "tle"


def _sample():
    parts = [
        read_tle(TLE_DIR / "celestrak_stations_2026-05-30.tle")[:8],
        read_tle(TLE_DIR / "celestrak_weather_2026-05-30.tle")[::8],
        read_tle(TLE_DIR / "celestrak_geo_2026-05-30.tle")[::60],
        read_tle(TLE_DIR / "celestrak_starlink_2026-05-30.tle")[::1000],
    ]
    return parts


def _skyfield_times(ts, times):
    us = times.astype("datetime64[us]").astype(object)
    return ts.from_datetimes([t.replace(tzinfo=dt.UTC) for t in us])


def test_gmst82_matches_erfa():
    import erfa

    times = np.datetime64("1990-01-01T00:00") + np.arange(0, 40 * 365 * 1440, 99_991).astype("timedelta64[m]")
    whole, frac = jd_utc(times)
    theta, theta_dot = gmst82(times)
    diff = np.angle(np.exp(1j * (theta - erfa.gmst82(whole, frac))))
    assert np.abs(diff).max() <= GMST_TOL_RAD
    assert np.allclose(theta_dot, 7.2921158e-5, rtol=1e-8)


@pytest.mark.slow
def test_geodetic_and_gcrs_match_skyfield():
    from skyfield.api import EarthSatellite, load, wgs84

    ts = load.timescale()
    worst_geo = 0.0
    for tles in _sample():
        times = tles.epoch.max() + np.arange(0, 1440, 61).astype("timedelta64[m]")
        t = _skyfield_times(ts, times)
        dut1 = np.asarray(t.dut1)  # evaluate with the same UT1 as Skyfield
        r, _v, err = sgp4(tles, times)
        lat, lon, alt = itrf_to_geodetic(teme_to_itrf(r, times=times, dut1=dut1))
        r_gcrs = teme_to_gcrs(r, times=times)
        for k in range(len(tles)):
            assert (err[k] == 0).all()
            g = EarthSatellite(tles.line1[k], tles.line2[k], tles.name[k], ts).at(t)
            sky_lat, sky_lon = wgs84.latlon_of(g)
            sky_h = wgs84.height_of(g).km
            ours = geodetic_to_itrf(lat[k], lon[k], alt[k])
            theirs = geodetic_to_itrf(sky_lat.degrees, sky_lon.degrees, sky_h)
            d_m = np.linalg.norm(ours - theirs, axis=-1).max() * 1e3
            worst_geo = max(worst_geo, d_m)
            assert d_m <= GEODETIC_TOL_M, (tles.name[k], d_m)
            assert np.abs(alt[k] - sky_h).max() * 1e3 <= GEODETIC_TOL_M
            rel = np.linalg.norm(r_gcrs[k] - g.position.km.T, axis=-1) / np.linalg.norm(r[k], axis=-1)
            assert rel.max() <= GCRS_REL_TOL, (tles.name[k], rel.max())
    assert worst_geo <= GEODETIC_OBSERVED_M


@pytest.mark.slow
def test_geodetic_matches_skyfield_frames_on_the_whole_catalogue():
    """Every shipped object, every 6 h over 7 days: our TEME → ITRF → WGS84 against Skyfield's own
    TEME frame and ``wgs84`` on the same TEME positions (those of python-sgp4, as Skyfield uses)."""
    from sgp4.api import WGS72, Satrec, SatrecArray
    from skyfield.api import load, wgs84
    from skyfield.constants import AU_KM
    from skyfield.positionlib import build_position
    from skyfield.sgp4lib import TEME

    ts = load.timescale()
    for path in sorted(TLE_DIR.glob("*.tle")):
        tles = read_tle(path)
        times = tles.epoch.max() + np.arange(0, 7 * 1440, 360).astype("timedelta64[m]")
        sats = SatrecArray(
            [Satrec.twoline2rv(a, b, WGS72) for a, b in zip(tles.line1, tles.line2, strict=True)]
        )
        _, r_teme, _ = sats.sgp4(*jd_utc(times))
        t_all = _skyfield_times(ts, times)
        dut1 = np.asarray(t_all.dut1)
        lat, lon, alt = itrf_to_geodetic(teme_to_itrf(r_teme, times=times, dut1=dut1))
        for j in range(len(times)):
            t = t_all[j]
            ok = ~np.isnan(r_teme[:, j, 0])
            r_gcrs = TEME.rotation_at(t).T @ r_teme[ok, j, :].T  # (3, n) in km
            p = build_position(r_gcrs / AU_KM, t=t, center=399)
            sky_lat, sky_lon = wgs84.latlon_of(p)
            theirs = geodetic_to_itrf(sky_lat.degrees, sky_lon.degrees, wgs84.height_of(p).km)
            ours = geodetic_to_itrf(lat[ok, j], lon[ok, j], alt[ok, j])
            d_m = np.linalg.norm(ours - theirs, axis=-1).max() * 1e3
            assert d_m <= GEODETIC_OBSERVED_M, (path.name, str(times[j]), d_m)


def test_ut1_offset_rotates_the_earth():
    tles = read_tle(TLE_DIR / "celestrak_stations_2026-05-30.tle")[:1]
    times = tles.epoch
    r, _, _ = sgp4(tles, times)
    _, lon0, _ = itrf_to_geodetic(teme_to_itrf(r, times=times))
    _, lon1, _ = itrf_to_geodetic(teme_to_itrf(r, times=times, dut1=0.5))
    # half a second of UT1 turns the Earth east by 0.5 s × 360°/86164 s: longitude decreases
    assert (lon0 - lon1)[0, 0] == pytest.approx(0.5 * 360.0 / 86164.09, rel=1e-4)


def test_itrf_velocity_is_the_time_derivative_of_itrf_position():
    # an inertial straight-line motion in TEME: the transformed velocity must be d/dt of the transformed
    # position (SGP4's own velocity is not exactly the derivative of its position, so it is not used here)
    t0 = np.datetime64("2026-05-30T12:00:00", "ns")
    h_s = 0.5
    times = t0 + (np.array([-h_s, 0.0, h_s]) * 1e9).astype("timedelta64[ns]")
    r0 = np.array([[7000.0, -1200.0, 300.0], [42164.0, 10.0, -5.0], [-3000.0, 5000.0, 4000.0]])
    v0 = np.array([[1.0, 7.0, 2.0], [-0.2, 3.07, 0.01], [-5.0, -3.0, 4.0]])
    r = r0[:, None, :] + v0[:, None, :] * (np.array([-h_s, 0.0, h_s])[None, :, None])
    v = np.broadcast_to(v0[:, None, :], r.shape)
    ri, vi = teme_to_itrf(r, v, times=times)
    numeric = (ri[:, 2] - ri[:, 0]) / (2 * h_s)
    assert np.abs(numeric - vi[:, 1]).max() < 1e-8  # km/s; central-difference error ~ ω³ r h² / 6


def test_geodetic_round_trip_including_poles():
    rng = np.random.default_rng(3)
    lat = np.concatenate([rng.uniform(-90, 90, 5000), [90.0, -90.0, 0.0]])
    lon = np.concatenate([rng.uniform(-180, 180, 5000), [0.0, 0.0, 180.0]])
    alt = np.concatenate([rng.uniform(-5, 40000, 5000), [400.0, 36000.0, 0.0]])
    xyz = geodetic_to_itrf(lat, lon, alt)
    lat2, lon2, alt2 = itrf_to_geodetic(xyz)
    assert np.abs(geodetic_to_itrf(lat2, lon2, alt2) - xyz).max() <= ROUND_TRIP_TOL_KM
    assert np.abs(alt2 - alt).max() <= ROUND_TRIP_TOL_KM


def test_ground_track_dataset():
    tles = read_tle(TLE_DIR / "celestrak_stations_2026-05-30.tle")[:4]
    times = tles.epoch.max() + np.arange(0, 180, 10).astype("timedelta64[m]")
    ds = ground_track(tles, times)
    assert ds["latitude"].shape == (4, 18)
    assert set(ds.data_vars) == {"latitude", "longitude", "altitude", "error"}
    assert ds["latitude"].attrs["units"] == "deg"
    iss = ds.sel(norad_id=25544)
    # inclination 51.63° bounds the geocentric latitude; geodetic latitude exceeds it by ≤ 0.2°
    assert np.abs(iss["latitude"]).max() <= 51.63 + 0.2
    assert 350 < float(iss["altitude"].min()) < float(iss["altitude"].max()) < 450
