"""MPC packed designations and packed dates (the MPC's "packed" formats, as used in MPCORB and 80-column).

- Permanent numbers: ``00433`` -> ``433``; ``A0001`` -> ``100001`` (letter = ten-thousands from 10);
  ``~0000`` -> ``620000`` (base-62 extension beyond 619,999).
- Provisional: ``K19E01E`` -> ``2019 EE1``: century letter, year, half-month letter, a two-character
  cycle count (``A1`` = 101) and the second letter; survey designations ``PLS2040`` -> ``2040 P-L``.
- Dates: ``K1972`` -> 2019-07-27 (century, year, month, day with 1-9 then A-V = 10-31).
"""

from __future__ import annotations

import numpy as np

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_VAL62 = {c: i for i, c in enumerate(_BASE62)}
_CENTURY = {"I": 18, "J": 19, "K": 20, "L": 21}
_SURVEY = {"PLS": "P-L", "T1S": "T-1", "T2S": "T-2", "T3S": "T-3"}


def unpack_designation(packed: str) -> str:
    """Unpack an MPC packed designation (number or provisional) into its readable form.

    Parameters
    ----------
    packed : str
        5-character packed number, 7-character packed provisional designation, or an already readable
        designation (returned stripped).

    Returns
    -------
    str
        ``"433"``, ``"100001"``, ``"2019 EE1"``, ``"2040 P-L"``.

    Raises
    ------
    ValueError
        When the text is not a valid packed designation.
    """
    p = packed.strip()
    if not p:
        raise ValueError("empty designation")
    if len(p) == 5 and p[0] == "~":
        n = 0
        for c in p[1:]:
            n = n * 62 + _VAL62[c]
        return str(620000 + n)
    if len(p) == 5 and p[1:].isdigit() and p[0] in _VAL62:
        return str(_VAL62[p[0]] * 10000 + int(p[1:]))
    if len(p) == 7 and p[:3] in _SURVEY and p[3:].isdigit():
        return f"{int(p[3:])} {_SURVEY[p[:3]]}"
    if len(p) == 7 and p[0] in _CENTURY and p[1:3].isdigit() and p[3].isalpha() and p[4] in _VAL62:
        if not p[5].isdigit() or not p[6].isalpha():
            raise ValueError(f"not a packed provisional designation: {packed!r}")
        year = _CENTURY[p[0]] * 100 + int(p[1:3])
        cycle = _VAL62[p[4]] * 10 + int(p[5])
        return f"{year} {p[3]}{p[6]}{cycle if cycle else ''}"
    if " " in p or p.isdigit():
        return p  # already readable
    raise ValueError(f"not a packed designation: {packed!r}")


def pack_designation(readable: str) -> str:
    """Pack a readable designation (``"433"``, ``"2019 EE1"``) into the MPC packed form (inverse of unpack)."""
    s = readable.strip()
    if s.isdigit():
        n = int(s)
        if n < 100000:
            return f"{n:05d}"
        if n < 620000:
            return _BASE62[n // 10000] + f"{n % 10000:04d}"
        n -= 620000
        out = ""
        for _ in range(4):
            n, r = divmod(n, 62)
            out = _BASE62[r] + out
        return "~" + out
    year, rest = s.split()
    for key, survey in _SURVEY.items():
        if rest == survey:
            return f"{key}{int(year):04d}"
    cycle = int(rest[2:]) if len(rest) > 2 else 0
    century = {v: k for k, v in _CENTURY.items()}[int(year) // 100]
    return f"{century}{year[2:]}{rest[0]}{_BASE62[cycle // 10]}{cycle % 10}{rest[1]}"


def unpack_epoch(packed: str) -> np.datetime64:
    """Packed MPC date (``K1972``; optional fractional digits after it) to ``datetime64[ns]``.

    The timescale is the one of the file (TT for MPCORB epochs).
    """
    p = packed.strip()
    if len(p) < 5 or p[0] not in _CENTURY or not p[1:3].isdigit():
        raise ValueError(f"not a packed date: {packed!r}")
    year = _CENTURY[p[0]] * 100 + int(p[1:3])
    month = _VAL62.get(p[3], -1)
    day = _VAL62.get(p[4], -1)
    if not (1 <= month <= 12 and 1 <= day <= 31):
        raise ValueError(f"not a packed date: {packed!r}")
    frac = float("0." + p[5:]) if len(p) > 5 else 0.0
    base = np.datetime64(f"{year:04d}-{month:02d}-{day:02d}", "ns")
    return base + np.timedelta64(int(round(frac * 86400e9)), "ns")
