"""CCSDS Conjunction Data Messages (CCSDS 508.0-B-1): KVN, XML and the Space-Track JSON layout.

``read_cdm(source)`` returns a :class:`CDM`. Units follow the message, made uniform:

- relative state (miss distance, relative position/velocity in RTN) in **m** and **m/s**;
- each object's state vector in **km** and **km/s** in its ``REF_FRAME`` (as the standard writes it);
- each object's RTN covariance in **m**, **m/s** (``m**2``, ``m**2/s``, ``m**2/s**2``; drag/SRP/thrust
  rows in the standard's ``m**3/kg``... units), a symmetric 6×6 matrix, or 7×7 to 9×9 when the
  optional ``CDRG_*``, ``CSRP_*``, ``CTHR_*`` rows are complete;
- times as ``numpy.datetime64`` (UTC, microseconds).

Units written in the message (``[km]``, ``[m**2]``, XML ``units="..."``) are checked against the
standard; a wrong unit is a :class:`~s2p.errors.ParseError`, never a silent scale error.
"""

from __future__ import annotations

import json
import os
import re
import xml.parsers.expat
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Union

import numpy as np

from s2p.errors import ParseError

__all__ = ["CDM", "CDMObject", "read_cdm"]

Source = Union[str, "os.PathLike[str]", IO[str], IO[bytes]]

_HEADER_KEYS = {"CCSDS_CDM_VERS", "CREATION_DATE", "ORIGINATOR", "MESSAGE_FOR", "MESSAGE_ID"}
_HEADER_REQUIRED = ("CCSDS_CDM_VERS", "CREATION_DATE", "ORIGINATOR", "MESSAGE_ID")
_RELATIVE_REQUIRED = ("TCA", "MISS_DISTANCE")
_OBJECT_REQUIRED = (
    "OBJECT",
    "OBJECT_DESIGNATOR",
    "CATALOG_NAME",
    "OBJECT_NAME",
    "INTERNATIONAL_DESIGNATOR",
    "EPHEMERIS_NAME",
    "COVARIANCE_METHOD",
    "MANEUVERABLE",
    "REF_FRAME",
    "X",
    "Y",
    "Z",
    "X_DOT",
    "Y_DOT",
    "Z_DOT",
)

# Covariance rows/columns in the standard's order, with the unit of each state component.
_COV_AXES = ("R", "T", "N", "RDOT", "TDOT", "NDOT", "DRG", "SRP", "THR")
_AXIS_UNIT = {
    "R": (1, 0, 0),
    "T": (1, 0, 0),
    "N": (1, 0, 0),  # (m, kg, s) exponents: position [m]
    "RDOT": (1, 0, -1),
    "TDOT": (1, 0, -1),
    "NDOT": (1, 0, -1),
    "DRG": (2, -1, 0),  # CD·A/m [m**2/kg]
    "SRP": (2, -1, 0),  # CR·A/m [m**2/kg]
    "THR": (1, 0, -2),  # thrust acceleration [m/s**2]
}


def _cov_key(i: int, j: int) -> str:
    return f"C{_COV_AXES[i]}_{_COV_AXES[j]}"


_COV_INDEX = {_cov_key(i, j): (i, j) for i in range(9) for j in range(i + 1)}

# Units of scalar keys as the standard writes them (normalised: no spaces).
_UNITS = {
    "MISS_DISTANCE": "m",
    "RELATIVE_SPEED": "m/s",
    "RELATIVE_POSITION_R": "m",
    "RELATIVE_POSITION_T": "m",
    "RELATIVE_POSITION_N": "m",
    "RELATIVE_VELOCITY_R": "m/s",
    "RELATIVE_VELOCITY_T": "m/s",
    "RELATIVE_VELOCITY_N": "m/s",
    "SCREEN_VOLUME_X": "m",
    "SCREEN_VOLUME_Y": "m",
    "SCREEN_VOLUME_Z": "m",
    "X": "km",
    "Y": "km",
    "Z": "km",
    "X_DOT": "km/s",
    "Y_DOT": "km/s",
    "Z_DOT": "km/s",
    "RECOMMENDED_OD_SPAN": "d",
    "ACTUAL_OD_SPAN": "d",
    "RESIDUALS_ACCEPTED": "%",
    "AREA_PC": "m**2",
    "AREA_DRG": "m**2",
    "AREA_SRP": "m**2",
    "MASS": "kg",
    "CD_AREA_OVER_MASS": "m**2/kg",
    "CR_AREA_OVER_MASS": "m**2/kg",
    "THRUST_ACCELERATION": "m/s**2",
    "SEDR": "W/kg",
    "HBR": "m",
    "HARD_BODY_RADIUS": "m",
}


def _unit_of(exps: tuple[int, int, int]) -> str:
    """Spell (m, kg, s) exponents the way CCSDS writes them, e.g. ``m**3/(kg*s)``."""
    num = []
    den = []
    for name, e in zip(("m", "kg", "s"), exps, strict=True):
        if e > 0:
            num.append(name if e == 1 else f"{name}**{e}")
        elif e < 0:
            den.append(name if e == -1 else f"{name}**{-e}")
    text = "*".join(num) or "1"
    if len(den) == 1:
        text += "/" + den[0]
    elif den:
        text += "/(" + "*".join(den) + ")"
    return text


for _k, (_i, _j) in _COV_INDEX.items():
    _a, _b = _AXIS_UNIT[_COV_AXES[_i]], _AXIS_UNIT[_COV_AXES[_j]]
    _UNITS[_k] = _unit_of((_a[0] + _b[0], _a[1] + _b[1], _a[2] + _b[2]))

# Keys whose value must be a number (their text is also kept in ``metadata``/``relative``).
_NUMERIC = set(_UNITS) | {
    "OBS_AVAILABLE",
    "OBS_USED",
    "TRACKS_AVAILABLE",
    "TRACKS_USED",
    "WEIGHTED_RMS",
    "COLLISION_PROBABILITY",
}

# Accepted spellings that mean the same unit as the standard's.
_UNIT_ALIASES = {"m/sec": "m/s", "km/sec": "km/s", "days": "d", "day": "d", "n/a": ""}

_HBR_COMMENT = re.compile(
    r"\b(?:HBR|HARD[ _]BODY[ _]RADIUS)\s*[=:]\s*([-+0-9.eE]+)\s*(?:\[\s*(\w+)\s*\])?", re.IGNORECASE
)
_KVN_LINE = re.compile(r"^\s*([A-Za-z][A-Za-z0-9_]*)\s*=\s*(.*?)\s*(?:\[([^\]]*)\])?\s*$")


@dataclass(frozen=True)
class _Entry:
    key: str
    value: str
    unit: str | None
    line: int | None


@dataclass
class _Section:
    entries: dict[str, _Entry] = field(default_factory=dict)
    comments: list[str] = field(default_factory=list)
    line: int | None = None  # where the section starts (for "missing key" errors)


@dataclass(frozen=True)
class CDMObject:
    """One object of a conjunction (``OBJECT1`` or ``OBJECT2``).

    Attributes
    ----------
    object : str
        ``"OBJECT1"`` or ``"OBJECT2"``.
    designator, name, international_designator, catalog_name : str
        Identification (``OBJECT_DESIGNATOR`` is usually the NORAD id).
    ref_frame : str
        Frame of the state vector (``EME2000``, ``GCRF`` or ``ITRF``).
    position_km : ndarray, shape (3,)
        Position at TCA [km] in ``ref_frame``.
    velocity_kms : ndarray, shape (3,)
        Velocity at TCA [km/s] in ``ref_frame``.
    covariance_rtn : ndarray, shape (n, n), n = 6..9
        Symmetric covariance in the object's RTN frame [m, m/s units, see module docstring].
    metadata : dict
        Every key of the object's metadata and data as text (units stripped).
    comments : list of str
    """

    object: str
    designator: str
    name: str
    international_designator: str
    catalog_name: str
    ref_frame: str
    position_km: np.ndarray
    velocity_kms: np.ndarray
    covariance_rtn: np.ndarray
    metadata: dict[str, str]
    comments: list[str]

    @property
    def position_covariance_rtn_m2(self) -> np.ndarray:
        """The 3×3 position block of the RTN covariance [m**2]."""
        return self.covariance_rtn[:3, :3]

    def __repr__(self) -> str:
        # The generated dataclass repr dumps the 6×6+ covariance and every metadata key: unreadable in
        # a notebook. Show what identifies the object; the fields are one attribute away.
        sigma = np.sqrt(np.clip(np.diag(self.position_covariance_rtn_m2), 0.0, None))
        return (
            f"CDMObject({self.object}: {self.designator} {self.name!r}, frame {self.ref_frame}, "
            f"1-sigma RTN position [m] = {np.array2string(sigma, precision=1, separator=', ')})"
        )


@dataclass(frozen=True)
class CDM:
    """A Conjunction Data Message.

    Attributes
    ----------
    header : dict
        ``CCSDS_CDM_VERS``, ``CREATION_DATE``, ``ORIGINATOR``, ``MESSAGE_FOR``, ``MESSAGE_ID`` as text.
    creation_date, tca : numpy.datetime64
        UTC, microsecond resolution.
    miss_distance_m : float
    relative_speed_ms : float or None
    relative_position_rtn_m, relative_velocity_rtn_ms : ndarray (3,) or None
        Object 2 relative to object 1 in object 1's RTN frame [m], [m/s].
    collision_probability : float or None
        The originator's Pc, when given.
    collision_probability_method : str or None
    hbr_m : float or None
        Combined hard-body radius [m] from a ``HBR``/``HARD_BODY_RADIUS`` key or comment (CARA
        writes ``COMMENT HBR = 10 [m]``); ``None`` when the message has none.
    relative : dict
        Every relative metadata/data key as text.
    object1, object2 : CDMObject
    comments : list of str
        Header and relative-section comments.
    source : str
        File name or ``"<text>"``.
    """

    header: dict[str, str]
    creation_date: np.datetime64
    tca: np.datetime64
    miss_distance_m: float
    relative_speed_ms: float | None
    relative_position_rtn_m: np.ndarray | None
    relative_velocity_rtn_ms: np.ndarray | None
    collision_probability: float | None
    collision_probability_method: str | None
    hbr_m: float | None
    relative: dict[str, str]
    object1: CDMObject
    object2: CDMObject
    comments: list[str]
    source: str

    @property
    def message_id(self) -> str:
        """The ``MESSAGE_ID`` of the header."""
        return self.header["MESSAGE_ID"]

    def __repr__(self) -> str:
        # Concise on purpose (see CDMObject.__repr__): who meets whom, when, how close, and the Pc.
        pc = "none given" if self.collision_probability is None else f"{self.collision_probability:.3e}"
        if self.collision_probability_method:
            pc += f" ({self.collision_probability_method})"
        speed = "?" if self.relative_speed_ms is None else f"{self.relative_speed_ms:.0f} m/s"
        hbr = "not given" if self.hbr_m is None else f"{self.hbr_m:g} m"
        return (
            f"CDM({self.header.get('ORIGINATOR', '?')} {self.header.get('MESSAGE_ID', '?')}: "
            f"{self.object1.designator} {self.object1.name!r} vs {self.object2.designator} "
            f"{self.object2.name!r}, TCA {self.tca}, miss {self.miss_distance_m:g} m, relative speed "
            f"{speed}, Pc {pc}, HBR {hbr})"
        )


# --------------------------------------------------------------------------------------------- input


def _read_source(source: Source) -> tuple[str, str]:
    """Return (text, name) for a path, a text/bytes file object or a message given as text."""
    if hasattr(source, "read"):
        raw = source.read()  # type: ignore[union-attr]
        text = raw.decode("utf-8-sig") if isinstance(raw, bytes) else raw
        return text, str(getattr(source, "name", "<text>"))
    if isinstance(source, os.PathLike) or (
        isinstance(source, str) and "\n" not in source and "=" not in source and "<" not in source
    ):
        path = Path(source)
        try:
            return path.read_text(encoding="utf-8-sig"), str(path)
        except FileNotFoundError:
            raise ParseError("no such CDM file", source=str(path)) from None
    if isinstance(source, str):
        return source, "<text>"
    raise TypeError(f"read_cdm expects a path, text or file object, not {type(source).__name__}")


def _kvn_sections(text: str, name: str) -> list[_Section]:
    """Split KVN into header, relative, object1, object2 sections."""
    sections = [_Section(line=1), _Section(line=1)]
    in_header = True
    for lineno, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not stripped:
            continue
        if stripped.startswith("COMMENT") and (len(stripped) == 7 or stripped[7] in " =\t"):
            body = stripped[7:].lstrip(" \t=").strip()
            sections[0 if in_header else -1].comments.append(body)
            continue
        m = _KVN_LINE.match(raw)
        if m is None:
            raise ParseError("expected 'KEY = value [unit]'", source=name, line=lineno, text=raw)
        key, value, unit = m.group(1).upper(), m.group(2), m.group(3)
        if key == "OBJECT":
            in_header = False
            sections.append(_Section(line=lineno))
        elif in_header and key not in _HEADER_KEYS:
            in_header = False
            sections[1].line = lineno
        section = sections[0 if in_header else -1]
        if key in section.entries:
            raise ParseError(f"duplicate key {key}", source=name, line=lineno, text=raw)
        section.entries[key] = _Entry(key, value, unit, lineno)
    return sections


def _xml_sections(text: str, name: str) -> list[_Section]:
    """Flatten the CDM XML tree into the same four sections (leaf elements become entries)."""
    sections = [_Section(line=1), _Section(line=1)]
    stack: list[str] = []
    chars: list[str] = []
    attrs_stack: list[dict[str, str]] = []
    has_child: list[bool] = []
    parser = xml.parsers.expat.ParserCreate()

    def start(tag: str, attrs: dict[str, str]) -> None:
        tag = tag.rsplit(":", 1)[-1]
        if has_child:
            has_child[-1] = True
        stack.append(tag)
        attrs_stack.append(attrs)
        has_child.append(False)
        chars.clear()
        line = parser.CurrentLineNumber
        if tag == "cdm" and "version" in attrs:  # the XML form carries the version as an attribute
            sections[0].entries["CCSDS_CDM_VERS"] = _Entry("CCSDS_CDM_VERS", attrs["version"], None, line)
        elif tag == "relativeMetadataData":
            sections[1].line = line
        elif tag == "segment":
            sections.append(_Section(line=line))

    def end(tag: str) -> None:
        tag = stack.pop()
        attrs = attrs_stack.pop()
        leaf = not has_child.pop()
        if not leaf:
            return
        value = "".join(chars).strip()
        chars.clear()
        if "header" in stack:
            section = sections[0]
        elif "segment" in stack:
            section = sections[-1]
        elif "relativeMetadataData" in stack:
            section = sections[1]
        else:
            return
        if tag.upper() == "COMMENT":
            section.comments.append(value)
            return
        key = tag.upper()
        if key in section.entries:
            raise ParseError(f"duplicate element <{tag}>", source=name, line=parser.CurrentLineNumber)
        section.entries[key] = _Entry(key, value, attrs.get("units"), parser.CurrentLineNumber)

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = chars.append
    try:
        parser.Parse(text, True)
    except xml.parsers.expat.ExpatError as exc:
        raise ParseError(
            f"malformed XML: {xml.parsers.expat.ErrorString(exc.code)}", source=name, line=exc.lineno
        ) from None
    return sections


def _json_sections(text: str, name: str) -> list[_Section]:
    """Space-Track's flat JSON CDM: relative keys bare, ``SAT1_``/``SAT2_`` prefixes, ``*_UNIT`` keys."""
    try:
        data: Any = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ParseError(f"malformed JSON: {exc.msg}", source=name, line=exc.lineno) from None
    if isinstance(data, list):
        if len(data) != 1:
            raise ParseError(f"expected one CDM object, found a list of {len(data)}", source=name)
        data = data[0]
    if not isinstance(data, dict):
        raise ParseError("expected a JSON object", source=name)
    sections = [_Section(), _Section(), _Section(), _Section()]
    for key, value in data.items():
        if value is None or key.endswith("_UNIT"):
            continue
        unit = data.get(f"{key}_UNIT")
        idx = 1
        if key.startswith(("SAT1_", "SAT2_")):
            idx = 2 if key[3] == "1" else 3
            key = key[5:]
        elif key in _HEADER_KEYS:
            idx = 0
        if key.startswith("COMMENT"):
            sections[idx].comments.append(str(value))
            continue
        sections[idx].entries[key] = _Entry(key, str(value), unit, None)
    return sections


# ----------------------------------------------------------------------------------- interpretation


class _Reader:
    def __init__(self, name: str):
        self.name = name

    def require(self, section: _Section, key: str, what: str) -> _Entry:
        entry = section.entries.get(key)
        if entry is None or entry.value == "":
            raise ParseError(f"missing key {key} in {what}", source=self.name, line=section.line)
        return entry

    def number(self, entry: _Entry) -> float:
        self.check_unit(entry)
        try:
            return float(entry.value)
        except ValueError:
            raise ParseError(
                f"{entry.key}: bad number {entry.value!r}", source=self.name, line=entry.line
            ) from None

    def check_unit(self, entry: _Entry) -> None:
        expected = _UNITS.get(entry.key)
        if entry.unit is None or expected is None:
            return
        given = entry.unit.replace(" ", "")
        given = _UNIT_ALIASES.get(given.lower(), given)
        if given and given != expected:
            raise ParseError(
                f"{entry.key}: unit [{entry.unit}] where the standard requires [{expected}]",
                source=self.name,
                line=entry.line,
            )

    def time(self, entry: _Entry) -> np.datetime64:
        value = entry.value.strip().rstrip("Zz")
        try:
            m = re.fullmatch(r"(\d{4})-(\d{3})T(.*)", value)
            if m:  # CCSDS day-of-year form YYYY-DDDThh:mm:ss
                day0 = np.datetime64(f"{m.group(1)}-01-01T{m.group(3)}", "us")
                return day0 + np.timedelta64(int(m.group(2)) - 1, "D")
            return np.datetime64(value, "us")
        except ValueError:
            raise ParseError(
                f"{entry.key}: bad time {entry.value!r}", source=self.name, line=entry.line
            ) from None

    def optional_number(self, section: _Section, key: str) -> float | None:
        entry = section.entries.get(key)
        return None if entry is None or entry.value == "" else self.number(entry)

    def vector3(self, section: _Section, keys: tuple[str, str, str]) -> np.ndarray | None:
        values = [self.optional_number(section, k) for k in keys]
        if all(v is None for v in values):
            return None
        missing = [k for k, v in zip(keys, values, strict=True) if v is None]
        if missing:
            raise ParseError(f"missing key {missing[0]}", source=self.name, line=section.line)
        return np.array(values, dtype=float)

    def covariance(self, section: _Section, what: str) -> np.ndarray:
        n = 6
        for key in (_cov_key(i, j) for i in range(6) for j in range(i + 1)):
            self.require(section, key, what)
        for row in range(6, 9):  # optional rows: take them only when complete
            keys = [_cov_key(row, j) for j in range(row + 1)]
            present = [k in section.entries for k in keys]
            if not any(present):
                break
            if not all(present):
                missing = keys[present.index(False)]
                raise ParseError(f"missing key {missing} in {what}", source=self.name, line=section.line)
            n = row + 1
        cov = np.empty((n, n))
        for i in range(n):
            for j in range(i + 1):
                cov[i, j] = cov[j, i] = self.number(section.entries[_cov_key(i, j)])
        return cov

    def cdm_object(self, section: _Section, index: int) -> CDMObject:
        what = f"OBJECT{index} section"
        for key in _OBJECT_REQUIRED:
            self.require(section, key, what)
        obj = section.entries["OBJECT"].value.strip().upper()
        if obj != f"OBJECT{index}":
            raise ParseError(
                f"expected OBJECT = OBJECT{index}, found {obj!r}",
                source=self.name,
                line=section.entries["OBJECT"].line,
            )
        pos = self.vector3(section, ("X", "Y", "Z"))
        vel = self.vector3(section, ("X_DOT", "Y_DOT", "Z_DOT"))
        assert pos is not None and vel is not None
        for key, entry in section.entries.items():
            if key in _NUMERIC:  # validated here so that a garbled value never passes silently
                self.number(entry)
        meta = {k: e.value for k, e in section.entries.items() if k not in _COV_INDEX}
        return CDMObject(
            object=obj,
            designator=meta["OBJECT_DESIGNATOR"].strip(),
            name=meta["OBJECT_NAME"].strip(),
            international_designator=meta["INTERNATIONAL_DESIGNATOR"].strip(),
            catalog_name=meta["CATALOG_NAME"].strip(),
            ref_frame=meta["REF_FRAME"].strip().upper(),
            position_km=pos,
            velocity_kms=vel,
            covariance_rtn=self.covariance(section, what),
            metadata=meta,
            comments=list(section.comments),
        )

    def hbr(self, sections: list[_Section]) -> float | None:
        for key in ("HBR", "HARD_BODY_RADIUS"):
            for section in sections[:2]:
                if key in section.entries:
                    return self.number(section.entries[key])
        for section in sections:
            for comment in section.comments:
                m = _HBR_COMMENT.search(comment)
                if m:
                    unit = (m.group(2) or "m").lower()
                    scale = {"m": 1.0, "km": 1000.0}.get(unit)
                    if scale is None:
                        raise ParseError(f"HBR comment: unit [{unit}], expected [m]", source=self.name)
                    return float(m.group(1)) * scale
        return None

    def build(self, sections: list[_Section]) -> CDM:
        if len(sections) != 4:
            found = len(sections) - 2
            raise ParseError(
                f"expected 2 objects (OBJECT = OBJECT1, OBJECT2), found {found}",
                source=self.name,
                line=sections[-1].line,
            )
        header, rel = sections[0], sections[1]
        for key in _HEADER_REQUIRED:
            self.require(header, key, "header")
        for key in _RELATIVE_REQUIRED:
            self.require(rel, key, "relative metadata")
        for key, entry in rel.entries.items():
            if key in _NUMERIC:
                self.number(entry)
        pc_entry = rel.entries.get("COLLISION_PROBABILITY")
        method = rel.entries.get("COLLISION_PROBABILITY_METHOD")
        return CDM(
            header={k: e.value for k, e in header.entries.items()},
            creation_date=self.time(header.entries["CREATION_DATE"]),
            tca=self.time(rel.entries["TCA"]),
            miss_distance_m=self.number(rel.entries["MISS_DISTANCE"]),
            relative_speed_ms=self.optional_number(rel, "RELATIVE_SPEED"),
            relative_position_rtn_m=self.vector3(
                rel, ("RELATIVE_POSITION_R", "RELATIVE_POSITION_T", "RELATIVE_POSITION_N")
            ),
            relative_velocity_rtn_ms=self.vector3(
                rel, ("RELATIVE_VELOCITY_R", "RELATIVE_VELOCITY_T", "RELATIVE_VELOCITY_N")
            ),
            collision_probability=None if pc_entry is None or not pc_entry.value else self.number(pc_entry),
            collision_probability_method=None if method is None else method.value.strip(),
            hbr_m=self.hbr(sections),
            relative={k: e.value for k, e in rel.entries.items()},
            object1=self.cdm_object(sections[2], 1),
            object2=self.cdm_object(sections[3], 2),
            comments=header.comments + rel.comments,
            source=self.name,
        )


def read_cdm(source: Source) -> CDM:
    """Read one Conjunction Data Message (CCSDS 508.0-B-1).

    Parameters
    ----------
    source : path, str or file object
        A file path, the message itself as text, or an open text/binary file. The format is
        detected from the content: KVN (``KEY = value [unit]`` lines), XML (``<cdm ...>``) or
        Space-Track's flat JSON (``SAT1_*``/``SAT2_*`` keys with ``*_UNIT`` companions).

    Returns
    -------
    CDM
        Header, relative metadata (TCA, miss distance [m], relative speed [m/s], RTN relative
        state [m, m/s], Pc and method when given, hard-body radius [m] when given) and both
        objects (state [km, km/s] in ``REF_FRAME``; RTN covariance [m, m/s]).

    Raises
    ------
    s2p.ParseError
        For a missing mandatory key, a non-numeric value, a bad time, a unit that differs from
        the standard's, a malformed line or an object count other than two; the error names the
        file and line.
    """
    text, name = _read_source(source)
    head = text.lstrip()
    if head.startswith("<"):
        sections = _xml_sections(text, name)
    elif head.startswith(("{", "[")):
        sections = _json_sections(text, name)
    else:
        sections = _kvn_sections(text, name)
    return _Reader(name).build(sections)
