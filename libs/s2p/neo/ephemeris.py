"""Astrometric ephemerides of two-body orbits for an observer given by MPC code."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from s2p.neo import _kernels
from s2p.neo.orbits import Orbits
from s2p.neo.propagation import _dt_days, _kernel_inputs


def hg_magnitude(h_mag: Any, g_slope: Any, r_au: Any, delta_au: Any, phase_deg: Any) -> np.ndarray:
    """Apparent V magnitude in the IAU H-G system (Bowell et al. 1989).

    Parameters
    ----------
    h_mag : array_like
        Absolute magnitude H [mag].
    g_slope : array_like
        Slope parameter G [-].
    r_au, delta_au : array_like
        Heliocentric and observer distances [au].
    phase_deg : array_like
        Phase angle Sun-object-observer [deg].

    Returns
    -------
    ndarray
        V [mag].
    """
    t = np.tan(np.radians(np.asarray(phase_deg, dtype=float)) / 2.0)
    phi1 = np.exp(-3.33 * t**0.63)
    phi2 = np.exp(-1.87 * t**1.22)
    g = np.asarray(g_slope, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return (
            np.asarray(h_mag)
            + 5.0 * np.log10(np.asarray(r_au) * np.asarray(delta_au))
            - 2.5 * np.log10((1.0 - g) * phi1 + g * phi2)
        )


def observer_heliocentric(times: Any, observer: str = "500") -> dict[str, np.ndarray]:
    """Observer position relative to the Sun and the Sun's barycentric velocity, ecliptic J2000.

    Returns ``obs`` [au] and ``vsun`` [au/day], both (T, 3), and ``earth_sun`` [au] (T, 3).
    """
    from s2p.neo.observers import site_gcrs_au
    from s2p.neo.planets import ECL_FROM_EQ, sun_earth_barycentric
    from s2p.time import jd_tdb

    whole, frac = jd_tdb(times)
    s = sun_earth_barycentric(whole, frac)
    site = site_gcrs_au(observer, times)
    obs_eq = s["earth_p"] + site - s["sun_p"]
    return {
        "obs": np.ascontiguousarray(obs_eq @ ECL_FROM_EQ.T),
        "vsun": np.ascontiguousarray(s["sun_v"] @ ECL_FROM_EQ.T),
    }


def ephemeris(orbits: Orbits, times: Any, observer: str = "500") -> pd.DataFrame:
    """Astrometric positions of two-body orbits seen by an observer.

    Parameters
    ----------
    orbits : Orbits
        Osculating heliocentric orbits (ecliptic J2000).
    times : datetime64, str or array_like
        UTC times.
    observer : str
        MPC observatory code: ``"500"`` (geocentre, default) or any code of the shipped table with a
        fixed site (e.g. ``"G96"``, ``"F51"``).

    Returns
    -------
    pandas.DataFrame
        One row per object and time (object-major): ``designation``, ``time`` (UTC), ``ra_deg`` and
        ``dec_deg`` (astrometric ICRF/J2000: light-time corrected, no aberration or light deflection, as
        star catalogues are), ``delta_au`` (observer distance), ``r_au`` (heliocentric distance at the
        emission time), ``phase_deg`` (Sun-object-observer angle) and ``v_mag`` (H-G system).

    Notes
    -----
    Two-body motion about the Sun with the elements' GM; Sun and Earth from JPL DE421 (1900-2050).
    """
    from s2p.neo.planets import C_AU_PER_DAY, EQ_FROM_ECL
    from s2p.time import to_datetime64

    t = np.atleast_1d(to_datetime64(times))
    oh = observer_heliocentric(t, observer)
    dt = np.ascontiguousarray(_dt_days(orbits, t))
    qd, e, p, q, m0, n = _kernel_inputs(orbits)
    nobj, ntime = dt.shape
    rho = np.empty((nobj, ntime, 3))
    r = np.empty((nobj, ntime))
    _kernels.ephemeris_kernel(qd, e, p, q, m0, n, dt, oh["obs"], oh["vsun"], C_AU_PER_DAY, rho, r)
    delta = np.sqrt(np.einsum("ktc,ktc->kt", rho, rho))
    # object -> Sun is -(rho + obs) (ignoring the Sun's shift over tau, < 1e-9 rad); object -> observer is -rho
    helio = rho + oh["obs"][None, :, :]
    cos_phase = np.einsum("ktc,ktc->kt", helio, rho) / (
        delta * np.sqrt(np.einsum("ktc,ktc->kt", helio, helio))
    )
    phase = np.degrees(np.arccos(np.clip(cos_phase, -1.0, 1.0)))
    eq = rho @ EQ_FROM_ECL.T
    ra = np.degrees(np.arctan2(eq[..., 1], eq[..., 0])) % 360.0
    dec = np.degrees(np.arcsin(np.clip(eq[..., 2] / delta, -1.0, 1.0)))
    v = hg_magnitude(orbits.h_mag[:, None], orbits.g_slope[:, None], r, delta, phase)
    return pd.DataFrame(
        {
            "designation": np.repeat(np.asarray(orbits.designation, dtype=object), ntime),
            "time": np.tile(t, nobj),
            "ra_deg": ra.ravel(),
            "dec_deg": dec.ravel(),
            "delta_au": delta.ravel(),
            "r_au": r.ravel(),
            "phase_deg": phase.ravel(),
            "v_mag": v.ravel(),
        }
    )
