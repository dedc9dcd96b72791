"""Numba kernels of :mod:`s2p.neo`: Kepler's equation, two-body positions, MOID.

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


@njit(cache=True, inline="always")
def _sincos_small(d: float) -> tuple[float, float]:
    """sin and cos of ``|d| <= 1`` by Taylor polynomials (terms to d^17 / d^18: error < 1e-17)."""
    d2 = d * d
    s = d * (
        1.0
        + d2
        * (
            -1.0 / 6.0
            + d2
            * (
                1.0 / 120.0
                + d2
                * (
                    -1.0 / 5040.0
                    + d2
                    * (
                        1.0 / 362880.0
                        + d2
                        * (
                            -1.0 / 39916800.0
                            + d2
                            * (
                                1.0 / 6227020800.0
                                + d2 * (-1.0 / 1307674368000.0 + d2 * (1.0 / 355687428096000.0))
                            )
                        )
                    )
                )
            )
        )
    )
    c = 1.0 + d2 * (
        -0.5
        + d2
        * (
            1.0 / 24.0
            + d2
            * (
                -1.0 / 720.0
                + d2
                * (
                    1.0 / 40320.0
                    + d2
                    * (
                        -1.0 / 3628800.0
                        + d2
                        * (1.0 / 479001600.0 + d2 * (-1.0 / 87178291200.0 + d2 * (1.0 / 20922789888000.0)))
                    )
                )
            )
        )
    )
    return s, c


@njit(cache=True, inline="always")
def _sincos(u: float) -> tuple[float, float]:
    """sin and cos of any angle [rad] without libm: reduction to |r| <= pi/4 by quadrant (two-part
    pi/2), then the polynomials above; < 2e-16 absolute error for |u| < 1e5."""
    qf = np.floor(u / HALF_PI + 0.5)
    r = (u - qf * HALF_PI_HI) - qf * HALF_PI_LO
    sr, cr = _sincos_small(r)
    quad = int(qf) & 3
    if quad == 0:
        return sr, cr
    if quad == 1:
        return cr, -sr
    if quad == 2:
        return -sr, -cr
    return -cr, sr


@njit(cache=True, parallel=True)
def elliptic_fast_kernel(
    a: np.ndarray,
    e: np.ndarray,
    p_vec: np.ndarray,
    q_vec: np.ndarray,
    m: np.ndarray,
    out: np.ndarray,
) -> None:
    """Elliptic orbits only, one epoch each: ``out[k]`` [au] at mean anomaly ``m[k]`` [rad].

    The throughput path (1 M orbits). sin/cos of M from a quadrant reduction and polynomials (libm
    ``sin``/``cos`` cost ~10 % more here); the starter
    ``d = E - M = e sin M (1 + e cos M)`` (error O(e^3)) gets sin/cos from a polynomial; then Halley steps
    rotate (sin E, cos E) by each step with a short series, so no libm call and no long polynomial sits
    inside the iteration. Rejected: the general solver above (2 libm calls per iteration, ~1.5-3x
    slower) and a branch-free fixed-iteration variant meant for SIMD (numba did not vectorise it; no
    gain measured).
    """
    nobj = a.shape[0]
    for k in prange(nobj):
        ek = e[k]
        mk = np.fmod(m[k], TWO_PI)
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
        ak = a[k]
        x = ak * (ce - ek)
        y = ak * math.sqrt(1.0 - ek * ek) * se
        for c in range(3):
            out[k, c] = x * p_vec[k, c] + y * q_vec[k, c]


# --------------------------------------------------------------------------------------------------
# MOID
# --------------------------------------------------------------------------------------------------
# Design (our own): d^2(u1, u2) between points of two ellipses, parametrised by their eccentric
# anomalies, is f1(u1) + f2(u2) - 2 [x1 y1] G [x2 y2]^T with x = a (cos u - e), y = b sin u and G the 2x2
# matrix of dot products of the perifocal vectors. A fixed grid of MOID_GRID x MOID_GRID anomalies is
# therefore cheap (sines/cosines are tabulated once; 2 FMAs per cell). Seeds: every local minimum of the
# grid, and every local minimum of its row-wise and column-wise minimum profiles, each row/column
# minimum made exact by a 1-D Newton on the other anomaly (the "eliminated anomaly" curves, which follow
# the narrow valleys of near-coplanar, near-identical orbits that a grid steps over). Each seed starts a
# damped Newton (Levenberg-Marquardt) iteration on both anomalies with the exact gradient and Hessian;
# the smallest converged minimum is the MOID. Rejected alternative: the degree-16 trigonometric
# polynomial of Kholshevnikov & Vassiliev / Gronchi (what distlink does) -- exact in theory but long to
# get robust; the tests check this design against distlink on thousands of real and synthetic pairs.
# Grid size, measured against distlink on 57,000 synthetic near-identical pairs: 16 missed one global
# minimum, 24 and 32 none; 32 is kept for margin (~3 us more CPU per pair than 24).
MOID_GRID = 32
MOID_MAX_SEEDS = 24


@njit(cache=True)
def _moid_eval(u1, u2, a1, b1, e1, p1, q1, a2, b2, e2, p2, q2):
    s1, c1 = _sincos(u1)
    s2, c2 = _sincos(u2)
    f = 0.0
    g1 = 0.0
    g2 = 0.0
    h11 = 0.0
    h22 = 0.0
    h12 = 0.0
    for k in range(3):
        r1 = a1 * (c1 - e1) * p1[k] + b1 * s1 * q1[k]
        d1 = -a1 * s1 * p1[k] + b1 * c1 * q1[k]
        dd1 = -a1 * c1 * p1[k] - b1 * s1 * q1[k]
        r2 = a2 * (c2 - e2) * p2[k] + b2 * s2 * q2[k]
        d2 = -a2 * s2 * p2[k] + b2 * c2 * q2[k]
        dd2 = -a2 * c2 * p2[k] - b2 * s2 * q2[k]
        dk = r1 - r2
        f += dk * dk
        g1 += dk * d1
        g2 -= dk * d2
        h11 += d1 * d1 + dk * dd1
        h22 += d2 * d2 - dk * dd2
        h12 -= d1 * d2
    # gradient and Hessian of f/2 (the factor 2 cancels in the Newton step)
    return f, g1, g2, h11, h12, h22


@njit(cache=True)
def _moid_refine(u1, u2, a1, b1, e1, p1, q1, a2, b2, e2, p2, q2):
    f, g1, g2, h11, h12, h22 = _moid_eval(u1, u2, a1, b1, e1, p1, q1, a2, b2, e2, p2, q2)
    lam = 0.0
    scale = max(abs(h11), abs(h22), 1e-300)
    for _ in range(100):
        # Levenberg-Marquardt: pure Newton while the Hessian is positive definite and f decreases,
        # otherwise raise the damping (tends to a short gradient step), which cannot diverge.
        m11 = h11 + lam
        m22 = h22 + lam
        det = m11 * m22 - h12 * h12
        if m11 <= 0.0 or det <= 0.0:
            lam = max(4.0 * lam, 1e-6 * scale) if lam > 0.0 else 1e-6 * scale + max(-h11, -h22, 0.0)
            continue
        du1 = -(m22 * g1 - h12 * g2) / det
        du2 = -(m11 * g2 - h12 * g1) / det
        # never jump more than ~0.5 rad: keeps the iteration in the seed's basin
        big = max(abs(du1), abs(du2))
        if big > 0.5:
            du1 *= 0.5 / big
            du2 *= 0.5 / big
        nu1 = u1 + du1
        nu2 = u2 + du2
        fn, ng1, ng2, nh11, nh12, nh22 = _moid_eval(nu1, nu2, a1, b1, e1, p1, q1, a2, b2, e2, p2, q2)
        if fn <= f:
            done = max(abs(du1), abs(du2)) < 1e-12
            u1 = nu1
            u2 = nu2
            f, g1, g2, h11, h12, h22 = fn, ng1, ng2, nh11, nh12, nh22
            lam *= 0.1
            if lam < 1e-12 * scale:
                lam = 0.0
            if done:
                break
        else:
            if max(abs(du1), abs(du2)) < 1e-14:
                break  # at the floor of double precision
            lam = max(4.0 * lam, 1e-6 * scale)
    return f, u1, u2


@njit(cache=True)
def _min_along(x1, y1, p1, q1, a2, b2, e2, p2, q2, u):
    """Minimum over u of |x1 P1 + y1 Q1 - r2(u)|^2 by safeguarded Newton from ``u``: (value, u).

    The value is always an exact evaluation (never the parabola's estimate, which can even be < 0)."""
    r0 = x1 * p1[0] + y1 * q1[0]
    r1 = x1 * p1[1] + y1 * q1[1]
    r2 = x1 * p1[2] + y1 * q1[2]
    best_f = np.inf
    best_u = u
    # seeding only needs the profile to ~1e-10 relative: the final 2-D Newton does the precision
    for _ in range(5):
        s, c = _sincos(u)
        f = 0.0
        g = 0.0
        h = 0.0
        for k, rk in ((0, r0), (1, r1), (2, r2)):
            pos = a2 * (c - e2) * p2[k] + b2 * s * q2[k]
            der = -a2 * s * p2[k] + b2 * c * q2[k]
            dd = -a2 * c * p2[k] - b2 * s * q2[k]
            dk = rk - pos
            f += dk * dk
            g -= dk * der
            h += der * der - dk * dd
        if f < best_f:
            best_f = f
            best_u = u
        if h <= 0.0:
            break
        du = -g / h
        if abs(du) > 0.2:
            du = 0.2 if du > 0.0 else -0.2
        if abs(du) < 1e-5:
            break
        u += du
    return best_f, best_u


@njit(cache=True)
def moid_pair(a1, e1, p1, q1, a2, e2, p2, q2, cos_t, sin_t):
    """MOID [au] of two elliptic orbits and the eccentric anomalies [rad] where it is reached."""
    ng = cos_t.shape[0]
    b1 = a1 * math.sqrt(max(1.0 - e1 * e1, 0.0))
    b2 = a2 * math.sqrt(max(1.0 - e2 * e2, 0.0))
    g_pp = p1[0] * p2[0] + p1[1] * p2[1] + p1[2] * p2[2]
    g_pq = p1[0] * q2[0] + p1[1] * q2[1] + p1[2] * q2[2]
    g_qp = q1[0] * p2[0] + q1[1] * p2[1] + q1[2] * p2[2]
    g_qq = q1[0] * q2[0] + q1[1] * q2[1] + q1[2] * q2[2]
    x2 = np.empty(ng)
    y2 = np.empty(ng)
    f2 = np.empty(ng)
    for j in range(ng):
        x2[j] = a2 * (cos_t[j] - e2)
        y2[j] = b2 * sin_t[j]
        t = a2 * (1.0 - e2 * cos_t[j])
        f2[j] = t * t
    grid = np.empty((ng, ng))
    for i in range(ng):
        x1 = a1 * (cos_t[i] - e1)
        y1 = b1 * sin_t[i]
        t = a1 * (1.0 - e1 * cos_t[i])
        f1 = t * t
        wx = 2.0 * (x1 * g_pp + y1 * g_qp)
        wy = 2.0 * (x1 * g_pq + y1 * g_qq)
        for j in range(ng):
            grid[i, j] = f1 + f2[j] - wx * x2[j] - wy * y2[j]
    # seeds: (value, u1, u2). Row and column minima are refined by a parabola through the three cells
    # around them: in near-coplanar, Earth-like cases the grid is far coarser than the width of the
    # distance valley, and without this the profiles are dominated by how far each cell happens to lie
    # from the valley floor rather than by the true variation along it (2011 UD21 was missed that way).
    nmax = 8 * ng
    seed_v = np.empty(nmax)
    seed_u1 = np.empty(nmax)
    seed_u2 = np.empty(nmax)
    ns = 0
    step = TWO_PI / ng
    rowmin = np.empty(ng)
    rowu = np.empty(ng)
    colmin = np.full(ng, np.inf)
    colarg = np.zeros(ng, dtype=np.int64)
    for i in range(ng):
        best = np.inf
        bj = 0
        for j in range(ng):
            v = grid[i, j]
            if v < best:
                best = v
                bj = j
            if v < colmin[j]:
                colmin[j] = v
                colarg[j] = i
        vm = grid[i, bj - 1]
        vp = grid[i, (bj + 1) % ng]
        curv = vp - 2.0 * best + vm
        off = 0.0
        if curv > 0.0:
            off = 0.5 * (vm - vp) / curv
            best -= 0.125 * (vp - vm) * (vp - vm) / curv
        rowmin[i] = best
        rowu[i] = (bj + off) * step
    colu = np.empty(ng)
    for j in range(ng):
        bi = colarg[j]
        best = colmin[j]
        vm = grid[bi - 1, j]
        vp = grid[(bi + 1) % ng, j]
        curv = vp - 2.0 * best + vm
        off = 0.0
        if curv > 0.0:
            off = 0.5 * (vm - vp) / curv
            colmin[j] = best - 0.125 * (vp - vm) * (vp - vm) / curv
        colu[j] = (bi + off) * step
    # In a long flat valley (near-identical, near-coplanar orbits) the parabola is no estimate at all
    # (it can even go negative) and hides the true variation along the valley floor; so every row and
    # column gets its exact minimum over the other anomaly (1-D Newton from the parabola's abscissa),
    # and the profiles show the real local minima. Rejected: refining only rows whose parabolic value
    # is near the best -- the parabola is wrong exactly where this matters (missed minima in tests).
    # Cost: ~5 us of the ~12 us of CPU per pair.
    for i in range(ng):
        rowmin[i], rowu[i] = _min_along(
            a1 * (cos_t[i] - e1), b1 * sin_t[i], p1, q1, a2, b2, e2, p2, q2, rowu[i]
        )
        colmin[i], colu[i] = _min_along(
            a2 * (cos_t[i] - e2), b2 * sin_t[i], p2, q2, a1, b1, e1, p1, q1, colu[i]
        )
    for i in range(ng):
        if rowmin[i] <= rowmin[i - 1] and rowmin[i] <= rowmin[(i + 1) % ng] and ns < nmax:
            seed_v[ns] = rowmin[i]
            seed_u1[ns] = i * step
            seed_u2[ns] = rowu[i]
            ns += 1
    # Flat valley (near-identical orbits: over several rows the distance stays within 0.5 % of the
    # orbit size of its minimum): its minima can lie closer together than the grid, so the profile is
    # resampled 4x finer, each fine row started from the nearest coarse row's refined anomaly. Only
    # such pairs (a few per cent of NEA-Earth pairs) pay for it.
    best_row = np.inf
    for i in range(ng):
        best_row = min(best_row, rowmin[i])
    flat = math.sqrt(max(best_row, 0.0)) + 0.005 * math.sqrt(a1 * a2)
    n_flat = 0
    for i in range(ng):
        if rowmin[i] <= flat * flat:
            n_flat += 1
    if n_flat >= 3:
        nf = 4 * ng
        fine_v = np.empty(nf)
        fine_u = np.empty(nf)
        for m in range(nf):
            u1m = m * (TWO_PI / nf)
            s1, c1 = _sincos(u1m)
            fine_v[m], fine_u[m] = _min_along(
                a1 * (c1 - e1), b1 * s1, p1, q1, a2, b2, e2, p2, q2, rowu[((m + 2) // 4) % ng]
            )
        for m in range(nf):
            if fine_v[m] <= fine_v[m - 1] and fine_v[m] <= fine_v[(m + 1) % nf] and ns < nmax:
                seed_v[ns] = fine_v[m]
                seed_u1[ns] = m * (TWO_PI / nf)
                seed_u2[ns] = fine_u[m]
                ns += 1
    for j in range(ng):
        if colmin[j] <= colmin[j - 1] and colmin[j] <= colmin[(j + 1) % ng] and ns < nmax:
            seed_v[ns] = colmin[j]
            seed_u1[ns] = colu[j]
            seed_u2[ns] = j * step
            ns += 1
    for i in range(ng):
        im = i - 1
        ip = (i + 1) % ng
        for j in range(ng):
            v = grid[i, j]
            jm = j - 1
            jp = (j + 1) % ng
            if (
                v <= grid[im, jm]
                and v <= grid[im, j]
                and v <= grid[im, jp]
                and v <= grid[i, jm]
                and v <= grid[i, jp]
                and v <= grid[ip, jm]
                and v <= grid[ip, j]
                and v <= grid[ip, jp]
                and ns < nmax
            ):
                seed_v[ns] = v
                seed_u1[ns] = i * step
                seed_u2[ns] = j * step
                ns += 1
    order = np.argsort(seed_v[:ns])
    best_f = np.inf
    best_u1 = 0.0
    best_u2 = 0.0
    # refine the MOID_MAX_SEEDS lowest seeds, skipping exact repeats (a seed found twice). Skipping seeds
    # merely *near* a used one was rejected: in a flat valley a nearby seed can lead to another minimum.
    used_u1 = np.empty(MOID_MAX_SEEDS)
    used_u2 = np.empty(MOID_MAX_SEEDS)
    nd = 0
    for r in range(ns):
        if nd >= MOID_MAX_SEEDS:
            break
        k = order[r]
        dup = False
        for t in range(nd):
            d1 = abs(used_u1[t] - seed_u1[k])
            d2 = abs(used_u2[t] - seed_u2[k])
            if min(d1, TWO_PI - d1) < 0.02 * step and min(d2, TWO_PI - d2) < 0.02 * step:
                dup = True
                break
        if dup:
            continue
        used_u1[nd] = seed_u1[k]
        used_u2[nd] = seed_u2[k]
        nd += 1
        f, u1, u2 = _moid_refine(seed_u1[k], seed_u2[k], a1, b1, e1, p1, q1, a2, b2, e2, p2, q2)
        if f < best_f:
            best_f = f
            best_u1 = u1
            best_u2 = u2
    return math.sqrt(max(best_f, 0.0)), best_u1, best_u2


@njit(cache=True, parallel=True)
def moid_kernel(a1, e1, p1, q1, a2, e2, p2, q2, cos_t, sin_t, out, u1_out, u2_out):
    """MOID of pair k: orbits (a1[k], e1[k], p1[k], q1[k]) and (a2[k], ...); results in ``out``."""
    n = a1.shape[0]
    for k in prange(n):
        d, u1, u2 = moid_pair(a1[k], e1[k], p1[k], q1[k], a2[k], e2[k], p2[k], q2[k], cos_t, sin_t)
        out[k] = d
        u1_out[k] = u1
        u2_out[k] = u2


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
