"""Osculating heliocentric orbits (MPCORB / NEA.txt) and the :class:`Orbits` container."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from s2p.errors import ParseError
from s2p.neo._io import field_float, read_text
from s2p.neo.designations import unpack_designation, unpack_epoch

# Gaussian gravitational constant [rad/day]: the MPC's elements are defined with GM_sun = k^2 au^3/d^2.
GAUSS_K = 0.01720209895
GM_SUN_AU3_D2 = GAUSS_K * GAUSS_K

_ARRAYS = (
    "designation",
    "packed",
    "name",
    "epoch",
    "a_au",
    "e",
    "i_deg",
    "node_deg",
    "peri_deg",
    "m_deg",
    "h_mag",
    "g_slope",
    "n_deg_per_day",
    "n_obs",
    "n_opp",
    "rms_arcsec",
    "uncertainty",
)


@dataclasses.dataclass(eq=False)
class Orbits:
    """A set of osculating heliocentric orbits, ecliptic and equinox J2000, one row per object.

    Attributes
    ----------
    designation : ndarray of str
        Readable designation (``"433"``, ``"2019 EE1"``).
    packed : ndarray of str
        MPC packed designation as read (``"00433"``).
    name : ndarray of str
        Readable name column (``"(433) Eros"``) or the designation.
    epoch : ndarray of datetime64[ns]
        Osculation epoch, in TT (as the MPC publishes it).
    a_au, e, i_deg, node_deg, peri_deg, m_deg : ndarray of float
        Semi-major axis [au] (negative for hyperbolic orbits), eccentricity, inclination, longitude of the
        ascending node, argument of perihelion and mean anomaly at the epoch [deg].
    h_mag, g_slope : ndarray of float
        Absolute magnitude H [mag] and slope parameter G of the IAU H-G system (NaN when unknown).
    n_deg_per_day : ndarray of float
        Mean motion [deg/day] as published (recomputed from ``a`` and ``gm`` when absent).
    n_obs, n_opp : ndarray of int
        Number of observations and oppositions (-1 when unknown).
    rms_arcsec : ndarray of float
        RMS residual of the fit [arcsec].
    uncertainty : ndarray of str
        MPC uncertainty parameter U (``""`` when absent).
    gm : float
        GM of the Sun [au^3/day^2] that defines the mean motion (the MPC's ``k^2``).
    meta : dict
        Values a file states about the orbit (e.g. ``moid`` [au] of an OEF or SBDB file).
    """

    designation: np.ndarray
    packed: np.ndarray
    name: np.ndarray
    epoch: np.ndarray
    a_au: np.ndarray
    e: np.ndarray
    i_deg: np.ndarray
    node_deg: np.ndarray
    peri_deg: np.ndarray
    m_deg: np.ndarray
    h_mag: np.ndarray
    g_slope: np.ndarray
    n_deg_per_day: np.ndarray
    n_obs: np.ndarray
    n_opp: np.ndarray
    rms_arcsec: np.ndarray
    uncertainty: np.ndarray
    gm: float = GM_SUN_AU3_D2
    meta: dict[str, Any] = dataclasses.field(default_factory=dict, repr=False)
    _frame: tuple[np.ndarray, np.ndarray] | None = dataclasses.field(default=None, repr=False)

    def __len__(self) -> int:
        return int(self.a_au.shape[0])

    def __getitem__(self, key: Any) -> Orbits:
        """Boolean mask, integer index array, slice or integer -> a new :class:`Orbits`."""
        if isinstance(key, (int, np.integer)):
            key = [int(key)]
        kw = {f: getattr(self, f)[key] for f in _ARRAYS}
        return Orbits(**kw, gm=self.gm)

    def __repr__(self) -> str:
        return f"<Orbits: {len(self)} objects>"

    @classmethod
    def from_elements(
        cls,
        a_au: Any,
        e: Any,
        i_deg: Any,
        node_deg: Any,
        peri_deg: Any,
        m_deg: Any,
        epoch: Any,
        *,
        designation: Any = None,
        h_mag: Any = np.nan,
        g_slope: Any = 0.15,
        gm: float = GM_SUN_AU3_D2,
    ) -> Orbits:
        """Build orbits from element arrays (broadcast together).

        Parameters
        ----------
        a_au : array_like
            Semi-major axis [au]; negative (or with ``e > 1``) for hyperbolic orbits.
        e, i_deg, node_deg, peri_deg, m_deg : array_like
            Eccentricity and angles [deg] (ecliptic J2000).
        epoch : array_like of datetime64 or str
            Osculation epoch (TT).
        designation : array_like of str, optional
        h_mag, g_slope : array_like, optional
            Absolute magnitude [mag] and slope of the H-G system.
        gm : float
            GM of the central body [au^3/day^2].
        """
        from s2p.time import to_datetime64

        arrs = np.broadcast_arrays(
            *(np.asarray(x, dtype=float) for x in (a_au, e, i_deg, node_deg, peri_deg, m_deg, h_mag, g_slope))
        )
        n = arrs[0].size
        a, ecc, inc, node, peri, m, h, g = (np.array(x, dtype=float).reshape(n) for x in arrs)
        a = np.where(ecc > 1.0, -np.abs(a), a)
        ep = np.broadcast_to(to_datetime64(epoch), (n,)).astype("datetime64[ns]").copy()
        des = (
            np.array([str(k) for k in range(n)], dtype=object)
            if designation is None
            else np.broadcast_to(np.asarray(designation, dtype=object), (n,)).copy()
        )
        with np.errstate(invalid="ignore"):
            nmot = np.degrees(np.sqrt(gm / np.abs(a) ** 3))
        return cls(
            designation=des,
            packed=des.copy(),
            name=des.copy(),
            epoch=ep,
            a_au=a,
            e=ecc,
            i_deg=inc,
            node_deg=node,
            peri_deg=peri,
            m_deg=m,
            h_mag=h,
            g_slope=g,
            n_deg_per_day=nmot,
            n_obs=np.full(n, -1),
            n_opp=np.full(n, -1),
            rms_arcsec=np.full(n, np.nan),
            uncertainty=np.full(n, "", dtype=object),
            gm=gm,
        )

    @property
    def q_au(self) -> np.ndarray:
        """Perihelion distance [au]."""
        return np.abs(self.a_au) * np.abs(1.0 - self.e)

    @property
    def epoch_jd_tt(self) -> np.ndarray:
        """Epoch as a Julian date in TT [d] (one float64: ~40 us resolution, ample for osculation epochs)."""
        ns = self.epoch.astype("datetime64[ns]").astype("int64")
        return 2440587.5 + ns / 86_400e9  # JD of 1970-01-01T00:00

    def perifocal(self) -> tuple[np.ndarray, np.ndarray]:
        """Unit vectors P (to perihelion) and Q, shape (N, 3), ecliptic J2000 (cached)."""
        if self._frame is None:
            from s2p.neo._kernels import perifocal_vectors

            p = np.empty((len(self), 3))
            q = np.empty((len(self), 3))
            perifocal_vectors(
                np.radians(self.i_deg), np.radians(self.node_deg), np.radians(self.peri_deg), p, q
            )
            self._frame = (p, q)
        return self._frame

    def to_frame(self) -> Any:
        """The elements as a :class:`pandas.DataFrame` (one row per object)."""
        import pandas as pd

        return pd.DataFrame({f: getattr(self, f) for f in _ARRAYS})


def read_mpcorb(source: Any) -> Orbits:
    """Read orbits in the MPCORB format (``MPCORB.DAT``, ``NEA.txt``, daily orbit files).

    Parameters
    ----------
    source : path, str or file
        A file path, the text itself or an open file. Header lines before the ``-----`` rule of
        ``MPCORB.DAT`` and blank lines are skipped.

    Returns
    -------
    Orbits
        Elements in au and degrees, ecliptic J2000; epochs in TT; packed designations unpacked.

    Raises
    ------
    s2p.ParseError
        A line that is too short or has a field that is not what the format says (names the line).
    """
    text, name = read_text(source)
    lines = text.splitlines()
    start = 0
    for k, line in enumerate(lines[:200]):
        if line.startswith("-----"):
            start = k + 1
            break
    rows: dict[str, list[Any]] = {f: [] for f in _ARRAYS}
    for k in range(start, len(lines)):
        line = lines[k]
        lineno = k + 1
        if not line.strip():
            continue
        if len(line) < 103:
            raise ParseError(
                f"MPCORB line has {len(line)} characters, expected at least 103",
                source=name,
                line=lineno,
                text=line,
            )
        packed = line[0:7].strip()
        try:
            des = unpack_designation(packed)
        except (ValueError, KeyError) as exc:
            raise ParseError(f"bad packed designation: {exc}", source=name, line=lineno, text=line) from None
        try:
            epoch = unpack_epoch(line[20:25])
        except (ValueError, KeyError) as exc:
            raise ParseError(
                f"bad packed epoch (columns 21-25): {exc}", source=name, line=lineno, text=line
            ) from None
        h = field_float(line, 8, 13, "H", name, lineno, blank=np.nan)
        g = field_float(line, 14, 19, "G", name, lineno, blank=0.15)
        m = field_float(line, 26, 35, "mean anomaly", name, lineno)
        peri = field_float(line, 37, 46, "argument of perihelion", name, lineno)
        node = field_float(line, 48, 57, "ascending node", name, lineno)
        inc = field_float(line, 59, 68, "inclination", name, lineno)
        ecc = field_float(line, 70, 79, "eccentricity", name, lineno)
        nmot = field_float(line, 80, 91, "mean motion", name, lineno)
        a = field_float(line, 92, 103, "semi-major axis", name, lineno)
        if not (0.0 <= ecc < 1.0) or a <= 0.0:
            raise ParseError(
                f"elliptic elements expected, got e={ecc}, a={a}", source=name, line=lineno, text=line
            )
        if not (0.0 <= inc <= 180.0):
            raise ParseError(f"inclination {inc} outside [0, 180] deg", source=name, line=lineno, text=line)
        rows["designation"].append(des)
        rows["packed"].append(packed)
        readable = line[166:194].strip() if len(line) > 166 else ""
        rows["name"].append(readable or des)
        rows["epoch"].append(epoch)
        rows["a_au"].append(a)
        rows["e"].append(ecc)
        rows["i_deg"].append(inc)
        rows["node_deg"].append(node)
        rows["peri_deg"].append(peri)
        rows["m_deg"].append(m)
        rows["h_mag"].append(h)
        rows["g_slope"].append(g)
        rows["n_deg_per_day"].append(nmot)
        rows["n_obs"].append(_int_or(line[117:122]))
        rows["n_opp"].append(_int_or(line[123:126]))
        rows["rms_arcsec"].append(_float_or(line[137:141]))
        rows["uncertainty"].append(line[105:106].strip())
    if not rows["a_au"]:
        raise ParseError("no orbit lines found", source=name)
    floats: dict[str, Any] = {f: np.array(rows[f], dtype=float) for f in _ARRAYS[4:13]}
    return Orbits(
        designation=np.array(rows["designation"], dtype=object),
        packed=np.array(rows["packed"], dtype=object),
        name=np.array(rows["name"], dtype=object),
        epoch=np.array(rows["epoch"], dtype="datetime64[ns]"),
        **floats,
        n_obs=np.array(rows["n_obs"], dtype=int),
        n_opp=np.array(rows["n_opp"], dtype=int),
        rms_arcsec=np.array(rows["rms_arcsec"], dtype=float),
        uncertainty=np.array(rows["uncertainty"], dtype=object),
    )


def _int_or(text: str, default: int = -1) -> int:
    try:
        return int(text)
    except ValueError:
        return default


def _float_or(text: str, default: float = np.nan) -> float:
    try:
        return float(text)
    except ValueError:
        return default
