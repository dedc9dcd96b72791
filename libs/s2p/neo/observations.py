"""Astrometric observations: MPC 80-column, ADES (PSV and XML), NEOCC ``.rwo`` residual files and the
MPC observations API JSON. Each reader returns a :class:`pandas.DataFrame`, one row per observation."""

from __future__ import annotations

import json
import re
from typing import Any
from xml.etree import ElementTree

import numpy as np
import pandas as pd

from s2p.errors import ParseError
from s2p.neo._io import after_header, read_text
from s2p.neo.designations import unpack_designation


def _designation(number: str, provisional: str) -> str:
    for packed in (number.strip(), provisional.strip()):
        if packed:
            try:
                return unpack_designation(packed)
            except (ValueError, KeyError):
                return packed  # comets, natural satellites, temporary designations: kept as written
    return ""


def _sexagesimal(text: str, hours: bool) -> float:
    """'HH MM SS.ss' / 'HH MM.mm' / 'sDD MM SS.s' -> degrees; ValueError when malformed."""
    t = text.strip()
    sign = -1.0 if t.startswith("-") else 1.0
    parts = t.lstrip("+-").split()
    if not 1 <= len(parts) <= 3:
        raise ValueError(text)
    vals = [float(p) for p in parts]
    deg = vals[0] + (vals[1] / 60.0 if len(vals) > 1 else 0.0) + (vals[2] / 3600.0 if len(vals) > 2 else 0.0)
    if hours:
        if not 0.0 <= deg < 24.0:
            raise ValueError(text)
        return 15.0 * deg
    if deg > 90.0:
        raise ValueError(text)
    return sign * deg


def _mpc_date(text: str) -> np.datetime64:
    """'YYYY MM DD.dddddd' -> datetime64[ns] (by position: a few records put a flag between the fields)."""
    y, m, d = text[0:4], text[5:7], text[8:]
    if not (y.isdigit() and m.strip().isdigit()):
        raise ValueError(text)
    day = float(d)
    base = np.datetime64(f"{int(y):04d}-{int(m):02d}-01", "ns")
    if not 1.0 <= day < 32.0:
        raise ValueError(text)
    return base + np.timedelta64(int(round((day - 1.0) * 86400e9)), "ns")


def read_mpc80(source: Any) -> pd.DataFrame:
    """Read observations in the MPC 80-column format (optical, satellite and roving second lines, radar).

    Returns
    -------
    pandas.DataFrame
        ``designation, discovery, note1, note2`` (observation type: ' ' or 'C' CCD, 'S' satellite,
        'R' radar, 'A' B1950 ...), ``time`` (UTC), ``ra_deg, dec_deg`` (NaN for radar), ``mag, band,
        obscode``, and for satellite observations ``sat_x_km, sat_y_km, sat_z_km`` (geocentric) from their
        second line. Radar pairs are kept as one row with ``ra_deg`` NaN and ``line`` holding the text.
    """
    text, name = read_text(source)
    recs: list[dict[str, Any]] = []
    for k, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        line = raw.ljust(80)
        if len(raw.rstrip()) > 80 or len(raw.rstrip()) < 77:
            raise ParseError(
                f"an 80-column line has {len(raw.rstrip())} characters", source=name, line=k, text=raw
            )
        note2 = line[14]
        if note2 in "srv":  # second line of a satellite, radar or roving observation
            if not recs or recs[-1]["note2"] != note2.upper():
                raise ParseError(
                    f"second line '{note2}' without its first line", source=name, line=k, text=raw
                )
            if note2 == "s":
                try:
                    unit = 1.0 if line[32] == "1" else 149597870.7
                    xyz = [float(line[c : c + 11].replace(" ", "")) * unit for c in (34, 46, 58)]
                except ValueError:
                    raise ParseError(
                        "satellite position (columns 35-69) is not numeric", source=name, line=k, text=raw
                    ) from None
                recs[-1].update(sat_x_km=xyz[0], sat_y_km=xyz[1], sat_z_km=xyz[2])
            continue
        try:
            t = _mpc_date(line[15:32])
        except ValueError:
            raise ParseError(
                f"date (columns 16-32) is not 'YYYY MM DD.dddd': {line[15:32]!r}",
                source=name,
                line=k,
                text=raw,
            ) from None
        ra = dec = np.nan
        if note2 not in "R":
            try:
                ra = _sexagesimal(line[32:44], hours=True)
                dec = _sexagesimal(line[44:56], hours=False)
            except ValueError:
                raise ParseError(
                    "RA/Dec (columns 33-56) are not sexagesimal", source=name, line=k, text=raw
                ) from None
        mag_text = line[65:70].strip() if note2 != "R" else ""  # radar: those columns hold the frequency
        try:
            mag = float(mag_text) if mag_text else np.nan
        except ValueError:
            raise ParseError(
                f"magnitude (columns 66-70) is not a number: {mag_text!r}", source=name, line=k, text=raw
            ) from None
        recs.append(
            {
                "designation": _designation(line[0:5], line[5:12]),
                "discovery": line[12] == "*",
                "note1": line[13],
                "note2": note2,
                "time": t,
                "ra_deg": ra,
                "dec_deg": dec,
                "mag": mag,
                "band": line[70].strip(),
                "obscode": line[77:80].strip(),
                "sat_x_km": np.nan,
                "sat_y_km": np.nan,
                "sat_z_km": np.nan,
                "line": raw,
            }
        )
    if not recs:
        raise ParseError("no observations found", source=name)
    df = pd.DataFrame(recs)
    df.attrs["source"] = name
    return df


_ADES_FLOATS = {"ra", "dec", "rmsRA", "rmsDec", "rmsCorr", "mag", "rmsMag", "logSNR", "seeing", "exp", "rmsFit",
                "delay", "doppler", "rmsDelay", "rmsDoppler", "frq", "photAp", "uncTime", "deltaRA", "deltaDec"}  # fmt: skip


def _ades_typed(recs: list[dict[str, Any]], name: str) -> pd.DataFrame:
    df = pd.DataFrame(recs)
    if "obsTime" in df:
        try:
            df["obsTime"] = pd.to_datetime(df["obsTime"].str.rstrip("Z"), format="ISO8601")
        except (ValueError, TypeError) as exc:
            raise ParseError(f"obsTime is not ISO 8601: {exc}", source=name) from None
    for col in df.columns:
        if col in _ADES_FLOATS:
            df[col] = pd.to_numeric(df[col].replace("", np.nan))
    df.attrs["source"] = name
    return df


def read_ades(source: Any) -> pd.DataFrame:
    """Read ADES observations, PSV or XML (detected from the content).

    Returns
    -------
    pandas.DataFrame
        One row per ``optical``/``radar``/... record with its ADES fields as columns (``ra``, ``dec`` in
        degrees, ``obsTime`` as UTC datetime, numeric fields as floats), plus ``kind`` (record type) and
        ``mpcCode`` of the enclosing ``obsContext`` when there is one.
    """
    text, name = read_text(source)
    if text.lstrip().startswith("<"):
        return _read_ades_xml(text, name)
    return _read_ades_psv(text, name)


def _read_ades_psv(text: str, name: str) -> pd.DataFrame:
    recs: list[dict[str, Any]] = []
    header: list[str] | None = None
    context: dict[str, str] = {}
    section = ""
    for k, line in enumerate(text.splitlines(), start=1):
        s = line.strip()
        if not s:
            continue
        if s.startswith("#"):
            section = s[1:].strip().split()[0] if s[1:].strip() else ""
            header = None
            continue
        if s.startswith("!"):
            key, _, value = s[1:].strip().partition(" ")
            if section == "observatory" and key == "mpcCode":
                context["mpcCode"] = value.strip()
            continue
        cells = [c.strip() for c in line.split("|")]
        if "obsTime" in cells:
            header = cells
            continue
        if header is None:
            raise ParseError(
                "data line before the '|'-separated field header", source=name, line=k, text=line
            )
        if len(cells) != len(header):
            raise ParseError(
                f"{len(cells)} fields where the header has {len(header)}", source=name, line=k, text=line
            )
        rec = dict(zip(header, cells, strict=True))
        for key in ("ra", "dec", "delay", "doppler", "mag"):
            if rec.get(key):
                try:
                    float(rec[key])
                except ValueError:
                    raise ParseError(
                        f"{key} is not a number: {rec[key]!r}", source=name, line=k, text=line
                    ) from None
        if not re.match(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}", rec["obsTime"]):
            raise ParseError(f"obsTime is not ISO 8601: {rec['obsTime']!r}", source=name, line=k, text=line)
        rec["kind"] = "radar" if ("delay" in header or "doppler" in header) else "optical"
        if context.get("mpcCode"):
            rec.setdefault("mpcCode", context["mpcCode"])
        recs.append(rec)
    if not recs:
        raise ParseError("no ADES records found", source=name)
    return _ades_typed(recs, name)


def _read_ades_xml(text: str, name: str) -> pd.DataFrame:
    try:
        root = ElementTree.fromstring(text)
    except ElementTree.ParseError as exc:
        line, _col = exc.position
        lines = text.splitlines()
        raise ParseError(
            f"invalid XML: {exc}",
            source=name,
            line=line,
            text=lines[line - 1] if 0 < line <= len(lines) else None,
        ) from None
    if root.tag != "ades":
        raise ParseError(f"root element is <{root.tag}>, expected <ades>", source=name, line=1)
    recs: list[dict[str, Any]] = []

    def records(parent: ElementTree.Element, code: str | None) -> None:
        for child in parent:
            if child.tag in ("optical", "radar", "offset", "occultation"):
                rec: dict[str, Any] = {c.tag: (c.text or "").strip() for c in child}
                rec["kind"] = child.tag
                if code:
                    rec.setdefault("mpcCode", code)
                if "obsTime" not in rec:
                    raise ParseError(f"<{child.tag}> record {len(recs) + 1} has no <obsTime>", source=name)
                recs.append(rec)
            elif child.tag == "obsBlock":
                ctx = child.find("obsContext/observatory/mpcCode")
                block_code = ctx.text.strip() if ctx is not None and ctx.text else None
                data = child.find("obsData")
                if data is not None:
                    records(data, block_code)

    records(root, None)
    if not recs:
        raise ParseError("no ADES records found", source=name)
    return _ades_typed(recs, name)


_RWO_OPTICAL = re.compile(
    r"^\s*(?P<des>\S+)\s+(?P<K>\S)\s+(?P<T>\S)\s+(?P<N>\S?)\s*"
    r"(?P<date>\d{4} \d\d [\d.]+)\s+(?P<tacc>\S+)\s+"
    r"(?P<ra>\d\d \d\d [\d.]+)\s+(?P<raacc>\S+)\s+(?P<rarms>\S+)\s+(?P<raf>\S)\s+(?P<rabias>\S+)\s+(?P<raresid>\S+)\s+"
    r"(?P<dec>[+-]\d\d \d\d [\d.]+)\s+(?P<decacc>\S+)\s+(?P<decrms>\S+)\s+(?P<decf>\S)\s+(?P<decbias>\S+)\s+(?P<decresid>\S+)"
    r"(?P<rest>.*)$"
)


def read_rwo(source: Any) -> pd.DataFrame:
    """Read a NEOCC/NEODyS ``.rwo`` observation-and-residual file (optical part; radar rows in
    ``attrs['radar']``).

    Returns
    -------
    pandas.DataFrame
        ``designation, obs_type, technology, time, ra_deg, dec_deg, ra_rms_arcsec, dec_rms_arcsec,
        ra_bias_arcsec, dec_bias_arcsec`` (the star-catalogue biases NEOCC removed), ``ra_resid_arcsec,
        dec_resid_arcsec`` (observed minus bias minus computed; RA ones times cos Dec), ``mag, band,
        obscode, chi, selected``.
    """
    text, name = read_text(source)
    lines = text.splitlines()
    start = after_header(lines, name)
    optical: list[dict[str, Any]] = []
    radar: list[dict[str, Any]] = []
    mode = "optical"
    for k in range(start, len(lines)):
        line = lines[k]
        if not line.strip():
            continue
        if line.startswith("!"):
            if "Radar" in line:
                mode = "radar"
            continue
        if mode == "radar":
            tok = line.split()
            # the optional 'N' column may be blank: locate the date by its shape
            i = next((j for j in range(3, min(len(tok), 6)) if re.fullmatch(r"\d{4}", tok[j])), -1)
            if i < 0 or len(tok) < i + 10 or ":" not in tok[i + 3]:
                raise ParseError(
                    "radar row does not match the .rwo layout", source=name, line=k + 1, text=line
                )
            try:
                radar.append(
                    {
                        "designation": tok[0],
                        "kind": tok[1],
                        "time": pd.Timestamp(f"{tok[i]}-{tok[i + 1]}-{tok[i + 2]}T{tok[i + 3]}"),
                        "measure": float(tok[i + 4]),
                        "resid": float(tok[i + 9]),
                        "line": line,
                    }
                )
            except ValueError as exc:
                raise ParseError(f"radar row: {exc}", source=name, line=k + 1, text=line) from None
            continue
        tok = line.split()
        if len(tok) >= 3 and tok[1] == "S" and tok[2] == "s":
            # satellite second line: geocentric position [km, unit flag 1] of the observing spacecraft
            if not optical or len(tok) < 10:
                raise ParseError(
                    "satellite position line without its observation", source=name, line=k + 1, text=line
                )
            try:
                scale = 1.0 if tok[6] == "1" else 149597870.7
                optical[-1].update(
                    sat_x_km=float(tok[7]) * scale,
                    sat_y_km=float(tok[8]) * scale,
                    sat_z_km=float(tok[9]) * scale,
                )
            except ValueError:
                raise ParseError(
                    "satellite position is not numeric", source=name, line=k + 1, text=line
                ) from None
            continue
        if len(tok) >= 8 and tok[2] == "v":
            # roving observer second line: east longitude [deg], latitude [deg], altitude [m]
            if not optical:
                raise ParseError(
                    "roving-observer line without its observation", source=name, line=k + 1, text=line
                )
            try:
                optical[-1].update(
                    rover_lon_deg=float(tok[6]), rover_lat_deg=float(tok[7]), rover_alt_m=float(tok[8])
                )
            except (ValueError, IndexError):
                raise ParseError(
                    "roving-observer position is not numeric", source=name, line=k + 1, text=line
                ) from None
            continue
        m = _RWO_OPTICAL.match(line)
        if not m:
            raise ParseError("optical row does not match the .rwo layout", source=name, line=k + 1, text=line)
        rest = m.group("rest").split()
        if len(rest) < 4:
            raise ParseError(
                "missing observatory code / chi / flags at the end of the row",
                source=name,
                line=k + 1,
                text=line,
            )
        try:
            mm = re.fullmatch(r"(\d+\.\d*)([A-Za-z]?)", rest[0]) if len(rest) >= 7 else None
            mag = float(mm.group(1)) if mm else np.nan
            optical.append(
                {
                    "designation": m.group("des"),
                    "obs_type": m.group("K"),
                    "technology": m.group("T"),
                    "time": _mpc_date(m.group("date")),
                    "ra_deg": _sexagesimal(m.group("ra"), hours=True),
                    "dec_deg": _sexagesimal(m.group("dec"), hours=False),
                    "ra_rms_arcsec": float(m.group("rarms")),
                    "dec_rms_arcsec": float(m.group("decrms")),
                    "ra_bias_arcsec": float(m.group("rabias")),
                    "dec_bias_arcsec": float(m.group("decbias")),
                    "ra_resid_arcsec": float(m.group("raresid")),
                    "dec_resid_arcsec": float(m.group("decresid")),
                    "mag": mag,
                    "band": mm.group(2) if mm else "",
                    "obscode": rest[-4],
                    "chi": float(rest[-3]),
                    "selected": rest[-2] == "1",
                }
            )
        except ValueError as exc:
            raise ParseError(f"bad number: {exc}", source=name, line=k + 1, text=line) from None
    df = pd.DataFrame(optical)
    df.attrs.update(source=name, radar=pd.DataFrame(radar))
    return df


def read_mpc_obs_json(source: Any) -> pd.DataFrame:
    """Read the MPC observations API JSON (a list of records with ``original_record`` 80-column lines)."""
    text, name = read_text(source)
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ParseError(f"invalid JSON: {exc.msg}", source=name, line=exc.lineno) from None
    if not isinstance(doc, list) or not all(isinstance(d, dict) and "original_record" in d for d in doc):
        raise ParseError("expected a list of records with 'original_record'", source=name)
    # two-line observations (satellite, roving, radar) come as one 160-character record
    lines = "\n".join(
        rec[i : i + 80]
        for rec in (str(d["original_record"]) for d in doc)
        for i in range(0, max(len(rec), 1), 80)
    )
    df = read_mpc80(lines)
    df.attrs["source"] = name
    return df
