"""s2p.debris — space debris: TLE catalogues, SGP4/SDP4, frames, conjunctions, CDMs, collision probability."""

from s2p.debris.cdm import CDM, CDMObject, read_cdm
from s2p.debris.probability import collision_probability, encounter_plane, pc_2d
from s2p.debris.propagation import ERROR_CODES, propagate, sgp4, sgp4_tsince
from s2p.debris.screening import screen
from s2p.debris.tle import TLESet, read_tle

__all__ = [
    "CDM",
    "CDMObject",
    "ERROR_CODES",
    "TLESet",
    "collision_probability",
    "encounter_plane",
    "pc_2d",
    "propagate",
    "read_cdm",
    "read_tle",
    "screen",
    "sgp4",
    "sgp4_tsince",
]
