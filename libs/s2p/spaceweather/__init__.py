"""s2p.spaceweather — geomagnetic and solar indices, ionosphere maps, storms and flares.

Readers (each returns a labelled :class:`xarray.Dataset` with CF attributes and the providers'
missing values as NaN, and raises :class:`s2p.ParseError` with the line for bad input):

- :func:`read_celestrak` — CelesTrak SW-All / SW-Last5Years, text and CSV;
- :func:`read_gfz_kp` — GFZ Kp_ap_Ap_SN_F107, Kp_ap, Hp30/Hp60 and CSV extracts;
- :func:`read_omni2` — OMNI2 hourly; :func:`read_dst` — Kyoto Dst (WDC format);
- :func:`read_ionex` — IONEX 1.0 TEC/RMS maps (gzip too); :func:`read_goes_xrs` — GOES XRS netCDF.

Analysis (numpy, xarray and dask-backed xarray alike): :func:`kp_to_ap`, :func:`ap_to_kp`,
:func:`daily_ap`, :func:`g_scale`, :func:`storms`, :func:`centred_average` /
:func:`f107_centred_average`, :func:`dst_storms`, :func:`flare_class`, :func:`flares`, :func:`tec_at`,
:func:`slant_factor`, :func:`slant_tec_to_delay`.
"""

from __future__ import annotations

from s2p.spaceweather.celestrak import read_celestrak
from s2p.spaceweather.dst import dst_storms, read_dst
from s2p.spaceweather.flares import flares
from s2p.spaceweather.gfz import read_gfz_kp
from s2p.spaceweather.goes import flare_class, flare_class_to_flux, read_goes_xrs
from s2p.spaceweather.indices import (
    KP_AP_TABLE,
    ap_to_kp,
    centred_average,
    daily_ap,
    f107_centred_average,
    g_scale,
    kp_thirds,
    kp_to_ap,
    storms,
)
from s2p.spaceweather.ionex import F_L1_HZ, read_ionex, slant_factor, slant_tec_to_delay, tec_at
from s2p.spaceweather.omni import read_omni2

__all__ = [
    "F_L1_HZ",
    "KP_AP_TABLE",
    "ap_to_kp",
    "centred_average",
    "daily_ap",
    "dst_storms",
    "f107_centred_average",
    "flare_class",
    "flare_class_to_flux",
    "flares",
    "g_scale",
    "kp_thirds",
    "kp_to_ap",
    "read_celestrak",
    "read_dst",
    "read_gfz_kp",
    "read_goes_xrs",
    "read_ionex",
    "read_omni2",
    "slant_factor",
    "slant_tec_to_delay",
    "storms",
    "tec_at",
]
