"""Per-object products of ESA NEOCC / NEODyS and JPL SBDB: orbit files (OEF ``.ke*``/``.eq*``), SBDB JSON,
ephemerides (``.eph``), physical properties (``.phypro``), close approaches (``.clolin``,
``close_encounter2.txt``) and impact-risk tables (``.risk``)."""

from __future__ import annotations

import json
import math
import re
from typing import Any

import numpy as np
import pandas as pd

from s2p.errors import ParseError
from s2p.neo._io import after_header, read_text
from s2p.neo.orbits import Orbits

_MJD0 = np.datetime64("1858-11-17T00:00", "ns")


def _mjd_to_datetime(mjd: float) -> np.datetime64:
    return _MJD0 + np.timedelta64(int(round(mjd * 86400e9)), "ns")


def read_oef(source: Any) -> Orbits:
    """Read an OrbFit Element File (OEF 2.0: NEOCC/NEODyS ``.ke0``, ``.ke1``, ``.eq0``, ``.eq1``).

    Keplerian (``KEP``) and equinoctial (``EQU``) elements are supported; the epoch (``MJD ... TDT``)
    is TT. ``Orbits.name`` carries the object name; comment values such as ``! MOID`` [au] are in
    the returned object's ``meta`` dict attribute.
    """
    text, name = read_text(source)
    lines = text.splitlines()
    start = after_header(lines, name, reason="no END_OF_HEADER line (not an OEF file)")
    obj = None
    el: dict[str, float] = {}
    epoch = None
    h = np.nan
    g = 0.15
    meta: dict[str, float] = {}
    for k in range(start, len(lines)):
        line = lines[k]
        s = line.strip()
        if not s:
            continue
        if s.startswith("!"):
            m = re.match(r"!\s*(MOID|PERIHELION|APHELION|PERIOD|ANODE|DNODE|VINFTY)\s+(\S+)", s)
            if m:
                meta[m.group(1).lower()] = float(m.group(2))
            continue
        tok = s.split()
        try:
            if obj is None:
                obj = s
            elif tok[0] == "KEP":
                a, e, i, node, peri, mean = (float(x) for x in tok[1:7])
                el = {"a": a, "e": e, "i": i, "node": node, "peri": peri, "m": mean}
            elif tok[0] == "EQU":
                a, hh, kk, pp, qq, lam = (float(x) for x in tok[1:7])
                e = math.hypot(hh, kk)
                varpi = math.degrees(math.atan2(hh, kk))
                node = math.degrees(math.atan2(pp, qq))
                el = {
                    "a": a,
                    "e": e,
                    "i": math.degrees(2.0 * math.atan(math.hypot(pp, qq))),
                    "node": node % 360.0,
                    "peri": (varpi - node) % 360.0,
                    "m": (lam - varpi) % 360.0,
                }
            elif tok[0] == "MJD":
                if len(tok) < 3 or tok[2] != "TDT":
                    raise ParseError("epoch must be 'MJD <value> TDT'", source=name, line=k + 1, text=line)
                epoch = _mjd_to_datetime(float(tok[1]))
            elif tok[0] == "MAG":
                h = float(tok[1])
                g = float(tok[2]) if len(tok) > 2 else 0.15
        except (ValueError, IndexError):
            raise ParseError(f"malformed {tok[0]} record", source=name, line=k + 1, text=line) from None
    if obj is None or not el or epoch is None:
        raise ParseError("OEF file lacks the object name, the KEP/EQU elements or the MJD epoch", source=name)
    orb = Orbits.from_elements(
        el["a"],
        el["e"],
        el["i"],
        el["node"],
        el["peri"],
        el["m"],
        epoch,
        designation=[obj],
        h_mag=h,
        g_slope=g,
    )
    orb.meta = meta
    return orb


def read_sbdb(source: Any) -> Orbits:
    """Read a JPL SBDB API JSON answer (``sbdb.api?sstr=...``) into :class:`Orbits` (its ``meta`` has ``moid``)."""
    text, name = read_text(source)
    try:
        doc = json.loads(text)
        orbit = doc["orbit"]
        el = {e["name"]: float(e["value"]) for e in orbit["elements"]}
        epoch_jd = float(orbit["epoch"])  # TDB
        des = doc["object"]["des"]
    except json.JSONDecodeError as exc:
        raise ParseError(f"invalid JSON: {exc.msg}", source=name, line=exc.lineno) from None
    except (KeyError, TypeError, ValueError) as exc:
        raise ParseError(f"not an SBDB orbit answer: missing or bad {exc}", source=name) from None
    epoch = np.datetime64("2000-01-01T12:00", "ns") + np.timedelta64(
        int(round((epoch_jd - 2451545.0) * 86400e9)), "ns"
    )
    h = np.nan
    for p in doc.get("phys_par", []) or []:
        if p.get("name") == "H":
            h = float(p["value"])
    orb = Orbits.from_elements(
        el["a"], el["e"], el["i"], el["om"], el["w"], el["ma"], epoch, designation=[des], h_mag=h
    )
    orb.meta = {"moid": float(orbit["moid"]) if orbit.get("moid") else np.nan}
    return orb


def read_neocc_ephemeris(source: Any) -> pd.DataFrame:
    """Read a NEOCC ephemeris (``.eph``): ``time`` (UTC), ``ra_deg, dec_deg, v_mag, phase_deg, r_au, delta_au``."""
    text, name = read_text(source)
    lines = text.splitlines()
    recs = []
    pat = re.compile(
        r"^\s*(\d{1,2} \w{3} \d{4})\s+([\d.]+)\s+([\d.]+)\s+(\d{1,2})\s+(\d{1,2})\s+([\d.]+)\s+([+-])\s*(\d{1,2})\s+(\d{1,2})\s+([\d.]+)\s+(\S+)"
    )
    for k, line in enumerate(lines, start=1):
        if not re.match(r"^\s*\d{1,2} \w{3} \d{4}", line):
            continue
        m = pat.match(line)
        if not m:
            raise ParseError(
                "ephemeris row does not match 'D Mon YYYY hour MJD RA Dec Mag ...'",
                source=name,
                line=k,
                text=line,
            )
        tok = line[m.end() :].split()
        try:
            recs.append(
                {
                    "time": pd.Timestamp("1858-11-17") + pd.to_timedelta(float(m.group(3)), unit="D"),
                    "ra_deg": 15.0 * (int(m.group(4)) + int(m.group(5)) / 60.0 + float(m.group(6)) / 3600.0),
                    "dec_deg": (-1.0 if m.group(7) == "-" else 1.0)
                    * (int(m.group(8)) + int(m.group(9)) / 60.0 + float(m.group(10)) / 3600.0),
                    "v_mag": float(m.group(11)),
                    "phase_deg": float(tok[5]),
                    "r_au": float(tok[8]),
                    "delta_au": float(tok[9]),
                }
            )
        except (ValueError, IndexError):
            raise ParseError(
                "ephemeris row has a malformed numeric column", source=name, line=k, text=line
            ) from None
    if not recs:
        raise ParseError("no ephemeris rows found", source=name)
    return pd.DataFrame(recs)


def read_neocc_physical_properties(source: Any) -> pd.DataFrame:
    """Read a NEOCC physical-properties file (``.phypro``): ``property, value, unit, reference``."""
    text, name = read_text(source)
    recs = []
    for k, line in enumerate(text.splitlines(), start=1):
        s = line.strip()
        if not s:
            continue
        if s == "REFERENCES":
            break
        parts = s.split(",")
        if len(parts) < 4 or not parts[-1].startswith("["):
            raise ParseError("expected 'property,value[,...],unit,[ref]'", source=name, line=k, text=line)
        recs.append(
            {"property": parts[0], "value": ",".join(parts[1:-2]), "unit": parts[-2], "reference": parts[-1]}
        )
    if not recs:
        raise ParseError("no properties found", source=name)
    return pd.DataFrame(recs)


def read_neocc_close_encounters(source: Any) -> pd.DataFrame:
    """Read NEOCC close-encounter tables (``<object>.clolin`` and ``close_encounter2.txt``).

    Returns ``designation`` (when the table has it), ``planet, time`` (TT, from the MJD column),
    ``distance_au, min_distance_au, distance_unc_au, probability`` and ``velocity_kms`` where given.
    """
    text, name = read_text(source)
    recs = []
    for k, line in enumerate(text.splitlines(), start=1):
        if "|" in line:
            cells = [c.strip() for c in line.split("|")]
            if len(cells) < 13 or not re.fullmatch(r"[A-Z]+", cells[1]) or cells[1] == "AAAAA":
                continue
            try:
                recs.append(
                    {
                        "designation": cells[0],
                        "planet": cells[1],
                        "time": _mjd_to_datetime(float(cells[3])),
                        "distance_au": float(cells[5]),
                        "min_distance_au": float(cells[6]),
                        "distance_unc_au": float(cells[7]),
                        "probability": float(cells[10]),
                        "velocity_kms": float(cells[11]),
                    }
                )
            except ValueError:
                raise ParseError(
                    "close-encounter row has a malformed number", source=name, line=k, text=line
                ) from None
            continue
        tok = line.split()
        if len(tok) >= 10 and re.fullmatch(r"[A-Z]+", tok[0]) and re.match(r"\d{4}/\d\d/", tok[1]):
            try:
                recs.append(
                    {
                        "designation": "",
                        "planet": tok[0],
                        "time": _mjd_to_datetime(float(tok[2])),
                        "distance_au": float(tok[4]),
                        "min_distance_au": float(tok[5]),
                        "distance_unc_au": float(tok[6]),
                        "probability": float(tok[9]),
                        "velocity_kms": np.nan,
                    }
                )
            except ValueError:
                raise ParseError(
                    "close-approach row has a malformed number", source=name, line=k, text=line
                ) from None
    if not recs:
        raise ParseError("no close-encounter rows found", source=name)
    return pd.DataFrame(recs)


_RISK_COLUMNS = [
    "time",
    "sigma",
    "dist_re",
    "width_re",
    "stretch_re",
    "ip",
    "expected_energy_mt",
    "energy_mt",
    "ps",
    "ts",
]


def _slash_date(text: str) -> pd.Timestamp:
    """``1979/12/15.430`` -> Timestamp (fraction of day kept)."""
    y, m, d = text.split("/")
    day, _, frac = d.partition(".")
    return pd.Timestamp(int(y), int(m), int(day)) + pd.Timedelta(days=float("0." + (frac or "0")))


def read_neocc_risk_file(source: Any) -> pd.DataFrame:
    """Read a NEOCC/NEODyS per-object impact-risk table (``<object>.risk``): one row per virtual impactor.

    Columns: ``time`` (from the MJD column), ``sigma`` (LOV position), ``dist_re``/``width_re`` (target-plane
    distance and its width [Earth radii]), ``stretch_re``, ``ip`` (``p_RE``), ``expected_energy_mt`` (the
    file's "exp. en." column: impact probability times impact energy [Mt TNT]), ``energy_mt`` (the impact
    energy itself, ``expected_energy_mt / ip``), ``ps`` and ``ts`` (Palermo, Torino).

    ``attrs`` holds what the footer states: ``object``, ``n_obs``, ``n_rejected``, ``arc_start`` and
    ``arc_end`` (first and last observation used), ``computed`` (date of the computation) and
    ``software``. NEOCC answers an object without risk data with a short HTML page; that page gives an
    empty table with ``attrs['available'] = False``.
    """
    text, name = read_text(source)
    if "<HTML>" in text.upper()[:200] or "not available" in text[:500]:
        df = pd.DataFrame(columns=_RISK_COLUMNS)
        df.attrs.update(available=False, source=name)
        return df
    recs = []
    pat = re.compile(
        r"^\s*\d{4}-\d\d-\d\d\.\d+\s+([\d.]+)\s+(\S+)\s+\S+\s+(\S+)\s+\+/-\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s*$"
    )
    attrs: dict[str, Any] = {}
    for k, line in enumerate(text.splitlines(), start=1):
        if line.startswith("Object:"):
            attrs["object"] = line.split(":", 1)[1].strip()
            continue
        m_obs = re.match(r"^Based on\s+(\d+)\s+\w+ observations \(of which\s+(\d+) are rejected", line)
        if m_obs:
            attrs.update(n_obs=int(m_obs.group(1)), n_rejected=int(m_obs.group(2)))
            continue
        m_arc = re.match(r"^from\s+(\d{4}/\d\d/\d\d\.\d+)\s+to\s+(\d{4}/\d\d/\d\d\.\d+)", line)
        if m_arc:
            try:
                attrs.update(arc_start=_slash_date(m_arc.group(1)), arc_end=_slash_date(m_arc.group(2)))
            except ValueError:
                raise ParseError("malformed observation arc", source=name, line=k, text=line) from None
            continue
        m_sw = re.search(r"software version=\s*(\S+),\s*Date of computation=(\d{8})", line)
        if m_sw:
            attrs.update(software=m_sw.group(1), computed=pd.Timestamp(m_sw.group(2)))
            continue
        if not re.match(r"^\s*\d{4}-\d\d-\d\d\.", line):
            continue
        m = pat.match(line)
        if not m:
            raise ParseError(
                "risk row does not match 'date MJD sigma sigimp dist +/- width stretch p_RE E PS TS'",
                source=name,
                line=k,
                text=line,
            )
        try:
            ip = float(m.group(6))
            expected = float(m.group(7))
            recs.append(
                {
                    "time": _mjd_to_datetime(float(m.group(1))),
                    "sigma": float(m.group(2)),
                    "dist_re": float(m.group(3)),
                    "width_re": float(m.group(4)),
                    "stretch_re": float(m.group(5)),
                    "ip": ip,
                    "expected_energy_mt": expected,
                    "energy_mt": expected / ip if ip > 0 else math.nan,
                    "ps": float(m.group(8)),
                    "ts": int(m.group(9)),
                }
            )
        except ValueError:
            raise ParseError("risk row has a malformed number", source=name, line=k, text=line) from None
    if "object" not in attrs:
        raise ParseError("missing 'Object:' line", source=name, line=1)
    df = pd.DataFrame(recs, columns=_RISK_COLUMNS)
    df.attrs.update(available=True, source=name, **attrs)
    return df
