"""Trusted references of the numba kernels, shared by the tests and by ``bench/spaceweather.py``.

They are plain numpy/pandas transcriptions of the published formulas, written independently of
the implementations they check (different wrapping and indexing), and favour clarity over speed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr


def tec_ionex_numpy(ds: xr.Dataset, t: np.ndarray, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """IONEX 1.0, sect. 2.3, in numpy: rotated maps linear in time, bilinear in space.

    E(t, b, l) = (T_{i+1} - t)/(T_{i+1} - T_i) E_i(b, l'_i) + (t - T_i)/(T_{i+1} - T_i) E_{i+1}(b, l'_{i+1}),
    l'_i = l + (t - T_i) [as an angle: 360 deg per day], and
    E(l0 + p dl, b0 + q db) = (1-p)(1-q) E00 + p(1-q) E10 + q(1-p) E01 + pq E11.
    Points must lie inside the time span and the latitude band of the maps.
    """
    maps = ds.tec.values
    T = (ds.time.values - ds.time.values[0]) / np.timedelta64(1, "s")
    tt = (t - ds.time.values[0]) / np.timedelta64(1, "s")
    i = np.clip(np.searchsorted(T, tt, side="right") - 1, 0, len(T) - 2)
    lat0, dlat = ds.lat.values[0], ds.lat.values[1] - ds.lat.values[0]
    lon0, dlon = ds.lon.values[0], ds.lon.values[1] - ds.lon.values[0]
    qf = (lat - lat0) / dlat
    b = np.minimum(np.floor(qf).astype(int), len(ds.lat) - 2)
    q = qf - b

    def rotated(k: np.ndarray) -> np.ndarray:
        lam = lon + (tt - T[k]) * 360.0 / 86400.0
        lam = (lam + 180.0) % 360.0 - 180.0  # into [-180, 180)
        pf = (lam - lon0) / dlon
        a = np.minimum(np.floor(pf).astype(int), len(ds.lon) - 2)
        p = pf - a
        return (
            (1 - p) * (1 - q) * maps[k, b, a]
            + p * (1 - q) * maps[k, b, a + 1]
            + q * (1 - p) * maps[k, b + 1, a]
            + p * q * maps[k, b + 1, a + 1]
        )

    w = (T[i + 1] - tt) / (T[i + 1] - T[i])
    return w * rotated(i) + (1 - w) * rotated(i + 1)


def centred_mean_pandas(x: np.ndarray, window: int) -> np.ndarray:
    """Centred running mean by ``pandas.Series.rolling`` (NaN where the window is incomplete)."""
    return pd.Series(np.asarray(x, dtype=float)).rolling(window, center=True).mean().to_numpy()


# implementation -> reference, used by tests/s2p/spaceweather and bench/spaceweather.py
REFERENCES = {
    "s2p.spaceweather._kernels.tec_rotated": tec_ionex_numpy,
    "s2p.spaceweather.indices.centred_average": centred_mean_pandas,
}
