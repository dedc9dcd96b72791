"""Readers for the risk and close-approach products of ESA NEOCC and NASA/JPL CNEOS.

Every reader takes a path, the text itself or an open file and returns a :class:`pandas.DataFrame`
(snapshot metadata such as the list's "Last Update" in ``df.attrs``). Bad input raises
:class:`s2p.ParseError` naming the line.
"""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np
import pandas as pd

from s2p.errors import ParseError
from s2p.neo._io import read_text

_LAST_UPDATE = re.compile(r"Last Update:\s*(\d{4}-\d{2}-\d{2})(?:\s+(\d{2}:\d{2}))?")


def _num(text: str, what: str, name: str, lineno: int, line: str) -> float:
    t = text.strip().rstrip("*").strip()
    if t in ("", "n/a", "-"):
        return np.nan
    try:
        return float(t)
    except ValueError:
        raise ParseError(
            f"{what} is not a number: {text.strip()!r}", source=name, line=lineno, text=line
        ) from None


def _datetime(text: str, fmt: str, what: str, name: str, lineno: int, line: str) -> pd.Timestamp:
    try:
        return pd.to_datetime(text.strip(), format=fmt)
    except ValueError:
        raise ParseError(
            f"{what} is not a date ({fmt}): {text.strip()!r}", source=name, line=lineno, text=line
        ) from None


def _split_object(cell: str) -> tuple[str, str]:
    """NEOCC 'Num/des. Name' cell -> (designation, name): '620082           2014QL433' -> ('620082', '2014QL433')."""
    parts = cell.split()
    if not parts:
        return "", ""
    return parts[0], " ".join(parts[1:])


def _table_lines(
    text: str, name: str, min_cols: int
) -> tuple[dict[str, Any], list[tuple[int, str, list[str]]]]:
    """Header metadata and the data rows (line number, line, cells) of a NEOCC '|'-separated list."""
    meta: dict[str, Any] = {}
    rows = []
    lines = text.splitlines()
    if not lines:
        raise ParseError("empty file", source=name)
    for k, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        m = _LAST_UPDATE.match(line.strip())
        if m:
            meta["last_update"] = pd.Timestamp(f"{m.group(1)} {m.group(2) or '00:00'}")
            continue
        cells = line.split("|")
        first = cells[0].strip()
        # header lines: titles, units, the 'AAAA/NNNN' format line
        if (
            first.startswith(("Object", "Num/des", "AAAAAAAAA"))
            or "Object designator" in line
            or "Name/desig" in line
            or first.startswith("DDDD")
        ):
            continue
        if len(cells) < min_cols:
            raise ParseError(
                f"expected at least {min_cols} '|'-separated columns, got {len(cells)}",
                source=name,
                line=k,
                text=line,
            )
        rows.append((k, line, cells))
    if "last_update" not in meta:
        raise ParseError("missing 'Last Update:' line", source=name, line=1, text=lines[0])
    return meta, rows


def read_neocc_risk_list(source: Any) -> pd.DataFrame:
    """Read the ESA NEOCC risk list or special risk list (``esa_risk_list``, ``esa_special_risk_list``).

    Returns
    -------
    pandas.DataFrame
        ``designation, name, diameter_m, diameter_estimated`` (True when derived from H, the '*'),
        ``impact_date`` (UTC, the virtual impactor of maximum Palermo scale), ``ip_max``, ``ps_max``,
        ``ts`` (Torino, NaN when not given), ``vel_kms`` (impact velocity), and for the main list
        ``years_first, years_last, ip_cum, ps_cum``. ``attrs['last_update']`` is the list's date.
    """
    text, name = read_text(source)
    meta, rows = _table_lines(text, name, 9)
    out: dict[str, list[Any]] = {k: [] for k in (
        "designation", "name", "diameter_m", "diameter_estimated", "impact_date", "ip_max", "ps_max", "ts",
        "vel_kms", "years_first", "years_last", "ip_cum", "ps_cum")}  # fmt: skip
    for lineno, line, c in rows:
        des, nm = _split_object(c[0])
        if not des:
            raise ParseError("missing object designation", source=name, line=lineno, text=line)
        out["designation"].append(des)
        out["name"].append(nm)
        out["diameter_m"].append(_num(c[1], "diameter", name, lineno, line))
        out["diameter_estimated"].append(c[2].strip() == "*")
        out["impact_date"].append(_datetime(c[3], "%Y-%m-%d %H:%M", "impact date", name, lineno, line))
        out["ip_max"].append(_num(c[4], "IP max", name, lineno, line))
        out["ps_max"].append(_num(c[5], "PS max", name, lineno, line))
        out["ts"].append(_num(c[6], "Torino scale", name, lineno, line))
        out["vel_kms"].append(_num(c[7], "velocity", name, lineno, line))
        if len(c) >= 12 and c[8].strip():
            years = c[8].strip().split("-")
            if len(years) != 2 or not all(y.isdigit() for y in years):
                raise ParseError(
                    f"years must be YYYY-YYYY, got {c[8].strip()!r}", source=name, line=lineno, text=line
                )
            out["years_first"].append(int(years[0]))
            out["years_last"].append(int(years[1]))
            out["ip_cum"].append(_num(c[9], "IP cum", name, lineno, line))
            out["ps_cum"].append(_num(c[10], "PS cum", name, lineno, line))
        else:
            out["years_first"].append(-1)
            out["years_last"].append(-1)
            out["ip_cum"].append(np.nan)
            out["ps_cum"].append(np.nan)
    df = pd.DataFrame(out)
    df.attrs.update(meta, source=name)
    return df


def read_neocc_close_approaches(source: Any) -> pd.DataFrame:
    """Read the ESA NEOCC recent/upcoming close-approach lists (``esa_recent_close_app``, ``esa_upcoming_close_app``).

    Returns
    -------
    pandas.DataFrame
        ``designation, name, date, miss_km, miss_au, miss_ld, diameter_m, diameter_estimated, h_mag,
        max_bright_mag, vel_kms, cai_index``.
    """
    text, name = read_text(source)
    meta, rows = _table_lines(text, name, 11)
    recs = []
    for lineno, line, c in rows:
        des, nm = _split_object(c[0])
        if not des:
            raise ParseError("missing object designation", source=name, line=lineno, text=line)
        recs.append(
            {
                "designation": des,
                "name": nm,
                "date": _datetime(c[1], "%Y-%m-%d", "date", name, lineno, line),
                "miss_km": _num(c[2], "miss distance [km]", name, lineno, line),
                "miss_au": _num(c[3], "miss distance [au]", name, lineno, line),
                "miss_ld": _num(c[4], "miss distance [LD]", name, lineno, line),
                "diameter_m": _num(c[5], "diameter", name, lineno, line),
                "diameter_estimated": c[6].strip() == "*",
                "h_mag": _num(c[7], "H", name, lineno, line),
                "max_bright_mag": _num(c[8], "max brightness", name, lineno, line),
                "vel_kms": _num(c[9], "relative velocity", name, lineno, line),
                "cai_index": _num(c[10], "CAI index", name, lineno, line),
            }
        )
    df = pd.DataFrame(recs)
    df.attrs.update(meta, source=name)
    return df


def read_neocc_past_impactors(source: Any) -> pd.DataFrame:
    """Read the ESA NEOCC past impactors list: ``designation, diameter_m, diameter_estimated, impact_time,
    vel_kms, energy_est_mt, energy_meas_mt``."""
    text, name = read_text(source)
    meta, rows = _table_lines(text, name, 6)
    recs = []
    for lineno, line, c in rows:
        recs.append(
            {
                "designation": c[0].strip(),
                "diameter_m": _num(c[1], "diameter", name, lineno, line),
                "diameter_estimated": c[1].strip().endswith("*"),
                "impact_time": _datetime(c[2], "%Y-%m-%d %H:%M:%S", "impact time", name, lineno, line),
                "vel_kms": _num(c[3], "impact velocity", name, lineno, line),
                "energy_est_mt": _num(c[4], "estimated energy", name, lineno, line),
                "energy_meas_mt": _num(c[5], "measured energy", name, lineno, line),
            }
        )
    df = pd.DataFrame(recs)
    df.attrs.update(meta, source=name)
    return df


def read_neocc_priority_list(source: Any) -> pd.DataFrame:
    """Read the ESA NEOCC priority or faint NEO list.

    Returns
    -------
    pandas.DataFrame
        ``priority`` (0 urgent .. 3 low), ``designation``, ``ra_deg`` (published as seconds of time),
        ``dec_deg``, ``elong_deg`` (solar elongation), ``v_mag``, ``sky_uncertainty_arcsec`` and
        ``end_of_visibility``; ``attrs['date']`` is the list's date.
    """
    text, name = read_text(source)
    lines = text.splitlines()
    if not lines or not re.fullmatch(r'"\d{4}/\d{2}/\d{2}"', lines[0].strip()):
        raise ParseError(
            'first line must be the list date "YYYY/MM/DD"',
            source=name,
            line=1,
            text=lines[0] if lines else "",
        )
    recs = []
    pat = re.compile(
        r'^\s*(\d)\s+"([^"]+)"\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+"(\d{4}/\d{2}/\d{2})"\s*$'
    )
    for k, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        m = pat.match(line)
        if not m:
            raise ParseError(
                'expected: priority "designation" 5 numbers "YYYY/MM/DD"', source=name, line=k, text=line
            )
        try:
            recs.append(
                {
                    "priority": int(m.group(1)),
                    "designation": m.group(2).strip(),
                    "ra_deg": float(m.group(3)) / 240.0,
                    "dec_deg": float(m.group(4)),
                    "elong_deg": float(m.group(5)),
                    "v_mag": float(m.group(6)),
                    "sky_uncertainty_arcsec": float(m.group(7)),
                    "end_of_visibility": pd.to_datetime(m.group(8), format="%Y/%m/%d"),
                }
            )
        except ValueError:
            raise ParseError("a numeric column is not a number", source=name, line=k, text=line) from None
    df = pd.DataFrame(recs)
    df.attrs.update(date=pd.to_datetime(lines[0].strip().strip('"'), format="%Y/%m/%d"), source=name)
    return df


def read_allneo(source: Any) -> pd.DataFrame:
    """Read NEOCC name lists: ``allneo.lst`` (number/designation + name), ``allnea.csv`` (header ``NEA``)
    and ``updated_nea.lst`` (``#`` date lines then designations). Returns ``designation, name``."""
    text, name = read_text(source)
    recs = []
    for k, line in enumerate(text.splitlines(), start=1):
        s = line.strip()
        if not s or s.startswith("#") or (k == 1 and s == "NEA"):
            continue
        if "|" in s or "\t" in s or '"' in s:
            raise ParseError("unexpected separator in a name list", source=name, line=k, text=line)
        parts = s.split(None, 1)
        if parts[0].isdigit():
            recs.append({"designation": parts[0], "name": parts[1].strip() if len(parts) > 1 else ""})
        else:
            recs.append({"designation": s, "name": ""})
    if not recs:
        raise ParseError("no names found", source=name)
    df = pd.DataFrame(recs)
    df.attrs["source"] = name
    return df


def read_sentry(source: Any) -> pd.DataFrame:
    """Read a JPL Sentry API (v2) summary JSON (``sentry.api`` without ``des``).

    Returns
    -------
    pandas.DataFrame
        ``designation, fullname, h_mag, diameter_km, v_inf_kms, ip, ps_cum, ps_max, ts_max, n_imp,
        years_first, years_last, last_obs``; numbers as floats (NaN when null).
    """
    text, name = read_text(source)
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ParseError(
            f"invalid JSON: {exc.msg}",
            source=name,
            line=exc.lineno,
            text=text.splitlines()[exc.lineno - 1] if text else "",
        ) from None
    if (
        not isinstance(doc, dict)
        or "data" not in doc
        or "Sentry" not in str(doc.get("signature", {}).get("source", ""))
    ):
        raise ParseError(
            "not a Sentry API summary (needs 'signature.source' = Sentry and 'data')", source=name
        )
    recs = []
    for k, d in enumerate(doc["data"]):
        try:
            years = str(d["range"]).split("-")
            recs.append(
                {
                    "designation": d["des"],
                    "fullname": d.get("fullname", ""),
                    "h_mag": float(d["h"]) if d.get("h") is not None else np.nan,
                    "diameter_km": float(d["diameter"]) if d.get("diameter") is not None else np.nan,
                    "v_inf_kms": float(d["v_inf"]) if d.get("v_inf") is not None else np.nan,
                    "ip": float(d["ip"]),
                    "ps_cum": float(d["ps_cum"]),
                    "ps_max": float(d["ps_max"]),
                    "ts_max": float(d["ts_max"]) if d.get("ts_max") is not None else np.nan,
                    "n_imp": int(d["n_imp"]),
                    "years_first": int(years[0]),
                    "years_last": int(years[-1]),
                    "last_obs": _date_with_fraction(str(d["last_obs"])),
                }
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ParseError(
                f"Sentry record {k} ({d.get('des', '?') if isinstance(d, dict) else '?'}): bad or missing field {exc}",
                source=name,
            ) from None
    if int(doc.get("count", len(recs))) != len(recs):
        raise ParseError(f"'count' is {doc.get('count')} but {len(recs)} records were found", source=name)
    df = pd.DataFrame(recs)
    df.attrs.update(source=name, signature=doc["signature"])
    return df


def _date_with_fraction(text: str) -> pd.Timestamp:
    """'2020-10-03' or '2020-10-3.80160' (a fractional day, as Sentry gives for some objects)."""
    y, m, d = text.split("-")
    day = float(d)
    return pd.Timestamp(int(y), int(m), 1) + pd.to_timedelta(day - 1.0, unit="D")


def _cneos_date(text: str) -> tuple[pd.Timestamp, str]:
    date, _, unc = text.partition("±")
    return pd.to_datetime(date.strip(), format="%Y-%b-%d %H:%M"), unc.strip()


def read_cneos_close_approaches(source: Any) -> pd.DataFrame:
    """Read a CNEOS close-approach table export (CSV).

    Returns
    -------
    pandas.DataFrame
        ``object, designation_packed, ca_time`` (TDB as published), ``ca_uncertainty`` (text),
        ``dist_nominal_au, dist_min_au, v_rel_kms, v_inf_kms, h_mag, diameter_min_m, diameter_max_m``.
    """
    import csv
    import io

    text, name = read_text(source)
    reader = csv.reader(io.StringIO(text))
    recs = []
    header = None
    for k, row in enumerate(reader, start=1):
        line = ",".join(row)
        if header is None:
            if not row or row[0] != "Object":
                raise ParseError(
                    'expected the CNEOS header starting with "Object"', source=name, line=k, text=line
                )
            header = row
            continue
        if not row:
            continue
        if len(row) < 8:
            raise ParseError(f"expected 9 columns, got {len(row)}", source=name, line=k, text=line)
        try:
            t, unc = _cneos_date(row[1])
            nom = float(row[2].split("|")[1])
            dmin = float(row[3].split("|")[1])
            dia = re.findall(r"([\d.]+)\s*(m|km)", row[7])
            scale = [1000.0 if u == "km" else 1.0 for _, u in dia]
            recs.append(
                {
                    "object": row[0],
                    "designation_packed": row[8] if len(row) > 8 else "",
                    "ca_time": t,
                    "ca_uncertainty": unc,
                    "dist_nominal_au": nom,
                    "dist_min_au": dmin,
                    "v_rel_kms": float(row[4]),
                    "v_inf_kms": float(row[5]),
                    "h_mag": float(row[6]),
                    "diameter_min_m": float(dia[0][0]) * scale[0] if dia else np.nan,
                    "diameter_max_m": float(dia[-1][0]) * scale[-1] if dia else np.nan,
                }
            )
        except (ValueError, IndexError) as exc:
            raise ParseError(f"bad close-approach row: {exc}", source=name, line=k, text=line) from None
    if header is None:
        raise ParseError("empty file", source=name)
    df = pd.DataFrame(recs)
    df.attrs["source"] = name
    return df
