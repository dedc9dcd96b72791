"""GFZ Potsdam geomagnetic index files: Kp_ap_Ap_SN_F107 (daily lines), Kp_ap (three-hourly lines),
Hp30/ap30 and Hp60/ap60 (Hpo family), and the two-column CSV extracts (``Date,K_00..K_21`` and
``Date,Ap_mean``).

Formats: ``Kp_ap_Ap_SN_F107_format.txt`` shipped next to the data (GFZ, Matzka et al. 2021). Missing
data are ``-1`` (``-1.000`` for Kp/Hp, ``-1.0`` for F10.7); they become NaN.
"""

from __future__ import annotations

import io
import re
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from s2p.errors import ParseError
from s2p.spaceweather._parse import Column, attrs, dates_from_ymd, parse_columns, require_increasing
from s2p.spaceweather._source import Lines, read_bytes

LICENSE = "CC BY 4.0 (Kp, ap, Ap, Hpo, F10.7); sunspot number SN: CC BY-NC 4.0 (WDC-SILSO)"
REFERENCES = (
    "Matzka, J., Stolle, C., Yamazaki, Y., Bronkalla, O. and Morschhauser, A. (2021), The geomagnetic Kp "
    "index and derived indices of geomagnetic activity, Space Weather, doi:10.1029/2020SW002641"
)
SOURCE = "GFZ German Research Centre for Geosciences, Geomagnetic Observatory Niemegk"

_DAILY = (
    [Column("year", 0, 4), Column("month", 5, 7), Column("day", 8, 10)]
    + [Column(f"kp{i + 1}", 32 + 7 * i, 39 + 7 * i, fill=-1.0) for i in range(8)]
    + [Column(f"ap{i + 1}", 88 + 5 * i, 93 + 5 * i, fill=-1.0) for i in range(8)]
    + [
        Column("ap_daily", 128, 134, fill=-1.0),
        Column("sn", 134, 138, fill=-1.0),
        Column("f107_obs", 138, 147, fill=-1.0),
        Column("f107_adj", 147, 156, fill=-1.0),
        Column("definitive", 156, 158),
    ]
)
_INTERVAL = [
    Column("year", 0, 4),
    Column("month", 5, 7),
    Column("day", 8, 10),
    Column("hour", 10, 15),
    Column("index", 45, 52, fill=-1.0),
    Column("amplitude", 52, 57, fill=-1.0),
    Column("definitive", 57, 59),
]
_D_COMMENT = "0: Kp and SN preliminary (nowcast), 1: Kp definitive and SN preliminary, 2: both definitive"


def read_gfz_kp(source: Any) -> xr.Dataset:
    """Read a GFZ Kp / Hpo index file.

    Parameters
    ----------
    source : path, str, bytes or file
        ``Kp_ap_Ap_SN_F107_*.txt`` (one line per day), ``Kp_ap_*.txt`` (one line per three hours),
        ``Hp30_ap30_*.txt`` / ``Hp60_ap60_*.txt``, or the CSV extracts ``Date,K_00,...`` and
        ``Date,Ap_mean``. The kind is recognised from the header.

    Returns
    -------
    xarray.Dataset
        Daily files: ``kp`` (decimal thirds) and ``ap`` [2 nT] on ``time`` (interval starts, UTC);
        ``ap_daily``, ``sn``, ``f107_obs``, ``f107_adj`` [sfu] and ``definitive`` on ``date``.
        Hpo files: ``hp30``/``ap30`` (or ``hp60``/``ap60``) and ``definitive`` on ``time``.
        CSV extracts: ``kp`` on ``time`` or ``ap_daily`` on ``date``.

    Raises
    ------
    s2p.ParseError
        Unknown header, truncated record, bad number or impossible date, with the line.
    """
    data, name = read_bytes(source)
    head = data[:200].lstrip(b"\xef\xbb\xbf")
    if head.startswith(b"Date,"):
        return _read_csv(data, name)
    lines = Lines(data, name)
    is_header = np.array([data[s : s + 1] == b"#" for s in lines.starts[: min(len(lines), 200)]])
    n_head = int(np.argmin(is_header)) if not is_header.all() else len(is_header)
    if n_head == 0:
        raise lines.error(0, "wrong header: expected GFZ '#' header lines or a 'Date,' CSV header")
    colnames = lines.text(n_head - 1).lstrip("#").split()
    rows = np.arange(n_head, len(lines))
    rows = rows[lines.ends[rows] > lines.starts[rows]]  # tolerate blank trailing lines
    if "Kp1" in colnames and "F10.7obs" in colnames:
        return _daily(lines, rows, name)
    m = re.match(r"(Hp30|Hp60|Kp)$", colnames[7]) if len(colnames) > 8 else None
    if m:
        return _interval(lines, rows, name, m.group(1), colnames[8])
    raise lines.error(
        n_head - 1, "unknown GFZ file: the column header names neither Kp1..Kp8 nor Hp30/Hp60/Kp"
    )


def _common_attrs(name: str, title: str) -> dict[str, str]:
    return {
        "title": title,
        "source": f"{SOURCE}; read from {name}",
        "license": LICENSE,
        "references": REFERENCES,
        "Conventions": "CF-1.8",
    }


def _daily(lines: Lines, rows: np.ndarray, name: str) -> xr.Dataset:
    v = parse_columns(lines, rows, _DAILY, min_length=158)
    dates = dates_from_ymd(v["year"], v["month"], v["day"], lines, rows)
    require_increasing(dates, lines, rows, "date")
    kp = np.stack([v[f"kp{i + 1}"] for i in range(8)], axis=1)
    ap = np.stack([v[f"ap{i + 1}"] for i in range(8)], axis=1)
    times = (dates[:, None] + np.arange(8) * np.timedelta64(3, "h")).ravel()
    ds = xr.Dataset(
        {
            "kp": ("time", kp.ravel(), attrs("1", "planetary three-hour index Kp")),
            "ap": (
                "time",
                ap.ravel(),
                attrs("1", "three-hourly equivalent planetary amplitude ap", comment="2 nT"),
            ),
            "ap_daily": ("date", v["ap_daily"], attrs("1", "daily equivalent planetary amplitude Ap")),
            "sn": (
                "date",
                v["sn"],
                attrs("1", "international sunspot number SN (v2.0)", license="CC BY-NC 4.0"),
            ),
            "f107_obs": ("date", v["f107_obs"], attrs("sfu", "observed 10.7 cm solar radio flux")),
            "f107_adj": ("date", v["f107_adj"], attrs("sfu", "10.7 cm solar radio flux adjusted to 1 AU")),
            "definitive": (
                "date",
                v["definitive"],
                {"long_name": "definitive flag D", "comment": _D_COMMENT},
            ),
        },
        coords={"time": ("time", times, {"long_name": "start of the three-hour interval"}), "date": dates},
    )
    ds.attrs = _common_attrs(name, "GFZ Kp, ap, Ap, SN and F10.7")
    return ds


def _interval(lines: Lines, rows: np.ndarray, name: str, index: str, amp: str) -> xr.Dataset:
    v = parse_columns(lines, rows, _INTERVAL, min_length=59)
    dates = dates_from_ymd(v["year"], v["month"], v["day"], lines, rows)
    hours = v["hour"]
    if np.any((hours < 0) | (hours >= 24)):
        raise lines.error(int(rows[np.flatnonzero((hours < 0) | (hours >= 24))[0]]), "hour outside 0-24")
    times = dates + np.round(hours * 3600e9).astype("timedelta64[ns]")
    require_increasing(times, lines, rows)
    iname, aname = index.lower(), amp.lower()
    long_index = {"kp": "planetary three-hour index Kp", "hp30": "half-hourly planetary index Hp30"}
    long_index["hp60"] = "hourly planetary index Hp60"
    ds = xr.Dataset(
        {
            iname: ("time", v["index"], attrs("1", long_index[iname])),
            aname: (
                "time",
                v["amplitude"],
                attrs("1", f"equivalent amplitude {amp}", comment="in units of 2 nT"),
            ),
            "definitive": (
                "time",
                v["definitive"],
                {"long_name": "definitive flag D", "comment": _D_COMMENT},
            ),
        },
        coords={"time": ("time", times, {"long_name": "start of the interval"})},
    )
    ds.attrs = _common_attrs(name, f"GFZ {index}/{amp} geomagnetic index")
    return ds


def _read_csv(data: bytes, name: str) -> xr.Dataset:
    header = data.split(b"\n", 1)[0].decode("latin-1").strip()
    try:
        df = pd.read_csv(io.BytesIO(data), dtype={"Date": str})
    except pd.errors.ParserError as exc:
        m = re.search(r"line (\d+)", str(exc))
        raise ParseError(
            f"malformed CSV record: {exc}", source=name, line=int(m.group(1)) if m else None
        ) from exc
    text = data.split(b"\n")

    def fail(row: int, reason: str) -> ParseError:
        return ParseError(reason, source=name, line=row + 2, text=text[row + 1].decode("latin-1"))

    dates = pd.to_datetime(df["Date"], format="%Y-%m-%d", errors="coerce")
    if dates.isna().any():
        raise fail(int(np.flatnonzero(dates.isna().to_numpy())[0]), "bad Date (expected YYYY-MM-DD)")
    d = dates.to_numpy().astype("datetime64[ns]")
    bad = np.flatnonzero(np.diff(d) <= np.timedelta64(0, "ns"))
    if bad.size:
        raise fail(int(bad[0]) + 1, "date not increasing")
    kcols = [f"K_{h:02d}" for h in range(0, 24, 3)]

    def numeric(cols: list[str]) -> np.ndarray:
        out = []
        for c in cols:
            num = pd.to_numeric(df[c], errors="coerce")
            badn = np.flatnonzero(num.isna().to_numpy())
            if badn.size:
                raise fail(int(badn[0]), f"missing or bad number in column {c}")
            out.append(num.to_numpy(dtype=float))
        return np.stack(out, axis=1)

    if all(c in df.columns for c in kcols):
        kp = numeric(kcols)
        kp = np.where(kp < 0, np.nan, kp)
        times = (d[:, None] + np.arange(8) * np.timedelta64(3, "h")).ravel()
        ds = xr.Dataset(
            {"kp": ("time", kp.ravel(), attrs("1", "planetary three-hour index Kp"))},
            coords={"time": ("time", times, {"long_name": "start of the three-hour interval"})},
        )
    elif "Ap_mean" in df.columns:
        ap = numeric(["Ap_mean"])[:, 0]
        ds = xr.Dataset(
            {
                "ap_daily": (
                    "date",
                    np.where(ap < 0, np.nan, ap),
                    attrs("1", "daily equivalent planetary amplitude Ap"),
                )
            },
            coords={"date": d},
        )
    else:
        raise ParseError(
            "unknown GFZ CSV: expected columns K_00..K_21 or Ap_mean", source=name, line=1, text=header
        )
    ds.attrs = _common_attrs(name, "GFZ Kp/Ap (CSV extract)")
    return ds
