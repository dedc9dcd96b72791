"""One way to run an array function on numpy, on xarray and on dask-backed xarray.

Element-wise functions go through :func:`xarray.apply_ufunc` with ``dask="parallelized"`` so a
dask-backed input stays lazy, chunk by chunk; numpy (and scalars) are passed straight through.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import xarray as xr


def elementwise(func: Callable[[np.ndarray], np.ndarray], x: Any, dtype: Any, **attrs: Any) -> Any:
    """Apply ``func`` element-wise; the result has the type of ``x`` (scalar, ndarray or DataArray)."""
    if isinstance(x, xr.DataArray):
        out = xr.apply_ufunc(func, x, dask="parallelized", output_dtypes=[dtype])
        out.attrs = dict(attrs)
        return out
    if isinstance(x, xr.Dataset):
        raise TypeError("pass a DataArray (one variable), not a Dataset")
    arr = np.asarray(x)
    res = func(arr)
    if arr.ndim == 0:
        return res[()] if isinstance(res, np.ndarray) else res
    return res


def along(func: Callable[[np.ndarray], np.ndarray], x: Any, dim: str | None, dtype: Any, **attrs: Any) -> Any:
    """Apply a 1-D ``func`` along ``dim`` (an xarray dimension) or the last axis (numpy)."""
    if isinstance(x, xr.DataArray):
        d = dim or x.dims[-1]
        out = xr.apply_ufunc(
            lambda a: np.apply_along_axis(func, -1, a) if a.ndim > 1 else func(a),
            x,
            input_core_dims=[[d]],
            output_core_dims=[[d]],
            dask="parallelized",
            output_dtypes=[dtype],
            # a running window needs its whole axis in one chunk: let dask rechunk that axis only
            dask_gufunc_kwargs={"allow_rechunk": True},
        )
        out = out.transpose(*x.dims)
        out.attrs = dict(attrs)
        return out
    arr = np.asarray(x, dtype=float)
    if arr.ndim == 1:
        return func(arr)
    return np.apply_along_axis(func, -1, arr)
