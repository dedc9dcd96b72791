"""Initial orbit from three optical observations: Gauss's method.

With the observer's heliocentric positions ``R1, R2, R3`` and the observed directions ``L1, L2, L3`` at
``t1 < t2 < t3``, Gauss's method writes the middle position as ``r2 = R2 + rho2 L2`` and the outer
ones through the Lagrange coefficients ``f, g`` truncated after the ``1/r2^3`` term; eliminating the
distances leaves an eighth-degree polynomial in ``|r2|`` (Curtis, *Orbital Mechanics for Engineering
Students*, algorithm 5.5). Each positive real root gives a candidate orbit; the caller picks the one
the observations like best. The light time is removed from each epoch with the root's distances.

The truncated series make the method good for arcs of a few days to a few weeks; the differential
correction of :mod:`s2p.neo.orbit_determination` does the rest.
"""

from __future__ import annotations

import numpy as np


def gauss(
    jd: np.ndarray, directions: np.ndarray, observer_helio: np.ndarray, mu: float, c_au_per_day: float
) -> list[tuple[float, np.ndarray]]:
    """Candidate heliocentric states at the middle observation from three observations.

    Parameters
    ----------
    jd : ndarray, shape (3,)
        Observation times, TDB Julian dates, increasing.
    directions : ndarray, shape (3, 3)
        Observed unit vectors (ICRF).
    observer_helio : ndarray, shape (3, 3)
        Heliocentric observer positions (ICRF) [au].
    mu : float
        GM of the Sun [au^3/day^2].
    c_au_per_day : float
        Speed of light [au/day].

    Returns
    -------
    list of (epoch_jd_tdb, state)
        One per admissible root: the emission time of the middle observation and the heliocentric
        position [au] and velocity [au/day] there; empty when no root gives a body beyond the
        observer.
    """
    l1, l2, l3 = directions
    r1_obs, r2_obs, r3_obs = observer_helio
    tau1 = jd[0] - jd[1]
    tau3 = jd[2] - jd[1]
    tau = tau3 - tau1
    p1 = np.cross(l2, l3)
    p2 = np.cross(l1, l3)
    p3 = np.cross(l1, l2)
    d0 = float(l1 @ p1)
    if abs(d0) < 1e-14:
        return []  # coplanar directions: the three observations do not fix a distance
    d = np.array([[r @ p for p in (p1, p2, p3)] for r in (r1_obs, r2_obs, r3_obs)])
    a_coef = (-d[0, 1] * tau3 / tau + d[1, 1] + d[2, 1] * tau1 / tau) / d0
    b_coef = (d[0, 1] * (tau3**2 - tau**2) * tau3 / tau + d[2, 1] * (tau**2 - tau1**2) * tau1 / tau) / (
        6.0 * d0
    )
    e = float(r2_obs @ l2)
    r2sq = float(r2_obs @ r2_obs)
    a = -(a_coef**2 + 2.0 * a_coef * e + r2sq)
    b = -2.0 * mu * b_coef * (a_coef + e)
    c = -(mu**2) * b_coef**2
    roots = np.roots([1.0, 0.0, a, 0.0, 0.0, b, 0.0, 0.0, c])
    out = []
    for root in roots:
        if abs(root.imag) > 1e-9 * max(1.0, abs(root.real)) or root.real <= 0.0:
            continue
        r2 = float(root.real)
        r23 = r2**3
        rho1 = (
            (
                6.0 * (d[2, 0] * tau1 / tau3 + d[1, 0] * tau / tau3) * r23
                + mu * d[2, 0] * (tau**2 - tau1**2) * tau1 / tau3
            )
            / (6.0 * r23 + mu * (tau**2 - tau3**2))
            - d[0, 0]
        ) / d0
        rho2 = a_coef + mu * b_coef / r23
        rho3 = (
            (
                6.0 * (d[0, 2] * tau3 / tau1 - d[1, 2] * tau / tau1) * r23
                + mu * d[0, 2] * (tau**2 - tau3**2) * tau3 / tau1
            )
            / (6.0 * r23 + mu * (tau**2 - tau1**2))
            - d[2, 2]
        ) / d0
        if min(rho1, rho2, rho3) <= 0.0:
            continue
        pos1 = r1_obs + rho1 * l1
        pos2 = r2_obs + rho2 * l2
        pos3 = r3_obs + rho3 * l3
        # times of emission, and the Lagrange coefficients over the light-time corrected intervals
        t1 = jd[0] - rho1 / c_au_per_day
        t2 = jd[1] - rho2 / c_au_per_day
        t3 = jd[2] - rho3 / c_au_per_day
        s1, s3 = t1 - t2, t3 - t2
        f1 = 1.0 - 0.5 * mu * s1**2 / r23
        f3 = 1.0 - 0.5 * mu * s3**2 / r23
        g1 = s1 - mu * s1**3 / (6.0 * r23)
        g3 = s3 - mu * s3**3 / (6.0 * r23)
        den = f1 * g3 - f3 * g1
        if den == 0.0:
            continue
        vel2 = (-f3 * pos1 + f1 * pos3) / den
        out.append((t2, np.concatenate([pos2, vel2])))
    return out
