"""Impact hazard scales: Palermo (Chesley et al. 2002) and Torino (Binzel 2000), and a risk-list view.

Assumptions (the ones the ESA and JPL lists state or that reproduce their published values best):

- Bulk density 2600 kg/m^3 and a sphere: ``M = rho pi D^3 / 6``.
- Diameter from H when none is given: ``D = 1329 km / sqrt(p_V) 10^(-H/5)`` with albedo ``p_V = 0.154``
  (JPL Sentry's default).
- Impact velocity ``v_imp = sqrt(v_inf^2 + v_esc^2)`` with the Earth's escape velocity 11.18 km/s
  (Sentry publishes ``v_inf``; ESA publishes the impact velocity itself).
- Energy ``E = M v_imp^2 / 2``, 1 Mt TNT = 4.184e15 J.
- Background impact frequency ``f_B = 0.03 E^-0.8`` per year (E in Mt) and Palermo
  ``PS = log10(IP / (f_B dT))`` with ``dT`` the years from the list's computation date to the impact
  (for a NEOCC per-object ``.risk`` file: from the last observation of the arc, as NEOCC counts it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

DENSITY_KG_M3 = 2600.0
ALBEDO = 0.154
V_ESCAPE_KMS = 11.18
MT_TNT_J = 4.184e15
DAYS_PER_YEAR = 365.25


def diameter_from_h(h_mag: Any, albedo: Any = ALBEDO) -> np.ndarray:
    """Diameter [m] from absolute magnitude H [mag] and geometric albedo [-]."""
    return 1329e3 / np.sqrt(np.asarray(albedo, dtype=float)) * 10.0 ** (-0.2 * np.asarray(h_mag, dtype=float))


def impact_energy_mt(diameter_m: Any, v_impact_kms: Any, density_kg_m3: Any = DENSITY_KG_M3) -> np.ndarray:
    """Kinetic energy [Mt TNT] of a sphere of diameter [m] and density [kg/m^3] at speed [km/s]."""
    d = np.asarray(diameter_m, dtype=float)
    mass = np.asarray(density_kg_m3, dtype=float) * np.pi / 6.0 * d**3
    v = np.asarray(v_impact_kms, dtype=float) * 1e3
    return 0.5 * mass * v * v / MT_TNT_J


def palermo_scale(ip: Any, energy_mt: Any, years_to_impact: Any) -> np.ndarray:
    """Palermo technical scale ``log10(IP / (f_B dT))`` with ``f_B = 0.03 E^-0.8`` [1/yr].

    Parameters
    ----------
    ip : array_like
        Impact probability [-].
    energy_mt : array_like
        Impact energy [Mt TNT].
    years_to_impact : array_like
        Time from the assessment to the impact [yr].
    """
    fb = 0.03 * np.asarray(energy_mt, dtype=float) ** -0.8
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log10(np.asarray(ip, dtype=float) / (fb * np.asarray(years_to_impact, dtype=float)))


def torino_scale(ip: Any, energy_mt: Any) -> np.ndarray:
    """Torino scale (integer 0-10) from impact probability [-] and energy [Mt TNT].

    The zones of Binzel's (2000) chart in ``x = log10 E``, ``y = log10 IP``: everything below 1 Mt is 0;
    below ``IP = 1e-2`` the zones 0 | 1 | 2 | 6 are separated by the parallel diagonals
    ``y = -2 - (2/3)(x - x0)`` with ``x0 = -1, 2, 5``; from 1e-2 up to 0.99 the energies 1e2 and 1e5 Mt and
    the diagonal ``x0 = 5`` separate 3 | 4 | 5 | 7; at ``IP >= 0.99`` the same energies separate 8 | 9 | 10.
    """
    p = np.asarray(ip, dtype=float)
    e = np.asarray(energy_mt, dtype=float)
    p, e = np.broadcast_arrays(p, e)
    with np.errstate(divide="ignore", invalid="ignore"):
        x = np.log10(e)
        y = np.log10(p)

    def above(x0: float) -> np.ndarray:
        # on or above the diagonal through (x0, -2) with slope -2/3
        return (x - x0) / 3.0 + (y + 2.0) / 2.0 >= 0.0

    out = np.zeros(p.shape, dtype=int)
    low = y < -2.0
    out = np.where(low & above(-1.0), 1, out)
    out = np.where(low & above(2.0), 2, out)
    out = np.where(low & above(5.0), 6, out)
    mid = (y >= -2.0) & (p < 0.99)
    out = np.where(mid, np.select([x < 2.0, ~above(5.0), x < 5.0], [3, 4, 5], default=7), out)
    high = p >= 0.99
    out = np.where(high, np.select([x < 2.0, x < 5.0], [8, 9], default=10), out)
    # no hazard below 1 Mt, and nothing for undefined inputs
    out = np.where((e < 1.0) | ~np.isfinite(x) | ~(p > 0.0), 0, out)
    return out


def risk_table(risk: pd.DataFrame, *, as_of: Any = None, diameters_m: Any = None) -> pd.DataFrame:
    """Palermo and Torino recomputed from a risk list's own inputs, next to the published values.

    Parameters
    ----------
    risk : pandas.DataFrame
        From :func:`~s2p.neo.read_neocc_risk_list` (uses ``diameter_m, ip_max, vel_kms, impact_date``),
        :func:`~s2p.neo.read_neocc_risk_file` (uses ``ip, energy_mt, time``) or
        :func:`~s2p.neo.read_sentry` (uses ``diameter_km`` or ``h_mag``, ``ip``, ``v_inf_kms``, ``n_imp``,
        ``years_first/last``).
    as_of : datetime-like, or mapping designation -> datetime-like (ESA list), optional
        Start of ``dT``; default the list's ``attrs['last_update']`` (ESA list), the last observation of
        the arc (``attrs['arc_end']``, NEOCC ``.risk`` file: that is where NEOCC's ``dT`` starts) or the
        latest ``last_obs`` (Sentry). A mapping gives each ESA entry its own start (the list's date for
        designations it lacks), e.g. the last observation of each object for lists made by NEOCC's
        pre-2024 system, which counted ``dT`` from there.
    diameters_m : mapping or pandas.Series, optional
        Designation -> diameter [m] to use instead of the list's own where available (ESA prints its
        diameters rounded to 1-2 significant digits, which alone moves Palermo by up to 0.15).

    Returns
    -------
    pandas.DataFrame
        The input columns plus ``energy_mt``, ``years_to_impact``, ``ps``/``ps_published`` and
        ``ts``/``ts_published``, and ``ps_diff``. For Sentry the recomputed Palermo value is that of
        the single virtual impactor, so it is defined only where ``n_imp == 1`` (the summary holds no
        per-impactor inputs otherwise; NaN elsewhere); its Torino value is an upper bound computed with the
        cumulative probability, exact whenever it is 0.
    """
    df = risk.copy()
    if "expected_energy_mt" in df:  # NEOCC per-object .risk file: the energy is published
        if as_of is None and "arc_end" not in risk.attrs:
            raise ValueError("this .risk table states no observed arc (NEOCC had no risk data?): pass as_of=")
        t0 = pd.Timestamp(as_of) if as_of is not None else pd.Timestamp(risk.attrs["arc_end"])
        dt = (pd.to_datetime(df["time"]) - t0).dt.total_seconds() / 86400.0 / DAYS_PER_YEAR
        df["years_to_impact"] = dt
        df["ps_published"] = risk["ps"]
        df["ts_published"] = risk["ts"]
        df["ps"] = palermo_scale(df["ip"], df["energy_mt"], dt)
        df["ts"] = torino_scale(df["ip"], df["energy_mt"])
    elif "ip_max" in df:  # ESA NEOCC
        list_date = pd.Timestamp(risk.attrs["last_update"])
        if isinstance(as_of, (Mapping, pd.Series)):  # per object, e.g. the last observation
            t0 = pd.to_datetime(df["designation"].map(pd.Series(as_of))).fillna(list_date)
        else:
            t0 = pd.Timestamp(as_of) if as_of is not None else list_date
        dt = (df["impact_date"] - t0).dt.total_seconds() / 86400.0 / DAYS_PER_YEAR
        d_m = df["diameter_m"]
        if diameters_m is not None:
            d_m = df["designation"].map(pd.Series(diameters_m)).fillna(d_m)
        df["diameter_used_m"] = d_m
        df["energy_mt"] = impact_energy_mt(d_m, df["vel_kms"])
        df["years_to_impact"] = dt
        df["ps"] = palermo_scale(df["ip_max"], df["energy_mt"], dt)
        df["ps_published"] = df["ps_max"]
        df["ts_published"] = risk["ts"]
        df["ts"] = torino_scale(df["ip_max"], df["energy_mt"])
    else:  # JPL Sentry summary
        t0 = pd.Timestamp(as_of) if as_of is not None else pd.Timestamp(risk["last_obs"].max())
        diameter_m = np.where(
            np.isfinite(df["diameter_km"]), df["diameter_km"] * 1e3, diameter_from_h(df["h_mag"])
        )
        v_imp = np.sqrt(df["v_inf_kms"] ** 2 + V_ESCAPE_KMS**2)
        df["energy_mt"] = impact_energy_mt(diameter_m, v_imp)
        # a single impactor: its year is the list's range; mid-year since only the year is published
        t0_year = t0.year + (t0.dayofyear - 0.5) / (366.0 if t0.is_leap_year else 365.0)
        dt = (df["years_first"] + 0.5) - t0_year
        df["years_to_impact"] = np.where(df["n_imp"] == 1, dt, np.nan)
        df["ps"] = np.where(df["n_imp"] == 1, palermo_scale(df["ip"], df["energy_mt"], dt), np.nan)
        df["ps_published"] = df["ps_max"]
        df["ts"] = torino_scale(df["ip"], df["energy_mt"])
        df["ts_published"] = df["ts_max"]
    df["ps_diff"] = df["ps"] - df["ps_published"]
    return df
