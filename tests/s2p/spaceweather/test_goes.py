"""GOES XRS reader and NOAA flare classes."""

from __future__ import annotations

from decimal import ROUND_FLOOR, Decimal
from pathlib import Path

import dask
import numpy as np
import pytest
import xarray as xr

from s2p.spaceweather import flare_class, flare_class_to_flux, read_goes_xrs

FILES = sorted((Path(__file__).resolve().parents[3] / "data" / "space_weather" / "goes_xrs").glob("*.nc"))


def decimal_class(value: np.floating) -> str:
    """Independent reference: the class of the decimal number a stored value stands for.

    ``str`` of a numpy scalar is the shortest decimal that reads back to the same value *in its own
    precision* (float32 in the files), e.g. ``9.9999997e-05`` stored for ``1e-4`` prints ``0.0001``.
    """
    d = Decimal(str(value))
    for letter, base in (("X", "1e-4"), ("M", "1e-5"), ("C", "1e-6"), ("B", "1e-7"), ("A", "1e-8")):
        if d >= Decimal(base) or letter == "A":
            q = (d / Decimal(base)).quantize(Decimal("0.1"), rounding=ROUND_FLOOR)
            return f"{letter}{q}"
    raise AssertionError


def test_noaa_class_boundaries_are_exact() -> None:
    cases = {
        1e-4: "X1.0", 1e-5: "M1.0", 1e-6: "C1.0", 1e-7: "B1.0", 1e-8: "A1.0",
        9.99e-5: "M9.9", 9.9999e-6: "C9.9", 3e-6: "C3.0", 7e-5: "M7.0", 2e-4: "X2.0",
        1.72e-3: "X17.2", 2.8e-3: "X28.0", 5e-9: "A0.5", 0.000101: "X1.0",
    }  # fmt: skip
    got = flare_class(np.array(list(cases)))
    assert got.tolist() == list(cases.values())
    assert flare_class(1e-4) == "X1.0" and isinstance(flare_class(1e-4), str)
    # the files store float32: a written 1e-4 is 9.9999997e-05 and is still X1.0
    assert flare_class(np.float32(1e-4)) == "X1.0"
    assert flare_class(np.array([3e-6, 4e-5], dtype=np.float32)).tolist() == ["C3.0", "M4.0"]
    assert flare_class(np.array([np.nan, 0.0, -1e-7])).tolist() == ["", "", ""]
    assert flare_class_to_flux("M5.2") == pytest.approx(5.2e-5)


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_shipped_samples(path: Path) -> None:
    ds = read_goes_xrs(path)
    flux = ds.xrsb_flux
    assert flux.dims == ("time",) and flux.attrs["units"] == "W m-2"
    assert np.issubdtype(ds.time.dtype, np.datetime64) and "license" in ds.attrs
    assert not np.any(flux.values == -9999)  # fill values are NaN
    classes = flare_class(flux)
    ok = np.isfinite(flux.values) & (flux.values > 0)
    assert flux.dtype == np.float32 or path.name == "goes_13_leap_second.nc"  # that one is float64
    assert [decimal_class(v) for v in flux.values[ok]] == classes.values[ok].tolist()


def test_known_sample_peaks() -> None:
    peaks = {p.name: flare_class(read_goes_xrs(p).xrsb_flux.max()).item() for p in FILES}
    assert peaks["sci_gxrs-l2-irrad_g15_d20131028_truncated.nc"] == "C2.3"
    assert peaks["goes_13_leap_second.nc"] == "B4.4"
    assert peaks["sci_xrsf-l2-avg1m_g16_d20210101_truncated.nc"] == "A7.0"


def test_flare_class_xarray_and_dask() -> None:
    flux = read_goes_xrs(FILES[2]).xrsb_flux
    lazy = flare_class(flux.chunk({"time": 100}))
    assert dask.is_dask_collection(lazy)
    assert np.array_equal(lazy.compute().values, flare_class(flux.values))
    assert isinstance(flare_class(flux), xr.DataArray)
    back = flare_class_to_flux(lazy)
    assert dask.is_dask_collection(back)
    assert (back.compute().values <= flux.values * (1 + 1e-6)).all()  # a class is a lower bound


def test_netcdf3_classic_file(tmp_path: Path) -> None:
    """netCDF-3 classic XRS files (older NOAA archives) go through scipy's reader."""
    src = read_goes_xrs(FILES[3])
    path = tmp_path / "xrs_classic.nc"
    src[["xrsa_flux", "xrsb_flux"]].to_netcdf(path, engine="scipy", format="NETCDF3_64BIT")
    assert path.read_bytes()[:3] == b"CDF"
    back = read_goes_xrs(path)
    assert np.array_equal(back.xrsb_flux.values, src.xrsb_flux.values, equal_nan=True)
    assert np.array_equal(back.time.values, src.time.values)
