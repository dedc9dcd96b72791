"""Fixtures of the s2p.neo tests: the shipped MPC NEA catalogue, read once."""

from __future__ import annotations

from pathlib import Path

import pytest

from s2p import neo


@pytest.fixture(scope="session")
def pd_dir(data_dir: Path) -> Path:
    return data_dir / "planetary_defence"


@pytest.fixture(scope="session")
def nea(pd_dir: Path) -> neo.Orbits:
    return neo.read_mpcorb(pd_dir / "orbits" / "mpc_NEA_2019-07.txt")
