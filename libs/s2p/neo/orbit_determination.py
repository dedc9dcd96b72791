"""Orbit determination of one small body from optical astrometry: :func:`fit_orbit`.

The steps, as a NEO centre runs them:

1. **Observations** from any reader (MPC 80-column, MPC API JSON, ADES, NEOCC ``.rwo``) are made
   ready by :mod:`s2p.neo.astrometry`: uncertainties, catalogue biases, TDB, observer positions.
2. **Initial orbit**: Gauss's method (:mod:`s2p.neo.initial_orbit`) on three observations of a short
   seed arc in the best-observed recent apparition; every admissible root is corrected on the seed
   arc with the **heliocentric two-body** model and the one with the smallest residuals kept.
3. **Differential correction** (:mod:`s2p.neo._least_squares`): weighted least squares on the state at
   the epoch, with the **n-body** model (Sun, planets, Moon and Pluto of DE421, the Sun's relativistic
   term; :mod:`s2p.neo.dynamics`) on arcs growing around the seed until every observation is in,
   rejecting outliers by their chi-square (and taking them back when they fit again).
4. **Result** (:class:`OrbitFit`): osculating heliocentric ecliptic J2000 elements with the Sun's GM
   (the MPC's convention), their covariance, the state and its covariance, and every observation's
   residual, weight and selection.

Checked in ``tests/s2p/neo/test_orbit_determination.py`` against the MPC's orbit of (1685) Toro at its
epoch (the reference and tolerances are stated there) and against NEOCC's own residuals.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pandas as pd

from s2p.neo import _least_squares as lsq
from s2p.neo.astrometry import ARCSEC_PER_RAD, Astrometry, AstrometryError, prepare
from s2p.neo.dynamics import MODELS, _ephemeris, propagate_state, sun_state
from s2p.neo.initial_orbit import gauss
from s2p.neo.orbits import GM_SUN_AU3_D2, Orbits
from s2p.neo.planets import ECL_FROM_EQ, EQ_FROM_ECL, state_to_elements

__all__ = ["OrbitFit", "OrbitFitError", "fit_orbit"]

#: Observations further apart than this [day] belong to different apparitions.
APPARITION_GAP_DAYS = 120.0
#: Half-width of the seed arc around the middle of its apparition [day].
SEED_HALF_WIDTH_DAYS = 20.0
#: Half-widths [day] of the successive arcs of the n-body correction, around the seed.
ARC_HALF_WIDTHS_DAYS = (60.0, 200.0, 730.0, 2200.0, 7000.0, 25000.0)
ELEMENTS = ("a_au", "e", "i_deg", "node_deg", "peri_deg", "m_deg")
_JD_UNIX = 2440587.5


class OrbitFitError(AstrometryError):
    """No orbit could be determined from the observations (say why)."""


@dataclasses.dataclass
class OrbitFit:
    """An orbit determined by :func:`fit_orbit`.

    Attributes
    ----------
    designation : str
    epoch : numpy.datetime64
        Epoch of the state and elements (TDB; equal to TT within 2 ms).
    model : str
        ``"n-body"`` or ``"two-body"``.
    elements : dict
        Osculating heliocentric elements, ecliptic and equinox J2000, with GM = k^2 (the MPC's):
        ``a_au, e, i_deg, node_deg, peri_deg, m_deg``.
    element_covariance : ndarray (6, 6)
        Their covariance, in the order of :data:`ELEMENTS` [au, -, deg].
    state : ndarray (6,)
        Heliocentric position [au] and velocity [au/day], ecliptic J2000.
    state_covariance : ndarray (6, 6)
    residuals : pandas.DataFrame
        One row per usable observation: ``time, obscode, ra_deg, dec_deg, ra_resid_arcsec`` (times
        cos Dec), ``dec_resid_arcsec, ra_sigma_arcsec, dec_sigma_arcsec, chi2, selected, distance_au``.
    left_out : pandas.DataFrame
        Rows of the input not used, with the reason (radar, unknown site, outside DE421 ...).
    rms_arcsec : float
        RMS of the selected residuals, RA and Dec together [arcsec].
    normalised_rms : float
        ``sqrt(chi^2 / (2 n - 6))`` of the selected observations with their a priori uncertainties.
    iterations : int
    converged : bool
    """

    designation: str
    epoch: np.datetime64
    model: str
    elements: dict[str, float]
    element_covariance: np.ndarray
    state: np.ndarray
    state_covariance: np.ndarray
    residuals: pd.DataFrame
    left_out: pd.DataFrame
    rms_arcsec: float
    normalised_rms: float
    iterations: int
    converged: bool

    @property
    def n_used(self) -> int:
        """Observations in the final fit."""
        return int(self.residuals["selected"].sum())

    @property
    def n_rejected(self) -> int:
        """Usable observations rejected as outliers."""
        return int((~self.residuals["selected"]).sum())

    @property
    def sigmas(self) -> dict[str, float]:
        """One-sigma uncertainty of each element (same units)."""
        return {k: float(np.sqrt(max(self.element_covariance[i, i], 0.0))) for i, k in enumerate(ELEMENTS)}

    @property
    def orbit(self) -> Orbits:
        """The elements as an :class:`~s2p.neo.Orbits` of one object (for ``ephemeris``, ``moid`` ...)."""
        o = Orbits.from_elements(**self.elements, epoch=self.epoch, designation=[self.designation])
        o.n_obs[:] = self.n_used
        o.rms_arcsec[:] = self.rms_arcsec
        return o

    def summary(self) -> pd.DataFrame:
        """Elements and their one-sigma uncertainties as a small table."""
        return pd.DataFrame(
            {"value": [self.elements[k] for k in ELEMENTS], "sigma": [self.sigmas[k] for k in ELEMENTS]},
            index=list(ELEMENTS),
        )

    def __repr__(self) -> str:
        el = ", ".join(f"{k}={self.elements[k]:.8g}" for k in ELEMENTS)
        return (
            f"<OrbitFit {self.designation} epoch {str(self.epoch)[:19]} TDB ({self.model}): {el}; "
            f'{self.n_used} obs used, {self.n_rejected} rejected, RMS {self.rms_arcsec:.3f}">'
        )


def _jd(epoch: Any) -> float:
    from s2p.time import to_datetime64

    ns = np.asarray(to_datetime64(epoch), dtype="datetime64[ns]").astype("int64")
    return _JD_UNIX + float(ns) / 86400e9


def _datetime(jd: float) -> np.datetime64:
    return np.datetime64(int(round((jd - _JD_UNIX) * 86400e9)), "ns")


def _apparitions(jd: np.ndarray) -> list[np.ndarray]:
    cuts = np.flatnonzero(np.diff(jd) > APPARITION_GAP_DAYS) + 1
    return np.split(np.arange(jd.size), cuts)


def _seed_arc(astro: Astrometry) -> np.ndarray:
    """Indices of the seed arc: the middle of the latest apparition with observations on at least
    three nights (the largest one otherwise)."""
    jd = astro.jd_tdb
    groups = _apparitions(jd)
    nights = [np.unique(np.floor(jd[g] + 0.5)).size for g in groups]
    good = [g for g, n in zip(groups, nights, strict=True) if n >= 3]
    group = good[-1] if good else max(groups, key=len)
    centre = float(np.median(jd[group]))
    for half in (SEED_HALF_WIDTH_DAYS, 3 * SEED_HALF_WIDTH_DAYS, 1e9):
        arc = group[np.abs(jd[group] - centre) <= half]
        if np.unique(np.floor(jd[arc] + 0.5)).size >= 3:
            return arc
    return group


def _triplets(arc: np.ndarray, jd: np.ndarray) -> list[tuple[int, int, int]]:
    """Observation triplets for Gauss's method: first, middle and last of the arc, then inner ones."""
    out = []
    n = arc.size
    for lo, hi in ((0, n - 1), (n // 8, n - 1 - n // 8), (n // 4, n - 1 - n // 4)):
        i1, i3 = arc[lo], arc[hi]
        if jd[i3] - jd[i1] < 0.02:
            continue
        mid = 0.5 * (jd[i1] + jd[i3])
        i2 = arc[lo + int(np.argmin(np.abs(jd[arc[lo : hi + 1]] - mid)))]
        if min(jd[i2] - jd[i1], jd[i3] - jd[i2]) > 1e-3 and (i1, i2, i3) not in out:
            out.append((i1, i2, i3))
    return out


def _initial_orbit(astro: Astrometry, arc: np.ndarray) -> tuple[float, np.ndarray, lsq.Solution]:
    """Gauss on the seed arc, then two-body correction of each root; the best one (heliocentric ICRF
    state at its own epoch)."""
    eph = _ephemeris()
    best: tuple[float, np.ndarray, lsq.Solution] | None = None
    best_rms = np.inf
    use = np.zeros(len(astro), dtype=bool)
    use[arc] = True
    for trip in _triplets(arc, astro.jd_tdb):
        idx = np.array(trip)
        helio_obs = np.stack([astro.observer_au[i] - sun_state(astro.jd_tdb[i])[0] for i in idx])
        for epoch, state in gauss(
            astro.jd_tdb[idx], astro.unit_vectors[idx], helio_obs, eph.gm[0], eph.c_au_per_day
        ):
            problem = lsq.Problem(astro, "two-body", epoch)
            try:
                sol = lsq.correct(problem, state, use, reject=True, chi2_reject=200.0, chi2_recover=150.0)
            except ValueError:
                continue
            sel = sol.selected & use
            if sel.sum() < 3:
                continue
            rms = _rms(problem.observe(sol.state, np.flatnonzero(sel)), np.ones(int(sel.sum()), dtype=bool))
            if rms < best_rms:
                best, best_rms = (epoch, sol.state, sol), rms
        if best is not None and best_rms < 2.0:
            break
    if best is None:
        raise OrbitFitError(
            f"{astro.designation}: Gauss's method found no orbit on the seed arc "
            f"({arc.size} observations over {np.ptp(astro.jd_tdb[arc]):.1f} days)"
        )
    return best


def _rms(obs: lsq.Observed, sel: np.ndarray) -> float:
    both = np.concatenate([obs.res_ra[sel], obs.res_dec[sel]]) * ARCSEC_PER_RAD
    return float(np.sqrt(np.mean(both**2))) if both.size else np.nan


def fit_orbit(
    observations: Any,
    *,
    designation: str | None = None,
    epoch: Any = None,
    model: str = "n-body",
    reject_outliers: bool = True,
    chi2_reject: float = lsq.CHI2_REJECT,
    chi2_recover: float = lsq.CHI2_RECOVER,
    debias: bool = True,
) -> OrbitFit:
    """Determine an orbit from optical observations.

    Parameters
    ----------
    observations : pandas.DataFrame, path or text
        Observations of one object (or name it with ``designation``): a table of
        :func:`~s2p.neo.read_mpc80`, :func:`~s2p.neo.read_mpc_obs_json`, :func:`~s2p.neo.read_ades` or
        :func:`~s2p.neo.read_rwo`, or a file in one of those formats.
    designation : str, optional
        The object to fit when the observations hold several.
    epoch : str, datetime or datetime64, optional
        Epoch of the result (TT/TDB). Default: 0h of the day nearest the middle of the seed arc
        (in the latest well-observed apparition).
    model : {"n-body", "two-body"}
        Dynamics of the differential correction (the initial orbit is always two-body).
    reject_outliers : bool
        Reject observations whose chi-square exceeds ``chi2_reject``; take them back below
        ``chi2_recover``.
    chi2_reject, chi2_recover : float
        Thresholds on the chi-square of an observation (RA and Dec with their a priori uncertainties).
    debias : bool
        Subtract the star-catalogue biases the observations carry (NEOCC ``.rwo``).

    Returns
    -------
    OrbitFit

    Raises
    ------
    OrbitFitError
        When the observations cannot give an orbit (too few, one night only, or no convergence).
    """
    if model not in MODELS:
        raise ValueError(f"model must be one of {MODELS}, not {model!r}")
    astro = prepare(observations, designation, debias=debias)
    nights = np.unique(np.floor(astro.jd_tdb + 0.5)).size
    if len(astro) < 4 or nights < 2:
        raise OrbitFitError(
            f"{astro.designation}: {len(astro)} usable observations on {nights} night(s); an orbit needs "
            "at least 4 observations on 2 nights"
        )
    arc = _seed_arc(astro)
    seed_epoch, seed_state, _seed = _initial_orbit(astro, arc)
    target = float(np.round(np.median(astro.jd_tdb[arc]) - 0.5) + 0.5) if epoch is None else _jd(epoch)
    # the seed's heliocentric two-body state, moved to the target epoch in the fit's model
    if model == "n-body":
        sun_p, sun_v = sun_state(seed_epoch)
        bary = seed_state + np.concatenate([sun_p, sun_v])
        states, _ = propagate_state(bary, seed_epoch, [target], model="n-body")
    else:
        states, _ = propagate_state(seed_state, seed_epoch, [target], model="two-body")
    state = states[0]
    problem = lsq.Problem(astro, model, target)
    centre = float(np.median(astro.jd_tdb[arc]))
    rejected = np.zeros(len(astro), dtype=bool)
    sol = None
    previous = -1
    for half in (*ARC_HALF_WIDTHS_DAYS, np.inf):
        use = np.abs(astro.jd_tdb - centre) <= half
        if int(use.sum()) == previous:
            continue
        previous = int(use.sum())
        # observations new to this arc start selected; earlier rejections are kept (and may recover)
        sol = lsq.correct(problem, state, use, selected=~rejected, reject=reject_outliers,
                          chi2_reject=chi2_reject, chi2_recover=chi2_recover)  # fmt: skip
        state, rejected = sol.state, use & ~sol.selected
    assert sol is not None
    return _result(astro, problem.observe(sol.state), sol, model, target)


def _result(astro: Astrometry, obs: lsq.Observed, sol: lsq.Solution, model: str, epoch_jd: float) -> OrbitFit:
    state = sol.state.copy()
    cov = sol.covariance
    if model == "n-body":  # barycentric -> heliocentric at the epoch (the Sun's state is fixed)
        sun_p, sun_v = sun_state(epoch_jd)
        state = state - np.concatenate([sun_p, sun_v])
    rot = np.zeros((6, 6))
    rot[:3, :3] = rot[3:, 3:] = ECL_FROM_EQ
    ecl = rot @ state
    ecl_cov = rot @ cov @ rot.T
    el = _elements(ecl)
    jac = np.empty((6, 6))
    for j in range(6):
        h = 1e-7 * (np.linalg.norm(ecl[:3]) if j < 3 else np.linalg.norm(ecl[3:]))
        d = np.zeros(6)
        d[j] = h
        plus, minus = _elements(ecl + d), _elements(ecl - d)
        diff = plus - minus
        diff[2:] = (diff[2:] + 180.0) % 360.0 - 180.0  # angles across 0/360
        jac[:, j] = diff / (2.0 * h)
    el_cov = jac @ ecl_cov @ jac.T
    sel = sol.selected
    chi2 = obs.chi2(astro)
    dof = max(2 * int(sel.sum()) - 6, 1)
    residuals = pd.DataFrame(
        {
            "time": astro.time,
            "obscode": astro.obscode,
            "ra_deg": astro.ra_deg,
            "dec_deg": astro.dec_deg,
            "ra_resid_arcsec": obs.res_ra * ARCSEC_PER_RAD,
            "dec_resid_arcsec": obs.res_dec * ARCSEC_PER_RAD,
            "ra_sigma_arcsec": astro.sigma_ra_arcsec,
            "dec_sigma_arcsec": astro.sigma_dec_arcsec,
            "chi2": chi2,
            "selected": sel,
            "distance_au": obs.distance_au,
        }
    )
    return OrbitFit(
        designation=astro.designation,
        epoch=_datetime(epoch_jd),
        model=model,
        elements={k: float(v) for k, v in zip(ELEMENTS, el, strict=True)},
        element_covariance=el_cov,
        state=ecl,
        state_covariance=ecl_cov,
        residuals=residuals,
        left_out=astro.left_out,
        rms_arcsec=_rms(obs, sel),
        normalised_rms=float(np.sqrt(chi2[sel].sum() / dof)),
        iterations=sol.iterations,
        converged=sol.converged,
    )


def _elements(ecl_state: np.ndarray) -> np.ndarray:
    el = state_to_elements(ecl_state[None, :3], ecl_state[None, 3:], GM_SUN_AU3_D2)
    return np.array([float(el[k][0]) for k in ELEMENTS])


def state_from_elements(orbit: Orbits) -> np.ndarray:
    """Heliocentric ICRF state [au, au/day] of the first (elliptic) orbit of ``orbit`` at its epoch."""
    from s2p.neo._kernels import kepler_elliptic

    a, e = float(orbit.a_au[0]), float(orbit.e[0])
    if not 0.0 <= e < 1.0:
        raise ValueError(f"{orbit.designation[0]}: elliptic elements expected, e = {e}")
    p, q = orbit.perifocal()
    big_e = kepler_elliptic(np.radians(orbit.m_deg[0]), e)
    b = a * np.sqrt(1.0 - e * e)
    edot = np.sqrt(orbit.gm / a**3) / (1.0 - e * np.cos(big_e))
    r = a * (np.cos(big_e) - e) * p[0] + b * np.sin(big_e) * q[0]
    v = -a * np.sin(big_e) * edot * p[0] + b * np.cos(big_e) * edot * q[0]
    return np.concatenate([EQ_FROM_ECL @ r, EQ_FROM_ECL @ v])
