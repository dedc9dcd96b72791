"""The differential correction of :func:`s2p.neo.fit_orbit`: computed positions with light time,
partials through the state transition matrix, weighted least squares, outlier rejection.

The fitted parameters are the six components of a state at a fixed epoch, in ICRF axes: heliocentric
for the two-body model, barycentric for the n-body model. Residuals are ``observed - computed`` of
``ra * cos(dec)`` and ``dec`` in radians inside, arcseconds outside.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from s2p.neo.astrometry import ARCSEC_PER_RAD, Astrometry
from s2p.neo.dynamics import _ephemeris, propagate_state

#: Outlier rejection thresholds on an observation's chi-square (RA and Dec, 2 degrees of freedom):
#: an observation is rejected above ``CHI2_REJECT`` and taken back below ``CHI2_RECOVER`` (Carpino,
#: Milani & Chesley 2003, Icarus 166, 248).
CHI2_REJECT = 8.0
CHI2_RECOVER = 7.0
#: The correction has converged when its step is below this fraction of the state's uncertainty.
CONVERGED_STEP = 1e-3


@dataclasses.dataclass
class Observed:
    """Residuals and partials of a state against a set of observations."""

    res_ra: np.ndarray  # [rad], times cos(dec)
    res_dec: np.ndarray  # [rad]
    part_ra: np.ndarray  # (N, 6)
    part_dec: np.ndarray  # (N, 6)
    distance_au: np.ndarray  # observer - object
    tau: np.ndarray  # light time [day]

    def chi2(self, astro: Astrometry) -> np.ndarray:
        """Per-observation chi-square with the a priori uncertainties."""
        sr = astro.sigma_ra_arcsec / ARCSEC_PER_RAD
        sd = astro.sigma_dec_arcsec / ARCSEC_PER_RAD
        return (self.res_ra / sr) ** 2 + (self.res_dec / sd) ** 2


class Problem:
    """Observations of one object, with what is fixed for a model and an epoch.

    Parameters
    ----------
    astro : Astrometry
    model : {"two-body", "n-body"}
    epoch_jd : float
        Epoch of the fitted state, TDB Julian date.
    """

    def __init__(self, astro: Astrometry, model: str, epoch_jd: float):
        from s2p.neo.planets import sun_earth_barycentric

        self.astro = astro
        self.model = model
        self.epoch_jd = float(epoch_jd)
        eph = _ephemeris()
        self.c = eph.c_au_per_day
        self.gm_sun = float(eph.gm[0])
        whole = np.floor(astro.jd_tdb - 0.5) + 0.5
        s = sun_earth_barycentric(whole, astro.jd_tdb - whole)
        self.sun_p = s["sun_p"]
        self.sun_v = s["sun_v"]
        self.tau = np.zeros(len(astro))

    def observe(self, state: np.ndarray, idx: np.ndarray | None = None) -> Observed:
        """Residuals and partials of ``state`` for the observations ``idx`` (all by default)."""
        a = self.astro
        sel = np.arange(len(a)) if idx is None else np.asarray(idx)
        tau = self.tau[sel]
        states, stm = propagate_state(
            state, self.epoch_jd, a.jd_tdb[sel] - tau, model=self.model, gm=self.gm_sun
        )
        obs = a.observer_au[sel]
        if self.model == "two-body":
            # heliocentric: the observer seen from the Sun at the emission time
            obs = obs - self.sun_p[sel] + tau[:, None] * self.sun_v[sel]
        r = states[:, :3]
        v = states[:, 3:]
        rho = r - obs
        dist = np.linalg.norm(rho, axis=1)
        new_tau = dist / self.c
        # the state was taken at t - tau; move it to t - new_tau along the velocity (|d tau| is tiny
        # once the orbit has converged; the next call starts from new_tau)
        rho = rho - (new_tau - tau)[:, None] * v
        dist = np.linalg.norm(rho, axis=1)
        self.tau[sel] = dist / self.c
        ra = np.arctan2(rho[:, 1], rho[:, 0])
        dec = np.arcsin(np.clip(rho[:, 2] / dist, -1.0, 1.0))
        ra_o = np.radians(a.ra_deg[sel])
        dec_o = np.radians(a.dec_deg[sel])
        dra = (ra_o - ra + np.pi) % (2.0 * np.pi) - np.pi
        res_ra = dra * np.cos(dec_o)
        res_dec = dec_o - dec
        sa, ca = np.sin(ra), np.cos(ra)
        sd, cd = np.sin(dec), np.cos(dec)
        d_ra = np.stack([-sa, ca, np.zeros_like(sa)], axis=1) / dist[:, None]
        d_dec = np.stack([-sd * ca, -sd * sa, cd], axis=1) / dist[:, None]
        pos_part = stm[:, :3, :]  # d position / d state(epoch)
        part_ra = np.einsum("nk,nkj->nj", d_ra, pos_part)
        part_dec = np.einsum("nk,nkj->nj", d_dec, pos_part)
        return Observed(res_ra, res_dec, part_ra, part_dec, dist, self.tau[sel].copy())


@dataclasses.dataclass
class Solution:
    state: np.ndarray
    covariance: np.ndarray  # of the state [au, au/day]
    selected: np.ndarray  # boolean over all observations
    iterations: int
    converged: bool


def _normal(obs: Observed, astro: Astrometry, sel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weighted design matrix and right-hand side of the selected observations."""
    wr = ARCSEC_PER_RAD / astro.sigma_ra_arcsec[sel]
    wd = ARCSEC_PER_RAD / astro.sigma_dec_arcsec[sel]
    design = np.vstack([obs.part_ra[sel] * wr[:, None], obs.part_dec[sel] * wd[:, None]])
    rhs = np.concatenate([obs.res_ra[sel] * wr, obs.res_dec[sel] * wd])
    return design, rhs


def _solve(design: np.ndarray, rhs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares correction and covariance; columns scaled to unit norm for the conditioning."""
    scale = np.linalg.norm(design, axis=0)
    scale[scale == 0.0] = 1.0
    ds = design / scale
    dx, *_ = np.linalg.lstsq(ds, rhs, rcond=1e-14)
    cov_s = np.linalg.pinv(ds.T @ ds, rcond=1e-15, hermitian=True)
    return dx / scale, cov_s / np.outer(scale, scale)


def correct(
    problem: Problem,
    state: np.ndarray,
    use: np.ndarray,
    *,
    selected: np.ndarray | None = None,
    reject: bool,
    chi2_reject: float = CHI2_REJECT,
    chi2_recover: float = CHI2_RECOVER,
    max_iterations: int = 25,
) -> Solution:
    """Differential correction of ``state`` on the observations ``use`` (boolean), with outlier
    rejection among them when ``reject``; observations outside ``use`` are neither fitted nor judged.
    ``selected`` (boolean, default all) is the starting selection within ``use``.

    Each round iterates Gauss-Newton steps (halved while they make the fit worse) until the step is
    below 1e-4 of the state's uncertainty, then rejects and recovers observations by their chi-square
    and starts again while the selection changes (at most 10 rounds).
    """
    idx = np.flatnonzero(use)
    astro = problem.astro.subset(idx)
    sub = np.ones(idx.size, dtype=bool) if selected is None else np.asarray(selected)[idx].copy()
    x = np.asarray(state, dtype=float).copy()
    iterations = 0
    converged = False
    cov = np.full((6, 6), np.nan)
    for _round in range(10):
        obs = problem.observe(x, idx)
        chi2 = float(obs.chi2(astro)[sub].sum())
        converged = False
        for _ in range(max_iterations):
            iterations += 1
            design, rhs = _normal(obs, astro, sub)
            dx, cov = _solve(design, rhs)
            # size of the step in units of the state's uncertainty (Mahalanobis norm)
            if float(dx @ (design.T @ design) @ dx) < CONVERGED_STEP**2:
                x = x + dx
                converged = True
                break
            step = 1.0
            trial_obs = None
            for _halving in range(8):  # Gauss-Newton step, halved while it makes the fit worse
                try:
                    trial_obs = problem.observe(x + step * dx, idx)
                except ValueError:  # the trial orbit hit a planet or left the ephemeris
                    trial_obs = None
                if trial_obs is not None and float(trial_obs.chi2(astro)[sub].sum()) <= chi2 * (1.0 + 1e-6):
                    break
                step *= 0.5
            if trial_obs is None:
                break
            x, obs = x + step * dx, trial_obs
            new_chi2 = float(obs.chi2(astro)[sub].sum())
            if abs(chi2 - new_chi2) <= 1e-9 * chi2:
                converged = True
                break
            chi2 = new_chi2
        if not reject:
            break
        all_chi2 = obs.chi2(astro)
        new = np.where(sub, all_chi2 <= chi2_reject, all_chi2 < chi2_recover)
        if new.sum() < 4:  # keep a determinate problem: never reject down to fewer than 4 observations
            break
        if np.array_equal(new, sub):
            break
        sub = new
    chosen = np.zeros(len(problem.astro), dtype=bool)
    chosen[idx] = sub
    return Solution(x, cov, chosen, iterations, converged)
