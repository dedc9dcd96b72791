"""Optical astrometry made ready for orbit determination: one object's observations from any of the
readers (MPC 80-column, MPC observations API JSON, ADES PSV/XML, NEOCC ``.rwo``), with their
uncertainties, catalogue biases, TDB times and the observer's barycentric position.

What is used, and what is left out (each left-out row is listed with its reason):

- optical observations (CCD, photographic, transit, micrometer, satellite-based with their geocentric
  position, occultations); radar, roving observers without a position, deleted or superseded
  observations (MPC notes ``X``/``x``) are left out;
- uncertainties: the file's own when it has them (ADES ``rmsRA``/``rmsDec``, ``.rwo`` RMS); otherwise a
  scheme by technique and era (:data:`DEFAULT_SIGMA_ARCSEC`): 1" for CCD and space-based observations,
  1.5" for 1950-1989 photographic plates, 3" before 1950, transits and micrometers;
- catalogue biases: those a ``.rwo`` file carries (NEOCC's debiasing) are subtracted;
- times: UTC from 1972 (leap seconds), UT before (TT - UT from :data:`DELTA_T_TABLE`); then TDB.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from s2p.errors import S2PError

#: A priori uncertainty [arcsec] of an observation without one, by technique (MPC note 2) and era.
DEFAULT_SIGMA_ARCSEC = {"ccd": 1.0, "space": 1.0, "photographic_1950": 1.5, "old": 3.0}
_CCD_NOTES = set("CcVBn")
_OLD_NOTES = set("TMe")  # transit circle, micrometer, encoder
_SKIP_NOTES = {"R": "radar", "r": "radar", "X": "superseded discovery observation", "x": "deleted observation",
               "V": "roving observer", "v": "roving observer"}  # fmt: skip

#: TT - UT [s] at the start of the given years (Astronomical Almanac / IERS historical values), for
#: observation times before 1972, when UTC did not follow TT by whole leap seconds.
DELTA_T_TABLE = np.array(
    [
        (1890.0, -6.0), (1900.0, -2.7), (1905.0, 3.9), (1910.0, 10.5), (1915.0, 17.2), (1920.0, 21.2),
        (1925.0, 23.6), (1930.0, 24.0), (1935.0, 23.9), (1940.0, 24.3), (1945.0, 26.8), (1950.0, 29.2),
        (1955.0, 31.1), (1960.0, 33.2), (1965.0, 35.7), (1970.0, 40.2), (1972.0, 42.2),
    ]
)  # fmt: skip

ARCSEC_PER_RAD = 180.0 * 3600.0 / np.pi
#: Observations whose a priori uncertainty exceeds this [arcsec] are left out: their source has
#: de-weighted them (NEOCC writes 999" for observations it does not use).
MAX_SIGMA_ARCSEC = 10.0


class AstrometryError(S2PError, ValueError):
    """Observations that cannot be used for an orbit (none left, several objects, an unknown format)."""


@dataclasses.dataclass
class Astrometry:
    """One object's usable optical observations, sorted by time.

    Attributes
    ----------
    designation : str
    time : ndarray of datetime64[ns]
        Observation times as given (UTC; UT before 1972).
    jd_tdb : ndarray of float
        The same in TDB [Julian date].
    ra_deg, dec_deg : ndarray
        Observed astrometric position, ICRF/J2000 [deg], biases removed.
    sigma_ra_arcsec, sigma_dec_arcsec : ndarray
        A priori uncertainty of ``ra * cos(dec)`` and of ``dec`` [arcsec].
    bias_ra_arcsec, bias_dec_arcsec : ndarray
        Catalogue biases that were subtracted [arcsec] (0 where none is known).
    obscode : ndarray of str
        MPC observatory code.
    observer_au : ndarray, shape (N, 3)
        Barycentric position of the observer, ICRF [au], at ``jd_tdb``.
    source_row : ndarray of int
        Row of each observation in the table it came from.
    left_out : pandas.DataFrame
        ``row, time, obscode, reason`` of the rows that were not used.
    """

    designation: str
    time: np.ndarray
    jd_tdb: np.ndarray
    ra_deg: np.ndarray
    dec_deg: np.ndarray
    sigma_ra_arcsec: np.ndarray
    sigma_dec_arcsec: np.ndarray
    bias_ra_arcsec: np.ndarray
    bias_dec_arcsec: np.ndarray
    obscode: np.ndarray
    observer_au: np.ndarray
    source_row: np.ndarray
    left_out: pd.DataFrame

    def __len__(self) -> int:
        return int(self.time.size)

    def subset(self, mask: np.ndarray) -> Astrometry:
        """The observations selected by a boolean mask or index array (``left_out`` kept)."""
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        for name, value in fields.items():
            if isinstance(value, np.ndarray):
                fields[name] = value[mask]
        return Astrometry(**fields)

    @property
    def unit_vectors(self) -> np.ndarray:
        """Observed directions, ICRF unit vectors, shape (N, 3)."""
        ra, dec = np.radians(self.ra_deg), np.radians(self.dec_deg)
        return np.stack([np.cos(dec) * np.cos(ra), np.cos(dec) * np.sin(ra), np.sin(dec)], axis=1)


def read_observations(source: Any) -> pd.DataFrame:
    """Read observations from a path or text in any supported format (by extension, else by content):
    ``.rwo`` (NEOCC), ``.psv``/``.xml`` (ADES), ``.json`` (MPC API), otherwise MPC 80-column."""
    from s2p.neo.observations import read_ades, read_mpc80, read_mpc_obs_json, read_rwo

    name = str(source) if isinstance(source, str | Path) and "\n" not in str(source) else ""
    suffix = Path(name).suffix.lower() if name else ""
    text = "" if name else str(source)
    if suffix == ".rwo" or "END_OF_HEADER" in text[:4000]:
        return read_rwo(source)
    if (
        suffix in (".psv", ".xml")
        or text.lstrip().startswith(("<", "# version"))
        or "|obsTime" in text[:4000]
    ):
        return read_ades(source)
    if suffix == ".json" or text.lstrip().startswith("["):
        return read_mpc_obs_json(source)
    return read_mpc80(source)


def _delta_t_pre1972(times: np.ndarray) -> np.ndarray:
    years = 1970.0 + times.astype("datetime64[ns]").astype("int64") / (365.2425 * 86400e9)
    return np.interp(years, DELTA_T_TABLE[:, 0], DELTA_T_TABLE[:, 1])


def jd_tdb_of_observations(times: Any) -> np.ndarray:
    """TDB Julian dates of observation times (UTC from 1972, UT before), one float64 each."""
    from s2p.time import jd_tdb, tt_minus_utc

    t = np.asarray(times, dtype="datetime64[ns]")
    whole, frac = jd_tdb(t)
    early = t < np.datetime64("1972-01-01")
    if early.any():
        # jd_tdb took TT - UTC = 10 s + 32.184 s before 1972; replace it with TT - UT
        frac = frac + np.where(early, _delta_t_pre1972(t) - tt_minus_utc(t), 0.0) / 86400.0
    return np.asarray(whole, dtype=float) + np.asarray(frac, dtype=float)


def _default_sigma(note2: np.ndarray, times: np.ndarray) -> np.ndarray:
    year = times.astype("datetime64[Y]").astype(int) + 1970
    sigma = np.where(year < 1950, DEFAULT_SIGMA_ARCSEC["old"], DEFAULT_SIGMA_ARCSEC["photographic_1950"])
    sigma = np.where(year >= 1990, DEFAULT_SIGMA_ARCSEC["ccd"], sigma)
    ccd = np.isin(note2, list(_CCD_NOTES))
    sigma = np.where(ccd, DEFAULT_SIGMA_ARCSEC["ccd"], sigma)
    sigma = np.where(np.isin(note2, ["S"]), DEFAULT_SIGMA_ARCSEC["space"], sigma)
    return np.where(np.isin(note2, list(_OLD_NOTES)), DEFAULT_SIGMA_ARCSEC["old"], sigma)


def _standard_columns(obs: pd.DataFrame) -> pd.DataFrame:
    """A table with ``designation, time, ra_deg, dec_deg, sigma_ra, sigma_dec, bias_ra, bias_dec,
    obscode, sat_x/y/z_km, skip`` from the columns of any of the readers."""
    n = len(obs)
    nan = np.full(n, np.nan)
    if {"obsTime", "stn"} <= set(obs.columns):  # ADES
        des = np.full(n, "", dtype=object)
        for col in ("trkSub", "provID", "permID"):  # the most specific identity wins
            if col in obs:
                v = obs[col].fillna("").astype(str).str.strip().to_numpy()
                des = np.where(v != "", v, des)
        kind = obs["kind"].to_numpy() if "kind" in obs else np.full(n, "optical")
        ra = obs["ra"].to_numpy(float) if "ra" in obs else nan.copy()
        dec = obs["dec"].to_numpy(float) if "dec" in obs else nan.copy()
        if "raStar" in obs:  # occultations: the star's place plus the offset of the body
            star_ra = pd.to_numeric(obs["raStar"], errors="coerce").to_numpy(float)
            star_dec = pd.to_numeric(obs["decStar"], errors="coerce").to_numpy(float)
            d_ra = pd.to_numeric(obs.get("deltaRA", 0.0), errors="coerce").fillna(0.0).to_numpy(float)
            d_dec = pd.to_numeric(obs.get("deltaDec", 0.0), errors="coerce").fillna(0.0).to_numpy(float)
            occ = np.isnan(ra) & np.isfinite(star_ra)
            dec = np.where(occ, star_dec + d_dec / 3600.0, dec)
            ra = np.where(occ, star_ra + d_ra / 3600.0 / np.cos(np.radians(star_dec)), ra)
        mode = obs["mode"].fillna("").astype(str).str.strip().to_numpy() if "mode" in obs else np.full(n, "")
        times = obs["obsTime"].to_numpy("datetime64[ns]")
        note2 = np.where(np.isin(mode, ["CCD", "CMO", "VID", "OCC"]), "C", np.where(mode == "PHO", "P", " "))
        sigma_default = _default_sigma(note2, times)
        s_ra = obs["rmsRA"].to_numpy(float) if "rmsRA" in obs else nan.copy()
        s_dec = obs["rmsDec"].to_numpy(float) if "rmsDec" in obs else nan.copy()
        skip = np.where(np.isin(kind, ["optical", "occultation"]), "", kind + " record")
        sat = np.full((n, 3), np.nan)
        if "sys" in obs:
            sys = obs["sys"].fillna("").astype(str).str.strip().to_numpy()
            ctr = obs["ctr"].fillna("").astype(str).str.strip().to_numpy() if "ctr" in obs else np.full(n, "")
            pos = np.stack(
                [pd.to_numeric(obs.get(f"pos{i}"), errors="coerce").to_numpy(float) for i in (1, 2, 3)], 1
            )
            km = (sys == "ICRF_KM") & (ctr == "399")
            au = (sys == "ICRF_AU") & (ctr == "399")
            sat[km] = pos[km]
            sat[au] = pos[au] * 149597870.7
            other = (sys != "") & ~km & ~au
            skip = np.where(other & (skip == ""), "observer position in an unsupported system", skip)
        return pd.DataFrame(
            {
                "designation": des,
                "time": times,
                "ra_deg": ra,
                "dec_deg": dec,
                "sigma_ra": np.where(np.isfinite(s_ra), s_ra, sigma_default),
                "sigma_dec": np.where(np.isfinite(s_dec), s_dec, sigma_default),
                "bias_ra": np.zeros(n),
                "bias_dec": np.zeros(n),
                "obscode": obs["stn"].astype(str).str.strip().to_numpy(),
                "sat_x_km": sat[:, 0],
                "sat_y_km": sat[:, 1],
                "sat_z_km": sat[:, 2],
                "skip": skip,
            }
        )
    if {"time", "ra_deg", "dec_deg", "obscode"} <= set(obs.columns):
        times = obs["time"].to_numpy("datetime64[ns]")
        if "ra_rms_arcsec" in obs:  # NEOCC .rwo
            s_ra = obs["ra_rms_arcsec"].to_numpy(float)
            s_dec = obs["dec_rms_arcsec"].to_numpy(float)
            skip = np.full(n, "", dtype=object)
        else:  # MPC 80-column
            note2 = obs["note2"].astype(str).to_numpy()
            s_ra = s_dec = _default_sigma(note2, times)
            skip = np.array([_SKIP_NOTES.get(c, "") for c in note2], dtype=object)
        sats = [
            obs[c].to_numpy(float) if c in obs else nan.copy() for c in ("sat_x_km", "sat_y_km", "sat_z_km")
        ]
        if "rover_lon_deg" in obs:
            rover = obs["rover_lon_deg"].notna().to_numpy()
            skip = np.where(rover & (skip == ""), "roving observer", skip)
        return pd.DataFrame(
            {
                "designation": obs["designation"].astype(str).to_numpy(),
                "time": times,
                "ra_deg": obs["ra_deg"].to_numpy(float),
                "dec_deg": obs["dec_deg"].to_numpy(float),
                "sigma_ra": s_ra,
                "sigma_dec": s_dec,
                "bias_ra": obs["ra_bias_arcsec"].to_numpy(float) if "ra_bias_arcsec" in obs else np.zeros(n),
                "bias_dec": obs["dec_bias_arcsec"].to_numpy(float)
                if "dec_bias_arcsec" in obs
                else np.zeros(n),
                "obscode": obs["obscode"].astype(str).to_numpy(),
                "sat_x_km": sats[0],
                "sat_y_km": sats[1],
                "sat_z_km": sats[2],
                "skip": skip,
            }
        )
    raise AstrometryError(
        "observations must come from read_mpc80, read_mpc_obs_json, read_rwo or read_ades "
        f"(columns found: {', '.join(map(str, obs.columns[:12]))})"
    )


def prepare(observations: Any, designation: str | None = None, *, debias: bool = True) -> Astrometry:
    """Turn observations into an :class:`Astrometry` set for one object.

    Parameters
    ----------
    observations : pandas.DataFrame, path or text
        A table from one of the readers, or a file (see :func:`read_observations`).
    designation : str, optional
        The object to keep when the observations hold several.
    debias : bool
        Subtract the catalogue biases the file gives (``.rwo``).

    Raises
    ------
    AstrometryError
        When several objects are present and none is chosen, the chosen one is absent, or no
        observation is usable.
    """
    from s2p.neo.dynamics import ephemeris_span
    from s2p.neo.observers import observatory_codes, site_gcrs_au
    from s2p.neo.planets import constants, sun_earth_barycentric

    obs = observations if isinstance(observations, pd.DataFrame) else read_observations(observations)
    table = _standard_columns(obs.reset_index(drop=True))
    table["row"] = np.arange(len(table))
    names = [d for d in pd.unique(table["designation"]) if d]
    if designation is None:
        if len(names) > 1:
            shown = ", ".join(map(str, names[:8])) + (" ..." if len(names) > 8 else "")
            raise AstrometryError(
                f"the observations hold {len(names)} objects ({shown}): choose one with designation="
            )
        designation = names[0] if names else ""
    else:
        designation = str(designation).strip()
        if designation not in names:
            raise AstrometryError(
                f"no observation of {designation!r} (objects: {', '.join(map(str, names[:8]))})"
            )
        table = table[table["designation"] == designation]
    table = table.copy()
    codes = observatory_codes()
    jd = jd_tdb_of_observations(table["time"].to_numpy("datetime64[ns]"))
    lo, hi = ephemeris_span()
    has_sat = np.isfinite(table["sat_x_km"].to_numpy())
    reasons = table["skip"].to_numpy(dtype=object).copy()
    reasons[(reasons == "") & ~np.isfinite(table["ra_deg"].to_numpy())] = "no RA/Dec"
    reasons[(reasons == "") & ((jd < lo + 1.0) | (jd > hi - 1.0))] = "outside the planetary ephemeris (DE421)"
    unknown = ~table["obscode"].isin(list(codes)).to_numpy()
    reasons[(reasons == "") & unknown] = "unknown observatory code"
    big = (table["sigma_ra"].to_numpy(float) > MAX_SIGMA_ARCSEC) | (
        table["sigma_dec"].to_numpy(float) > MAX_SIGMA_ARCSEC
    )
    reasons[(reasons == "") & big] = (
        f"a priori uncertainty above {MAX_SIGMA_ARCSEC:g} arcsec (de-weighted by the source)"
    )
    fixed = np.array([np.isfinite(codes[c][0]) if c in codes else False for c in table["obscode"]])
    reasons[(reasons == "") & ~fixed & ~has_sat] = "space-based or roving site without its position"
    keep = reasons == ""
    left_out = pd.DataFrame(
        {
            "row": table["row"].to_numpy()[~keep],
            "time": table["time"].to_numpy()[~keep],
            "obscode": table["obscode"].to_numpy()[~keep],
            "reason": reasons[~keep],
        }
    )
    table = table[keep]
    jd = jd[keep]
    if table.empty:
        raise AstrometryError(f"no usable optical observation of {designation!r} ({len(left_out)} left out)")
    order = np.argsort(jd, kind="stable")
    table = table.iloc[order]
    jd = jd[order]
    au_km = constants()["AU"]
    whole = np.floor(jd - 0.5) + 0.5
    s = sun_earth_barycentric(whole, jd - whole)
    geo = np.zeros((len(table), 3))
    sat = table[["sat_x_km", "sat_y_km", "sat_z_km"]].to_numpy(float)
    space = np.isfinite(sat[:, 0])
    geo[space] = sat[space] / au_km
    times = table["time"].to_numpy("datetime64[ns]")
    obscodes = table["obscode"].to_numpy(dtype=str)
    for code in np.unique(obscodes[~space]):
        sel = (~space) & (obscodes == code)
        geo[sel] = site_gcrs_au(code, times[sel])
    bias_ra = table["bias_ra"].to_numpy(float) if debias else np.zeros(len(table))
    bias_dec = table["bias_dec"].to_numpy(float) if debias else np.zeros(len(table))
    dec = table["dec_deg"].to_numpy(float) - bias_dec / 3600.0
    ra = table["ra_deg"].to_numpy(float) - bias_ra / 3600.0 / np.cos(np.radians(dec))
    return Astrometry(
        designation=str(designation),
        time=times,
        jd_tdb=jd,
        ra_deg=ra % 360.0,
        dec_deg=dec,
        sigma_ra_arcsec=table["sigma_ra"].to_numpy(float),
        sigma_dec_arcsec=table["sigma_dec"].to_numpy(float),
        bias_ra_arcsec=bias_ra,
        bias_dec_arcsec=bias_dec,
        obscode=obscodes,
        observer_au=s["earth_p"] + geo,
        source_row=table["row"].to_numpy(),
        left_out=left_out,
    )
