"""Numba kernels of :mod:`s2p.spaceweather`: no validation, flat arrays in, flat arrays out.

The public modules check and label; these loops only compute. Each kernel has a trusted reference
used by the tests and by ``bench/spaceweather.py``:

=====================  ==========================================================================
kernel                 reference
=====================  ==========================================================================
``parse_fixed_width``  Python ``float()`` on the same column slices (and ``pandas.read_fwf``)
``tec_rotated``        a plain numpy transcription of the IONEX 1.0 interpolation formulas
``centred_mean``       ``pandas.Series.rolling(window, center=True).mean()``
=====================  ==========================================================================
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

# Exact powers of ten: dividing an exact integer mantissa by one of these gives the correctly
# rounded double, the same value as Python's float("269.8").
_POW10 = np.array([10.0**k for k in range(23)])

SPACE, MINUS, PLUS, DOT = 32, 45, 43, 46
OK, BAD_NUMBER, MISSING = 0, 1, 2


@njit(cache=True, nogil=True)
def parse_fixed_width(buf, starts, ends, col_start, col_stop, required, out):  # type: ignore[no-untyped-def]
    """Parse fixed-width decimal fields into ``out[row, col]`` (NaN for blank fields).

    Returns ``(row, col, code)`` of the first bad field, or ``(-1, -1, OK)``. A field runs from
    ``col_start`` to ``col_stop`` (0-based, exclusive) inside its line; the part beyond the end of a
    short line counts as blank. Accepted: optional sign, digits, at most one decimal point, spaces
    only before or after the number.
    """
    n = starts.shape[0]
    m = col_start.shape[0]
    pow10 = _POW10
    for i in range(n):
        s = starts[i]
        e = ends[i]
        for j in range(m):
            a = s + col_start[j]
            b = s + col_stop[j]
            if b > e:
                b = e
            while a < b and buf[a] == SPACE:
                a += 1
            if a >= b:
                if required[j]:
                    return i, j, MISSING
                out[i, j] = np.nan
                continue
            neg = False
            c = buf[a]
            if c == MINUS:
                neg = True
                a += 1
            elif c == PLUS:
                a += 1
            mant = 0
            ndig = 0
            frac = 0
            dot = False
            while a < b:
                c = buf[a]
                if c >= 48 and c <= 57:
                    if ndig < 18:  # int64 mantissa: 18 digits are always enough for these formats
                        mant = mant * 10 + (c - 48)
                        if dot:
                            frac += 1
                    elif not dot:
                        return i, j, BAD_NUMBER
                    ndig += 1
                elif c == DOT and not dot:
                    dot = True
                elif c == SPACE:
                    while a < b and buf[a] == SPACE:
                        a += 1
                    if a < b:
                        return i, j, BAD_NUMBER
                    break
                else:
                    return i, j, BAD_NUMBER
                a += 1
            if ndig == 0 or frac > 22:
                return i, j, BAD_NUMBER
            v = mant / pow10[frac]
            out[i, j] = -v if neg else v
    return -1, -1, OK


@njit(cache=True, nogil=True)
def centred_mean(x, half):  # type: ignore[no-untyped-def]
    """Centred running mean over ``2 * half + 1`` samples; NaN where the window is not full.

    A running sum would be O(n) but drifts and cannot skip NaN cleanly; windows here are 81 samples
    of daily data, so the direct O(n * w) sum costs microseconds and is exact to the last bit of a
    fresh summation, which is what the comparison against the provider's column needs.
    """
    n = x.shape[0]
    out = np.empty(n)
    w = 2 * half + 1
    for i in range(n):
        if i < half or i + half >= n:
            out[i] = np.nan
            continue
        acc = 0.0
        for k in range(i - half, i + half + 1):
            acc += x[k]
        out[i] = acc / w  # NaN propagates: an incomplete window gives NaN
    return out


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
