"""Propagation of one small body with its state transition matrix: heliocentric two-body, or the Sun,
the planets, the Moon and Pluto of JPL DE421 with the Sun's relativistic term (numba integrator).

This is the force model of :func:`s2p.neo.fit_orbit`. Frames and units: ICRF (equatorial J2000) axes,
au and au/day, TDB. The two-body model is heliocentric with the Sun's GM; the n-body model is
barycentric (the Sun itself moves), its GMs are DE421's.

Left out of the n-body model, with their size for a near-Earth asteroid: the large asteroids (Ceres,
Pallas, Vesta: ~1e-9 au over a decade), the Earth's oblateness (only inside ~0.001 au of the Earth),
non-gravitational forces (Yarkovsky: 1e-9..1e-8 au per year for sub-km bodies) and light deflection.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import numpy as np

from s2p.neo import _nbody_kernels as _k

#: Largest relative error per step of the integrator (position and velocity).
RTOL = 1e-13
#: Largest step [day] and largest turn of the object per step seen from the Sun or the Earth [rad]:
#: with 0.07 rad the dense output between steps is good to ~1e-10 of the heliocentric distance for
#: e < 0.5 and 3e-9 for (3200) Phaethon's e = 0.89 (measured against Kepler's equation over +-8 years,
#: ``tests/s2p/neo/test_orbit_determination.py``): 0.001" or less on the sky beyond 0.05 au.
MAX_STEP_DAYS = 16.0
MAX_TURN_RAD = 0.07

MODELS = ("two-body", "n-body")


@dataclasses.dataclass(frozen=True)
class _Ephemeris:
    coef: np.ndarray  # flat Chebyshev coefficients [au]
    off: np.ndarray
    nsets: np.ndarray
    ncoef: np.ndarray
    jd_start: float  # TDB
    jd_end: float
    gm: np.ndarray  # (11,) [au^3/day^2], order of _k.BODIES
    emrat: float
    c_au_per_day: float


@functools.lru_cache(maxsize=1)
def _ephemeris() -> _Ephemeris:
    from s2p.neo.planets import _de421, constants

    eph = _de421()
    k = constants()
    au = k["AU"]
    parts, off, nsets, ncoef = [], [], [], []
    pos = 0
    for name in _k.SERIES:
        arr = np.ascontiguousarray(eph.load(name), dtype=float) / au  # (sets, 3, ncoef) [au]
        parts.append(arr.ravel())
        off.append(pos)
        nsets.append(arr.shape[0])
        ncoef.append(arr.shape[2])
        pos += arr.size
    emrat = float(eph.EMRAT)
    gmb = float(eph.GMB)
    gm = np.array(
        [
            float(eph.GMS),
            float(eph.GM1),
            float(eph.GM2),
            gmb * emrat / (1.0 + emrat),
            gmb / (1.0 + emrat),
            float(eph.GM4),
            float(eph.GM5),
            float(eph.GM6),
            float(eph.GM7),
            float(eph.GM8),
            float(eph.GM9),
        ]
    )
    return _Ephemeris(
        coef=np.concatenate(parts),
        off=np.array(off, dtype=np.int64),
        nsets=np.array(nsets, dtype=np.int64),
        ncoef=np.array(ncoef, dtype=np.int64),
        jd_start=float(eph.jalpha),
        jd_end=float(eph.jomega),
        gm=gm,
        emrat=emrat,
        c_au_per_day=float(eph.CLIGHT) * 86400.0 / au,
    )


def ephemeris_span() -> tuple[float, float]:
    """First and last TDB Julian dates the n-body model can reach (DE421: 1899-07-29 to 2053-10-09)."""
    e = _ephemeris()
    return e.jd_start, e.jd_end


def gm_sun() -> float:
    """GM of the Sun in DE421 [au^3/day^2]."""
    return float(_ephemeris().gm[0])


def sun_state(jd_tdb: float) -> tuple[np.ndarray, np.ndarray]:
    """Barycentric position [au] and velocity [au/day] of the Sun (ICRF) at a TDB Julian date."""
    e = _ephemeris()
    bp = np.empty((_k.NBODIES, 3))
    sv = np.empty(3)
    ev = np.empty(3)
    _k.body_states(e.coef, e.off, e.nsets, e.ncoef, e.jd_end - e.jd_start, jd_tdb - e.jd_start, e.emrat, 0.0,
                   bp, sv, ev)  # fmt: skip
    return bp[0].copy(), sv


def propagate_state(
    state: Any,
    epoch_jd_tdb: float,
    times_jd_tdb: Any,
    *,
    model: str = "n-body",
    gm: float | None = None,
    relativity: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """States and state transition matrices of one body at the given times.

    Parameters
    ----------
    state : array_like, shape (6,)
        Position [au] and velocity [au/day] at the epoch, ICRF axes: heliocentric for ``"two-body"``,
        barycentric for ``"n-body"``.
    epoch_jd_tdb : float
        Epoch of ``state``, TDB Julian date.
    times_jd_tdb : array_like, shape (T,)
        Output times, TDB Julian dates, in any order, before and after the epoch.
    model : {"n-body", "two-body"}
    gm : float, optional
        GM of the Sun for ``"two-body"`` [au^3/day^2] (default: DE421's).
    relativity : bool
        Include the Sun's post-Newtonian term in the n-body model.

    Returns
    -------
    states : ndarray, shape (T, 6)
    stm : ndarray, shape (T, 6, 6)
        d state(t) / d state(epoch).

    Raises
    ------
    ValueError
        For an unknown model, times outside DE421 (n-body), or when the integration fails (a
        collision with a perturber).
    """
    if model not in MODELS:
        raise ValueError(f"model must be one of {MODELS}, not {model!r}")
    eph = _ephemeris()
    t = np.atleast_1d(np.asarray(times_jd_tdb, dtype=float)) - epoch_jd_tdb
    if model == "n-body":
        lo, hi = float(np.min(t, initial=0.0)) + epoch_jd_tdb, float(np.max(t, initial=0.0)) + epoch_jd_tdb
        if lo < eph.jd_start or hi > eph.jd_end:
            raise ValueError(
                f"times from JD {lo:.1f} to {hi:.1f} leave DE421 ({eph.jd_start:.1f} to {eph.jd_end:.1f})"
            )
        mode, gms = _k.MODE_NBODY, eph.gm
        c2 = eph.c_au_per_day**2 if relativity else 0.0
    else:
        mode = _k.MODE_TWO_BODY
        gms = np.array([eph.gm[0] if gm is None else float(gm)] + [0.0] * (_k.NBODIES - 1))
        c2 = 0.0
    y0 = np.zeros(_k.NSTATE)
    y0[:6] = np.asarray(state, dtype=float)
    y0[6:] = np.eye(6).ravel()
    out = np.empty((t.size, _k.NSTATE))
    span = eph.jd_end - eph.jd_start
    s_alpha = epoch_jd_tdb - eph.jd_start
    for direction in (1.0, -1.0):
        idx = np.flatnonzero(t >= 0.0) if direction > 0 else np.flatnonzero(t < 0.0)
        if idx.size == 0:
            continue
        order = idx[np.argsort(direction * t[idx], kind="stable")]
        tt = np.ascontiguousarray(t[order])
        part = np.empty((tt.size, _k.NSTATE))
        steps = _k.integrate(mode, y0, tt, direction, gms, c2, eph.coef, eph.off, eph.nsets, eph.ncoef, span,
                             s_alpha, eph.emrat, RTOL, MAX_STEP_DAYS, MAX_TURN_RAD, part)  # fmt: skip
        if steps < 0:
            raise ValueError("integration failed: the step size collapsed (a collision with a perturber?)")
        out[order] = part
    return out[:, :6].copy(), out[:, 6:].reshape(-1, 6, 6).copy()
