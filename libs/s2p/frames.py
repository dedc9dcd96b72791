"""Reference frames for Earth-orbiting objects: TEME → ITRF (pseudo Earth-fixed), TEME → GCRS, geodetic.

Conventions (Vallado et al. 2006, AIAA 2006-6753, appendix C):

* **TEME → ITRF**: rotation about z by GMST (IAU-82 formula) evaluated at UT1, giving the pseudo
  Earth-fixed frame PEF; **polar motion is ignored** (PEF is taken as ITRF — the pole offset is
  ≲ 0.5″, i.e. ≲ 15 m on the ground). UT1 = UTC + ``dut1`` with ``dut1`` [s] given by the caller
  (default 0: UT1 ≈ UTC, |UT1−UTC| < 0.9 s ≈ 400 m of Earth rotation at the equator). Velocities include
  the ω × r term with ω the rate of that same GMST. This is exactly what Skyfield's ``TEME`` → ``ITRS``
  does when it has no polar-motion table; give Skyfield's UT1−UTC as ``dut1`` to agree with it.
* **TEME → GCRS**: Vallado's ``teme2eci``: TEME → true-of-date by the equation of the equinoxes
  Δψ·cos ε̄ (IAU-80 nutation, without the post-1994 kinematic terms), then the IAU-76 precession and
  IAU-80 nutation (via ERFA's ``pnm80``) back to the mean equator and equinox of J2000. That frame is
  FK5/J2000; by default (``bias=True``) ERFA's IAU-2000 frame bias (~23 mas) then takes it to the GCRS.
  What remains is the IAU-76/80 vs IAU-2006/2000A model difference, measured against Skyfield at
  1.6e-7 of the radius in 2026 (1 m in LEO, 7 m at GEO; 1.5 m / 10 m without the bias).
* **Geodetic**: WGS84 ellipsoid (a = 6378.137 km, 1/f = 298.257223563), latitude/longitude in degrees,
  height above the ellipsoid in km (iterated to < 1e-12 rad).

Array convention: positions and velocities have shape ``(..., 3)`` [km, km/s]; ``times`` (UTC) broadcast
against ``shape[:-1]`` — e.g. ``r`` of shape ``(N, T, 3)`` with ``times`` of shape ``(T,)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from s2p.time import jd_tt, jd_utc, to_datetime64

__all__ = [
    "WGS84_A_KM",
    "WGS84_F",
    "geodetic_to_itrf",
    "gmst82",
    "ground_track",
    "itrf_to_geodetic",
    "teme_to_gcrs",
    "teme_to_itrf",
]

WGS84_A_KM = 6378.137
WGS84_F = 1.0 / 298.257223563
_E2 = WGS84_F * (2.0 - WGS84_F)
_DAY_S = 86400.0
_TAU = 2.0 * np.pi
_J2000 = 2451545.0


def gmst82(times: Any, dut1: Any = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Greenwich mean sidereal angle (IAU-82) and its rate.

    Parameters
    ----------
    times : datetime64 (UTC) or anything :func:`s2p.time.to_datetime64` accepts
    dut1 : float or array, optional
        UT1 − UTC [s], broadcast against ``times`` (default 0).

    Returns
    -------
    theta : ndarray
        GMST [rad] in [0, 2π); NaN where a time is NaT (and so are the rotated vectors downstream).
    theta_dot : ndarray
        Its rate [rad/s].
    """
    utc = to_datetime64(times)
    whole, frac = jd_utc(utc)
    frac = frac + np.asarray(dut1, dtype=float) / _DAY_S
    t = ((whole - _J2000) + frac) / 36525.0  # Julian centuries of UT1 from J2000
    g = 67310.54841 + (8640184.812866 + (0.093104 + (-6.2e-6) * t) * t) * t  # seconds
    dg = 8640184.812866 + (2.0 * 0.093104 + (3.0 * -6.2e-6) * t) * t
    # the whole-day part of the JD is a half-integer: its fraction (0.5) is a multiple of the day
    theta = np.mod(np.mod(whole, 1.0) + frac + g / _DAY_S, 1.0) * _TAU
    theta_dot = (1.0 + dg / (_DAY_S * 36525.0)) * _TAU / _DAY_S
    nat = np.isnat(utc)
    if nat.any():  # NaT reads as a date in 1677: a missing time must give NaN, not a wrong angle
        theta, theta_dot = np.where(nat, np.nan, theta), np.where(nat, np.nan, theta_dot)
    return theta, theta_dot


def _rot_z(angle: np.ndarray, vec: np.ndarray) -> np.ndarray:
    """Frame rotation about z by ``angle`` (coordinates of ``vec`` in a frame turned by +angle)."""
    c = np.cos(angle)
    s = np.sin(angle)
    x, y, z = vec[..., 0], vec[..., 1], vec[..., 2]
    # z + 0·c: the shape of the others, and NaN with them when the angle is NaN (a NaT time)
    return np.stack([c * x + s * y, -s * x + c * y, z + 0.0 * c * x], axis=-1)


def teme_to_itrf(r: Any, v: Any = None, times: Any = None, *, dut1: Any = 0.0) -> Any:
    """TEME → ITRF (PEF; polar motion ignored) by GMST-82 at UT1 = UTC + dut1.

    Parameters
    ----------
    r : array_like (..., 3)
        TEME position [km].
    v : array_like (..., 3), optional
        TEME velocity [km/s].
    times : datetime64 (UTC), broadcastable to ``r.shape[:-1]``
    dut1 : float or array, optional
        UT1 − UTC [s].

    Returns
    -------
    r_itrf : ndarray (..., 3) [km], or ``(r_itrf, v_itrf)`` [km, km/s] when ``v`` is given.
    """
    if times is None:
        raise TypeError(
            "teme_to_itrf needs times: teme_to_itrf(r, v, times=...) or teme_to_itrf(r, times=...)"
        )
    r = np.asarray(r, dtype=float)
    theta, theta_dot = gmst82(times, dut1)
    r_pef = _rot_z(theta, r)
    if v is None:
        return r_pef
    v = np.asarray(v, dtype=float)
    v_rot = _rot_z(theta, v)
    # v_pef = R v − ω × r_pef with ω = (0, 0, θ̇)
    v_pef = np.stack(
        [v_rot[..., 0] + theta_dot * r_pef[..., 1], v_rot[..., 1] - theta_dot * r_pef[..., 0], v_rot[..., 2]],
        axis=-1,
    )
    return r_pef, v_pef


def teme_to_gcrs(r: Any, v: Any = None, times: Any = None, *, bias: bool = True) -> Any:
    """TEME → GCRS as Vallado's ``teme2eci`` (IAU-76/80, FK5 J2000; see the module notes).

    Parameters
    ----------
    r : array_like (..., 3)
        TEME position [km].
    v : array_like (..., 3), optional
        TEME velocity [km/s] (rotated only: the precession/nutation rates are neglected).
    times : datetime64 (UTC), broadcastable to ``r.shape[:-1]``
    bias : bool
        Apply the IAU-2000 frame bias J2000 → GCRS (~23 mas; default). ``False`` gives FK5 J2000,
        exactly Vallado's ``teme2eci``.

    Returns
    -------
    r_gcrs : ndarray (..., 3) [km], or ``(r_gcrs, v_gcrs)`` when ``v`` is given.
    """
    import erfa

    if times is None:
        raise TypeError(
            "teme_to_gcrs needs times: teme_to_gcrs(r, v, times=...) or teme_to_gcrs(r, times=...)"
        )
    r = np.asarray(r, dtype=float)
    t = to_datetime64(times)
    tt1, tt2 = jd_tt(t)
    dpsi, _deps = erfa.nut80(tt1, tt2)
    eqeq = dpsi * np.cos(erfa.obl80(tt1, tt2))
    npm = erfa.pnm80(tt1, tt2)  # (..., 3, 3): J2000 mean → true of date
    if bias:
        rb, _rp, _rbp = erfa.bp00(tt1, tt2)
        npm = npm @ rb
    m_t = np.swapaxes(npm, -1, -2)  # true of date → J2000/GCRS

    nat = np.isnat(t)[..., None]  # a missing time gives NaN (NaT reads as a date in 1677)

    def apply(x: np.ndarray) -> np.ndarray:
        tod = _rot_z(-eqeq, x)  # TEME → true equator, true equinox of date
        out = np.einsum("...ij,...j->...i", m_t, tod)
        return np.where(nat, np.nan, out) if nat.any() else out

    if v is None:
        return apply(r)
    return apply(r), apply(np.asarray(v, dtype=float))


def itrf_to_geodetic(r: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Earth-fixed Cartesian → WGS84 geodetic latitude, longitude [deg] and height [km].

    Parameters
    ----------
    r : array_like (..., 3)
        ITRF position [km].

    Returns
    -------
    lat_deg, lon_deg, alt_km : ndarray (...)
        Geodetic latitude in [-90, 90], longitude in (-180, 180], height above the ellipsoid.
    """
    r = np.asarray(r, dtype=float)
    x, y, z = r[..., 0], r[..., 1], r[..., 2]
    p = np.hypot(x, y)
    lon = np.arctan2(y, x)
    lat = np.arctan2(z, p * (1.0 - _E2))
    # fixed-point iteration on latitude; the height formula below is well-conditioned at the poles too
    for _ in range(8):
        s = np.sin(lat)
        n = WGS84_A_KM / np.sqrt(1.0 - _E2 * s * s)
        h = p * np.cos(lat) + z * s - WGS84_A_KM * np.sqrt(1.0 - _E2 * s * s)
        lat = np.arctan2(z, p * (1.0 - _E2 * n / (n + h)))
    s = np.sin(lat)
    h = p * np.cos(lat) + z * s - WGS84_A_KM * np.sqrt(1.0 - _E2 * s * s)
    return np.degrees(lat), np.degrees(lon), h


def geodetic_to_itrf(lat_deg: Any, lon_deg: Any, alt_km: Any = 0.0) -> np.ndarray:
    """WGS84 geodetic latitude, longitude [deg] and height [km] → ITRF position (..., 3) [km].

    The three inputs broadcast against each other (e.g. a column of latitudes and a row of longitudes
    give a grid); the result has the broadcast shape plus a last axis of 3.
    """
    lat, lon, h = np.broadcast_arrays(
        np.radians(np.asarray(lat_deg, dtype=float)),
        np.radians(np.asarray(lon_deg, dtype=float)),
        np.asarray(alt_km, dtype=float),
    )
    s = np.sin(lat)
    n = WGS84_A_KM / np.sqrt(1.0 - _E2 * s * s)
    return np.stack(
        [(n + h) * np.cos(lat) * np.cos(lon), (n + h) * np.cos(lat) * np.sin(lon), (n * (1.0 - _E2) + h) * s],
        axis=-1,
    )


def ground_track(tles: Any, times: Any, *, dut1: Any = 0.0) -> Any:
    """Sub-satellite points of a TLE catalogue: SGP4 → TEME → ITRF → WGS84 geodetic.

    Parameters
    ----------
    tles : s2p.debris.TLESet, or anything :func:`s2p.debris.read_tle` accepts
    times : datetime64 (UTC) array, 1-D (or anything :func:`s2p.time.to_datetime64` accepts)
    dut1 : float or array (T,), optional
        UT1 − UTC [s].

    Returns
    -------
    xarray.Dataset
        ``latitude`` [deg], ``longitude`` [deg], ``altitude`` [km] and the SGP4 ``error`` code on
        (``norad_id``, ``time``); NaN where SGP4 failed.
    """
    import xarray as xr

    from s2p.debris import propagate

    ds = propagate(tles, times)
    t = ds["time"].values
    r_itrf = teme_to_itrf(ds["position"].values, times=t, dut1=dut1)
    lat, lon, alt = itrf_to_geodetic(r_itrf)
    return xr.Dataset(
        {
            "latitude": (("norad_id", "time"), lat, {"units": "deg", "datum": "WGS84"}),
            "longitude": (("norad_id", "time"), lon, {"units": "deg", "datum": "WGS84"}),
            "altitude": (("norad_id", "time"), alt, {"units": "km", "datum": "WGS84"}),
            "error": ds["error"],
        },
        coords={k: ds.coords[k] for k in ("norad_id", "time", "name", "epoch")},
        attrs={"frame": "ITRF via GMST-82 (polar motion ignored)", "dut1_s": str(dut1)},
    )
