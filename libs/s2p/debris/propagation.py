"""SGP4/SDP4 propagation of TLE catalogues: the public layer over the numba kernels.

The model is Vallado, Crawford, Hujsak & Kelso (2006), "Revisiting Spacetrack Report #3" (AIAA
2006-6753) with WGS72 constants — the same algorithm as the reference C++ and the PyPI ``sgp4``
package — including the deep-space (SDP4) lunar-solar periodics and the 12 h / 24 h resonances.
Output is in TEME (the "true equator, mean equinox" frame of the model), km and km/s.

``opsmode`` selects the reference's operation mode: ``"i"`` (improved, default — as ``sgp4``'s
``Satrec.twoline2rv`` and the published ``tcppver.out``) or ``"a"`` (AFSPC: old GMST at epoch and the
AFSPC handling of the node in the Lyddane branch).

Error codes (array ``err``): 0 ok, 1 mean eccentricity ∉ [-0.001, 1), 2 mean motion ≤ 0, 3 perturbed
eccentricity ∉ [0, 1], 4 semi-latus rectum < 0, 6 decayed (orbit radius < Earth radius; position still
given). Positions and velocities are NaN for codes 1–4.
"""

from __future__ import annotations

import math
from typing import Any

import numba
import numpy as np

from s2p.debris import _sgp4_init, _sgp4_kernels
from s2p.debris.tle import TLESet, read_tle
from s2p.time import jd_utc, to_datetime64

__all__ = ["ERROR_CODES", "propagate", "sgp4", "sgp4_tsince"]

ERROR_CODES = {
    0: "ok",
    1: "mean eccentricity out of range [-0.001, 1)",
    2: "mean motion not positive",
    3: "perturbed eccentricity out of range [0, 1]",
    4: "semi-latus rectum negative",
    6: "satellite decayed (radius below 1 Earth radius)",
}
_DEG = math.pi / 180.0
# Satellites per work item of the parallel loop: dynamic chunks instead of one static half per thread,
# so that a thread descheduled by other load (or a run of slow deep-space objects) does not hold up the
# whole call; 32 objects × a day of epochs is ~1 ms of work, far above the scheduling cost.
_CHUNK = 32
_XPDOTP = 1440.0 / (2.0 * math.pi)  # rev/day → rad/min divisor


def _as_tleset(tles: Any) -> TLESet:
    return tles if isinstance(tles, TLESet) else read_tle(tles)


def _constants(tles: TLESet, opsmode: str) -> np.ndarray:
    """The kernel's per-satellite constants, computed once per set and operation mode."""
    if opsmode not in ("a", "i"):
        raise ValueError(f"opsmode must be 'a' (AFSPC) or 'i' (improved), not {opsmode!r}")
    key = f"sgp4_constants_{opsmode}"
    if key not in tles._cache:
        # The reference forms the epoch as (whole JD + fraction) - 2433281.5, i.e. rounded to a float64
        # JD (~40 µs). Deep-space resonances see that rounding through GMST at epoch (~4e-6 km after days
        # for a 24 h resonant orbit), so we round the same way to agree with it to its printed digits.
        whole, frac = jd_utc(tles.epoch)
        epoch = (whole + frac) - 2433281.5
        tles._cache[key] = _sgp4_init.sgp4_init(
            np.ascontiguousarray(epoch, dtype=float),
            np.ascontiguousarray(tles.bstar, dtype=float),
            np.ascontiguousarray(tles.eccentricity, dtype=float),
            np.ascontiguousarray(tles.arg_perigee_deg * _DEG),
            np.ascontiguousarray(tles.inclination_deg * _DEG),
            np.ascontiguousarray(tles.mean_anomaly_deg * _DEG),
            np.ascontiguousarray(tles.mean_motion_rev_per_day / _XPDOTP),
            np.ascontiguousarray(tles.raan_deg * _DEG),
            opsmode == "a",
        )
    return tles._cache[key]


def sgp4(
    tles: Any, times: Any, *, opsmode: str = "i", out: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Propagate every element set to every time with SGP4/SDP4 (raw arrays, TEME).

    Parameters
    ----------
    tles : TLESet, or anything :func:`read_tle` accepts
        N element sets.
    times : datetime64 array (UTC), or anything :func:`s2p.time.to_datetime64` accepts
        T times (any shape; a scalar gives T = 1 without the time axis).
    opsmode : {"i", "a"}
        Operation mode of the reference code (improved, default; or AFSPC).
    out : (r, v, err), optional
        Arrays to fill instead of new ones (C-contiguous float64 ``(N, T, 3)`` twice and int8
        ``(N, T)``, T the number of times): a caller propagating many batches of the same size
        saves the allocation and first touch of ~50 bytes per state. They are returned.

    Returns
    -------
    r : ndarray, shape (N, T, 3)
        TEME position [km].
    v : ndarray, shape (N, T, 3)
        TEME velocity [km/s].
    err : ndarray of int8, shape (N, T)
        Error codes (see :data:`ERROR_CODES`); 0 where the result is valid.
    """
    tles = _as_tleset(tles)
    t = to_datetime64(times)
    shape = t.shape
    t_ns = np.ascontiguousarray(t.reshape(-1).astype("int64"))
    if np.any(t.reshape(-1) != t.reshape(-1)):  # NaT
        raise ValueError("times contain NaT")
    c = _constants(tles, opsmode)
    n = len(tles)
    if out is None:
        r = np.empty((n, t_ns.shape[0], 3))
        v = np.empty((n, t_ns.shape[0], 3))
        err = np.zeros((n, t_ns.shape[0]), dtype=np.int8)
    else:
        r, v, err = _check_out(out, n, t_ns.shape[0])
        err.fill(0)
    if n:
        epoch_ns = np.ascontiguousarray(tles.epoch.astype("int64"))
        with numba.parallel_chunksize(_CHUNK):
            _sgp4_kernels.propagate_ns(c, epoch_ns, t_ns, opsmode == "a", r, v, err)
    return r.reshape((n, *shape, 3)), v.reshape((n, *shape, 3)), err.reshape((n, *shape))


def _check_out(out: Any, n: int, t: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    try:
        r, v, err = out
    except (TypeError, ValueError):
        raise TypeError("out must be a tuple (r, v, err) of arrays") from None
    for name, arr, shape, dtype in (("r", r, (n, t, 3), np.float64), ("v", v, (n, t, 3), np.float64),
                                    ("err", err, (n, t), np.int8)):  # fmt: skip
        if not isinstance(arr, np.ndarray) or arr.shape != shape or arr.dtype != dtype:
            got = f"{arr.dtype} {arr.shape}" if isinstance(arr, np.ndarray) else type(arr).__name__
            raise ValueError(f"out {name} must be a {np.dtype(dtype)} array of shape {shape}, got {got}")
        if not arr.flags.c_contiguous or not arr.flags.writeable:
            raise ValueError(f"out {name} must be C-contiguous and writeable")
    return r, v, err


def sgp4_tsince(tles: Any, minutes: Any, *, opsmode: str = "i") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Like :func:`sgp4`, at times given as minutes since each element set's own epoch.

    Parameters
    ----------
    tles : TLESet, or anything :func:`read_tle` accepts
    minutes : float or array_like of float, shape (T,)
        Time since epoch [min], the same for every satellite.
    opsmode : {"i", "a"}

    Returns
    -------
    r [km], v [km/s] of shape (N, T, 3) in TEME, and err (N, T) int8; (N, 3) and (N,) for a scalar
    ``minutes``, as :func:`sgp4` does for a scalar time.
    """
    tles = _as_tleset(tles)
    given = np.asarray(minutes, dtype=float)
    if given.ndim > 1:
        raise ValueError("minutes must be a scalar or one-dimensional")
    m = np.ascontiguousarray(given.reshape(-1))
    c = _constants(tles, opsmode)
    n = len(tles)
    r = np.empty((n, m.shape[0], 3))
    v = np.empty((n, m.shape[0], 3))
    err = np.zeros((n, m.shape[0]), dtype=np.int8)
    if n:
        with numba.parallel_chunksize(_CHUNK):
            _sgp4_kernels.propagate_minutes(c, m, opsmode == "a", r, v, err)
    if given.ndim == 0:
        return r[:, 0], v[:, 0], err[:, 0]
    return r, v, err


def propagate(tles: Any, times: Any, *, opsmode: str = "i") -> Any:
    """Propagate a catalogue and label the result.

    Parameters
    ----------
    tles : TLESet, or anything :func:`read_tle` accepts
    times : datetime64 array (UTC) or anything :func:`s2p.time.to_datetime64` accepts (1-D or scalar)
    opsmode : {"i", "a"}

    Returns
    -------
    xarray.Dataset
        ``position`` [km] and ``velocity`` [km/s] on (``norad_id``, ``time``, ``axis`` = x, y, z) in TEME,
        ``error`` (``norad_id``, ``time``) with the SGP4 error codes; coordinates ``name`` and ``epoch`` on
        ``norad_id``.
    """
    import xarray as xr

    tles = _as_tleset(tles)
    t = np.atleast_1d(to_datetime64(times))
    if t.ndim != 1:
        raise ValueError("times must be a scalar or one-dimensional")
    r, v, err = sgp4(tles, t, opsmode=opsmode)
    coords = {
        "norad_id": tles.norad_id,
        "time": t,
        "axis": np.array(["x", "y", "z"]),
        "name": ("norad_id", np.asarray(tles.name, dtype=str)),
        "epoch": ("norad_id", tles.epoch),
    }
    ds = xr.Dataset(
        {
            "position": (("norad_id", "time", "axis"), r, {"units": "km", "frame": "TEME"}),
            "velocity": (("norad_id", "time", "axis"), v, {"units": "km/s", "frame": "TEME"}),
            "error": (
                ("norad_id", "time"),
                err,
                {"description": "SGP4 error code: " + "; ".join(f"{k} {d}" for k, d in ERROR_CODES.items())},
            ),
        },
        coords=coords,
        attrs={
            "frame": "TEME",
            "model": "SGP4/SDP4 (Vallado et al. 2006), WGS72",
            "opsmode": opsmode,
            "time_scale": "UTC",
        },
    )
    return ds
