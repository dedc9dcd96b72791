"""Kyoto WDC Dst files (WDC exchange format, one UT day per line) and Dst storm phases.

Format (WDC for Geomagnetism, Kyoto, https://wdc.kugi.kyoto-u.ac.jp/dstae/format/dstformat.html):
columns 1-3 ``DST``, 4-5 year (last two digits), 6-7 month, 8 ``*``, 9-10 day, 11-12 blank or
``PP``/``RR`` (provisional / real-time), 13 ``X``, 14 version (0 real-time, 1 provisional, 2 final),
15-16 first two digits of the year, 17-20 base value [100 nT], 21-116 twenty-four hourly values
[nT, I4], 117-120 daily mean; 9999 = missing. Hour ``h`` holds the mean over ``h:00``-``h+1:00``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from s2p.spaceweather._parse import Column, attrs, dates_from_ymd, parse_columns, require_increasing
from s2p.spaceweather._source import Lines, read_bytes
from s2p.time import to_datetime64

LICENSE = (
    "WDC for Geomagnetism, Kyoto: free for scientific use; cite the Dst index data service, "
    "doi:10.17593/14515-74000 (Nose, Iyemori, Sugiura, Kamei 2015)"
)

_COLUMNS = (
    [Column("yy", 3, 5), Column("month", 5, 7), Column("day", 8, 10)]
    + [Column("version", 13, 14), Column("century", 14, 16, required=False), Column("base", 16, 20)]
    + [Column(f"h{h:02d}", 20 + 4 * h, 24 + 4 * h, fill=9999) for h in range(24)]
    + [Column("mean", 116, 120, fill=9999)]
)


def read_dst(source: Any) -> xr.Dataset:
    """Read a Kyoto Dst file in WDC exchange format.

    Parameters
    ----------
    source : path, str, bytes or file
        One ``DSTyymm*dd`` line per day (any number of days, increasing).

    Returns
    -------
    xarray.Dataset
        ``dst`` [nT] on ``time`` (hour starts, UTC); ``dst_daily_mean`` [nT] and ``version``
        (0 real-time, 1 provisional, 2 final) on ``date``.

    Raises
    ------
    s2p.ParseError
        A line that is not a ``DST`` record, truncated, or holds a bad number; with the line.
    """
    data, name = read_bytes(source)
    lines = Lines(data, name)
    rows = np.flatnonzero(lines.ends > lines.starts)
    if rows.size == 0:
        raise lines.error(0, "empty Dst file")
    starts = lines.starts[rows]
    # every record must start "DSTyymm*dd": check the three letters and the star, vectorised
    last = len(lines.buf) - 1
    ok = lines.ends[rows] - starts >= 10
    for offset, char in ((0, "D"), (1, "S"), (2, "T"), (7, "*")):
        ok &= lines.buf[np.minimum(starts + offset, last)] == ord(char)
    if not ok.all():
        raise lines.error(
            int(rows[np.flatnonzero(~ok)[0]]), "not a WDC Dst record: expected 'DSTyymm*dd' in columns 1-10"
        )
    v = parse_columns(lines, rows, _COLUMNS, min_length=120)
    century = np.where(np.isnan(v["century"]), 19.0, v["century"])
    year = century * 100 + v["yy"]
    dates = dates_from_ymd(year, v["month"], v["day"], lines, rows)
    require_increasing(dates, lines, rows, "date")
    hourly = np.stack([v[f"h{h:02d}"] for h in range(24)], axis=1) + (v["base"] * 100.0)[:, None]
    times = (dates[:, None] + np.arange(24) * np.timedelta64(1, "h")).ravel()
    ds = xr.Dataset(
        {
            "dst": ("time", hourly.ravel(), attrs("nT", "disturbance storm time index Dst")),
            "dst_daily_mean": ("date", v["mean"] + v["base"] * 100.0, attrs("nT", "daily mean of Dst")),
            "version": (
                "date",
                v["version"],
                {"long_name": "data version", "comment": "0 real-time, 1 provisional, 2 final"},
            ),
        },
        coords={"time": ("time", times, {"long_name": "start of the hour (UTC)"}), "date": dates},
    )
    ds.attrs = {
        "title": "Dst index (WDC exchange format)",
        "source": f"World Data Center for Geomagnetism, Kyoto; read from {name}",
        "license": LICENSE,
        "references": "https://wdc.kugi.kyoto-u.ac.jp/dstdir/",
        "Conventions": "CF-1.8",
    }
    return ds


def dst_storms(
    dst: Any, times: Any = None, *, threshold_nT: float = -50.0, quiet_nT: float = -20.0
) -> pd.DataFrame:
    """Geomagnetic storms in a Dst series, with their phases.

    A storm is a run of hours with Dst <= ``threshold_nT``; runs not separated by a return to
    ``quiet_nT`` are one (multi-step) storm. Its *main-phase minimum* is the first hour of the
    storm's lowest Dst; its *onset* (start of the main phase) the last hour before the
    minimum with Dst >= ``quiet_nT`` (or, when Dst stayed disturbed since the previous storm, the
    hour of the highest Dst in between); its *recovery end* the first hour after the minimum with
    Dst >= ``quiet_nT`` (NaT if the series or the next storm comes first).

    Parameters
    ----------
    dst : array_like, xarray.DataArray or pandas.Series
        Hourly Dst [nT]; a DataArray supplies its ``time`` coordinate (a dask-backed one is computed),
        a Series its ``DatetimeIndex`` (time-zone aware ones are converted to UTC).
    times : array_like of datetime64, optional
        Times (UTC) of a numpy ``dst``; without them times are sample indices.
    threshold_nT : float
        Storm threshold [nT] (-50 moderate, -100 intense, -250 super storm).
    quiet_nT : float
        Dst level [nT] taken as quiet for onset and recovery.

    Returns
    -------
    pandas.DataFrame
        ``onset``, ``minimum_time``, ``min_dst`` [nT], ``recovery_end``, ``main_phase_hours``,
        ``recovery_hours`` and ``category`` (moderate, intense, super).
    """
    if isinstance(dst, xr.DataArray):
        if times is None:
            dim = dst.dims[0]
            times = dst[dim].values if dim in dst.coords else None
        dst = dst.values
    elif isinstance(dst, pd.Series):
        if times is None and isinstance(dst.index, pd.DatetimeIndex):
            times = dst.index
        dst = dst.to_numpy(dtype=float, na_value=np.nan)
    d = np.asarray(dst, dtype=float).ravel()
    t = np.arange(d.size) if times is None else to_datetime64(times)
    below = np.nan_to_num(d, nan=np.inf) <= threshold_nT
    edges = np.diff(np.concatenate(([0], below.astype(np.int8), [0])))
    run_starts, run_ends = list(np.flatnonzero(edges == 1)), list(np.flatnonzero(edges == -1))
    # Two dips below the threshold without a return to quiet in between are one (two-step) storm.
    k = 0
    while k + 1 < len(run_starts):
        between = d[run_ends[k] : run_starts[k + 1]]
        if not np.any(between >= quiet_nT):
            run_ends[k] = run_ends.pop(k + 1)
            run_starts.pop(k + 1)
        else:
            k += 1
    minima = [a + int(np.nanargmin(d[a:b])) for a, b in zip(run_starts, run_ends, strict=True)]
    rows = []
    for k, m in enumerate(minima):
        lo = minima[k - 1] + 1 if k else 0
        hi = minima[k + 1] if k + 1 < len(minima) else d.size
        before = d[lo:m]
        quiet_before = np.flatnonzero(before >= quiet_nT)
        if quiet_before.size:
            onset = lo + int(quiet_before[-1])
        elif before.size and np.isfinite(before).any():
            onset = lo + int(np.nanargmax(before))
        else:
            onset = m
        after = np.flatnonzero(d[m + 1 : hi] >= quiet_nT)
        rec = m + 1 + int(after[0]) if after.size else None
        mind = float(d[m])
        cat = "super" if mind <= -250 else "intense" if mind <= -100 else "moderate"
        hour = np.timedelta64(1, "h") if times is not None else 1
        rows.append(
            {
                "onset": t[onset],
                "minimum_time": t[m],
                "min_dst": mind,
                "recovery_end": t[rec]
                if rec is not None
                else (np.datetime64("NaT") if times is not None else None),
                "main_phase_hours": float((t[m] - t[onset]) / hour),
                "recovery_hours": float((t[rec] - t[m]) / hour) if rec is not None else np.nan,
                "category": cat,
            }
        )
    cols = [
        "onset",
        "minimum_time",
        "min_dst",
        "recovery_end",
        "main_phase_hours",
        "recovery_hours",
        "category",
    ]
    return pd.DataFrame(rows, columns=cols)
