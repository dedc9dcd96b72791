"""Two-dimensional collision probability (Pc) of a conjunction described by a CDM.

The short-encounter ("2D") model: at TCA the two objects move on straight lines during the few
seconds that matter, so the relative position error only matters in the *encounter plane* normal
to the relative velocity. There the combined position covariance ``C = C1 + C2`` (objects'
errors independent) defines a 2-D Gaussian, and Pc is its integral over the disc of the combined
hard-body radius (HBR) centred on the miss vector.

Steps (the same as NASA CARA's ``PcCircle.m``, which produced the reference values used in the
tests):

1. each object's 3×3 RTN position covariance is rotated into the inertial axes of its state
   vector: ``C_xyz = M C_rtn Mᵀ`` with ``M = [R̂ T̂ N̂]``, ``R̂ = r/|r|``, ``N̂ = r×v/|r×v|``,
   ``T̂ = N̂×R̂``;
2. relative state ``r = r2 − r1``, ``v = v2 − v1``; encounter frame ``ŷ = v/|v|``,
   ``ẑ = r×v/|r×v|``, ``x̂ = ŷ×ẑ``; the plane coordinates are (x, z), the miss vector is
   ``(r·x̂, r·ẑ)``;
3. ``C_2d = [x̂ ẑ]ᵀ C [x̂ ẑ]``, then Pc by the chosen method.

States given in ``ITRF`` are turned into an inertial-axes state at the same instant with
``v_inertial = v_itrf + ω⊕ × r`` (ω⊕ = 7.292115e-5 rad/s about the ITRF z axis; polar motion is
neglected: a few 1e-6 rad, far below covariance knowledge). The RTN frame is defined with respect
to the inertial velocity, so this matters (≈ 3.5° in T/N for LEO).
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np

from s2p.debris.cdm import CDM, CDMObject

__all__ = ["collision_probability", "encounter_plane", "pc_2d"]

OMEGA_EARTH_RAD_S = 7.292115e-5
_SQRT2 = math.sqrt(2.0)

# Relative error goal of the Foster quadrature (see ``_pc_foster``).
FOSTER_REL_TOL = 1e-11


def _inertial_state(obj: CDMObject) -> tuple[np.ndarray, np.ndarray]:
    """Position [m] and velocity [m/s] in inertial axes (see the module docstring for ITRF)."""
    r = obj.position_km * 1e3
    v = obj.velocity_kms * 1e3
    frame = obj.ref_frame.upper()
    if frame in {"ITRF", "ITRF93", "ITRF97", "ITRF2000", "ITRF-93", "ITRF-97", "ECEF"}:
        v = v + np.cross([0.0, 0.0, OMEGA_EARTH_RAD_S], r)
    elif frame not in {"EME2000", "GCRF", "ICRF", "TEME", "TOD", "MOD", "J2000"}:
        raise ValueError(f"{obj.object}: REF_FRAME {obj.ref_frame!r} is not supported for Pc")
    return r, v


def _rtn_to_xyz(r: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Matrix whose columns are R̂, T̂, N̂ expressed in the state's axes."""
    rhat = r / np.linalg.norm(r)
    h = np.cross(r, v)
    nhat = h / np.linalg.norm(h)
    that = np.cross(nhat, rhat)
    return np.column_stack([rhat, that, nhat])


def encounter_plane(cdm: CDM) -> tuple[np.ndarray, np.ndarray, float]:
    """Project a conjunction onto its encounter plane.

    Parameters
    ----------
    cdm : CDM

    Returns
    -------
    miss_m : ndarray, shape (2,)
        Miss vector (x, z) in the encounter plane [m]; z is 0 by construction.
    cov_m2 : ndarray, shape (2, 2)
        Combined position covariance in the plane [m**2].
    rel_speed_ms : float
        Relative speed at TCA [m/s].
    """
    covs = []
    states = []
    for obj in (cdm.object1, cdm.object2):
        r, v = _inertial_state(obj)
        m = _rtn_to_xyz(r, v)
        covs.append(m @ obj.position_covariance_rtn_m2 @ m.T)
        states.append((r, v))
    rel_r = states[1][0] - states[0][0]
    rel_v = states[1][1] - states[0][1]
    speed = float(np.linalg.norm(rel_v))
    yhat = rel_v / speed
    h = np.cross(rel_r, rel_v)
    hn = np.linalg.norm(h)
    if hn == 0.0:  # miss vector parallel to the velocity: any normal will do for the plane
        h = np.cross(yhat, [1.0, 0.0, 0.0] if abs(yhat[0]) < 0.9 else [0.0, 1.0, 0.0])
        hn = np.linalg.norm(h)
    zhat = h / hn
    xhat = np.cross(yhat, zhat)
    proj = np.vstack([xhat, zhat])
    cov = proj @ (covs[0] + covs[1]) @ proj.T
    cov = 0.5 * (cov + cov.T)
    return proj @ rel_r, cov, speed


def _phi_diff(a: float, b: float) -> float:
    """Φ(a) − Φ(b) for a ≥ b without cancellation in either tail."""
    if b > 0.0:
        return 0.5 * (math.erfc(b / _SQRT2) - math.erfc(a / _SQRT2))
    if a < 0.0:
        return 0.5 * (math.erfc(-a / _SQRT2) - math.erfc(-b / _SQRT2))
    return 1.0 - 0.5 * math.erfc(a / _SQRT2) - 0.5 * math.erfc(-b / _SQRT2)


def _principal(miss: np.ndarray, cov: np.ndarray) -> tuple[float, float, float, float]:
    """Miss vector and standard deviations in the covariance's principal axes (major first)."""
    w, vecs = np.linalg.eigh(cov)
    if w[0] <= 0.0:
        raise ValueError(f"encounter-plane covariance is not positive definite (eigenvalues {w})")
    # eigh sorts ascending: put the major axis first, it becomes the outer (quadrature) variable.
    sx, sz = math.sqrt(w[1]), math.sqrt(w[0])
    x0 = float(vecs[:, 1] @ miss)
    z0 = float(vecs[:, 0] @ miss)
    return x0, z0, sx, sz


def _pc_foster(x0: float, z0: float, sx: float, sz: float, hbr: float) -> float:
    """Foster's 2D Pc: the Gaussian's integral over the HBR disc, as a 1-D integral.

    The inner integral across the disc along the minor axis is exact (normal CDF differences);
    the outer one along the major axis uses ``x = x0 + R sinθ``, which removes the square-root
    end-point singularities of the chord length ``h = R cosθ`` and leaves a smooth integrand on
    θ ∈ [−π/2, π/2]. That is integrated with QUADPACK's adaptive 21-point Gauss–Kronrod rule
    (``scipy.integrate.quad``, QAGS) to a relative tolerance of ``FOSTER_REL_TOL`` (1e-11), with a
    break point where the Gaussian peaks inside the disc. QUADPACK's own error estimate is
    checked, so the returned value carries at most ~1e-10 relative quadrature error — far below
    the 1e-3..1e-2 that covariance realism allows.
    """

    def f(theta: float) -> float:
        c = math.cos(theta)
        x = x0 + hbr * math.sin(theta)
        h = hbr * c
        gauss = math.exp(-0.5 * (x / sx) ** 2) / (sx * math.sqrt(2.0 * math.pi))
        return hbr * c * gauss * _phi_diff((z0 + h) / sz, (z0 - h) / sz)

    from scipy import integrate  # here, not at import: scipy.integrate costs ~1 s of every kernel's start

    points = None
    if abs(x0) < hbr:
        points = [math.asin(-x0 / hbr)]
    value, err = integrate.quad(
        f, -0.5 * math.pi, 0.5 * math.pi, epsabs=0.0, epsrel=FOSTER_REL_TOL, limit=500, points=points
    )
    if value > 0.0 and err > 1e-8 * value:
        raise ArithmeticError(f"Foster quadrature did not converge: {value} ± {err}")
    return float(min(max(value, 0.0), 1.0))


def _pc_chan(x0: float, z0: float, sx: float, sz: float, hbr: float) -> float:
    """Chan's (1997, 2008) series: the disc replaced by the equal-area... in the isotropic space.

    With ``u = R²/(σx σz)`` and ``v = x0²/σx² + z0²/σz²``,
    ``Pc = e^(−v/2) Σ_k (v/2)^k/k! · [1 − e^(−u/2) Σ_{m≤k} (u/2)^m/m!]``. The series is summed until
    its terms no longer change the sum at double precision. It is an approximation (exact for an
    isotropic covariance); it departs from Foster when the disc is large against σz.
    """
    u = hbr * hbr / (sx * sz)
    v = (x0 / sx) ** 2 + (z0 / sz) ** 2
    half_u, half_v = 0.5 * u, 0.5 * v
    total = 0.0
    term_v = math.exp(-half_v)  # e^(−v/2) (v/2)^k / k!
    term_u = math.exp(-half_u)  # e^(−u/2) (u/2)^m / m!
    partial_u = term_u
    for k in range(2000):
        if k > 0:
            term_v *= half_v / k
            term_u *= half_u / k
            partial_u += term_u
        contribution = term_v * max(1.0 - partial_u, 0.0)
        total += contribution
        if k > half_v and contribution <= 1e-17 * total:
            break
    return float(min(total, 1.0))


_METHODS = {"foster": _pc_foster, "chan": _pc_chan}


def pc_2d(
    miss_m: np.ndarray, cov_m2: np.ndarray, hbr_m: float, method: Literal["foster", "chan"] = "foster"
) -> float:
    """2D collision probability from an encounter-plane miss vector and covariance.

    Parameters
    ----------
    miss_m : array_like, shape (2,)
        Miss vector in the encounter plane [m].
    cov_m2 : array_like, shape (2, 2)
        Combined position covariance in the plane [m**2], positive definite.
    hbr_m : float
        Combined hard-body radius [m].
    method : {"foster", "chan"}

    Returns
    -------
    float
        Probability in [0, 1].
    """
    if method not in _METHODS:
        raise ValueError(f"method must be one of {sorted(_METHODS)}, not {method!r}")
    if not hbr_m > 0.0:
        raise ValueError(f"hbr_m must be positive, got {hbr_m}")
    x0, z0, sx, sz = _principal(np.asarray(miss_m, float), np.asarray(cov_m2, float))
    return _METHODS[method](x0, z0, sx, sz, float(hbr_m))


def collision_probability(
    cdm: CDM, method: Literal["foster", "chan"] = "foster", *, hbr_m: float | None = None
) -> float:
    """Collision probability of a conjunction (2D, short-encounter model).

    Parameters
    ----------
    cdm : CDM
        As returned by :func:`s2p.debris.read_cdm`; uses both objects' states and RTN position
        covariances at TCA.
    method : {"foster", "chan"}
        ``"foster"``: numerical integral of the encounter-plane Gaussian over the hard-body disc
        (reference method, relative quadrature error ≲ 1e-10); ``"chan"``: Chan's analytic series
        (approximation, fast).
    hbr_m : float, optional
        Combined hard-body radius [m]. Defaults to the CDM's (``cdm.hbr_m``).

    Returns
    -------
    float
        Pc in [0, 1].

    Raises
    ------
    ValueError
        When neither the CDM nor ``hbr_m`` gives a hard-body radius, or the covariance is not
        positive definite in the encounter plane.
    """
    hbr = cdm.hbr_m if hbr_m is None else hbr_m
    if hbr is None:
        raise ValueError(
            f"{cdm.source}: the CDM gives no hard-body radius (no HBR key or comment); pass hbr_m=<metres>"
        )
    miss, cov, _ = encounter_plane(cdm)
    return pc_2d(miss, cov, hbr, method)
