"""Minimum orbit intersection distance (MOID) between two-body orbits."""

from __future__ import annotations

from typing import Any

import numpy as np

from s2p.neo import _kernels, _moid_kernels
from s2p.neo.orbits import Orbits

_GRID = np.arange(_moid_kernels.MOID_GRID) * (2.0 * np.pi / _moid_kernels.MOID_GRID)
_COS_T = np.cos(_GRID)
_SIN_T = np.sin(_GRID)


def _frame(i_deg: np.ndarray, node_deg: np.ndarray, peri_deg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n = i_deg.shape[0]
    p = np.empty((n, 3))
    q = np.empty((n, 3))
    _kernels.perifocal_vectors(np.radians(i_deg), np.radians(node_deg), np.radians(peri_deg), p, q)
    return p, q


def moid_elements(
    a1: Any,
    e1: Any,
    i1: Any,
    node1: Any,
    peri1: Any,
    a2: Any,
    e2: Any,
    i2: Any,
    node2: Any,
    peri2: Any,
    *,
    return_anomalies: bool = False,
) -> Any:
    """MOID of pairs of elliptic orbits given by their shape and orientation (broadcasting).

    Parameters
    ----------
    a1, e1, i1, node1, peri1 : array_like
        First orbit: semi-major axis [au], eccentricity (``0 <= e < 1``), inclination, longitude of the
        ascending node and argument of perihelion [deg].
    a2, e2, i2, node2, peri2 : array_like
        Second orbit, same units and the same reference frame.
    return_anomalies : bool
        Also return the eccentric anomalies [deg] of the two closest points.

    Returns
    -------
    ndarray
        MOID [au] with the broadcast shape of the inputs (``(moid, E1, E2)`` when ``return_anomalies``).

    Notes
    -----
    A grid of eccentric anomalies on both orbits seeds damped 2-D Newton iterations (see
    :mod:`s2p.neo._moid_kernels`); agreement with ``distlink`` is checked to 1e-8 au on 20,000 NEAs.
    """
    arrs = np.broadcast_arrays(
        *(np.asarray(x, dtype=float) for x in (a1, e1, i1, node1, peri1, a2, e2, i2, node2, peri2))
    )
    shape = arrs[0].shape
    flat = [np.ascontiguousarray(x.reshape(-1)) for x in arrs]
    a1f, e1f, i1f, n1f, w1f, a2f, e2f, i2f, n2f, w2f = flat
    for a, e in ((a1f, e1f), (a2f, e2f)):
        if np.any((e < 0.0) | (e >= 1.0)) or np.any(a <= 0.0):
            raise ValueError("moid_elements supports elliptic orbits only (0 <= e < 1, a > 0)")
    p1, q1 = _frame(i1f, n1f, w1f)
    p2, q2 = _frame(i2f, n2f, w2f)
    n = a1f.shape[0]
    out = np.empty(n)
    u1 = np.empty(n)
    u2 = np.empty(n)
    _moid_kernels.moid_kernel(a1f, e1f, p1, q1, a2f, e2f, p2, q2, _COS_T, _SIN_T, out, u1, u2)
    if return_anomalies:
        return (
            out.reshape(shape),
            np.degrees(u1 % (2 * np.pi)).reshape(shape),
            np.degrees(u2 % (2 * np.pi)).reshape(shape),
        )
    return out.reshape(shape)


def moid(orbits: Orbits, planet: str = "earth") -> np.ndarray:
    """MOID [au] of each orbit with the Earth's osculating orbit at that orbit's epoch.

    Parameters
    ----------
    orbits : Orbits
        Elliptic heliocentric orbits (ecliptic J2000).
    planet : {"earth"}
        The planet; the Earth itself (not the Earth-Moon barycentre), from JPL DE421.

    Returns
    -------
    ndarray, shape (N,)
        MOID [au].
    """
    if planet.lower() != "earth":
        raise ValueError(f"planet {planet!r} is not supported (only 'earth')")
    from s2p.neo.planets import earth_elements

    # one Earth orbit per distinct epoch (a catalogue usually shares one)
    jd = orbits.epoch_jd_tt
    uniq, inv = np.unique(jd, return_inverse=True)
    whole = np.floor(uniq - 0.5) + 0.5
    el = earth_elements(whole, uniq - whole)
    return moid_elements(
        orbits.a_au,
        orbits.e,
        orbits.i_deg,
        orbits.node_deg,
        orbits.peri_deg,
        el["a_au"][inv],
        el["e"][inv],
        el["i_deg"][inv],
        el["node_deg"][inv],
        el["peri_deg"][inv],
    )
