"""s2p.neo — Planetary Defence: NEO orbits, two-body propagation, MOID, ephemerides, risk lists.

Calls read like the work::

    from s2p import neo
    orbits = neo.read_mpcorb("data/planetary_defence/orbits/mpc_NEA_2019-07.txt")
    d = neo.moid(orbits)                                   # [au] against the Earth (DE421)
    eph = neo.ephemeris(orbits[d < 0.05], "2019-08-01", observer="G96")
    risk = neo.risk_table(neo.read_neocc_risk_list(path))  # Palermo / Torino recomputed vs published
    fit = neo.fit_orbit(neo.read_rwo("data/planetary_defence/neocc/1685.rwo"))  # orbit determination

Numba kernels live in :mod:`s2p.neo._kernels`; everything here validates and labels.
"""

from __future__ import annotations

from s2p.neo.close_approaches import close_approaches
from s2p.neo.designations import pack_designation, unpack_designation, unpack_epoch
from s2p.neo.ephemeris import ephemeris, hg_magnitude
from s2p.neo.moid import moid, moid_elements
from s2p.neo.neocc_files import (
    read_neocc_close_encounters,
    read_neocc_ephemeris,
    read_neocc_physical_properties,
    read_neocc_risk_file,
    read_oef,
    read_sbdb,
)
from s2p.neo.observations import read_ades, read_mpc80, read_mpc_obs_json, read_rwo
from s2p.neo.observers import observatory_codes
from s2p.neo.orbit_determination import OrbitFit, OrbitFitError, fit_orbit
from s2p.neo.orbits import GAUSS_K, GM_SUN_AU3_D2, Orbits, read_mpcorb
from s2p.neo.planets import earth_elements
from s2p.neo.propagation import propagate
from s2p.neo.readers import (
    read_allneo,
    read_cneos_close_approaches,
    read_neocc_close_approaches,
    read_neocc_past_impactors,
    read_neocc_priority_list,
    read_neocc_risk_list,
    read_sentry,
)
from s2p.neo.risk import diameter_from_h, impact_energy_mt, palermo_scale, risk_table, torino_scale

__all__ = [
    "GAUSS_K",
    "GM_SUN_AU3_D2",
    "OrbitFit",
    "OrbitFitError",
    "Orbits",
    "close_approaches",
    "diameter_from_h",
    "earth_elements",
    "fit_orbit",
    "ephemeris",
    "hg_magnitude",
    "impact_energy_mt",
    "moid",
    "moid_elements",
    "observatory_codes",
    "pack_designation",
    "palermo_scale",
    "propagate",
    "read_ades",
    "read_allneo",
    "read_cneos_close_approaches",
    "read_mpc80",
    "read_mpc_obs_json",
    "read_neocc_close_encounters",
    "read_neocc_ephemeris",
    "read_neocc_past_impactors",
    "read_neocc_physical_properties",
    "read_neocc_priority_list",
    "read_neocc_risk_file",
    "read_oef",
    "read_rwo",
    "read_sbdb",
    "read_mpcorb",
    "read_neocc_close_approaches",
    "read_neocc_risk_list",
    "read_sentry",
    "risk_table",
    "torino_scale",
    "unpack_designation",
    "unpack_epoch",
]
