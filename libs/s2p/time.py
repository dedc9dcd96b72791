"""Time scales for the whole library: UTC datetime64 in, Julian dates in the scale a kernel needs out.

Every public function of ``s2p`` accepts times as anything :func:`to_datetime64` understands (ISO strings,
``datetime``, ``numpy.datetime64``, pandas timestamps, arrays of those) and treats naive values as UTC.

Julian dates are returned *split* — ``(jd_whole, jd_frac)`` with ``jd_whole`` at a midnight boundary
(``.5``) — because a single float64 JD only resolves ~40 µs, which at orbital speeds is ~0.3 m: not good
enough for the millimetre comparisons our tests make against references.

Scales: UTC (civil, with leap seconds), TAI = UTC + leap seconds, TT = TAI + 32.184 s,
TDB ≈ TT + periodic terms (≤ 1.7 ms; Fairhead & Bretagnon's two leading terms, error < 30 µs).
UT1 is taken equal to UTC unless a ``dut1`` [s] is given by the caller (|UT1−UTC| < 0.9 s by definition).
"""

from __future__ import annotations

import datetime as _dt
import warnings
from typing import Any

import numpy as np

__all__ = [
    "J2000_JD",
    "SECONDS_PER_DAY",
    "from_jd",
    "from_year_day",
    "jd_tdb",
    "jd_tt",
    "jd_utc",
    "leap_seconds",
    "mjd_utc",
    "to_datetime64",
    "tt_minus_utc",
]

SECONDS_PER_DAY = 86400.0
J2000_JD = 2451545.0  # 2000-01-01T12:00 TT
_UNIX_EPOCH_JD = 2440587.5  # 1970-01-01T00:00 as a Julian date
_NS_PER_DAY = 86_400_000_000_000

# TAI − UTC [s] in force from each date on (IERS Bulletin C; no leap second announced after 2017-01-01).
_LEAP_TABLE = np.array(
    [
        ("1972-01-01", 10), ("1972-07-01", 11), ("1973-01-01", 12), ("1974-01-01", 13),
        ("1975-01-01", 14), ("1976-01-01", 15), ("1977-01-01", 16), ("1978-01-01", 17),
        ("1979-01-01", 18), ("1980-01-01", 19), ("1981-07-01", 20), ("1982-07-01", 21),
        ("1983-07-01", 22), ("1985-07-01", 23), ("1988-01-01", 24), ("1990-01-01", 25),
        ("1991-01-01", 26), ("1992-07-01", 27), ("1993-07-01", 28), ("1994-07-01", 29),
        ("1996-01-01", 30), ("1997-07-01", 31), ("1999-01-01", 32), ("2006-01-01", 33),
        ("2009-01-01", 34), ("2012-07-01", 35), ("2015-07-01", 36), ("2017-01-01", 37),
    ],
    dtype=[("date", "datetime64[ns]"), ("tai_utc", "f8")],
)  # fmt: skip


def to_datetime64(times: Any) -> np.ndarray:
    """Convert times to ``datetime64[ns]`` (UTC), keeping the input's shape.

    Parameters
    ----------
    times : str, datetime, numpy.datetime64, pandas.Timestamp/DatetimeIndex, or array-like of those
        Timezone-aware values are converted to UTC; naive values are taken as UTC.

    Returns
    -------
    numpy.ndarray
        ``datetime64[ns]`` array; 0-d for a scalar input.
    """
    if isinstance(times, np.ndarray) and times.dtype.kind == "M":
        return times.astype("datetime64[ns]")
    if hasattr(times, "tz_convert") or hasattr(times, "tz_localize"):  # pandas objects
        import pandas as pd

        idx = pd.DatetimeIndex(np.atleast_1d(times)) if not hasattr(times, "tz") else times
        if getattr(idx, "tz", None) is not None:
            idx = idx.tz_convert("UTC").tz_localize(None)
        out = np.asarray(idx, dtype="datetime64[ns]")
        return out.reshape(np.shape(times)) if np.ndim(times) == 0 else out
    if isinstance(times, _dt.datetime):
        if times.tzinfo is not None:
            times = times.astimezone(_dt.UTC).replace(tzinfo=None)
        return np.asarray(np.datetime64(times, "ns"))
    if isinstance(times, np.datetime64):
        return np.asarray(times.astype("datetime64[ns]"))
    if isinstance(times, str):
        # numpy turns "…Z" and "…+02:00" into UTC correctly but warns on every call that it keeps no
        # time zone; UTC is exactly what we promise, so that warning is noise in a notebook.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "no explicit representation of timezones", UserWarning)
            return np.asarray(np.datetime64(times, "ns"))
    if isinstance(times, _dt.date):
        return np.asarray(np.datetime64(times, "ns"))
    arr = np.asarray(times)
    if arr.dtype.kind == "M" or arr.size == 0:  # ``[]`` comes out as float64: no times, not bad ones
        return arr.astype("datetime64[ns]")
    if arr.dtype == object or arr.dtype.kind in "US":
        flat = [to_datetime64(x) for x in arr.ravel()]
        return np.array(flat, dtype="datetime64[ns]").reshape(arr.shape)
    raise TypeError(f"cannot interpret {type(times).__name__} of dtype {arr.dtype} as UTC times")


def jd_utc(times: Any) -> tuple[np.ndarray, np.ndarray]:
    """Split Julian date in UTC: ``(jd_whole, jd_frac)``, ``jd_whole`` at the preceding midnight (.5).

    Exact to the nanosecond of the input (``jd_frac`` carries ~1e-16 d relative error). A missing
    time (NaT) gives NaN in both parts, never a date in 1677.
    """
    t = to_datetime64(times)
    ns = t.astype("int64")
    days, rem = np.divmod(ns, _NS_PER_DAY)
    whole, frac = days + _UNIX_EPOCH_JD, rem / _NS_PER_DAY
    missing = np.isnat(t)
    if missing.any():
        whole, frac = np.where(missing, np.nan, whole), np.where(missing, np.nan, frac)
    return whole, frac


def mjd_utc(times: Any) -> np.ndarray:
    """Modified Julian date (UTC) as one float64 [d] (≈ 1 µs resolution)."""
    whole, frac = jd_utc(times)
    return (whole - 2400000.5) + frac


def leap_seconds(times: Any) -> np.ndarray:
    """TAI − UTC [s] at the given UTC times (10 s before 1972, where UTC was not yet leap-second based)."""
    t = to_datetime64(times)
    idx = np.searchsorted(_LEAP_TABLE["date"], t, side="right") - 1
    out = np.where(idx >= 0, _LEAP_TABLE["tai_utc"][np.clip(idx, 0, None)], 10.0)
    return np.asarray(np.where(np.isnat(t), np.nan, out), dtype=float)


def tt_minus_utc(times: Any) -> np.ndarray:
    """TT − UTC [s] = leap seconds + 32.184 s."""
    return leap_seconds(times) + 32.184


def jd_tt(times: Any) -> tuple[np.ndarray, np.ndarray]:
    """Split Julian date in TT for UTC input times."""
    whole, frac = jd_utc(times)
    return whole, frac + tt_minus_utc(times) / SECONDS_PER_DAY


def jd_tdb(times: Any) -> tuple[np.ndarray, np.ndarray]:
    """Split Julian date in TDB for UTC input times (TDB − TT from its two leading periodic terms)."""
    whole, frac = jd_tt(times)
    g = np.deg2rad(357.53 + 0.98560028 * ((whole - J2000_JD) + frac))
    return whole, frac + (0.001657 * np.sin(g) + 0.000014 * np.sin(2.0 * g)) / SECONDS_PER_DAY


def from_jd(jd_whole: Any, jd_frac: Any = 0.0) -> np.ndarray:
    """UTC ``datetime64[ns]`` from a (split) Julian date in UTC, rounded to the nanosecond."""
    whole = np.asarray(jd_whole, dtype=float) - _UNIX_EPOCH_JD
    days = np.floor(whole)
    frac = (whole - days) + np.asarray(jd_frac, dtype=float)
    ns = days.astype("int64") * _NS_PER_DAY + np.round(frac * _NS_PER_DAY).astype("int64")
    return ns.astype("datetime64[ns]")


def from_year_day(year: Any, day: Any) -> np.ndarray:
    """UTC ``datetime64[ns]`` from a year and a 1-based fractional day of year (TLE epochs: 1.0 = Jan 1 00:00)."""
    year = np.asarray(year, dtype="int64")
    day = np.asarray(day, dtype=float)
    start = (year - 1970).astype("datetime64[Y]").astype("datetime64[ns]")
    whole = np.floor(day)
    ns = (whole - 1.0).astype("int64") * _NS_PER_DAY + np.round((day - whole) * _NS_PER_DAY).astype("int64")
    return start + ns.astype("timedelta64[ns]")
