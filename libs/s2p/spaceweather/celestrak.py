"""CelesTrak space-weather files (SW-All / SW-Last5Years, CSSI format 1.2), text and CSV forms.

Format: https://celestrak.org/SpaceData/SpaceWx-format.php. The text form holds three sections
(``OBSERVED``, ``DAILY_PREDICTED``, ``MONTHLY_PREDICTED``) of fixed-width lines,
``FORMAT(I4,I3,I3,I5,I3,8I3,I4,8I4,I4,F4.1,I2,I4,F6.1,I2,5F6.1)``; the CSV form has one header row
and an ``F10.7_DATA_TYPE`` column (OBS, INT, PRD, PRM). Kp is written as ten times its value in
thirds (``43`` = 4+ = 4.333), so it is converted back to exact thirds here.
"""

from __future__ import annotations

import io
import re
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from s2p.errors import ParseError
from s2p.spaceweather._parse import Column, attrs, dates_from_ymd, parse_columns
from s2p.spaceweather._source import Lines, read_bytes

SOURCE_URL = "https://celestrak.org/SpaceData/"
LICENSE = (
    "CelesTrak (T.S. Kelso): no licensing requirements; please cite https://celestrak.org/SpaceData/ "
    "and the format description https://celestrak.org/SpaceData/SpaceWx-format.php"
)

_KP = [f"kp{i}" for i in range(1, 9)]
_AP = [f"ap{i}" for i in range(1, 9)]

# (name, start, stop) of the text form, 0-based, exclusive
_TEXT_FIELDS = (
    [("year", 0, 4), ("month", 4, 7), ("day", 7, 10), ("bsrn", 10, 15), ("nd", 15, 18)]
    + [(n, 18 + 3 * i, 21 + 3 * i) for i, n in enumerate(_KP)]
    + [("kp_sum", 42, 46)]
    + [(n, 46 + 4 * i, 50 + 4 * i) for i, n in enumerate(_AP)]
    + [
        ("ap_daily", 78, 82),
        ("cp", 82, 86),
        ("c9", 86, 88),
        ("isn", 88, 92),
        ("f107_adj", 92, 98),
        ("f107_flag", 98, 100),
        ("f107_adj_ctr81", 100, 106),
        ("f107_adj_lst81", 106, 112),
        ("f107_obs", 112, 118),
        ("f107_obs_ctr81", 118, 124),
        ("f107_obs_lst81", 124, 130),
    ]
)
_MONTHLY_PRESENT = {"year", "month", "day", "bsrn", "nd", "isn", "f107_adj", "f107_adj_ctr81"}
_MONTHLY_PRESENT |= {"f107_adj_lst81", "f107_obs", "f107_obs_ctr81", "f107_obs_lst81"}

_CSV_COLUMNS = {
    "DATE": "date",
    "BSRN": "bsrn",
    "ND": "nd",
    **{f"KP{i}": f"kp{i}" for i in range(1, 9)},
    "KP_SUM": "kp_sum",
    **{f"AP{i}": f"ap{i}" for i in range(1, 9)},
    "AP_AVG": "ap_daily",
    "CP": "cp",
    "C9": "c9",
    "ISN": "isn",
    "F10.7_OBS": "f107_obs",
    "F10.7_ADJ": "f107_adj",
    "F10.7_DATA_TYPE": "data_type",
    "F10.7_OBS_CENTER81": "f107_obs_ctr81",
    "F10.7_OBS_LAST81": "f107_obs_lst81",
    "F10.7_ADJ_CENTER81": "f107_adj_ctr81",
    "F10.7_ADJ_LAST81": "f107_adj_lst81",
}

_SFU = "sfu"  # 1 sfu = 1e-22 W m-2 Hz-1
_DAILY_ATTRS = {
    "bsrn": attrs("1", "Bartels solar rotation number"),
    "nd": attrs("1", "day within the Bartels rotation"),
    "kp_sum": attrs("1", "sum of the eight Kp values of the day"),
    "ap_daily": attrs("1", "daily equivalent planetary amplitude Ap", comment="in units of 2 nT"),
    "cp": attrs("1", "planetary daily character figure Cp"),
    "c9": attrs("1", "C9 (Cp scaled to 0-9)"),
    "isn": attrs("1", "international sunspot number"),
    "f107_obs": attrs(_SFU, "observed 10.7 cm solar radio flux", comment="1 sfu = 1e-22 W m-2 Hz-1"),
    "f107_adj": attrs(_SFU, "10.7 cm solar radio flux adjusted to 1 AU"),
    "f107_obs_ctr81": attrs(_SFU, "81-day centred average of observed F10.7"),
    "f107_obs_lst81": attrs(_SFU, "81-day trailing average of observed F10.7"),
    "f107_adj_ctr81": attrs(_SFU, "81-day centred average of adjusted F10.7"),
    "f107_adj_lst81": attrs(_SFU, "81-day trailing average of adjusted F10.7"),
    "f107_flag": attrs(
        "1",
        "F10.7 qualifier",
        comment="0 no adjustment, 1 burst in progress, 2 interpolated/extrapolated, 3 no observation, 4 CSSI interpolation",
    ),
    "data_type": {
        "long_name": "record type",
        "comment": "OBS observed, INT interpolated F10.7, PRD daily predicted, PRM monthly predicted",
    },
}
_KP_ATTRS = attrs("1", "planetary three-hour index Kp", comment="interval start times; thirds as decimals")
_AP_ATTRS = attrs("1", "three-hourly equivalent planetary amplitude ap", comment="in units of 2 nT")


def read_celestrak(source: Any, *, observed_only: bool = False) -> xr.Dataset:
    """Read a CelesTrak space-weather file (SW-All / SW-Last5Years), text or CSV.

    Parameters
    ----------
    source : path, str, bytes or file
        The file, or its content. The form (text or CSV) is recognised from the first line.
    observed_only : bool
        Keep only observed days (drop the daily and monthly predictions).

    Returns
    -------
    xarray.Dataset
        On ``time`` (three-hour interval starts, UTC): ``kp`` (thirds, e.g. 4.333) and ``ap``
        [2 nT]. On ``date`` (UTC days): ``ap_daily``, ``f107_obs``, ``f107_adj``,
        ``f107_obs_ctr81``, ``f107_obs_lst81``, ``f107_adj_ctr81``, ``f107_adj_lst81`` [sfu],
        ``kp_sum``, ``cp``, ``c9``, ``isn``, ``bsrn``, ``nd`` and ``data_type`` (OBS, INT, PRD, PRM;
        the text form also has the F10.7 qualifier ``f107_flag``). Predicted monthly records have
        no Kp/ap.

    Raises
    ------
    s2p.ParseError
        Wrong header, truncated record, bad number, impossible date, or a point count that does
        not match the ``NUM_..._POINTS`` line; the message names the line.
    """
    data, name = read_bytes(source)
    first = data[:64].lstrip(b"\xef\xbb\xbf")
    if first.startswith(b"DATE,"):
        daily = _read_csv(data, name)
        form = "csv"
    elif first.startswith(b"DATATYPE"):
        daily = _read_text(data, name)
        form = "text"
    else:
        line = data.split(b"\n", 1)[0].decode("latin-1")
        raise ParseError(
            "not a CelesTrak space-weather file: expected 'DATATYPE CssiSpaceWeather' or a 'DATE,...' CSV header",
            source=name,
            line=1,
            text=line,
        )
    if observed_only:
        keep = np.isin(daily["data_type"], ["OBS", "INT"])
        daily = {k: v[keep] for k, v in daily.items()}
    return _to_dataset(daily, name, form)


def _read_text(data: bytes, name: str) -> dict[str, np.ndarray]:
    lines = Lines(data, name)
    if not data.startswith(b"DATATYPE CssiSpaceWeather"):
        raise lines.error(0, "wrong header: expected 'DATATYPE CssiSpaceWeather'")
    parts: list[dict[str, np.ndarray]] = []
    for section, dtype in (("OBSERVED", "OBS"), ("DAILY_PREDICTED", "PRD"), ("MONTHLY_PREDICTED", "PRM")):
        begin = data.find(b"\nBEGIN " + section.encode())
        if begin < 0:
            if section == "OBSERVED":
                raise ParseError("no 'BEGIN OBSERVED' section", source=name)
            continue
        first = lines.line_of_offset(begin + 1) + 1
        end = data.find(b"\nEND " + section.encode(), begin)
        if end < 0:
            raise lines.error(len(lines) - 1, f"file ends inside section {section} (no 'END {section}')")
        last = lines.line_of_offset(end + 1)  # exclusive
        rows = np.arange(first, last)
        # the count line sits just above its section (only the blank line and the BEGIN between)
        m = re.search(rb"NUM_" + section.encode() + rb"_POINTS\s+(\d+)", data[max(0, begin - 300) : begin])
        if m is not None and int(m.group(1)) != rows.size:
            raise lines.error(
                last,
                f"section {section} has {rows.size} records, its NUM_..._POINTS line says {int(m.group(1))}",
            )
        if section == "MONTHLY_PREDICTED":
            cols = [Column(n, a, b, required=n in _MONTHLY_PRESENT) for n, a, b in _TEXT_FIELDS]
        else:
            # the qualifier is blank in predictions; every other field must be present
            cols = [
                Column(n, a, b, required=not (n == "f107_flag" and dtype != "OBS"))
                for n, a, b in _TEXT_FIELDS
            ]
        # monthly records carry fewer fields: no length check, a short one fails on its first
        # missing required field instead
        vals = parse_columns(lines, rows, cols, min_length=130 if section != "MONTHLY_PREDICTED" else 10)
        vals["date"] = dates_from_ymd(vals.pop("year"), vals.pop("month"), vals.pop("day"), lines, rows)
        vals["data_type"] = np.full(rows.size, dtype)
        vals["_rows"] = rows
        parts.append(vals)
    out = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    bad = np.flatnonzero(np.diff(out["date"]) <= np.timedelta64(0, "ns"))
    if bad.size:
        raise lines.error(
            int(out["_rows"][bad[0] + 1]), "date not increasing (duplicate or out-of-order record)"
        )
    del out["_rows"]
    return out


def _read_csv(data: bytes, name: str) -> dict[str, np.ndarray]:
    header = data.split(b"\n", 1)[0].decode("latin-1").strip().lstrip("\ufeff")
    names = header.split(",")
    if names != list(_CSV_COLUMNS):
        missing = [c for c in _CSV_COLUMNS if c not in names]
        raise ParseError(
            f"wrong CSV header: expected {len(_CSV_COLUMNS)} CelesTrak columns"
            + (f", missing {missing}" if missing else ", in the documented order"),
            source=name,
            line=1,
            text=header,
        )
    try:
        df = pd.read_csv(
            io.BytesIO(data),
            dtype={"F10.7_DATA_TYPE": str, "DATE": str},
            keep_default_na=False,
            na_values=[""],
        )
    except pd.errors.ParserError as exc:
        m = re.search(r"line (\d+)", str(exc))
        line = int(m.group(1)) if m else None
        text = data.split(b"\n")[line - 1].decode("latin-1") if line else None
        raise ParseError(f"malformed CSV record: {exc}", source=name, line=line, text=text) from exc

    def fail(row: int, reason: str) -> ParseError:
        text = data.split(b"\n")[row + 1].decode("latin-1")
        return ParseError(reason, source=name, line=row + 2, text=text)

    out: dict[str, np.ndarray] = {}
    dates = pd.to_datetime(df["DATE"], format="%Y-%m-%d", errors="coerce")
    if dates.isna().any():
        raise fail(int(np.flatnonzero(dates.isna().to_numpy())[0]), "bad DATE (expected YYYY-MM-DD)")
    out["date"] = dates.to_numpy().astype("datetime64[ns]")
    dtype = df["F10.7_DATA_TYPE"].fillna("").to_numpy(dtype=str)
    bad = np.flatnonzero(~np.isin(dtype, ["OBS", "INT", "PRD", "PRM"]))
    if bad.size:
        raise fail(int(bad[0]), "bad F10.7_DATA_TYPE (expected OBS, INT, PRD or PRM)")
    out["data_type"] = dtype
    has_kp = dtype != "PRM"
    for col, var in _CSV_COLUMNS.items():
        if var in ("date", "data_type"):
            continue
        s = df[col]
        if not pd.api.types.is_numeric_dtype(s):  # object (pandas 2) or str (pandas 3) column
            num = pd.to_numeric(s, errors="coerce")
            badn = np.flatnonzero(num.isna().to_numpy() & s.notna().to_numpy())
            raise fail(int(badn[0]), f"not a number in column {col}")
        v = s.to_numpy(dtype=float)
        need = has_kp if (var.startswith(("kp", "ap")) or var in ("cp", "c9")) else np.ones(v.size, bool)
        miss = np.flatnonzero(need & np.isnan(v))
        if miss.size:
            raise fail(int(miss[0]), f"missing value in column {col} (truncated record?)")
        out[var] = v
    bad = np.flatnonzero(np.diff(out["date"]) <= np.timedelta64(0, "ns"))
    if bad.size:
        raise fail(int(bad[0]) + 1, "date not increasing (duplicate or out-of-order record)")
    return out


def _to_dataset(daily: dict[str, np.ndarray], name: str, form: str) -> xr.Dataset:
    dates = daily["date"]
    has_kp = ~np.isnan(daily["kp1"])
    kp10 = np.stack([daily[k] for k in _KP], axis=1)[has_kp]
    ap = np.stack([daily[k] for k in _AP], axis=1)[has_kp]
    times = (dates[has_kp][:, None] + np.arange(8) * np.timedelta64(3, "h")).ravel()
    kp = np.round(kp10 * 0.3) / 3.0  # 43 -> 12.9 thirds -> 13/3: exact thirds
    ds = xr.Dataset(
        {
            "kp": ("time", kp.ravel(), _KP_ATTRS),
            "ap": ("time", ap.ravel(), _AP_ATTRS),
        },
        coords={
            "time": (
                "time",
                times,
                {"long_name": "start of the three-hour interval", "standard_name": "time"},
            )
        },
    )
    for var, a in _DAILY_ATTRS.items():
        if var not in daily:
            continue
        v = daily[var]
        if var == "kp_sum":
            v = v / 10.0
        ds[var] = xr.DataArray(v, dims="date", attrs=a)
    ds = ds.assign_coords(date=("date", dates, {"long_name": "UTC day", "standard_name": "time"}))
    ds.attrs = {
        "title": "CelesTrak space weather data (CSSI format 1.2)",
        "source": f"CelesTrak {SOURCE_URL} ({form} form), read from {name}",
        "license": LICENSE,
        "references": "https://celestrak.org/SpaceData/SpaceWx-format.php",
        "Conventions": "CF-1.8",
    }
    return ds
