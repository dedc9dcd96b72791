"""Numba kernels of :mod:`s2p.neo`: Kepler's equation, two-body positions, ephemerides (the MOID kernels
are in :mod:`s2p.neo._moid_kernels`).

No validation here (the public layer in ``propagation.py`` / ``moid.py`` checks and converts); every
kernel works on flat float64 arrays in au, radians and days. Kernels are compiled with ``cache=True``.

Orbit representation used by every kernel: perihelion distance ``q`` [au], eccentricity ``e``, the
perifocal unit vectors ``P`` (towards perihelion) and ``Q`` (90 degrees ahead in the orbital plane),
the mean anomaly ``m0`` [rad] at the epoch and the (generalised) mean motion ``n`` [rad/day]:
``n = sqrt(mu/|a|^3)`` for ``e != 1`` and ``sqrt(mu/(2 q^3))`` for the exact parabola, where the "mean
anomaly" is then Barker's ``M = n (t - tp)``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numba import njit, prange

TWO_PI = 2.0 * math.pi
HALF_PI = 0.5 * math.pi
HALF_PI_HI = 1.5707963267341256  # pi/2 split so that q * HALF_PI_HI is exact for |q| < 2^20
HALF_PI_LO = 6.077100506506192e-11


# --------------------------------------------------------------------------------------------------
# Kepler's equation
# --------------------------------------------------------------------------------------------------
@njit(cache=True, fastmath=False)
def _e_minus_sin_e(e: float, x: float) -> float:
    """``x - e sin x`` without cancellation for ``e`` near 1 and small ``x``.

    ``(1 - e) x + e (x - sin x)``, with ``x - sin x`` from its Taylor series below ``|x| < 0.6``: that is
    where the direct form loses digits in the near-parabolic case.
    """
    if abs(x) >= 0.6:
        return x - e * math.sin(x)
    x2 = x * x
    term = x * x2 / 6.0
    s = term
    k = 3.0
    while abs(term) > 1e-17 * abs(s) and k < 60.0:
        term *= -x2 / ((k + 1.0) * (k + 2.0))
        s += term
        k += 2.0
    return (1.0 - e) * x + e * s


@njit(cache=True, fastmath=False)
def _sinh_minus_x(e: float, x: float) -> float:
    """``e sinh x - x`` without cancellation for ``e`` near 1 and small ``x``."""
    if abs(x) >= 0.6:
        return e * math.sinh(x) - x
    x2 = x * x
    term = x * x2 / 6.0
    s = term
    k = 3.0
    while abs(term) > 1e-17 * abs(s) and k < 60.0:
        term *= x2 / ((k + 1.0) * (k + 2.0))
        s += term
        k += 2.0
    return (e - 1.0) * x + e * s


@njit(cache=True)
def kepler_elliptic(m: float, e: float) -> float:
    """Eccentric anomaly E [rad] from mean anomaly ``m`` [rad], ``0 <= e < 1``; E in (-pi, pi]."""
    # reduce to (-pi, pi]: the starter and the series below assume it
    m = np.fmod(m, TWO_PI)
    if m > math.pi:
        m -= TWO_PI
    elif m <= -math.pi:
        m += TWO_PI
    if e == 0.0:
        return m
    # Starter: for small |m| and e near 1 the cubic term dominates (M ~ (1-e)E + eE^3/6), which Danby's
    # E0 = M + 0.85 e sign(M) overshoots by a lot; take whichever of the two is closer.
    sgn = 1.0 if m >= 0.0 else -1.0
    x = m + 0.85 * e * sgn
    if abs(m) < 0.5 and e > 0.8:
        cub = sgn * (6.0 * abs(m) / e) ** (1.0 / 3.0)
        if abs(cub) < abs(x):
            x = cub
    # Halley/Newton with a bracket: f is monotonic in E, so a bisection safeguard never fails.
    lo = -math.pi
    hi = math.pi
    for _ in range(60):
        s = math.sin(x)
        c = math.cos(x)
        f = _e_minus_sin_e(e, x) - m
        if f > 0.0:
            hi = x
        else:
            lo = x
        fp = 1.0 - e * c
        fpp = e * s
        dx = -f / fp
        dx = -f / (fp + 0.5 * dx * fpp)
        xn = x + dx
        if xn <= lo or xn >= hi:
            xn = 0.5 * (lo + hi)
        if abs(xn - x) <= 4e-16 * max(1.0, abs(xn)):
            return xn
        x = xn
    return x


@njit(cache=True)
def kepler_hyperbolic(m: float, e: float) -> float:
    """Hyperbolic anomaly H from the hyperbolic mean anomaly ``m = e sinh H - H``, ``e > 1``."""
    sgn = 1.0 if m >= 0.0 else -1.0
    am = abs(m)
    # starter: asinh for large M, cube root of the series where the cubic term dominates
    if am > 6.0 * (e - 1.0):
        x = math.log(2.0 * am / e + 1.8)
        if am < 1.0:
            x = min(x, (6.0 * am / e) ** (1.0 / 3.0))
    else:
        x = am / (e - 1.0)
    for _ in range(80):
        f = _sinh_minus_x(e, x) - am
        ch = math.cosh(x)
        fp = e * ch - 1.0
        dx = -f / fp
        dx = -f / (fp + 0.5 * dx * e * math.sinh(x))
        xn = x + dx
        if xn < 0.0:
            xn = 0.5 * x
        if abs(xn - x) <= 4e-16 * max(1.0, abs(xn)):
            return sgn * xn
        x = xn
    return sgn * x


@njit(cache=True)
def kepler_parabolic(m: float) -> float:
    """``D = tan(nu/2)`` from Barker's equation ``D + D^3/3 = m``, ``m = sqrt(mu/(2 q^3)) (t - tp)`` (Cardano)."""
    w = 1.5 * m
    y = (w + math.sqrt(w * w + 1.0)) ** (1.0 / 3.0)
    return y - 1.0 / y


@njit(cache=True)
def position_pqe(q: float, e: float, m: float) -> tuple[float, float]:
    """Perifocal coordinates (x along P, y along Q) [au] at (generalised) mean anomaly ``m``."""
    if e < 1.0:
        a = q / (1.0 - e)
        big_e = kepler_elliptic(m, e)
        s = math.sin(0.5 * big_e)
        # a (cos E - e) = q - a (1 - cos E) = q - 2 a sin^2(E/2): exact also for e -> 1
        x = q - 2.0 * a * s * s
        y = math.sqrt(q * a * (1.0 + e)) * math.sin(big_e)
        return x, y
    if e > 1.0:
        a = q / (e - 1.0)  # |a|
        h = kepler_hyperbolic(m, e)
        sh = math.sinh(0.5 * h)
        # |a| (e - cosh H) = q - 2 |a| sinh^2(H/2)
        x = q - 2.0 * a * sh * sh
        y = math.sqrt(q * a * (e + 1.0)) * math.sinh(h)
        return x, y
    d = kepler_parabolic(m)
    return q * (1.0 - d * d), 2.0 * q * d


@njit(cache=True, parallel=True)
def propagate_kernel(
    q: np.ndarray,
    e: np.ndarray,
    p_vec: np.ndarray,
    q_vec: np.ndarray,
    m0: np.ndarray,
    n: np.ndarray,
    dt: np.ndarray,
    out: np.ndarray,
) -> None:
    """Positions ``out[k, j, :]`` [au] of orbit k at ``dt[k, j]`` days after its epoch."""
    nobj, ntime = dt.shape
    for k in prange(nobj):
        for j in range(ntime):
            x, y = position_pqe(q[k], e[k], m0[k] + n[k] * dt[k, j])
            for c in range(3):
                out[k, j, c] = x * p_vec[k, c] + y * q_vec[k, c]


# Taylor coefficients of sin(d)/d and cos(d) in d^2, highest first (Horner); |d| <= 1 gives < 1e-17
_SIN_COEF = (1.0 / 355687428096000.0, -1.0 / 1307674368000.0, 1.0 / 6227020800.0, -1.0 / 39916800.0,
             1.0 / 362880.0, -1.0 / 5040.0, 1.0 / 120.0, -1.0 / 6.0, 1.0)  # fmt: skip
_COS_COEF = (1.0 / 20922789888000.0, -1.0 / 87178291200.0, 1.0 / 479001600.0, -1.0 / 3628800.0,
             1.0 / 40320.0, -1.0 / 720.0, 1.0 / 24.0, -0.5, 1.0)  # fmt: skip


@njit(cache=True, inline="always")
def _sincos_small(d: float) -> tuple[float, float]:
    """sin and cos of ``|d| <= 1`` by Taylor polynomials (terms to d^17 / d^18: error < 1e-17)."""
    d2 = d * d
    s = 0.0
    c = 0.0
    for k in range(9):  # unrolled by LLVM: the tuples are compile-time constants
        s = s * d2 + _SIN_COEF[k]
        c = c * d2 + _COS_COEF[k]
    return d * s, c


@njit(cache=True, inline="always")
def _sincos(u: float) -> tuple[float, float]:
    """sin and cos of any angle [rad] without libm: reduction to |r| <= pi/4 by quadrant (two-part
    pi/2), then the polynomials above; < 2e-16 absolute error for |u| < 1e5. The quadrant is applied
    by selects, not branches (a branch per quadrant was mispredicted half the time in the MOID loops)."""
    qf = np.floor(u * (1.0 / HALF_PI) + 0.5)  # a product, not a division: |r| may exceed pi/4 by an ulp
    r = (u - qf * HALF_PI_HI) - qf * HALF_PI_LO
    sr, cr = _sincos_small(r)
    quad = qf - 4.0 * np.floor(0.25 * qf)  # 0..3, as a float
    odd = (quad == 1.0) | (quad == 3.0)
    s = cr if odd else sr
    c = sr if odd else cr
    s = -s if quad >= 2.0 else s
    c = -c if (quad == 1.0) | (quad == 2.0) else c
    return s, c


@njit(cache=True, inline="always")
def _kepler_rotating(mk: float, ek: float) -> tuple[float, float]:
    """(sin E, cos E) for elliptic Kepler, one orbit at a time: the fallback of the SIMD path.

    sin/cos of M from a quadrant reduction and polynomials (libm ``sin``/``cos`` cost ~10 % more here);
    the starter ``d = E - M = e sin M (1 + e cos M)`` (error O(e^3)) gets sin/cos from a polynomial; then
    Halley steps rotate (sin E, cos E) by each step with a short series, so no libm call and no long
    polynomial sits inside the iteration.
    """
    mk = np.fmod(mk, TWO_PI)
    # sin/cos of M without libm: quadrant reduction (two-part pi/2, Cody-Waite) and the polynomials
    qf = np.floor(mk / HALF_PI + 0.5)
    r = (mk - qf * HALF_PI_HI) - qf * HALF_PI_LO
    sr, cr = _sincos_small(r)
    quad = int(qf) & 3
    if quad == 0:
        sm, cm = sr, cr
    elif quad == 1:
        sm, cm = cr, -sr
    elif quad == 2:
        sm, cm = -sr, -cr
    else:
        sm, cm = -cr, sr
    d = ek * sm * (1.0 + ek * cm)
    if d > ek:
        d = ek
    elif d < -ek:
        d = -ek
    sd, cd = _sincos_small(d)
    se = sm * cd + cm * sd
    ce = cm * cd - sm * sd
    for _ in range(40):
        f = d - ek * se
        fp = 1.0 - ek * ce
        # Halley in one division (divisions, not flops, bound this loop's latency)
        step = -2.0 * f * fp / (2.0 * fp * fp - f * ek * se)
        d += step
        if abs(step) < 1e-3:
            s2 = step * step
            ss = step * (1.0 - s2 * (1.0 / 6.0 - s2 * (1.0 / 120.0)))
            cs = 1.0 - s2 * (0.5 - s2 * (1.0 / 24.0))
        elif abs(step) <= 1.0:
            ss, cs = _sincos_small(step)
        else:
            ss = math.sin(step)
            cs = math.cos(step)
        se, ce = se * cs + ce * ss, ce * cs - se * ss
        if abs(step) < 1e-15:
            break
    return se, ce


# The SIMD path of the throughput kernel: orbits with e <= SIMD_MAX_ECC, in blocks of BLOCK.
SIMD_MAX_ECC = 0.95
BLOCK = 256
# Measured (max |step| over e <= 0.95 and all M, starter below): 0.2, 8e-3, 4e-7, then the
# floor (7e-16) -- after 3 Halley steps the error is ~1e-19 rad. Each step rotates (sin E, cos E) by a
# series just long enough for its bound: step 1 to d^12 (|d| <= 0.35), step 2 to d^8 (|d| <=
# STEP2_MAX), step 3 to d^4 (|d| <= HALLEY_CHECK). A lane whose second or third step is above its bound
# goes to the scalar path.
HALLEY_STEPS = 3
STEP2_MAX = 0.02
HALLEY_CHECK = 1e-6
# The SIMD stages: numpy's error model (a float division by zero is inf, not a raised exception, so no
# branch per division: without it LLVM vectorises none of the loops) and FMA contraction only (no
# reassociation, which would undo the two-part pi/2 reduction; no approximate reciprocals).
_SIMD: dict[str, Any] = {"cache": True, "error_model": "numpy", "fastmath": {"contract"}}


@njit(cache=True, inline="always")
def _rotate9(s: float, c: float, d: float) -> tuple[float, float]:
    """(sin, cos) of x + d from (sin x, cos x), |d| <= 0.35: Taylor to d^11 / d^12 (error < 3e-16; the
    series to d^9 / d^10 used before was off by 2.4e-13 at |d| = 0.35, see the tests)."""
    d2 = d * d
    sd = d * (
        1.0
        - d2
        * (
            1.0 / 6.0
            - d2 * (1.0 / 120.0 - d2 * (1.0 / 5040.0 - d2 * (1.0 / 362880.0 - d2 * (1.0 / 39916800.0))))
        )
    )
    cd = 1.0 - d2 * (
        0.5
        - d2
        * (
            1.0 / 24.0
            - d2 * (1.0 / 720.0 - d2 * (1.0 / 40320.0 - d2 * (1.0 / 3628800.0 - d2 * (1.0 / 479001600.0))))
        )
    )
    return s * cd + c * sd, c * cd - s * sd


@njit(cache=True, inline="always")
def _rotate7(s: float, c: float, d: float) -> tuple[float, float]:
    """(sin, cos) of x + d from (sin x, cos x), |d| <= STEP2_MAX: Taylor to d^7 / d^8 (error < 1e-20)."""
    d2 = d * d
    sd = d * (1.0 - d2 * (1.0 / 6.0 - d2 * (1.0 / 120.0 - d2 * (1.0 / 5040.0))))
    cd = 1.0 - d2 * (0.5 - d2 * (1.0 / 24.0 - d2 * (1.0 / 720.0 - d2 * (1.0 / 40320.0))))
    return s * cd + c * sd, c * cd - s * sd


@njit(cache=True, inline="always")
def _rotate3(s: float, c: float, d: float) -> tuple[float, float]:
    """(sin, cos) of x + d from (sin x, cos x), |d| <= HALLEY_CHECK: Taylor to d^3 / d^4 (error < 1e-30)."""
    d2 = d * d
    sd = d * (1.0 - d2 * (1.0 / 6.0))
    cd = 1.0 - d2 * (0.5 - d2 * (1.0 / 24.0))
    return s * cd + c * sd, c * cd - s * sd


@njit(**_SIMD, inline="always")
def _halley(dd: float, se: float, ce: float, ek: float) -> float:
    """One Halley step on E - M (one division: divisions, not flops, bound this loop's latency)."""
    f = dd - ek * se
    fp = 1.0 - ek * ce
    return -2.0 * f * fp / (2.0 * fp * fp - f * ek * se)


@njit(**_SIMD, parallel=True)
def elliptic_fast_kernel(
    a: np.ndarray,
    e: np.ndarray,
    p_vec: np.ndarray,
    q_vec: np.ndarray,
    m: np.ndarray,
    out: np.ndarray,
) -> None:
    """Elliptic orbits only, one epoch each: ``out[k]`` [au] at mean anomaly ``m[k]`` [rad].

    The throughput path (1 M orbits), in blocks of ``BLOCK`` orbits and flat stages that LLVM
    vectorises (no libm call, no branch, a fixed number of steps: the SGP4 fast path's recipe):
    M reduced to [-pi, pi] and its sin/cos (:func:`_sincos`, selects), the starter
    ``E0 - M = e sin M / sqrt(1 - 2 e cos M + e^2)`` (at most e), sin/cos of E0 by rotating those of M,
    then ``HALLEY_STEPS`` Halley steps on ``E - M`` that rotate (sin E, cos E) by each step
    (:func:`_rotate9`, :func:`_rotate7`, :func:`_rotate3`). Orbits with ``e >= SIMD_MAX_ECC``
    (0.07 % of the NEAs) or whose later steps exceed their bounds take the scalar path
    (:func:`_kepler_rotating`). Rejected: the scalar path for every orbit (data-dependent iteration
    count and branches: no SIMD, 2-3x slower), Danby's starter ``M + 0.85 e`` (one more step for
    e > 0.8), Python's error model (a division raises: no loop vectorised, 1.3x slower).
    """
    nobj = a.shape[0]
    nblocks = (nobj + BLOCK - 1) // BLOCK
    for blk in prange(nblocks):
        k0 = blk * BLOCK
        nb = min(BLOCK, nobj - k0)
        dd = np.empty(BLOCK)  # E - M: no cancellation between E and M in Kepler's residual
        se = np.empty(BLOCK)
        ce = np.empty(BLOCK)
        ee = np.empty(BLOCK)
        bad = np.empty(BLOCK)
        sq = np.empty(BLOCK)
        # One short vectorised loop per link of the chain M -> E. Measured: neither this split nor
        # interleaving two orbits per iteration beats one flat loop of the same arithmetic (bench/neo.py
        # section 4: 1.03x that bare loop) -- the loops are throughput-bound, not latency-bound.
        for b in range(nb):  # stage 1a: reduce M, sin/cos of M
            k = k0 + b
            ee[b] = min(e[k], SIMD_MAX_ECC)  # lanes above are redone by the scalar path
            bad[b] = e[k] * (1.0 / SIMD_MAX_ECC)  # >= 1: the lane takes the scalar path
            mk = m[k] - TWO_PI * np.floor(m[k] * (1.0 / TWO_PI) + 0.5)
            se[b], ce[b] = _sincos(mk)
        for b in range(nb):  # stage 1b: starter and sin/cos of E0
            ek = ee[b]
            sm = se[b]
            cm = ce[b]
            d0 = ek * sm / math.sqrt(1.0 - 2.0 * ek * cm + ek * ek)  # |d0| <= e < 1
            sd, cd = _sincos_small(d0)
            sq[b] = math.sqrt(1.0 - ek * ek)
            dd[b] = d0
            se[b] = sm * cd + cm * sd
            ce[b] = cm * cd - sm * sd
        for b in range(nb):  # stage 2a: first Halley step
            step = min(max(_halley(dd[b], se[b], ce[b], ee[b]), -0.35), 0.35)  # the rotation's range
            dd[b] += step
            se[b], ce[b] = _rotate9(se[b], ce[b], step)
        for b in range(nb):  # stage 2b: second Halley step
            step = _halley(dd[b], se[b], ce[b], ee[b])
            step = min(max(step, -STEP2_MAX), STEP2_MAX)  # a clipped lane fails the check
            r = abs(step) * (1.0 / STEP2_MAX)
            bad[b] = r if r > bad[b] else bad[b]  # a select (the builtin max does not vectorise)
            dd[b] += step
            se[b], ce[b] = _rotate7(se[b], ce[b], step)
        for b in range(nb):  # stage 2c: third Halley step
            step = _halley(dd[b], se[b], ce[b], ee[b])
            r = abs(step) * (1.0 / HALLEY_CHECK)
            bad[b] = r if r > bad[b] else bad[b]
            step = min(max(step, -HALLEY_CHECK), HALLEY_CHECK)
            se[b], ce[b] = _rotate3(se[b], ce[b], step)
        nbad = 0
        for b in range(nb):  # stage 3a: in-plane coordinates, lanes to redo (a vectorised count)
            k = k0 + b
            dd[b] = a[k] * (ce[b] - ee[b])
            se[b] = a[k] * sq[b] * se[b]
            nbad += 0 if bad[b] < 1.0 else 1
        for b in range(nb):  # stage 3b: positions (strided stores)
            k = k0 + b
            x = dd[b]
            y = se[b]
            out[k, 0] = x * p_vec[k, 0] + y * q_vec[k, 0]
            out[k, 1] = x * p_vec[k, 1] + y * q_vec[k, 1]
            out[k, 2] = x * p_vec[k, 2] + y * q_vec[k, 2]
        if nbad == 0:
            continue
        for b in range(nb):  # stage 4 (rare): the scalar path
            k = k0 + b
            if not bad[b] < 1.0:
                ek = e[k]
                s, c = _kepler_rotating(m[k], ek)
                x = a[k] * (c - ek)
                y = a[k] * math.sqrt(1.0 - ek * ek) * s
                for j in range(3):
                    out[k, j] = x * p_vec[k, j] + y * q_vec[k, j]


@njit(cache=True)
def perifocal_vectors(inc, node, peri, p_out, q_out):
    """Unit vectors P, Q [-] of orbits (angles in radians) into ``p_out``, ``q_out`` (N, 3)."""
    for k in range(inc.shape[0]):
        ci = math.cos(inc[k])
        si = math.sin(inc[k])
        co = math.cos(node[k])
        so = math.sin(node[k])
        cw = math.cos(peri[k])
        sw = math.sin(peri[k])
        p_out[k, 0] = cw * co - ci * sw * so
        p_out[k, 1] = cw * so + ci * sw * co
        p_out[k, 2] = si * sw
        q_out[k, 0] = -sw * co - ci * cw * so
        q_out[k, 1] = ci * cw * co - sw * so
        q_out[k, 2] = si * cw


# --------------------------------------------------------------------------------------------------
# Ephemerides
# --------------------------------------------------------------------------------------------------
@njit(cache=True, parallel=True)
def ephemeris_kernel(q, e, p_vec, q_vec, m0, n, dt, obs, vsun, c_au_d, rho_out, r_out):
    """Light-time corrected observer->object vectors, heliocentric ecliptic axes.

    ``dt[k, j]``: days from epoch k to observation time j; ``obs[j]``: observer position relative to the
    Sun at time j [au]; ``vsun[j]``: barycentric velocity of the Sun [au/day], which moves the Sun by
    ``-vsun tau`` over the light time tau (the Sun's acceleration over hours is negligible). Outputs:
    ``rho_out[k, j]`` = object at t - tau minus observer at t [au], ``r_out[k, j]`` = heliocentric
    distance of the object at t - tau [au].
    """
    nobj, ntime = dt.shape
    for k in prange(nobj):
        for j in range(ntime):
            tau = 0.0
            rx = 0.0
            ry = 0.0
            rz = 0.0
            x0 = 0.0
            x1 = 0.0
            x2 = 0.0
            # three fixed-point steps reach < 1e-12 day: tau changes by ~1e-4 of itself per step
            for _ in range(4):
                x, y = position_pqe(q[k], e[k], m0[k] + n[k] * (dt[k, j] - tau))
                x0 = x * p_vec[k, 0] + y * q_vec[k, 0]
                x1 = x * p_vec[k, 1] + y * q_vec[k, 1]
                x2 = x * p_vec[k, 2] + y * q_vec[k, 2]
                rx = x0 - tau * vsun[j, 0] - obs[j, 0]
                ry = x1 - tau * vsun[j, 1] - obs[j, 1]
                rz = x2 - tau * vsun[j, 2] - obs[j, 2]
                tau = math.sqrt(rx * rx + ry * ry + rz * rz) / c_au_d
            rho_out[k, j, 0] = rx
            rho_out[k, j, 1] = ry
            rho_out[k, j, 2] = rz
            r_out[k, j] = math.sqrt(x0 * x0 + x1 * x1 + x2 * x2)
