"""s2p.debris — space debris: TLE catalogues, SGP4/SDP4, frames, conjunctions, CDMs, collision probability."""

from s2p.debris.propagation import ERROR_CODES, propagate, sgp4, sgp4_tsince
from s2p.debris.tle import TLESet, read_tle

__all__ = [
    "ERROR_CODES",
    "TLESet",
    "propagate",
    "read_tle",
    "sgp4",
    "sgp4_tsince",
]
