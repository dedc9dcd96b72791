"""GOES XRS soft X-ray irradiance (netCDF4/HDF5 files of NOAA NCEI) and NOAA flare classes.

Both generations are read into the same names: GOES-13..15 science-quality ``sci_gxrs-l2-irrad``
files (``a_flux``/``b_flux``) and GOES-R / reprocessed ``sci_xrsf-l2-*`` files (``xrsa_flux``/
``xrsb_flux``). XRS-A is the 0.05-0.4 nm channel, XRS-B the 0.1-0.8 nm channel that defines the
flare class.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from s2p.errors import ParseError
from s2p.spaceweather._apply import elementwise
from s2p.spaceweather._source import read_bytes

LICENSE = "NOAA data: public domain (U.S. Government work); acknowledge NOAA NCEI / SWPC"
_RENAME = {"a_flux": "xrsa_flux", "b_flux": "xrsb_flux", "a_flags": "xrsa_flags", "b_flags": "xrsb_flags"}
_RENAME |= {"a_counts": "xrsa_counts", "b_counts": "xrsb_counts", "a_swpc_flags": "xrsa_swpc_flags"}
_RENAME |= {"b_swpc_flags": "xrsb_swpc_flags"}
_CLASS_LETTERS = np.array(["A", "B", "C", "M", "X"])
_CLASS_BASE = np.array([1e-8, 1e-7, 1e-6, 1e-5, 1e-4])
_BASE_OF = dict(zip(_CLASS_LETTERS.tolist(), _CLASS_BASE.tolist(), strict=True))


def read_goes_xrs(source: Any) -> xr.Dataset:
    """Read a GOES XRS netCDF file (GOES-13..15 ``gxrs`` or GOES-R ``xrsf`` products).

    Parameters
    ----------
    source : path, bytes or file
        A netCDF-4 (HDF5) file; netCDF-3 classic files are read with scipy.

    Returns
    -------
    xarray.Dataset
        ``xrsa_flux`` and ``xrsb_flux`` [W m-2] on ``time`` (UTC, as NOAA writes it: leap seconds
        neglected) with the file's other variables (flags, counts, electron corrections...);
        ``_FillValue`` entries as NaN, the global attributes kept, ``source`` and ``license`` added.

    Raises
    ------
    s2p.ParseError
        Not a netCDF/HDF5 file, or no XRS-B flux variable in it.
    """
    data, name = read_bytes(source)
    if data[:8] == b"\x89HDF\r\n\x1a\n":
        engine = "h5netcdf"
    elif data[:3] == b"CDF":
        engine = "scipy"
    else:
        raise ParseError("not a netCDF file (neither HDF5 nor netCDF-3 signature)", source=name, line=1)
    try:
        with xr.open_dataset(io.BytesIO(data), engine=engine) as raw:
            ds = raw.load()
    except Exception as exc:  # h5py/scipy raise many types for corrupt files
        raise ParseError(f"unreadable netCDF: {exc}", source=name) from exc
    ds = ds.rename({k: v for k, v in _RENAME.items() if k in ds.variables})
    if "xrsb_flux" not in ds or "time" not in ds.coords:
        raise ParseError("no XRS-B flux ('b_flux' or 'xrsb_flux') on a 'time' coordinate", source=name)
    for var in ("xrsa_flux", "xrsb_flux"):
        if var in ds:
            a = ds[var].attrs
            a["units"] = "W m-2"
            a.setdefault("long_name", f"XRS-{var[3].upper()} irradiance")
            # kept in the file's float32: flare_class judges boundaries at the data's own precision
    ds["xrsb_flux"].attrs["comment"] = (
        "0.1-0.8 nm; defines the NOAA flare class (see s2p.spaceweather.flare_class)"
    )
    origin = ds.attrs.get("source", "")
    ds.attrs["source"] = f"NOAA GOES XRS ({origin}); read from {Path(name).name}".replace("()", "").strip()
    ds.attrs["license"] = LICENSE
    return ds


def _flare_class(flux: np.ndarray) -> np.ndarray:
    f = np.asarray(flux)
    # Float32 data (as in every XRS file) carry ~7 digits: a stored 1e-4 reads back as
    # 9.9999997e-05. A slack of a few units in the last place of the *input's* precision makes
    # the class exact at the boundaries for the value the file meant, without moving any value
    # that is genuinely below a boundary by more than that precision.
    eps = np.finfo(f.dtype).eps if f.dtype.kind == "f" else np.finfo(np.float64).eps
    x = f.astype(np.float64)
    up = 1.0 + 4.0 * eps
    ok = np.isfinite(x) & (x > 0)
    xs = np.where(ok, x, 1.0) * up
    decade = (xs[..., None] >= _CLASS_BASE[1:]).sum(axis=-1)
    tenths = np.floor(xs / _CLASS_BASE[decade] * 10.0)
    tenths = np.where(decade > 0, np.maximum(tenths, 10.0), tenths)  # never "C0.9" after the slack
    letters = _CLASS_LETTERS[decade]
    whole = (tenths // 10).astype(np.int64).astype(str)
    frac = (tenths % 10).astype(np.int64).astype(str)
    out = np.char.add(np.char.add(np.char.add(letters, whole), "."), frac)
    return np.where(ok, out, "").astype("<U8")


def flare_class(flux: Any) -> Any:
    """NOAA flare class of an XRS-B (0.1-0.8 nm) irradiance.

    A = 1e-8, B = 1e-7, C = 1e-6, M = 1e-5, X = 1e-4 W m-2; the number is the flux in units of the
    class's base, *truncated* to one decimal (a flux below 1e-4 is never X): 1e-4 -> ``"X1.0"``,
    9.99e-5 -> ``"M9.9"``, 2.33e-6 -> ``"C2.3"``, 1.72e-3 -> ``"X17.2"``.

    Parameters
    ----------
    flux : float, array_like or xarray.DataArray
        Irradiance [W m-2]; float32 input is judged at float32 precision.

    Returns
    -------
    str, ndarray of str or DataArray of str
        The class; ``""`` for missing, zero or negative flux. Below 1e-8 the A class goes under 1
        (``"A0.5"``).
    """
    return elementwise(_flare_class, flux, "<U8", long_name="NOAA X-ray flare class")


def flare_class_to_flux(cls: Any) -> Any:
    """Lower-bound XRS-B irradiance [W m-2] of a class string such as ``"M5.2"``."""

    def conv(a: np.ndarray) -> np.ndarray:
        flat = np.asarray(a, dtype=str).ravel()
        out = np.empty(flat.size)
        for k, s in enumerate(flat):
            letter, num = s[:1].upper(), s[1:]
            if letter not in _BASE_OF or not num:
                raise ValueError(f"not a flare class: {s!r}")
            out[k] = float(num) * _BASE_OF[letter]
        return out.reshape(np.shape(a))

    return elementwise(conv, cls, float, units="W m-2", long_name="XRS-B irradiance")
