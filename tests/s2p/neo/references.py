"""Trusted references for the s2p.neo kernels, registered once; used by the tests and by ``bench/neo.py``.

| kernel                         | reference                                                        |
|--------------------------------|------------------------------------------------------------------|
| ``moid_elements`` / ``moid``   | ``distlink`` (PyPI distlink-python, port of Baluev & Mikryukov)  |
| ``propagate`` (Kepler)         | :func:`numpy_two_body` below, an independent vectorised Newton   |
| ``ephemeris``                  | Skyfield: ``mpc.mpcorb_orbit`` + ``observe()`` on DE421          |
| Palermo / Torino               | the values published in the ESA and JPL risk lists               |
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

AU_KM = 149597870.700


# ---------------------------------------------------------------- distlink
def distlink_moid(a1, e1, i1, node1, peri1, a2, e2, i2, node2, peri2) -> tuple[float, bool]:
    """MOID [au] by distlink's MOID_fast (angles in degrees) and its own reliability flag."""
    import distlink

    o1 = distlink.COrbitData(a1, e1, math.radians(i1), math.radians(peri1), math.radians(node1))
    o2 = distlink.COrbitData(a2, e2, math.radians(i2), math.radians(peri2), math.radians(node2))
    max_root, min_root, _ = distlink.detect_suitable_options()
    r = distlink.MOID_fast(o1, o2, max_root, min_root)
    return float(r.distance), bool(r.good)


# ---------------------------------------------------------------- numpy two-body
def numpy_two_body(a, e, i_deg, node_deg, peri_deg, m_deg) -> np.ndarray:
    """Elliptic positions [au] (N, 3), ecliptic, by plain numpy: Newton on Kepler's equation from E0 = M
    (or pi for e > 0.8) until the step is below 1e-15, then the classical rotation R3(-node) R1(-i) R3(-peri).
    """
    a, e = np.asarray(a, float), np.asarray(e, float)
    m = np.mod(np.radians(m_deg), 2 * np.pi)
    big_e = np.where(e > 0.8, np.pi, m)
    for _ in range(100):
        step = (big_e - e * np.sin(big_e) - m) / (1.0 - e * np.cos(big_e))
        big_e = big_e - step
        if np.all(np.abs(step) < 1e-15):
            break
    xp = a * (np.cos(big_e) - e)
    yp = a * np.sqrt(1.0 - e * e) * np.sin(big_e)
    w, o, inc = np.radians(peri_deg), np.radians(node_deg), np.radians(i_deg)
    # rotate by the argument of perihelion, then tilt by the inclination, then turn by the node
    x1 = xp * np.cos(w) - yp * np.sin(w)
    y1 = xp * np.sin(w) + yp * np.cos(w)
    y2 = y1 * np.cos(inc)
    z2 = y1 * np.sin(inc)
    x3 = x1 * np.cos(o) - y2 * np.sin(o)
    y3 = x1 * np.sin(o) + y2 * np.cos(o)
    return np.stack([x3, y3, z2], axis=-1)


# ---------------------------------------------------------------- Skyfield on the same DE421
def skyfield_de421() -> dict[str, Any]:
    """Skyfield vector functions for the Sun and the Earth computed from the PyPI ``de421`` package.

    Skyfield loads SPICE ``.bsp`` kernels, and ``de421`` ships the same ephemeris as jplephem ``.npy``
    segments; these small adapters feed those segments to Skyfield so that both sides use one ephemeris.
    """
    import de421
    from jplephem.ephem import Ephemeris
    from skyfield.api import load
    from skyfield.vectorlib import VectorFunction

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        eph = Ephemeris(de421)

    class _DE421Body(VectorFunction):
        def __init__(self, name: str, target: int):
            self.center = 0
            self.target = target
            self._name = name

        def _at(self, t):
            w, f = t.whole, t.tdb_fraction
            if self._name == "earth":
                p1, v1 = eph.position_and_velocity("earthmoon", w, f)
                p2, v2 = eph.position_and_velocity("moon", w, f)
                p, v = p1 - p2 * eph.earth_share, v1 - v2 * eph.earth_share
            else:
                p, v = eph.position_and_velocity(self._name, w, f)
            if np.ndim(w) == 0:
                p, v = p[:, 0], v[:, 0]
            return p / AU_KM, v / AU_KM, None, None

    return {
        "sun": _DE421Body("sun", 10),
        "earth": _DE421Body("earth", 399),
        "ts": load.timescale(builtin=True),
    }


def skyfield_radec(
    sky: dict[str, Any], mpcorb_line_rows: Any, k: int, times: np.ndarray, observer_km: Any = None
) -> np.ndarray:
    """Astrometric (ra, dec) [deg] of row k of a Skyfield MPCORB dataframe at UTC ``times``."""
    import pandas as pd
    from skyfield.data import mpc
    from skyfield.toposlib import ITRSPosition
    from skyfield.units import Distance

    from s2p.neo.orbits import GM_SUN_AU3_D2

    gm_km3_s2 = GM_SUN_AU3_D2 * AU_KM**3 / 86400.0**2
    ts = sky["ts"]
    body = sky["sun"] + mpc.mpcorb_orbit(mpcorb_line_rows.iloc[k], ts, gm_km3_s2)
    obs = sky["earth"] if observer_km is None else sky["earth"] + ITRSPosition(Distance(km=observer_km))
    out = []
    for tt in times:
        t = ts.from_datetime(pd.Timestamp(tt).tz_localize("UTC").to_pydatetime())
        ra, dec, _ = obs.at(t).observe(body).radec()
        out.append((ra._degrees, dec.degrees))
    return np.array(out)


def separation_arcsec(ra1, dec1, ra2, dec2) -> np.ndarray:
    """Angular separation [arcsec] of points given in degrees (haversine: exact also when tiny)."""
    r1, d1, r2, d2 = (np.radians(np.asarray(x, float)) for x in (ra1, dec1, ra2, dec2))
    h = np.sin((d2 - d1) / 2) ** 2 + np.cos(d1) * np.cos(d2) * np.sin((r2 - r1) / 2) ** 2
    return np.degrees(2 * np.arcsin(np.sqrt(h))) * 3600.0
