"""The Sun and the Earth from JPL DE421 (PyPI package ``de421``, read by ``jplephem``; nothing downloaded).

DE421 gives the Earth-Moon barycentre (EMB) and the geocentric Moon; the Earth itself is
``EMB - Moon / (1 + EMRAT)``. Vectors are in the ICRF (equatorial); :data:`ECL_FROM_EQ` rotates them into
the ecliptic and equinox J2000 of the MPC's elements (obliquity 84381.448 arcsec, the IAU 1976 value that
the MPC, JPL and Skyfield's ``ECLIPJ2000`` use).
"""

from __future__ import annotations

import functools
import math
import warnings
from typing import Any

import numpy as np

OBLIQUITY_J2000_RAD = math.radians(84381.448 / 3600.0)
_ce, _se = math.cos(OBLIQUITY_J2000_RAD), math.sin(OBLIQUITY_J2000_RAD)
#: rotation matrix: ecliptic J2000 = ECL_FROM_EQ @ equatorial (ICRF)
ECL_FROM_EQ = np.array([[1.0, 0.0, 0.0], [0.0, _ce, _se], [0.0, -_se, _ce]])
EQ_FROM_ECL = ECL_FROM_EQ.T
#: speed of light [au/day] (DE421 constants give c and the au in km)
C_AU_PER_DAY = 299792.458 * 86400.0 / 149597870.6996262


@functools.lru_cache(maxsize=1)
def _de421() -> Any:
    import de421
    from jplephem.ephem import Ephemeris

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Ephemeris(de421)


def constants() -> dict[str, float]:
    """DE421 constants used here: ``AU`` [km], ``EMRAT``, ``GMS``/``GMB`` [au^3/day^2], ``CLIGHT`` [km/s]."""
    eph = _de421()
    gm_emb = float(eph.GMB)
    emrat = float(eph.EMRAT)
    return {
        "AU": float(eph.AU),
        "EMRAT": emrat,
        "GMS": float(eph.GMS),
        "GMB": gm_emb,
        "GM_EARTH": gm_emb * emrat / (1.0 + emrat),
        "CLIGHT": float(eph.CLIGHT),
    }


def _pv(name: str, jd_whole: np.ndarray, jd_frac: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    eph = _de421()
    pos, vel = eph.position_and_velocity(name, np.atleast_1d(jd_whole).astype(float), np.atleast_1d(jd_frac))
    return np.asarray(pos), np.asarray(vel)


def sun_earth_barycentric(jd_tdb_whole: Any, jd_tdb_frac: Any = 0.0) -> dict[str, np.ndarray]:
    """Barycentric ICRF positions [au] and velocities [au/day] of the Sun and the Earth.

    Parameters
    ----------
    jd_tdb_whole, jd_tdb_frac : array_like
        Split Julian date in TDB (DE421 covers 1899-07-29 to 2053-10-09).

    Returns
    -------
    dict
        ``sun_p``, ``sun_v``, ``earth_p``, ``earth_v``: arrays of shape (T, 3).
    """
    whole, frac = np.broadcast_arrays(
        np.atleast_1d(np.asarray(jd_tdb_whole, float)), np.atleast_1d(np.asarray(jd_tdb_frac, float))
    )
    au = constants()["AU"]
    emrat = constants()["EMRAT"]
    emb_p, emb_v = _pv("earthmoon", whole, frac)
    moon_p, moon_v = _pv("moon", whole, frac)
    sun_p, sun_v = _pv("sun", whole, frac)
    share = 1.0 / (1.0 + emrat)
    return {
        "sun_p": (sun_p / au).T,
        "sun_v": (sun_v / au).T,
        "earth_p": ((emb_p - share * moon_p) / au).T,
        "earth_v": ((emb_v - share * moon_v) / au).T,
    }


def state_to_elements(r: np.ndarray, v: np.ndarray, mu: float) -> dict[str, np.ndarray]:
    """Osculating elements from heliocentric states (any frame; angles refer to that frame's x-y plane).

    Parameters
    ----------
    r, v : ndarray (N, 3)
        Position [au] and velocity [au/day].
    mu : float
        Gravitational parameter [au^3/day^2].

    Returns
    -------
    dict
        ``a_au``, ``e``, ``i_deg``, ``node_deg``, ``peri_deg``, ``m_deg`` (elliptic orbits).
    """
    r = np.atleast_2d(r)
    v = np.atleast_2d(v)
    rn = np.linalg.norm(r, axis=1)
    h = np.cross(r, v)
    hn = np.linalg.norm(h, axis=1)
    evec = np.cross(v, h) / mu - r / rn[:, None]
    ecc = np.linalg.norm(evec, axis=1)
    energy = 0.5 * np.einsum("ij,ij->i", v, v) - mu / rn
    a = -mu / (2.0 * energy)
    inc = np.arccos(np.clip(h[:, 2] / hn, -1.0, 1.0))
    node = np.arctan2(h[:, 0], -h[:, 1])
    # argument of perihelion: angle from the node line to the eccentricity vector, in the orbit plane
    nvec = np.stack([np.cos(node), np.sin(node), np.zeros_like(node)], axis=1)
    w_sin = np.einsum("ij,ij->i", np.cross(nvec, evec), h / hn[:, None])
    w_cos = np.einsum("ij,ij->i", nvec, evec)
    peri = np.arctan2(w_sin, w_cos)
    # true -> eccentric -> mean anomaly
    nu = np.arctan2(np.einsum("ij,ij->i", np.cross(evec, r), h / hn[:, None]), np.einsum("ij,ij->i", evec, r))
    big_e = 2.0 * np.arctan2(np.sqrt(1.0 - ecc) * np.sin(nu / 2.0), np.sqrt(1.0 + ecc) * np.cos(nu / 2.0))
    m = big_e - ecc * np.sin(big_e)
    return {
        "a_au": a,
        "e": ecc,
        "i_deg": np.degrees(inc),
        "node_deg": np.degrees(node) % 360.0,
        "peri_deg": np.degrees(peri) % 360.0,
        "m_deg": np.degrees(m) % 360.0,
    }


def earth_elements(jd_tdb_whole: Any, jd_tdb_frac: Any = 0.0) -> dict[str, np.ndarray]:
    """Heliocentric osculating elements of the Earth (not the EMB), ecliptic J2000, from DE421.

    The two-body parameter is ``GM_sun`` alone, the convention of JPL SBDB and ESA NEOCC for the Earth
    MOID: with it, the MOIDs these services publish for Apophis are reproduced to 1e-8 au (with
    ``GM_sun + GM_earth`` they differ by ~2e-6 au, with the Earth-Moon barycentre by ~1e-4 au).

    Parameters
    ----------
    jd_tdb_whole, jd_tdb_frac : array_like
        Split Julian date in TDB.

    Returns
    -------
    dict
        ``a_au``, ``e``, ``i_deg``, ``node_deg``, ``peri_deg``, ``m_deg`` arrays.
    """
    s = sun_earth_barycentric(jd_tdb_whole, jd_tdb_frac)
    r = (s["earth_p"] - s["sun_p"]) @ ECL_FROM_EQ.T
    v = (s["earth_v"] - s["sun_v"]) @ ECL_FROM_EQ.T
    k = constants()
    return state_to_elements(r, v, k["GMS"])
