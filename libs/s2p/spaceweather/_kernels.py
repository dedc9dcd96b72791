"""Numba kernels of :mod:`s2p.spaceweather`: no validation, flat arrays in, flat arrays out.

The public modules check and label; these loops only compute. Each kernel has a trusted reference
(:mod:`s2p.spaceweather._reference`) used by the tests and by ``bench/spaceweather.py``. The text
parsers and running means are vectorised numpy instead: they are fast enough that numba's start-up
(~0.5 s in a fresh kernel) would cost more than it saves.

=====================  ==========================================================================
kernel                 reference
=====================  ==========================================================================
``tec_rotated``        a plain numpy transcription of the IONEX 1.0 interpolation formulas
=====================  ==========================================================================
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def tec_rotated(t, lat, lon, maps, t0, dt, lat0, dlat, lon0, dlon, rotate, wrap):  # type: ignore[no-untyped-def]
    """TEC at points ``(t, lat, lon)`` from a stack of IONEX maps ``maps[k, i, j]``.

    ``t`` in seconds after the first map (epoch of map k is ``t0 + k * dt``), angles in degrees;
    grid node ``(i, j)`` is at ``(lat0 + i * dlat, lon0 + j * dlon)`` (``dlat`` may be negative).
    Time: linear between the two maps around ``t``; with ``rotate`` each map is first rotated with
    the Sun, i.e. read at ``lon + 360 * (t - T_k) / 86400`` (IONEX 1.0, sect. 2.3, formula 3).
    Space: bilinear in the four surrounding nodes. ``wrap``: the grid spans 360 degrees of longitude,
    so longitudes are reduced modulo 360 before locating the cell. Points outside -> NaN.
    """
    n = t.shape[0]
    nmap, nlat, nlon = maps.shape
    out = np.empty(n)
    tmax = (nmap - 1) * dt
    for p in range(n):
        tp = t[p] - t0
        if not (tp >= 0.0 and tp <= tmax):
            out[p] = np.nan
            continue
        k = int(tp / dt)
        if k >= nmap - 1:
            k = nmap - 2 if nmap > 1 else 0
        tk = k * dt
        if nmap > 1:
            wt = (tp - tk) / dt
        else:
            wt = 0.0
        # latitude cell (same for both maps)
        q = (lat[p] - lat0) / dlat
        if not (q >= 0.0 and q <= nlat - 1):
            out[p] = np.nan
            continue
        i = int(q)
        if i >= nlat - 1:
            i = nlat - 2
        q -= i
        acc = 0.0
        for m in range(2):
            kk = k + m
            w = (1.0 - wt) if m == 0 else wt
            if w == 0.0:
                continue  # keeps exact map values at map epochs and skips a lookup
            lam = lon[p]
            if rotate:
                lam = lam + 360.0 * (tp - kk * dt) / 86400.0
            r = (lam - lon0) / dlon
            if wrap:
                period = 360.0 / abs(dlon)
                r = r - period * math.floor(r / period)
            if not (r >= 0.0 and r <= nlon - 1):
                acc = np.nan
                break
            j = int(r)
            if j >= nlon - 1:
                j = nlon - 2
            r -= j
            e00 = maps[kk, i, j]
            e01 = maps[kk, i, j + 1]
            e10 = maps[kk, i + 1, j]
            e11 = maps[kk, i + 1, j + 1]
            v = (1.0 - r) * (1.0 - q) * e00 + r * (1.0 - q) * e01 + (1.0 - r) * q * e10 + r * q * e11
            acc += w * v
        out[p] = acc
    return out
