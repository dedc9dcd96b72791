"""Two-line element sets: reading, checking and selecting.

:func:`read_tle` accepts the 2-line format and the 3-line format (a name line, bare or "0 NAME", before
each pair) as a path, a text or an open file. Every record is checked column by column against the
Space-Track layout (fixed columns, line numbers, matching catalogue numbers, modulo-10 checksums, numeric
fields) and refused with a :class:`s2p.ParseError` naming the source, the line and the fault.

Catalogue numbers may be in Alpha-5 form (``A0000`` = 100000 ... ``Z9999`` = 339999; I and O unused).
"""

from __future__ import annotations

import gzip
import os
import textwrap
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np

from s2p.errors import ParseError

__all__ = ["TLESet", "alpha5_to_int", "checksum", "read_tle"]

_ALPHA5 = {ch: 10 + k for k, ch in enumerate("ABCDEFGHJKLMNPQRSTUVWXYZ")}
_NS_PER_DAY = 86_400_000_000_000
_FLOAT_FIELDS = (
    "epoch_day",
    "ndot",
    "nddot",
    "bstar",
    "inclination_deg",
    "raan_deg",
    "eccentricity",
    "arg_perigee_deg",
    "mean_anomaly_deg",
    "mean_motion_rev_per_day",
)
_INT_FIELDS = ("norad_id", "epoch_year", "element_number", "rev_number")
_STR_FIELDS = ("name", "classification", "intl_designator", "line1", "line2")


_DIGITS = frozenset("0123456789")
_NAME_MAX = 24  # columns of the name line of the 3-line format (Space-Track, CelesTrak)


def _isdigits(s: str) -> bool:
    # str.isdigit() also accepts e.g. superscripts, which int() then refuses: ASCII digits only.
    return bool(s) and all(ch in _DIGITS for ch in s)


def checksum(line: str) -> int:
    """Modulo-10 checksum of TLE columns 1-68: digits count their value, a minus sign counts 1."""
    return sum(int(ch) if ch in _DIGITS else (1 if ch == "-" else 0) for ch in line[:68]) % 10


def alpha5_to_int(field5: str) -> int:
    """Catalogue number from a 5-character field, plain digits or Alpha-5 (``"A2345"`` → 102345)."""
    s = field5.strip()
    if not s:
        raise ValueError("empty catalogue number")
    head = s[0]
    if head in _DIGITS:
        if not _isdigits(s):
            raise ValueError(f"catalogue number {field5!r} is not numeric")
        return int(s)
    if head not in _ALPHA5 or len(s) != 5 or not _isdigits(s[1:]):
        raise ValueError(f"catalogue number {field5!r} is neither numeric nor Alpha-5")
    return _ALPHA5[head] * 10000 + int(s[1:])


@dataclass
class _Fault(Exception):
    reason: str
    line_offset: int  # 0 = line 1 of the pair, 1 = line 2


def _float(text: str, what: str, offset: int) -> float:
    s = text.strip()
    try:
        if not s or any(ch not in "0123456789.+- " for ch in s) or " " in s:
            raise ValueError
        return float(s)
    except ValueError:
        raise _Fault(f"{what} {text!r} is not a number", offset) from None


def _int(text: str, what: str, offset: int, blank: int | None = None) -> int:
    s = text.strip()
    if not s and blank is not None:
        return blank
    if not _isdigits(s):
        raise _Fault(f"{what} {text!r} is not an integer", offset)
    return int(s)


def _exp_field(text: str, what: str, offset: int) -> float:
    """Decode the 'assumed decimal point' form ``±NNNNN±E`` (e.g. ``" 12345-3"`` = 0.12345e-3)."""
    # 8 columns: sign (blank, + or -), 5 mantissa digits, exponent sign, exponent digit
    sign, mant, esign, edigit = text[0], text[1:6].replace(" ", "0"), text[6], text[7]
    if sign not in " +-" or not _isdigits(mant) or esign not in " +-" or edigit not in _DIGITS:
        raise _Fault(f"{what} {text!r} is not of the form ±NNNNN±E", offset)
    value = float("0." + mant) * 10.0 ** int(("-" if esign == "-" else "") + edigit)
    return -value if sign == "-" else value


def _check_line(line: str, number: str, offset: int, verify_checksum: bool) -> None:
    if len(line) < 69:
        raise _Fault(f"line {number} has {len(line)} columns, expected 69", offset)
    if line[0] != number or line[1] != " ":
        raise _Fault(f"expected line number {number!r} in column 1 followed by a blank", offset)
    if verify_checksum:
        if line[68] not in _DIGITS:
            raise _Fault(f"checksum column 69 is {line[68]!r}, expected a digit", offset)
        if int(line[68]) != checksum(line):
            raise _Fault(f"checksum {line[68]} != computed {checksum(line)}", offset)


def _parse_pair(line1: str, line2: str, verify_checksum: bool = True) -> dict[str, Any]:
    """One record from its two lines (trailing text after column 69 ignored). Raises ``_Fault``."""
    _check_line(line1, "1", 0, verify_checksum)
    _check_line(line2, "2", 1, verify_checksum)
    try:
        num1 = alpha5_to_int(line1[2:7])
    except ValueError as exc:
        raise _Fault(str(exc), 0) from None
    try:
        num2 = alpha5_to_int(line2[2:7])
    except ValueError as exc:
        raise _Fault(str(exc), 1) from None
    if num1 != num2:
        raise _Fault(f"catalogue number {num2} on line 2 differs from {num1} on line 1", 1)

    yy = _int(line1[18:20], "epoch year", 0)
    day_text = line1[20:32].strip()
    whole, _, frac = day_text.partition(".")
    if not _isdigits(whole) or (frac and not _isdigits(frac)):
        raise _Fault(f"epoch day {line1[20:32]!r} is not a number", 0)
    day = int(whole)
    if not 1 <= day <= 366:
        raise _Fault(f"epoch day {day} outside 1..366", 0)
    year = yy + (2000 if yy < 57 else 1900)
    # Exact nanoseconds: the fractional digits are an integer number of 10^-len(frac) days.
    frac_ns = (int(frac) * _NS_PER_DAY + 10 ** len(frac) // 2) // 10 ** len(frac) if frac else 0
    year_start = np.datetime64(f"{year:04d}-01-01", "ns").astype("int64")
    epoch_ns = int(year_start) + (day - 1) * _NS_PER_DAY + frac_ns

    ecc_text = line2[26:33].replace(" ", "0")  # implied leading decimal point, blanks read as zeros
    if not _isdigits(ecc_text):
        raise _Fault(f"eccentricity {ecc_text!r} is not a 7-digit decimal", 1)
    rec: dict[str, Any] = {
        "norad_id": num1,
        "classification": line1[7],
        "intl_designator": line1[9:17].strip(),
        "epoch_year": year,
        "epoch_day": _float(day_text, "epoch day", 0),
        "epoch_ns": epoch_ns,
        "ndot": _float(line1[33:43], "first derivative of mean motion", 0),
        "nddot": _exp_field(line1[44:52], "second derivative of mean motion", 0),
        "bstar": _exp_field(line1[53:61], "BSTAR", 0),
        "element_number": _int(line1[64:68], "element set number", 0, blank=0),
        "inclination_deg": _float(line2[8:16], "inclination", 1),
        "raan_deg": _float(line2[17:25], "right ascension of the node", 1),
        "eccentricity": int(ecc_text) / 1.0e7,
        "arg_perigee_deg": _float(line2[34:42], "argument of perigee", 1),
        "mean_anomaly_deg": _float(line2[43:51], "mean anomaly", 1),
        "mean_motion_rev_per_day": _float(line2[52:63], "mean motion", 1),
        "rev_number": _int(line2[63:68], "revolution number", 1, blank=0),
        "line1": line1[:69],
        "line2": line2[:69],
    }
    incl, motion = float(rec["inclination_deg"]), float(rec["mean_motion_rev_per_day"])
    if not 0.0 <= incl <= 180.0:
        raise _Fault(f"inclination {incl} outside 0..180 deg", 1)
    if motion <= 0.0:
        raise _Fault(f"mean motion {motion} rev/day must be positive", 1)
    return rec


def _open_text(source: Any) -> tuple[str, str]:
    """(text, source name) from a path, a text, bytes or a file object; gzip is decompressed."""
    if hasattr(source, "read"):
        data = source.read()
        name = str(getattr(source, "name", "<file>"))
    elif isinstance(source, os.PathLike) or (
        isinstance(source, str) and source.strip() and "\n" not in source and len(source) < 4096
    ):
        path = Path(source).expanduser()  # "~/..." as pandas and xarray accept it
        if isinstance(source, str) and not path.exists() and source.lstrip()[:2] in ("1 ", "2 ", "0 "):
            return source, "<text>"
        with open(path, "rb") as fh:
            data = fh.read()
        name = str(path)
    elif isinstance(source, (str, bytes)):
        data, name = source, "<text>"
    else:
        raise TypeError(f"read_tle expects a path, a text or a file object, not {type(source).__name__}")
    if isinstance(data, bytes):
        if data[:2] == b"\x1f\x8b":  # gzip, recognised by its magic bytes rather than the file name
            try:
                data = gzip.decompress(data)
            except (OSError, EOFError) as exc:
                raise ParseError(f"corrupt gzip stream: {exc}", source=name) from None
        # Element lines are ASCII, but names are free text: CelesTrak and Space-Track serve UTF-8
        # (with a BOM when saved by some editors); anything else is read as Latin-1 rather than mangled.
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            data = data.decode("latin-1")
    return data.lstrip("\ufeff"), name


@dataclass(eq=False)  # arrays: identity comparison, not an ambiguous elementwise ==
class TLESet:
    """A catalogue of element sets, one entry per record in file order (numpy arrays, SI-ish units).

    Attributes are arrays of length ``len(tles)``: ``norad_id``, ``name``, ``epoch`` (``datetime64[ns]``
    UTC), ``inclination_deg``, ``raan_deg``, ``eccentricity``, ``arg_perigee_deg``, ``mean_anomaly_deg``,
    ``mean_motion_rev_per_day``, ``bstar`` [1/Earth radii], ``ndot`` [rev/day²/2], ``nddot`` [rev/day³/6],
    ``classification``, ``intl_designator``, ``epoch_year``, ``epoch_day``, ``element_number``,
    ``rev_number``, ``line1``, ``line2``. ``rejected`` lists ``(line, reason, text)`` of records skipped
    by ``read_tle(..., errors="skip")``. Select with a boolean mask, an index array or a slice.
    """

    norad_id: np.ndarray
    name: np.ndarray
    epoch: np.ndarray
    classification: np.ndarray
    intl_designator: np.ndarray
    epoch_year: np.ndarray
    epoch_day: np.ndarray
    ndot: np.ndarray
    nddot: np.ndarray
    bstar: np.ndarray
    element_number: np.ndarray
    inclination_deg: np.ndarray
    raan_deg: np.ndarray
    eccentricity: np.ndarray
    arg_perigee_deg: np.ndarray
    mean_anomaly_deg: np.ndarray
    mean_motion_rev_per_day: np.ndarray
    rev_number: np.ndarray
    line1: np.ndarray
    line2: np.ndarray
    rejected: list[tuple[int, str, str]] = field(default_factory=list)
    source: str = "<text>"
    _cache: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_records(cls, records: list[dict[str, Any]], **kw: Any) -> TLESet:
        """Build a set from parsed records (dicts with the attribute names, ``epoch_ns`` for the epoch)."""
        cols: dict[str, Any] = {}
        for f in _FLOAT_FIELDS:
            cols[f] = np.array([r[f] for r in records], dtype=float)
        for f in _INT_FIELDS:
            cols[f] = np.array([r[f] for r in records], dtype=np.int64)
        for f in _STR_FIELDS:
            cols[f] = np.array([r.get(f, "") for r in records], dtype=object)
        cols["epoch"] = np.array([r["epoch_ns"] for r in records], dtype=np.int64).astype("datetime64[ns]")
        return cls(**cols, **kw)

    @classmethod
    def from_lines(
        cls, line1: Iterable[str], line2: Iterable[str], name: Iterable[str] | None = None
    ) -> TLESet:
        """Build a set from matching sequences of line-1 and line-2 strings (checksums verified)."""
        l1, l2 = list(line1), list(line2)
        names = list(name) if name is not None else [""] * len(l1)
        text = "\n".join(
            f"{n}\n{a}\n{b}" if n else f"{a}\n{b}" for n, a, b in zip(names, l1, l2, strict=True)
        )
        return read_tle(text)

    def __len__(self) -> int:
        return int(self.norad_id.shape[0])

    def __getitem__(self, key: Any) -> TLESet:
        if isinstance(key, (int, np.integer)):
            key = [int(key)]
        kw = {}
        for f in self.__dataclass_fields__:
            if f in ("rejected", "source", "_cache"):
                continue
            kw[f] = getattr(self, f)[key]
        return TLESet(**kw, rejected=[], source=self.source)

    def __repr__(self) -> str:
        shown = ", ".join(str(x) for x in self.norad_id[:5]) + (", ..." if len(self) > 5 else "")
        return f"<TLESet {len(self)} records from {self.source} (norad_id {shown})>"

    def propagate(self, times: Any, *, opsmode: str = "i") -> Any:
        """SGP4/SDP4 to ``times`` → ``xarray.Dataset`` (see :func:`s2p.debris.propagate`)."""
        from s2p.debris.propagation import propagate

        return propagate(self, times, opsmode=opsmode)


def _iter_records(text: str):
    """Yield (line number of line 1, name, line1, line2), or (line number, None, fault, text) for junk.

    A missing line 2 is reported at the line where it was expected (one past the end at end of input).
    """
    lines = [ln.rstrip() for ln in text.splitlines()]
    n = len(lines)

    def starts(k: int, tag: str) -> bool:
        return k < n and lines[k][:2] == tag

    k = 0
    while k < n:
        if not lines[k].strip():
            k += 1
            continue
        if starts(k, "1 ") and starts(k + 1, "2 "):
            yield (k + 1, "", lines[k], lines[k + 1])
            k += 2
        elif starts(k, "2 "):
            yield (k + 1, None, "line 2 without a preceding line 1", lines[k])
            k += 1
        elif starts(k, "1 ") and len(lines[k]) > _NAME_MAX:
            # a line 1 that lost its line 2: it must not become the name of the next record (names
            # are at most 24 columns in the 3-line format), or a whole record vanishes unreported
            yield (k + 2, None, "missing line 2 after line 1", lines[k])
            k += 1
        elif starts(k + 1, "1 "):
            # a name line, bare or in the "0 NAME" form
            raw = lines[k]
            name = raw[2:].strip() if raw[:2] == "0 " else raw.strip()
            if starts(k + 2, "2 "):
                yield (k + 2, name, lines[k + 1], lines[k + 2])
                k += 3
            else:
                yield (k + 3, None, "missing line 2 after line 1", lines[k + 1])
                k += 2
        elif starts(k, "1 "):
            yield (k + 2, None, "missing line 2 after line 1", lines[k])
            k += 1
        else:
            yield (k + 1, None, "expected a name line or line 1 of an element set", lines[k])
            k += 1


def read_tle(
    source: str | bytes | os.PathLike[str] | IO[str] | IO[bytes],
    errors: str = "raise",
    *,
    verify_checksum: bool = True,
) -> TLESet:
    """Read a TLE catalogue (2-line or 3-line format).

    Parameters
    ----------
    source : path, str, bytes or file object
        A file name (``~`` expanded), the TLE text itself, its bytes, or an open (text or binary)
        file. Gzip is recognised by its magic bytes; bytes are decoded as UTF-8 (a BOM is dropped),
        else Latin-1; text pasted with a common indentation is dedented.
    errors : {"raise", "skip"}
        ``"raise"`` (default): the first bad record raises :class:`s2p.ParseError`. ``"skip"``: bad records
        are left out and listed in ``TLESet.rejected`` as ``(line, reason, text)``.
    verify_checksum : bool
        Check the modulo-10 checksum in column 69 of both lines (default True).

    Returns
    -------
    TLESet
        The records in file order; ``.epoch`` is ``datetime64[ns]`` UTC.

    Raises
    ------
    s2p.ParseError
        Naming the source, the 1-based line and the fault (with ``errors="raise"``).
    """
    if errors not in ("raise", "skip"):
        raise ValueError(f"errors must be 'raise' or 'skip', not {errors!r}")
    text, src = _open_text(source)
    if text.lstrip("\r\n")[:1] in (" ", "\t"):
        # TLEs pasted into an indented triple-quoted string in a notebook: remove the common
        # indentation so the fixed columns line up (a real file starts in column 1: no-op there)
        text = textwrap.dedent(text)
    records: list[dict[str, Any]] = []
    rejected: list[tuple[int, str, str]] = []
    for lineno, name, a, b in _iter_records(text):
        if name is None:
            if errors == "raise":
                raise ParseError(a, source=src, line=lineno, text=b)
            rejected.append((lineno, a, b))
            continue
        try:
            rec = _parse_pair(a, b, verify_checksum)
        except _Fault as fault:
            line = lineno + fault.line_offset
            bad = (a, b)[fault.line_offset]
            if errors == "raise":
                raise ParseError(fault.reason, source=src, line=line, text=bad) from None
            rejected.append((line, fault.reason, bad))
            continue
        rec["name"] = name
        records.append(rec)
    if not records and not rejected and errors == "raise":
        raise ParseError("no element sets found", source=src)
    if records:
        return TLESet.from_records(records, rejected=rejected, source=src)
    empty = TLESet.from_records([], rejected=rejected, source=src)
    return empty
