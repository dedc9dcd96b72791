"""Shared plumbing of the text readers: fixed-width columns, dates, CF attributes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from s2p.errors import ParseError
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
    block = _char_block(lines.buf, starts, ends, max(c.stop for c in columns))
    first_bad: tuple[int, int, str] | None = None
    values = []
    for j, c in enumerate(columns):
        v, bad, blank = _parse_field(block[c.start : c.stop])
        if c.required:
            bad = bad | blank
        if bad.any():
            r = int(np.argmax(bad))
            if first_bad is None or r < first_bad[0]:
                first_bad = (r, j, "missing value" if blank[r] else "not a number")
        values.append(v)
    if first_bad is not None:
        r, j, what = first_bad
        c = columns[j]
        raise lines.error(int(rows[r]), f"{what} in field {c.name!r} (columns {c.start + 1}-{c.stop})")
    out = np.stack(values, axis=1) if values else np.empty((len(rows), 0))
    result = {}
    for k, c in enumerate(columns):
        v = out[:, k]
        if c.fill is not None:
            v = np.where(v == c.fill, np.nan, v)
        result[c.name] = v
    return result


def _char_block(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray, width: int) -> np.ndarray:
    """Character ``k`` of every line as row ``k`` of a (width, lines) uint8 array, blank-padded.

    Column-major on purpose: the parser walks the character positions of a field and works on
    whole rows of this array, i.e. on contiguous vectors as long as the file.
    """
    n = starts.size
    stride = int(starts[1] - starts[0]) if n > 1 else 0
    if (
        n > 1
        and stride >= width
        and starts[0] + n * stride <= buf.size
        and np.all(np.diff(starts) == stride)
        and np.all(ends - starts >= width)
    ):
        # equal-length records (the common case): a reshaped view of the buffer, one transposing copy
        rec = buf[starts[0] : starts[0] + n * stride].reshape(n, stride)
        return np.ascontiguousarray(rec[:, :width].T)
    idx = starts[None, :] + np.arange(width)[:, None]
    inside = idx < ends[None, :]
    if buf.size == 0:
        return np.full(idx.shape, 32, dtype=np.uint8)
    return np.where(inside, buf[np.minimum(idx, buf.size - 1)], np.uint8(32))


# Vectorised over all records at once rather than a numba loop: a loop would be a few milliseconds
# faster on SW-All, but the first call in a fresh kernel would pay numba's ~0.5 s start-up, which
# is what a notebook user actually waits for. The loop below runs over the (at most ~10) character
# positions of a field; each step is a handful of whole-file vector operations.
def _parse_field(f: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Decimal numbers in a (width, records) character block -> (values, bad, blank).

    Accepted: optional blanks, an optional sign, digits with at most one decimal point, optional
    blanks. Blank fields give NaN. Values are the correctly rounded doubles (``float(text)``): the
    integer mantissa is exact and divided by an exact power of ten.
    """
    w, n = f.shape
    if w > 18:
        raise ValueError("fields wider than 18 characters need a wider mantissa")
    mant = np.zeros(n, dtype=np.int64)
    frac = np.zeros(n, dtype=np.int64)
    ndig = np.zeros(n, dtype=np.int64)
    neg = np.zeros(n, dtype=bool)
    dot_seen = np.zeros(n, dtype=bool)
    bad = np.zeros(n, dtype=bool)
    filled = np.zeros(n, dtype=bool)
    # 0: leading blanks, 1: after the sign, 2: inside the number, 3: trailing blanks
    state = np.zeros(n, dtype=np.int8)
    for k in range(w):
        c = f[k]
        sp = c == 32
        dig = (c >= 48) & (c <= 57)
        dot = c == 46
        minus = c == 45
        sign = minus | (c == 43)
        bad |= ~(sp | dig | dot | sign)
        filled |= ~sp
        bad |= sign & (state != 0)
        bad |= dot & dot_seen
        bad |= (dig | dot) & (state == 3)
        bad |= sp & (state == 1)
        neg |= minus & (state == 0)
        mant = np.where(dig, mant * 10 + (c.astype(np.int64) - 48), mant)
        frac += dig & dot_seen
        ndig += dig
        dot_seen |= dot
        state = np.where(sign, 1, np.where(dig | dot, 2, np.where(sp & (state >= 1), 3, state))).astype(
            np.int8
        )
    blank = ~filled
    bad |= (ndig == 0) & ~blank
    bad &= ~blank
    v = mant / _POW10[frac]
    v = np.where(neg, -v, v)
    v[blank | bad] = np.nan
    return v, bad, blank


_POW10 = np.array([10.0**k for k in range(19)])


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
