"""Two-body propagation of :class:`~s2p.neo.orbits.Orbits` (heliocentric, ecliptic J2000)."""

from __future__ import annotations

from typing import Any

import numpy as np

from s2p.neo import _kernels
from s2p.neo.orbits import Orbits


def _dt_days(orbits: Orbits, times: Any) -> np.ndarray:
    """Days of TDB from each orbit's epoch (TT) to each UTC time: shape (N, T)."""
    from s2p.time import jd_tdb

    whole, frac = jd_tdb(times)
    whole = np.atleast_1d(whole).astype(float)
    frac = np.atleast_1d(frac).astype(float)
    # TT and TDB differ by < 2 ms: treating the epoch as TDB changes positions by < 1e-10 au
    ep = orbits.epoch_jd_tt
    ep_whole = np.floor(ep - 0.5) + 0.5
    ep_frac = ep - ep_whole
    return (whole[None, :] - ep_whole[:, None]) + (frac[None, :] - ep_frac[:, None])


def _kernel_inputs(orbits: Orbits) -> tuple[np.ndarray, ...]:
    p, q = orbits.perifocal()
    a = orbits.a_au
    e = orbits.e
    qd = np.abs(a) * np.abs(1.0 - e)
    with np.errstate(divide="ignore", invalid="ignore"):
        n = np.where(e == 1.0, np.sqrt(orbits.gm / (2.0 * qd**3)), np.sqrt(orbits.gm / np.abs(a) ** 3))
    return qd, np.ascontiguousarray(e, dtype=float), p, q, np.radians(orbits.m_deg), n


def propagate(orbits: Orbits, times: Any) -> np.ndarray:
    """Heliocentric positions by two-body (Kepler) motion about the Sun.

    Parameters
    ----------
    orbits : Orbits
        Osculating elements (elliptic, parabolic or hyperbolic) with their epochs.
    times : datetime64, str or array_like of those
        UTC times (see :func:`s2p.time.to_datetime64`); converted to TDB.

    Returns
    -------
    ndarray, shape (N, T, 3)
        Positions [au], heliocentric ecliptic J2000. Two-body only: no planetary perturbations, so the
        error grows with ``|t - epoch|`` (typically 1e-6..1e-4 au after a month for NEAs, far more after
        close planetary encounters).
    """
    dt = _dt_days(orbits, times)
    qd, e, p, q, m0, n = _kernel_inputs(orbits)
    out = np.empty((len(orbits), dt.shape[1], 3))
    _kernels.propagate_kernel(qd, e, p, q, m0, n, dt, out)
    return out


def propagate_days(orbits: Orbits, dt_days: Any) -> np.ndarray:
    """Positions [au], shape (N, T, 3), at ``dt_days`` (shape (T,) or (N, T)) days after each epoch."""
    qd, e, p, q, m0, n = _kernel_inputs(orbits)
    dt = np.asarray(dt_days, dtype=float)
    if dt.ndim <= 1:
        dt = np.broadcast_to(np.atleast_1d(dt)[None, :], (len(orbits), np.atleast_1d(dt).size))
    dt = np.ascontiguousarray(dt)
    out = np.empty((len(orbits), dt.shape[1], 3))
    _kernels.propagate_kernel(qd, e, p, q, m0, n, dt, out)
    return out


def positions_at_mean_anomaly(orbits: Orbits, m_rad: Any) -> np.ndarray:
    """Throughput path for elliptic orbits, one epoch each: positions [au] (N, 3) at mean anomaly ``m_rad``."""
    p, q = orbits.perifocal()
    out = np.empty((len(orbits), 3))
    _kernels.elliptic_fast_kernel(orbits.a_au, orbits.e, p, q, np.asarray(m_rad, dtype=float), out)
    return out
