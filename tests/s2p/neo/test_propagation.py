"""Kepler's equation and two-body propagation against an independent numpy implementation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from s2p import neo
from s2p.neo import _kernels
from s2p.neo.propagation import positions_at_mean_anomaly, propagate_days
from tests.s2p.neo.references import numpy_two_body

POSITION_TOL_AU = 1e-12  # acceptance: propagate vs an independent numpy implementation
KEPLER_RESIDUAL_TOL = 4e-15  # |E - e sin E - M| [rad], a few ulp of 2 pi


def test_propagate_matches_numpy_reference(nea: neo.Orbits) -> None:
    times = np.array(["2019-07-02T00:00", "2019-12-25T06:00", "2021-03-01T00:00"], dtype="datetime64[ns]")
    ours = neo.propagate(nea, times)
    assert ours.shape == (len(nea), 3, 3)
    from s2p.neo.propagation import _dt_days

    dt = _dt_days(nea, times)
    n_deg = np.degrees(np.sqrt(nea.gm / nea.a_au**3))
    for j in range(len(times)):
        ref = numpy_two_body(
            nea.a_au, nea.e, nea.i_deg, nea.node_deg, nea.peri_deg, nea.m_deg + n_deg * dt[:, j]
        )
        err = np.abs(ours[:, j] - ref).max()
        assert err <= POSITION_TOL_AU, (j, err)


def test_throughput_kernel_matches_general_kernel(nea: neo.Orbits) -> None:
    m = np.radians(nea.m_deg) + 1.234
    fast = positions_at_mean_anomaly(nea, m)
    general = propagate_days(
        nea, np.full((len(nea), 1), 0.0) + 1.234 / np.sqrt(nea.gm / nea.a_au**3)[:, None]
    )[:, 0]
    assert np.abs(fast - general).max() <= POSITION_TOL_AU
    # and where Kepler's equation is hardest: e up to 1 - 1e-6, every mean anomaly
    rng = np.random.default_rng(7)
    k = 20000
    ecc = 1.0 - 10.0 ** rng.uniform(-6, -1, k)
    hard = neo.Orbits.from_elements(2.0, ecc, 10.0, 20.0, 30.0, 0.0, "2020-01-01")
    m = rng.uniform(-10.0, 10.0, k)
    fast = positions_at_mean_anomaly(hard, m)
    general = propagate_days(hard, (m / np.sqrt(hard.gm / 8.0))[:, None])[:, 0]
    assert np.abs(fast - general).max() <= POSITION_TOL_AU


@settings(max_examples=300, deadline=None)
@given(m=st.floats(-50.0, 50.0), e=st.floats(0.0, 0.999999999))
def test_kepler_elliptic_residual(m: float, e: float) -> None:
    big_e = _kernels.kepler_elliptic(m, e)
    mm = math.remainder(m, 2 * math.pi)
    # residual computed without cancellation (the kernel's own helper is what is under test for e ~ 1)
    res = math.remainder(big_e - e * math.sin(big_e) - mm, 2 * math.pi)
    assert abs(res) <= KEPLER_RESIDUAL_TOL * max(1.0, abs(mm))


@settings(max_examples=300, deadline=None)
@given(m=st.floats(-1e4, 1e4), e=st.floats(1.0 + 1e-9, 30.0))
def test_kepler_hyperbolic_residual(m: float, e: float) -> None:
    h = _kernels.kepler_hyperbolic(m, e)
    assert abs(e * math.sinh(h) - h - m) <= 1e-13 * max(1.0, abs(m))


def test_near_parabolic_orbits_approach_the_parabola() -> None:
    """Elliptic, parabolic and hyperbolic solutions agree as e -> 1 (same q, same time from perihelion)."""
    q, gm = 0.5, neo.GM_SUN_AU3_D2
    dt = np.array([-200.0, -3.0, 0.0, 0.7, 40.0, 400.0])
    out = {}
    for e in (1.0 - 1e-10, 1.0, 1.0 + 1e-10):
        a = q / (1.0 - e) if e != 1.0 else np.inf
        n = math.sqrt(gm / (2 * q**3)) if e == 1.0 else math.sqrt(gm / abs(a) ** 3)
        xy = np.array([_kernels.position_pqe(q, e, n * t) for t in dt])
        out[e] = xy
    assert np.abs(out[1.0 - 1e-10] - out[1.0]).max() < 1e-8
    assert np.abs(out[1.0 + 1e-10] - out[1.0]).max() < 1e-8
    # Barker: at perihelion r = q, and the parabola's radius grows as q (1 + D^2)
    assert out[1.0][2] == pytest.approx([q, 0.0], abs=1e-15)


def test_energy_and_angular_momentum_are_conserved() -> None:
    orb = neo.Orbits.from_elements(
        [1.5, 2.2, 0.8],
        [0.3, 0.97, 0.05],
        [10, 60, 1],
        [20, 200, 5],
        [30, 100, 355],
        [0, 10, 300],
        "2020-01-01",
    )
    dt = np.linspace(0.0, 3000.0, 7)
    r = propagate_days(orb, dt)
    v = (propagate_days(orb, dt + 1e-3) - propagate_days(orb, dt - 1e-3)) / 2e-3
    energy = 0.5 * (v**2).sum(-1) - orb.gm / np.linalg.norm(r, axis=-1)
    h = np.cross(r, v)
    assert np.allclose(energy, -orb.gm / (2 * orb.a_au[:, None]), rtol=1e-6)
    assert np.allclose(h, h[:, :1], rtol=1e-6, atol=1e-12)


def test_polynomial_sine_cosine_error_bound() -> None:
    """The kernels' own sin/cos (no libm, see PERFORMANCE.md) against libm: measured bound 4e-16."""
    from numba import njit

    @njit
    def run(u, out):
        for k in range(u.shape[0]):
            out[k, 0], out[k, 1] = _kernels._sincos(u[k])

    rng = np.random.default_rng(5)
    u = np.concatenate([rng.uniform(-1e3, 1e3, 100_000), np.linspace(-4 * np.pi, 4 * np.pi, 10_001)])
    out = np.empty((u.size, 2))
    run(u, out)
    assert np.abs(out[:, 0] - np.sin(u)).max() <= 4e-16
    assert np.abs(out[:, 1] - np.cos(u)).max() <= 4e-16


def test_rotation_series_error_bounds() -> None:
    """The short rotations of the throughput kernel's Halley steps, each over its step's bound (the
    kernel sends a lane whose step exceeds it to the scalar path): measured 4.4e-16 against libm of the rounded
    x + d (the d^9 / d^10 series of step 1 before was off by 2.4e-13 at |d| = 0.35)."""
    from numba import njit

    @njit
    def run(x, d, out):
        for k in range(x.shape[0]):
            s, c = np.sin(x[k]), np.cos(x[k])
            out[k, 0], out[k, 1] = _kernels._rotate9(s, c, d[k, 0])
            out[k, 2], out[k, 3] = _kernels._rotate7(s, c, d[k, 1])
            out[k, 4], out[k, 5] = _kernels._rotate3(s, c, d[k, 2])

    rng = np.random.default_rng(7)
    n = 100_000
    x = rng.uniform(-np.pi, np.pi, n)
    bounds = np.array([0.35, _kernels.STEP2_MAX, _kernels.HALLEY_CHECK])
    d = rng.uniform(-1.0, 1.0, (n, 3)) * bounds
    d[:3] = bounds  # the ends of each range
    d[3:6] = -bounds
    out = np.empty((n, 6))
    run(x, d, out)
    for j in range(3):
        assert np.abs(out[:, 2 * j] - np.sin(x + d[:, j])).max() <= 6e-16, j
        assert np.abs(out[:, 2 * j + 1] - np.cos(x + d[:, j])).max() <= 6e-16, j
