"""Geomagnetic and solar indices: Kp <-> ap, daily Ap, NOAA G-scale, storm episodes, F10.7 averages.

Every function takes a scalar, a numpy array or an :class:`xarray.DataArray` (dask-backed ones stay
lazy, except :func:`storms`, whose result is a table and therefore computes its input).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from s2p.spaceweather._apply import along, elementwise
from s2p.time import to_datetime64

#: ap for Kp = 0o, 0+, 1-, 1o, ... 9-, 9o (Bartels 1957; the GFZ and NOAA conversion table).
KP_AP_TABLE = np.array(
    [
        0,
        2,
        3,
        4,
        5,
        6,
        7,
        9,
        12,
        15,
        18,
        22,
        27,
        32,
        39,
        48,
        56,
        67,
        80,
        94,
        111,
        132,
        154,
        179,
        207,
        236,
        300,
        400,
    ],
    dtype=float,
)
#: Kp values of the table rows, in thirds: 0, 1/3, 2/3, 1, ...
KP_VALUES = np.arange(28) / 3.0

# NOAA G-scale lower bounds in Kp thirds: G1 = Kp 5 (5- counts), ..., G4 = Kp 8 including 9-, G5 = 9o.
_G_LOWER_THIRDS = np.array([14, 17, 20, 23, 27])


def kp_thirds(kp: Any) -> Any:
    """Kp rounded to the nearest third (undoes the 0.333/0.667 and 4.3/4.7 notations).

    Parameters
    ----------
    kp : float, array_like or xarray.DataArray
        Kp as a decimal; NaN stays NaN.

    Returns
    -------
    same type as ``kp``
        Kp as exact thirds, e.g. 4.333 -> 13/3.
    """
    return elementwise(
        lambda a: np.round(np.asarray(a, dtype=float) * 3.0) / 3.0,
        kp,
        float,
        units="1",
        long_name="planetary three-hour index Kp",
    )


def _kp_index(kp: np.ndarray) -> np.ndarray:
    thirds = np.round(np.asarray(kp, dtype=float) * 3.0)
    return np.where((thirds >= 0) & (thirds <= 27), thirds, np.nan)


def _kp_to_ap(kp: np.ndarray) -> np.ndarray:
    idx = _kp_index(kp)
    ok = np.isfinite(idx)
    out = np.full(idx.shape, np.nan)
    out[ok] = KP_AP_TABLE[idx[ok].astype(np.int64)]
    return out


def kp_to_ap(kp: Any) -> Any:
    """Three-hourly ap from Kp by the standard table.

    Parameters
    ----------
    kp : float, array_like or xarray.DataArray
        Kp as a decimal (``4.333`` or ``13/3`` for 4+); values are rounded to the nearest third.
        Outside [0, 9] or NaN gives NaN.

    Returns
    -------
    ap : same type as ``kp``
        Equivalent amplitude ap [units of 2 nT].
    """
    return elementwise(_kp_to_ap, kp, float, units="1", long_name="three-hourly equivalent amplitude ap")


def _ap_to_kp(ap: np.ndarray) -> np.ndarray:
    a = np.asarray(ap, dtype=float)
    out = np.interp(a, KP_AP_TABLE, KP_VALUES)
    return np.where((a >= 0) & (a <= 400), out, np.nan)


def ap_to_kp(ap: Any) -> Any:
    """Kp from ap: exact inverse of :func:`kp_to_ap` at table values, linear between them.

    Parameters
    ----------
    ap : float, array_like or xarray.DataArray
        ap or Ap [units of 2 nT], 0 to 400; other values give NaN.

    Returns
    -------
    kp : same type as ``ap``
        Kp as a decimal (thirds for the table values, e.g. 300 -> 8.667 = 9-).
    """
    return elementwise(_ap_to_kp, ap, float, units="1", long_name="planetary K index Kp")


def _g_scale(kp: np.ndarray) -> np.ndarray:
    idx = _kp_index(kp)
    g = (idx[..., None] >= _G_LOWER_THIRDS).sum(axis=-1).astype(float)
    return np.where(np.isfinite(idx), g, np.nan)


def g_scale(kp: Any) -> Any:
    """NOAA geomagnetic storm level G0-G5 of each Kp value.

    G1 is Kp 5 (5-, 5o, 5+), G2 Kp 6, G3 Kp 7, G4 Kp 8 *including 9-*, G5 Kp 9o (NOAA Space Weather
    Scales; AMS Glossary "G scale").

    Parameters
    ----------
    kp : float, array_like or xarray.DataArray
        Kp as a decimal; rounded to the nearest third first.

    Returns
    -------
    g : same type as ``kp``, float
        0 (no storm) to 5; NaN where Kp is missing.
    """
    return elementwise(_g_scale, kp, float, units="1", long_name="NOAA geomagnetic storm scale level (G)")


def _daily_mean_rounded(ap8: np.ndarray) -> np.ndarray:
    a = np.asarray(ap8, dtype=float)
    n = a.shape[-1] // 8
    m = a[..., : n * 8].reshape(a.shape[:-1] + (n, 8)).mean(axis=-1)
    # "The arithmetic mean of the UT day's 8 ap values rounded to integer" (GFZ). Halves go to the
    # even neighbour: that reproduces the daily Ap of every observed day of CelesTrak's SW-All
    # (half-up misses ~1,550 of them), see tests/s2p/spaceweather/test_celestrak.py.
    return np.round(m)


def daily_ap(ap: Any, dim: str = "time") -> Any:
    """Daily Ap: the mean of the eight three-hourly ap values of each UT day, rounded to integer
    (halves to even, as the providers do).

    Parameters
    ----------
    ap : array_like (..., 8 * ndays) or xarray.DataArray
        Three-hourly ap [2 nT] starting at 00 UT of the first day, no gaps. For a DataArray, along
        ``dim`` (coordinate values are taken at the start of each day).

    Returns
    -------
    Ap : ndarray (..., ndays) or xarray.DataArray on ``date``
        Daily Ap [2 nT]; NaN if any of the day's eight values is missing.
    """
    if isinstance(ap, xr.DataArray):
        n = ap.sizes[dim] // 8
        ap = ap.isel({dim: slice(0, n * 8)})
        out = xr.apply_ufunc(
            _daily_mean_rounded,
            ap,
            input_core_dims=[[dim]],
            output_core_dims=[["date"]],
            dask="parallelized",
            output_dtypes=[float],
            dask_gufunc_kwargs={"output_sizes": {"date": n}, "allow_rechunk": True},
        )
        if dim in ap.coords:
            out = out.assign_coords(date=ap[dim].values[::8])
        out.attrs = {"units": "1", "long_name": "daily equivalent planetary amplitude Ap"}
        return out
    return _daily_mean_rounded(np.asarray(ap, dtype=float))


def _centred(x: np.ndarray, window: int) -> np.ndarray:
    # all windows at once (a strided view, no copy); NaN inside a window propagates to its mean
    x = np.asarray(x, dtype=np.float64)
    out = np.full(x.shape, np.nan)
    if x.size >= window:
        half = window // 2
        out[half : x.size - half] = np.lib.stride_tricks.sliding_window_view(x, window).mean(axis=-1)
    return out


def centred_average(values: Any, window: int = 81, dim: str = "date") -> Any:
    """Centred running mean, e.g. the 81-day centred F10.7 average used by NRLMSISE-00 and JB2008.

    Parameters
    ----------
    values : array_like or xarray.DataArray
        Equally spaced daily values (e.g. observed F10.7 [sfu]), along the last axis or ``dim``.
    window : int
        Odd window length in samples (81 days by default).
    dim : str
        Dimension of a DataArray to average along.

    Returns
    -------
    same type as ``values``
        Mean of the ``window`` samples centred on each one; NaN where the window runs off the
        series or contains a missing value.
    """
    if window < 1 or window % 2 == 0:
        raise ValueError(f"window must be a positive odd number of samples, got {window}")
    attrs = dict(getattr(values, "attrs", {}))
    attrs["long_name"] = f"{window}-sample centred mean of {attrs.get('long_name', 'values')}"
    return along(lambda a: _centred(a, window), values, dim, float, **attrs)


def f107_centred_average(f107: Any, dim: str = "date") -> Any:
    """81-day centred average of daily F10.7 [sfu]; see :func:`centred_average`."""
    return centred_average(f107, 81, dim)


def storms(kp: Any, times: Any = None, *, min_level: int = 1, cadence_hours: float = 3.0) -> pd.DataFrame:
    """Geomagnetic storm episodes: runs of consecutive Kp intervals at or above a G level.

    Parameters
    ----------
    kp : array_like, xarray.DataArray or pandas.Series
        Three-hourly Kp. A DataArray supplies its ``time`` coordinate (interval start times), a
        Series its ``DatetimeIndex`` (time-zone aware ones are converted to UTC); a dask-backed
        DataArray is computed (the result is a table).
    times : array_like of datetime64, optional
        Interval start times (UTC) for a numpy ``kp``; without them ``start``/``end`` are sample
        indices.
    min_level : int
        Lowest G level that belongs to a storm (1 = G1 = Kp 5-).
    cadence_hours : float
        Length of one Kp interval [h]; ``end`` is the end of the last interval of the episode.

    Returns
    -------
    pandas.DataFrame
        One row per episode: ``start``, ``end``, ``peak_time``, ``max_kp``, ``g_scale`` (the highest
        level reached) and ``n_intervals``. A missing value or a gap in ``times`` ends an episode.
    """
    if isinstance(kp, xr.DataArray):
        if times is None:
            dim = kp.dims[0]
            times = kp[dim].values if dim in kp.coords else None
        kp = kp.values  # computes a dask-backed array
    elif isinstance(kp, pd.Series):
        if times is None and isinstance(kp.index, pd.DatetimeIndex):
            times = kp.index
        kp = kp.to_numpy(dtype=float, na_value=np.nan)
    k = np.asarray(kp, dtype=float).ravel()
    g = _g_scale(k)
    inside = np.nan_to_num(g, nan=0.0) >= min_level
    step: Any
    if times is not None:
        t = to_datetime64(times)  # strings, pandas (tz-aware too) and datetime64 alike
        if t.shape != k.shape:
            raise ValueError(f"times has shape {t.shape}, kp has {k.shape}")
        step = np.timedelta64(int(round(cadence_hours * 3600e9)), "ns")
        contiguous = np.diff(t) == step
    else:
        t = np.arange(k.size)
        step = 1
        contiguous = np.ones(max(k.size - 1, 0), dtype=bool)
    # an episode starts where `inside` switches on, or continues across a time gap
    start_mask = inside & ~np.concatenate(([False], inside[:-1] & contiguous))
    starts = np.flatnonzero(start_mask)
    ends = np.empty_like(starts)
    if starts.size:
        brk = ~np.concatenate((inside[1:] & contiguous, [False]))  # last interval of a run
        last = np.flatnonzero(inside & brk)
        ends = last
    rows = []
    for a, b in zip(starts, ends, strict=True):
        seg = k[a : b + 1]
        p = a + int(np.nanargmax(seg))
        rows.append(
            {
                "start": t[a],
                "end": t[b] + step,
                "peak_time": t[p],
                "max_kp": float(np.round(k[p] * 3) / 3),
                "g_scale": int(np.nanmax(g[a : b + 1])),
                "n_intervals": int(b - a + 1),
            }
        )
    cols = ["start", "end", "peak_time", "max_kp", "g_scale", "n_intervals"]
    return pd.DataFrame(rows, columns=cols)
