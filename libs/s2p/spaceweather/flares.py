"""Solar X-ray flares found in a GOES XRS-B (0.1-0.8 nm) irradiance series.

A flare here is a run of samples at or above a class threshold (C1.0 by default), runs separated by
less than ``merge_minutes`` being one flare; its peak is the highest sample and its class the NOAA
class of that peak (:func:`s2p.spaceweather.flare_class`). This is a threshold detection for
bulletins and plots, not NOAA's event list (which starts a flare at four minutes of monotonic rise and
ends it halfway back to the background): start and end times differ from NOAA's, peaks and classes do
not.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from s2p.spaceweather.goes import flare_class, flare_class_to_flux

COLUMNS = ["start", "peak_time", "end", "peak_flux_wm2", "flare_class", "n_samples"]


def flares(
    flux: Any, times: Any = None, *, threshold: str | float = "C1.0", merge_minutes: float = 10.0
) -> pd.DataFrame:
    """Flares of an XRS-B irradiance series.

    Parameters
    ----------
    flux : xarray.DataArray, pandas.Series or array_like
        XRS-B irradiance [W m-2]; a DataArray or Series brings its times.
    times : array_like of datetime64, optional
        Sample times (UTC) for a numpy ``flux``.
    threshold : str or float
        Lowest class (``"C1.0"``) or irradiance [W m-2] that belongs to a flare.
    merge_minutes : float
        Runs closer than this [min] are one flare.

    Returns
    -------
    pandas.DataFrame
        One row per flare, in time order: ``start``, ``peak_time``, ``end`` (first and last sample at
        or above the threshold), ``peak_flux_wm2``, ``flare_class``, ``n_samples``.
    """
    if isinstance(flux, xr.DataArray):
        if times is None:
            times = flux[flux.dims[0]].values
        flux = flux.values
    elif isinstance(flux, pd.Series):
        if times is None:
            times = flux.index.to_numpy()
        flux = flux.to_numpy(dtype=float)
    f = np.asarray(flux, dtype=float).ravel()
    if times is None:
        raise ValueError("flares() needs the sample times: pass a DataArray, a Series or times=")
    t = np.asarray(times, dtype="datetime64[ns]").ravel()
    if t.shape != f.shape:
        raise ValueError(f"times has shape {t.shape}, flux has {f.shape}")
    level = float(flare_class_to_flux(threshold)) if isinstance(threshold, str) else float(threshold)
    above = np.flatnonzero(np.isfinite(f) & (f >= level * (1.0 - 1e-6)))
    if above.size == 0:
        return pd.DataFrame(columns=COLUMNS)
    gap = np.timedelta64(int(merge_minutes * 60e9), "ns")
    breaks = np.flatnonzero(np.diff(t[above]) > gap) + 1
    rows = []
    for run in np.split(above, breaks):
        k = run[int(np.nanargmax(f[run]))]
        rows.append(
            {
                "start": t[run[0]],
                "peak_time": t[k],
                "end": t[run[-1]],
                "peak_flux_wm2": f[k],
                "flare_class": str(flare_class(f[k])),
                "n_samples": int(run.size),
            }
        )
    return pd.DataFrame(rows, columns=COLUMNS)
