"""The vectorised near-earth path against the reference-shaped path, and its own sin/cos."""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from s2p.debris import _sgp4_kernels, read_tle
from s2p.debris._sgp4_fast import FAST_MAX_ECC, sincos
from s2p.debris._sgp4_fast_deep import atan2_fast
from s2p.debris.propagation import _constants
from tests.support import DATA

# measured bound of our sincos against libm over |x| ≤ 1e5 rad (argument reduction error grows with |x|)
SINCOS_ABS_TOL = 2e-15
ATAN2_ABS_TOL = 1e-15
PATHS_POSITION_TOL_KM = 1e-7  # 0.1 mm between the two paths
PATHS_VELOCITY_TOL_KMS = 1e-10


@njit  # not cached: it inlines from s2p.debris._sgp4_fast, which numba would not track
def _sincos_array(x, s, c):
    for k in range(x.shape[0]):
        s[k], c[k] = sincos(x[k])


@njit  # not cached: it inlines from s2p.debris._sgp4_fast, which numba would not track
def _atan2_array(y, x, out):
    for k in range(x.shape[0]):
        out[k] = atan2_fast(y[k], x[k])


def test_atan2_error_bound():
    rng = np.random.default_rng(11)
    ang = np.concatenate([rng.uniform(-math.pi, math.pi, 300_000), np.arange(-16, 17) * (math.pi / 16)])
    rad = 10.0 ** rng.uniform(-3, 3, ang.shape[0])
    y, x = rad * np.sin(ang), rad * np.cos(ang)
    out = np.empty_like(x)
    _atan2_array(y, x, out)
    assert np.abs(out - np.arctan2(y, x)).max() <= ATAN2_ABS_TOL


def test_sincos_error_bound():
    rng = np.random.default_rng(7)
    x = np.concatenate(
        [
            rng.uniform(-4, 4, 200_000),
            rng.uniform(-1e5, 1e5, 200_000),
            np.arange(-64, 65) * (math.pi / 4),  # quadrant boundaries
        ]
    )
    s = np.empty_like(x)
    c = np.empty_like(x)
    _sincos_array(x, s, c)
    assert np.abs(s - np.sin(x)).max() <= SINCOS_ABS_TOL
    assert np.abs(c - np.cos(x)).max() <= SINCOS_ABS_TOL


def test_fast_path_matches_reference_path_and_flags_errors():
    tles = read_tle(DATA / "space_debris" / "tle" / "celestrak_starlink_2026-05-30.tle")
    c = _constants(tles, "i")
    assert (tles.eccentricity < FAST_MAX_ECC).all()
    minutes = np.arange(-1440.0, 8 * 1440.0, 67.0)  # a week on, decaying objects give codes 1 and 6
    n, t = len(tles), minutes.shape[0]
    out = [(np.empty((n, t, 3)), np.empty((n, t, 3)), np.zeros((n, t), np.int8)) for _ in range(2)]
    _sgp4_kernels.propagate_minutes(c, minutes, False, *out[0])
    _sgp4_kernels.propagate_minutes_reference(c, minutes, False, *out[1])
    (r, v, e), (r0, v0, e0) = out
    np.testing.assert_array_equal(e, e0)
    assert (e0 != 0).any(), "the window should include decayed objects (error codes) to exercise the fallback"
    np.testing.assert_array_equal(np.isnan(r), np.isnan(r0))
    ok = ~np.isnan(r0)
    assert np.abs(r[ok] - r0[ok]).max() <= PATHS_POSITION_TOL_KM
    assert np.abs(v[ok] - v0[ok]).max() <= PATHS_VELOCITY_TOL_KMS


def test_deep_space_fast_path_matches_reference_path():
    tles = read_tle(DATA / "space_debris" / "tle" / "celestrak_geo_2026-05-30.tle")
    c = _constants(tles, "i")
    minutes = np.arange(-3000.0, 3 * 1440.0, 37.0)  # both directions of the resonance integrator
    n, t = len(tles), minutes.shape[0]
    out = [(np.empty((n, t, 3)), np.empty((n, t, 3)), np.zeros((n, t), np.int8)) for _ in range(2)]
    _sgp4_kernels.propagate_minutes(c, minutes, False, *out[0])
    _sgp4_kernels.propagate_minutes_reference(c, minutes, False, *out[1])
    (r, v, e), (r0, v0, e0) = out
    np.testing.assert_array_equal(e, e0)
    ok = ~np.isnan(r0)
    assert np.abs(r[ok] - r0[ok]).max() <= PATHS_POSITION_TOL_KM
    assert np.abs(v[ok] - v0[ok]).max() <= PATHS_VELOCITY_TOL_KMS
