"""NASA/GSFC SPDF OMNI2 hourly files (``omni2_YYYY.dat``): solar wind, IMF and geomagnetic indices.

Format: ``omni_format.txt`` shipped with the data (https://spdf.gsfc.nasa.gov/pub/data/omni/low_res_omni/).
Each field is fixed width (the widths below add up to the 343-character record); missing values are
written as all nines in the field's format (``999.9``, ``9999999.`` ...) and become NaN.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from s2p.spaceweather._parse import Column, attrs, parse_columns, require_increasing
from s2p.spaceweather._source import Lines, read_bytes

LICENSE = (
    "NASA open data; cite King & Papitashvili (2005), J. Geophys. Res. 110, A02104, and the OMNI hourly data "
    "set doi:10.48322/1shr-ht18 (Papitashvili & King 2022)"
)

# word: (name, width, fill, units, long_name)
_FIELDS: list[tuple[str, int, float | None, str, str]] = [
    ("year", 4, None, "1", "year"),
    ("doy", 4, None, "1", "day of year"),
    ("hour", 3, None, "1", "hour"),
    ("bartels_rotation", 5, 9999, "1", "Bartels rotation number"),
    ("imf_sc_id", 3, 99, "1", "IMF spacecraft ID"),
    ("sw_sc_id", 3, 99, "1", "solar wind plasma spacecraft ID"),
    ("imf_points", 4, 999, "1", "number of points in the IMF averages"),
    ("plasma_points", 4, 999, "1", "number of points in the plasma averages"),
    ("b_avg", 6, 999.9, "nT", "field magnitude average |B|"),
    ("b_vec", 6, 999.9, "nT", "magnitude of the average field vector"),
    ("b_lat_gse", 6, 999.9, "degree", "latitude of the average field vector (GSE)"),
    ("b_lon_gse", 6, 999.9, "degree", "longitude of the average field vector (GSE)"),
    ("bx_gse", 6, 999.9, "nT", "Bx (GSE, GSM)"),
    ("by_gse", 6, 999.9, "nT", "By (GSE)"),
    ("bz_gse", 6, 999.9, "nT", "Bz (GSE)"),
    ("by_gsm", 6, 999.9, "nT", "By (GSM)"),
    ("bz_gsm", 6, 999.9, "nT", "Bz (GSM)"),
    ("sigma_b_avg", 6, 999.9, "nT", "RMS standard deviation of |B|"),
    ("sigma_b", 6, 999.9, "nT", "RMS standard deviation of the field vector"),
    ("sigma_bx", 6, 999.9, "nT", "RMS standard deviation of Bx"),
    ("sigma_by", 6, 999.9, "nT", "RMS standard deviation of By"),
    ("sigma_bz", 6, 999.9, "nT", "RMS standard deviation of Bz"),
    ("proton_temperature", 9, 9999999.0, "K", "proton temperature"),
    ("proton_density", 6, 999.9, "cm-3", "proton density"),
    ("flow_speed", 6, 9999.0, "km s-1", "plasma flow speed"),
    ("flow_lon", 6, 999.9, "degree", "plasma flow longitude angle (quasi-GSE)"),
    ("flow_lat", 6, 999.9, "degree", "plasma flow latitude angle (GSE)"),
    ("alpha_proton_ratio", 6, 9.999, "1", "alpha/proton density ratio Na/Np"),
    ("flow_pressure", 6, 99.99, "nPa", "flow pressure"),
    ("sigma_t", 9, 9999999.0, "K", "standard deviation of the proton temperature"),
    ("sigma_n", 6, 999.9, "cm-3", "standard deviation of the proton density"),
    ("sigma_v", 6, 9999.0, "km s-1", "standard deviation of the flow speed"),
    ("sigma_phi_v", 6, 999.9, "degree", "standard deviation of the flow longitude"),
    ("sigma_theta_v", 6, 999.9, "degree", "standard deviation of the flow latitude"),
    ("sigma_alpha_proton_ratio", 6, 9.999, "1", "standard deviation of Na/Np"),
    ("electric_field", 7, 999.99, "mV m-1", "electric field -V Bz(GSM)"),
    ("plasma_beta", 7, 999.99, "1", "plasma beta"),
    ("alfven_mach", 6, 999.9, "1", "Alfven Mach number"),
    ("kp", 3, 99, "1", "planetary three-hour index Kp"),
    ("sunspot_number", 4, 999, "1", "sunspot number (version 2)"),
    ("dst", 6, 99999, "nT", "Dst index (Kyoto)"),
    ("ae", 5, 9999, "nT", "AE index (Kyoto)"),
    ("proton_flux_1mev", 10, 999999.99, "cm-2 s-1 sr-1", "proton flux > 1 MeV"),
    ("proton_flux_2mev", 9, 99999.99, "cm-2 s-1 sr-1", "proton flux > 2 MeV"),
    ("proton_flux_4mev", 9, 99999.99, "cm-2 s-1 sr-1", "proton flux > 4 MeV"),
    ("proton_flux_10mev", 9, 99999.99, "cm-2 s-1 sr-1", "proton flux > 10 MeV"),
    ("proton_flux_30mev", 9, 99999.99, "cm-2 s-1 sr-1", "proton flux > 30 MeV"),
    ("proton_flux_60mev", 9, 99999.99, "cm-2 s-1 sr-1", "proton flux > 60 MeV"),
    ("magnetospheric_flag", 3, None, "1", "proton flux magnetospheric contamination flag (-1..6)"),
    ("ap", 4, 999, "1", "three-hourly equivalent planetary amplitude ap"),
    ("f107", 6, 999.9, "sfu", "10.7 cm solar radio flux (daily)"),
    ("pc_n", 6, 999.9, "1", "polar cap index PC(N)"),
    ("al", 6, 99999, "nT", "AL index (Kyoto)"),
    ("au", 6, 99999, "nT", "AU index (Kyoto)"),
    ("magnetosonic_mach", 5, 99.9, "1", "magnetosonic Mach number"),
    # words 56-57 of the current OMNI2 record (absent from older copies of the format text)
    ("lyman_alpha", 9, 0.999999, "W m-2", "solar Lyman-alpha irradiance (LASP)"),
    ("proton_qi", 7, 9.9999, "1", "proton quasi-invariant QI"),
]


def _columns() -> list[Column]:
    cols, pos = [], 0
    for name, width, fill, _, _ in _FIELDS:
        cols.append(Column(name, pos, pos + width, fill=fill))
        pos += width
    return cols


_COLUMNS = _columns()
_RECORD = _COLUMNS[-1].stop  # 343
_RECORD_55 = _COLUMNS[-3].stop  # 327: records written before words 56-57 were added


def read_omni2(source: Any) -> xr.Dataset:
    """Read an OMNI2 hourly file.

    Parameters
    ----------
    source : path, str, bytes or file
        ``omni2_YYYY.dat`` (or several years concatenated); records of 55 or 57 words.

    Returns
    -------
    xarray.Dataset
        Every OMNI2 word on ``time`` (UTC hour starts) with ``units`` and ``long_name``; among them
        ``dst`` [nT], ``kp`` (decimal thirds: 33 -> 3.333), ``ap`` [2 nT], ``f107`` [sfu],
        ``bz_gsm`` [nT], ``flow_speed`` [km/s], ``proton_density`` [cm-3].

    Raises
    ------
    s2p.ParseError
        Truncated record, bad number, impossible day/hour, non-increasing time; with the line.
    """
    data, name = read_bytes(source)
    lines = Lines(data, name)
    rows = np.flatnonzero(lines.ends > lines.starts)
    if rows.size == 0:
        raise lines.error(0, "empty OMNI2 file")
    lengths = lines.ends[rows] - lines.starts[rows]
    cols = _COLUMNS if lengths.max() >= _RECORD else _COLUMNS[:-2]
    need = _RECORD if cols is _COLUMNS else _RECORD_55
    v = parse_columns(lines, rows, cols, min_length=need)
    year, doy, hour = v.pop("year"), v.pop("doy"), v.pop("hour")
    bad = np.flatnonzero((year < 1963) | (doy < 1) | (doy > 366) | (hour < 0) | (hour > 23))
    if bad.size:
        raise lines.error(int(rows[bad[0]]), "year/day/hour out of range (not an OMNI2 hourly record?)")
    years = (year.astype(np.int64) - 1970).astype("datetime64[Y]").astype("datetime64[D]")
    times = (years + (doy.astype(np.int64) - 1).astype("timedelta64[D]")).astype("datetime64[ns]")
    times = times + (hour.astype(np.int64) * 3600).astype("timedelta64[s]")
    over = np.flatnonzero(times.astype("datetime64[Y]").astype(np.int64) + 1970 != year)
    if over.size:
        raise lines.error(int(rows[over[0]]), "day of year beyond the end of the year")
    require_increasing(times, lines, rows)
    v["kp"] = np.round(v["kp"] * 0.3) / 3.0  # 33 -> 3+ = 10/3
    meta = {f[0]: (f[3], f[4]) for f in _FIELDS}
    ds = xr.Dataset(
        {k: ("time", arr, attrs(*meta[k])) for k, arr in v.items()},
        coords={"time": ("time", times, {"long_name": "start of the hour (UTC)"})},
    )
    ds.attrs = {
        "title": "OMNI2 hourly solar wind, IMF and geomagnetic indices",
        "source": f"NASA/GSFC Space Physics Data Facility OMNIWeb; read from {name}",
        "license": LICENSE,
        "references": "https://omniweb.gsfc.nasa.gov/html/ow_data.html",
        "Conventions": "CF-1.8",
    }
    return ds
