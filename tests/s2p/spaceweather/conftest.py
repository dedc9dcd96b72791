"""Shared, session-scoped readings of the shipped space-weather data (each file is parsed once)."""

from __future__ import annotations

from pathlib import Path

import pytest
import xarray as xr

from s2p.spaceweather import read_celestrak, read_gfz_kp, read_ionex, read_omni2
from tests.support import DATA

SW = DATA / "space_weather"


@pytest.fixture(scope="session")
def sw_dir() -> Path:
    return SW


@pytest.fixture(scope="session")
def sw_txt() -> xr.Dataset:
    return read_celestrak(SW / "SW-All.txt")


@pytest.fixture(scope="session")
def sw_csv() -> xr.Dataset:
    return read_celestrak(SW / "celestrak_csv" / "SW-All.csv")


@pytest.fixture(scope="session", params=["text", "csv"])
def sw_obs(request: pytest.FixtureRequest) -> xr.Dataset:
    """Observed days only, from each form of the file."""
    path = SW / "SW-All.txt" if request.param == "text" else SW / "celestrak_csv" / "SW-All.csv"
    return read_celestrak(path, observed_only=True)


@pytest.fixture(scope="session")
def gfz_2006_2022() -> xr.Dataset:
    return read_gfz_kp(SW / "gfz" / "GFZ_Potsdam_Kp_2006-2022.csv")


@pytest.fixture(scope="session")
def omni_2000() -> xr.Dataset:
    return read_omni2(SW / "omni" / "omni2_2000.dat")


@pytest.fixture(scope="session")
def jpl_gim() -> xr.Dataset:
    return read_ionex(SW / "ionex" / "jplg0010.17i.gz")
