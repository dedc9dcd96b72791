"""Numba kernels of the MOID (see the design note below); no validation, flat float64 arrays."""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from s2p.neo._kernels import TWO_PI, _sincos

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
