"""IONEX maps: reader, the standard's rotated-map interpolation, slant delay."""

from __future__ import annotations

import gzip
from pathlib import Path

import dask
import numpy as np
import pytest
import xarray as xr

from s2p.spaceweather import F_L1_HZ, read_ionex, slant_factor, slant_tec_to_delay, tec_at
from s2p.spaceweather._reference import tec_ionex_numpy

# The reference (s2p.spaceweather._reference.tec_ionex_numpy, vectorised numpy) and the numba kernel
# evaluate the same bilinear formula in a different order of operations:
# the difference is float rounding (~1e-14 TECU), far inside the 1e-9 TECU.
INTERP_TOL_TECU = 1e-9
N_RANDOM = 100_000


@pytest.fixture(scope="module")
def random_points(jpl_gim: xr.Dataset) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(20170101)
    span = (jpl_gim.time.values[-1] - jpl_gim.time.values[0]) / np.timedelta64(1, "ns")
    t = jpl_gim.time.values[0] + rng.uniform(0, span, N_RANDOM).astype("timedelta64[ns]")
    lat = rng.uniform(-87.5, 87.5, N_RANDOM)
    lon = rng.uniform(-180.0, 180.0, N_RANDOM)
    return t, lat, lon


def test_reader_header_grid_and_exponent(jpl_gim: xr.Dataset, sw_dir: Path) -> None:
    assert dict(jpl_gim.sizes) == {"time": 13, "lat": 71, "lon": 73, "prn": 32}
    assert jpl_gim.lat.values[0] == 87.5 and jpl_gim.lat.values[-1] == -87.5
    assert jpl_gim.lon.values[0] == -180 and jpl_gim.lon.values[-1] == 180
    assert jpl_gim.time.values[1] - jpl_gim.time.values[0] == np.timedelta64(7200, "s")
    # first value of the first TEC map is "33" with EXPONENT -1: 3.3 TECU; RMS map: "24" -> 2.4
    assert jpl_gim.tec.values[0, 0, 0] == 3.3 and jpl_gim.rms.values[0, 0, 0] == 2.4
    assert jpl_gim.tec.attrs["units"] == "TECU" and jpl_gim.rms.attrs["units"] == "TECU"
    a = jpl_gim.attrs
    assert a["exponent"] == -1 and a["height_km"] == 450.0 and a["base_radius_km"] == 6371.0
    assert a["mapping_function"] == "NONE" and a["number_of_stations"] == 170 and a["interval_s"] == 7200
    assert "JPL" in a["title"] and "license" in a and "Kalman" in a["description"]
    assert jpl_gim.dcb_bias.sel(prn="01").item() == -7.516 and jpl_gim.dcb_bias.attrs["units"] == "ns"


def test_gzip_and_plain_read_the_same(sw_dir: Path, tmp_path: Path) -> None:
    plain = sw_dir / "ionex" / "gpsg0150.19i"
    packed = tmp_path / "gpsg0150.19i.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    a, b = read_ionex(plain), read_ionex(packed)
    assert a.tec.equals(b.tec) and a.sizes["time"] == 25
    c = read_ionex(sw_dir / "ionex" / "CKMG0020.22I.gz")
    assert c.sizes["time"] == 25 and "rms" not in c and np.isfinite(c.tec.values).all()


def test_interpolation_at_grid_nodes_equals_map_values(jpl_gim: xr.Dataset) -> None:
    t, la, lo = np.meshgrid(jpl_gim.time.values, jpl_gim.lat.values, jpl_gim.lon.values, indexing="ij")
    for method in ("rotated", "linear"):
        assert np.array_equal(tec_at(jpl_gim, t, la, lo, method=method), jpl_gim.tec.values)


def test_agrees_with_numpy_transcription_of_the_standard(jpl_gim: xr.Dataset, random_points) -> None:  # type: ignore[no-untyped-def]
    t, lat, lon = random_points
    got = tec_at(jpl_gim, t, lat, lon)
    ref = tec_ionex_numpy(jpl_gim, t, lat, lon)
    assert np.isfinite(got).all()
    assert np.abs(got - ref).max() <= INTERP_TOL_TECU
    # the rotation matters: plain linear-in-time differs by whole TECU
    assert np.abs(tec_at(jpl_gim, t, lat, lon, method="linear") - ref).max() > 1.0


def test_wrapping_bounds_and_broadcasting(jpl_gim: xr.Dataset) -> None:
    t = jpl_gim.time.values[0] + np.timedelta64(3 * 3600 + 17, "s")
    assert tec_at(jpl_gim, t, 12.3, 200.0) == pytest.approx(tec_at(jpl_gim, t, 12.3, -160.0), abs=1e-12)
    assert np.isnan(tec_at(jpl_gim, t, 88.0, 0.0))  # north of the grid's last row
    assert np.isnan(tec_at(jpl_gim, jpl_gim.time.values[-1] + np.timedelta64(1, "s"), 0.0, 0.0))
    grid = tec_at(jpl_gim, t, np.array([[0.0], [10.0]]), np.array([0.0, 5.0, 10.0]))
    assert grid.shape == (2, 3)


def test_xarray_and_dask_points(jpl_gim: xr.Dataset, random_points) -> None:  # type: ignore[no-untyped-def]
    t, lat, lon = (xr.DataArray(a[:20000], dims="obs") for a in random_points)
    ref = tec_at(jpl_gim, t.values, lat.values, lon.values)
    eager = tec_at(jpl_gim, t, lat, lon)
    lazy = tec_at(jpl_gim, t.chunk(5000), lat.chunk(5000), lon.chunk(5000))
    assert dask.is_dask_collection(lazy) and eager.attrs["units"] == "TECU"
    assert np.array_equal(eager.values, ref) and np.array_equal(lazy.compute().values, ref)


def test_slant_delay_at_l1() -> None:
    # 40.3 * 1e16 / 1575.42e6**2 = 0.16237 m per TECU
    assert slant_tec_to_delay(1.0) == pytest.approx(40.3e16 / 1575.42e6**2, rel=1e-15)
    assert slant_tec_to_delay(1.0) == pytest.approx(0.162372, abs=1e-6)
    assert F_L1_HZ == 1575.42e6
    assert slant_tec_to_delay(10.0, frequency_hz=1227.60e6) == pytest.approx(10 * 40.3e16 / 1227.6e6**2)
    assert slant_factor(90.0) == pytest.approx(1.0)
    # at 0 deg elevation the thin-shell factor is 1/sqrt(1 - (R/(R+H))^2) (about 3.0 for 450 km)
    r = 6371.0 / (6371.0 + 450.0)
    assert slant_factor(0.0) == pytest.approx(1 / np.sqrt(1 - r * r))
    x = xr.DataArray(np.array([1.0, 2.0, 50.0]), dims="obs").chunk(2)
    out = slant_tec_to_delay(x)
    assert dask.is_dask_collection(out) and out.attrs["units"] == "m"
    assert np.allclose(out.compute().values, slant_tec_to_delay(np.array([1.0, 2.0, 50.0])))
    elev = xr.DataArray(np.array([5.0, 30.0, 90.0]), dims="obs")
    lazy_factor = slant_factor(elev.chunk(1))
    assert dask.is_dask_collection(lazy_factor)
    assert np.array_equal(lazy_factor.compute().values, slant_factor(elev.values))
    assert np.array_equal(slant_factor(elev).values, slant_factor(elev.values))
