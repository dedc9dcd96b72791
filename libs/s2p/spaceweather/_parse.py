"""Shared plumbing of the text readers: fixed-width columns, dates, CF attributes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from s2p.errors import ParseError
from s2p.spaceweather import _kernels
from s2p.spaceweather._source import Lines


@dataclass(frozen=True)
class Column:
    """One fixed-width field: ``name``, 0-based ``start`` and exclusive ``stop`` inside the line."""

    name: str
    start: int
    stop: int
    required: bool = True
    fill: float | None = None  # the provider's missing-value sentinel, turned into NaN


def parse_columns(
    lines: Lines, rows: np.ndarray, columns: Sequence[Column], *, min_length: int | None = None
) -> dict[str, np.ndarray]:
    """Parse ``columns`` of the lines ``rows`` (0-based indices) into float arrays.

    Raises :class:`ParseError` naming the first short line, or the first field that is not a number
    (or blank where a value is required).
    """
    rows = np.asarray(rows, dtype=np.int64)
    starts = lines.starts[rows]
    ends = lines.ends[rows]
    need = max(c.stop for c in columns) if min_length is None else min_length
    short = np.flatnonzero(ends - starts < need)
    if short.size:
        i = int(rows[short[0]])
        raise lines.error(
            i, f"truncated record: {lines.ends[i] - lines.starts[i]} characters, expected {need}"
        )
    out = np.empty((len(rows), len(columns)))
    col_start = np.array([c.start for c in columns], dtype=np.int64)
    col_stop = np.array([c.stop for c in columns], dtype=np.int64)
    required = np.array([c.required for c in columns], dtype=np.bool_)
    r, j, code = _kernels.parse_fixed_width(lines.buf, starts, ends, col_start, col_stop, required, out)
    if code != _kernels.OK:
        c = columns[j]
        what = "missing value" if code == _kernels.MISSING else "not a number"
        raise lines.error(int(rows[r]), f"{what} in field {c.name!r} (columns {c.start + 1}-{c.stop})")
    result = {}
    for k, c in enumerate(columns):
        v = out[:, k]
        if c.fill is not None:
            v = np.where(v == c.fill, np.nan, v)
        result[c.name] = v
    return result


def dates_from_ymd(
    year: np.ndarray, month: np.ndarray, day: np.ndarray, lines: Lines, rows: np.ndarray
) -> np.ndarray:
    """``datetime64[ns]`` dates, raising :class:`ParseError` at the first impossible date."""
    y = year.astype(np.int64)
    m = month.astype(np.int64)
    d = day.astype(np.int64)
    months = ((y - 1970) * 12 + (m - 1)).astype("datetime64[M]")
    dates = months.astype("datetime64[D]") + (d - 1).astype("timedelta64[D]")
    back = dates.astype("datetime64[M]")
    bad = np.flatnonzero((m < 1) | (m > 12) | (d < 1) | (back != months) | (year != y))
    if bad.size:
        raise lines.error(int(rows[bad[0]]), "impossible date")
    return dates.astype("datetime64[ns]")


def require_increasing(times: np.ndarray, lines: Lines, rows: np.ndarray, what: str = "time") -> None:
    """Raise at the first record whose time does not follow the previous one."""
    bad = np.flatnonzero(np.diff(times) <= np.timedelta64(0, "ns"))
    if bad.size:
        raise lines.error(int(rows[bad[0] + 1]), f"{what} not increasing (duplicate or out-of-order record)")


def header_error(name: str, reason: str, line: int | None = None, text: str | None = None) -> ParseError:
    """A :class:`ParseError` about a file's header or layout."""
    return ParseError(reason, source=name, line=line, text=text)


def attrs(units: str, long_name: str, **extra: str) -> dict[str, str]:
    """CF variable attributes."""
    return {"units": units, "long_name": long_name, **extra}
