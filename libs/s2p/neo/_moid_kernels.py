"""Numba kernels of the MOID (see the design note below); no validation, flat float64 arrays."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numba import njit, prange

from s2p import _numba_cache
from s2p.neo._kernels import TWO_PI, _sincos

_numba_cache.drop_stale(__file__, "_kernels.py")

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
# minimum, 24 and 32 none; 32 is kept for margin (~3 us more CPU per pair than 24). It must be a
# multiple of 4 (four running minima per row).
#
# Where the time goes (CPU of one thread per NEA-Earth pair, 20,060 pairs; before -> after the
# 2026-12 rewrite of the loops, same seeds and minima): the 64 exact row/column minima were a third
# (3-D evaluation and a libm-free sine per Newton step -> the plane form below, 12 flops and a
# rotation), the scan for local minima of the grid a quarter (8 branches per cell -> a branch-free
# 3x3 minimum), the work arrays ~1 us (allocated once per thread now, not per pair). 2026-12-03, numpy's
# error model and FMA contraction: 8.8 -> 7.7 us; then, cumulative, by phase: setup and grid 0.4, padding
# and row/column minima with their parabolas 1.8, the 64 exact row/column minima 1.9, seed lists and the
# local-minimum scan 1.4, sorting and the 2-D refinements 2.4 (bench/neo.py: a bare first pass -- grid,
# row/column minima, local-minimum scan -- takes 2.0 us, a quarter of the whole).
MOID_GRID = 32
MOID_MAX_SEEDS = 24
_NSEED = 8 * MOID_GRID  # capacity of the seed list
# numpy's error model (no branch per division) and FMA contraction (no reassociation)
_FAST: dict[str, Any] = {"cache": True, "error_model": "numpy", "fastmath": {"contract"}}


@njit(**_FAST, inline="always")
def _rotate(s, c, d):
    """(sin, cos) of u + d from (sin u, cos u), |d| <= 0.2: Taylor to d^9 / d^10 (error < 1e-15)."""
    d2 = d * d
    sd = d * (1.0 - d2 * (1.0 / 6.0 - d2 * (1.0 / 120.0 - d2 * (1.0 / 5040.0 - d2 * (1.0 / 362880.0)))))
    cd = 1.0 - d2 * (
        0.5 - d2 * (1.0 / 24.0 - d2 * (1.0 / 720.0 - d2 * (1.0 / 40320.0 - d2 * (1.0 / 3628800.0))))
    )
    return s * cd + c * sd, c * cd - s * sd


@njit(**_FAST, inline="always")
def _moid_eval(s1, c1, s2, c2, a1, b1, e1, p1, q1, a2, b2, e2, p2, q2):  # pragma: no cover - compiled
    """|r1 - r2|^2 at the anomalies with sines/cosines (s1, c1), (s2, c2); gradient and Hessian of half
    of it. The difference is formed per axis before squaring (exact for intersecting orbits)."""
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


@njit(**_FAST, inline="always")
def _turn(u, s, c, du):  # pragma: no cover - compiled
    """(sin, cos) of u + du: a rotation of (s, c) for the small steps of a converging iteration, a full
    evaluation for the rare large one."""
    if abs(du) <= 0.2:
        return _rotate(s, c, du)
    return _sincos(u + du)


@njit(**_FAST)
def _moid_refine(u1, u2, a1, b1, e1, p1, q1, a2, b2, e2, p2, q2):  # pragma: no cover - compiled
    """Damped 2-D Newton from (u1, u2): (|r1 - r2|^2, u1, u2) at the local minimum.

    The sines and cosines follow the iterate by rotations (no sine per step: -35 % per evaluation), and
    the iteration stops after an accepted step below 1e-9 rad, after which the error is ~1e-18 rad
    where convergence is quadratic (one evaluation fewer than stopping at 1e-12, same minima)."""
    s1, c1 = _sincos(u1)
    s2, c2 = _sincos(u2)
    f, g1, g2, h11, h12, h22 = _moid_eval(s1, c1, s2, c2, a1, b1, e1, p1, q1, a2, b2, e2, p2, q2)
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
        ns1, nc1 = _turn(u1, s1, c1, du1)
        ns2, nc2 = _turn(u2, s2, c2, du2)
        fn, ng1, ng2, nh11, nh12, nh22 = _moid_eval(
            ns1, nc1, ns2, nc2, a1, b1, e1, p1, q1, a2, b2, e2, p2, q2
        )
        if fn <= f:
            done = max(abs(du1), abs(du2)) < 1e-9
            u1 += du1
            u2 += du2
            s1, c1, s2, c2 = ns1, nc1, ns2, nc2
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


@njit(**_FAST, inline="always")
def _min_along(r0, r1, r2, wx, wy, a2, b2, e2, p2, q2, u, s, c):  # pragma: no cover - compiled
    """Minimum over u of |r - r2(u)|^2 by safeguarded Newton from u, with (s, c) = (sin u, cos u):
    (value, u, sin u, cos u).

    The Newton steps use the plane form F(u) = |r2(u)|^2 - 2 r.r2(u) = a2^2 (1 - e2 cos u)^2 -
    wx a2 (cos u - e2) - wy b2 sin u (wx = 2 r.P2, wy = 2 r.Q2): 12 flops for F, F', F'' and a
    rotation of (s, c) instead of a sine. The value returned is the exact difference form
    |r - r2(u)|^2 at the best iterate (F itself cancels to |r|^2 for intersecting orbits). Seeding only
    needs the profile to ~1e-10 relative: the final 2-D Newton does the precision.
    """
    aa = a2 * a2
    wa = wx * a2
    wb = wy * b2
    best_f = np.inf
    best_u = u
    best_s = s
    best_c = c
    for _ in range(5):
        ec = 1.0 - e2 * c
        f = aa * ec * ec - wa * (c - e2) - wb * s
        if f < best_f:
            best_f = f
            best_u = u
            best_s = s
            best_c = c
        g = 2.0 * aa * e2 * s * ec + wa * s - wb * c
        h = 2.0 * aa * e2 * (c * ec + e2 * s * s) + wa * c + wb * s
        if h <= 0.0:
            break
        du = -g / h
        if abs(du) > 0.2:
            du = 0.2 if du > 0.0 else -0.2
        if abs(du) < 1e-5:
            break
        u += du
        s, c = _rotate(s, c, du)
    x = a2 * (best_c - e2)
    y = b2 * best_s
    d0 = r0 - x * p2[0] - y * q2[0]
    d1 = r1 - x * p2[1] - y * q2[1]
    d2 = r2 - x * p2[2] - y * q2[2]
    return d0 * d0 + d1 * d1 + d2 * d2, best_u, best_s, best_c


@njit(**_FAST, inline="always")
def _parabola(vm, best, vp):  # pragma: no cover - compiled
    """Offset (cells) and value of the parabola's minimum through three cells around a discrete minimum."""
    curv = vp - 2.0 * best + vm
    if curv > 0.0:
        return 0.5 * (vm - vp) / curv, best - 0.125 * (vp - vm) * (vp - vm) / curv
    return 0.0, best


@njit(**_FAST)
def workspace_size(ng):  # pragma: no cover - compiled
    """Length of the float64 work array of :func:`moid_pair` for a grid of ``ng`` anomalies."""
    return 20 * ng + (ng + 2) * (ng + 2) + 3 * _NSEED + 2 * MOID_MAX_SEEDS


@njit(**_FAST)
def moid_pair(a1, e1, p1, q1, a2, e2, p2, q2, cos_t, sin_t, ws, wi, wb):  # pragma: no cover - compiled
    """MOID [au] of two elliptic orbits and the eccentric anomalies [rad] where it is reached.

    ``ws`` (float64, :func:`workspace_size`), ``wi`` (int64, ``ng``) and ``wb`` (bool, ``ng``) are work
    arrays, reused from pair to pair.
    """
    ng = cos_t.shape[0]
    step = TWO_PI / ng
    b1 = a1 * math.sqrt(max(1.0 - e1 * e1, 0.0))
    b2 = a2 * math.sqrt(max(1.0 - e2 * e2, 0.0))
    g_pp = p1[0] * p2[0] + p1[1] * p2[1] + p1[2] * p2[2]
    g_pq = p1[0] * q2[0] + p1[1] * q2[1] + p1[2] * q2[2]
    g_qp = q1[0] * p2[0] + q1[1] * p2[1] + q1[2] * p2[2]
    g_qq = q1[0] * q2[0] + q1[1] * q2[1] + q1[2] * q2[2]
    # work arrays (views of ws)
    x1 = ws[0:ng]
    y1 = ws[ng : 2 * ng]
    f1 = ws[2 * ng : 3 * ng]
    x2 = ws[3 * ng : 4 * ng]
    y2 = ws[4 * ng : 5 * ng]
    f2 = ws[5 * ng : 6 * ng]
    wx = ws[6 * ng : 7 * ng]  # 2 r1(row i).P2, 2 r1(row i).Q2
    wy = ws[7 * ng : 8 * ng]
    vx = ws[8 * ng : 9 * ng]  # 2 r2(column j).P1, 2 r2(column j).Q1
    vy = ws[9 * ng : 10 * ng]
    rowmin = ws[10 * ng : 11 * ng]
    rowu = ws[11 * ng : 12 * ng]
    rows = ws[12 * ng : 13 * ng]
    rowc = ws[13 * ng : 14 * ng]
    colmin = ws[14 * ng : 15 * ng]
    colu = ws[15 * ng : 16 * ng]
    fine_v = ws[16 * ng : 16 * ng + 4 * ng]  # 4 ng: rows 16..19
    o = 20 * ng
    grid = ws[o : o + (ng + 2) * (ng + 2)].reshape((ng + 2, ng + 2))  # cyclic padding of one cell
    o += (ng + 2) * (ng + 2)
    seed_v = ws[o : o + _NSEED]
    seed_u1 = ws[o + _NSEED : o + 2 * _NSEED]
    seed_u2 = ws[o + 2 * _NSEED : o + 3 * _NSEED]
    o += 3 * _NSEED
    used_u1 = ws[o : o + MOID_MAX_SEEDS]
    used_u2 = ws[o + MOID_MAX_SEEDS : o + 2 * MOID_MAX_SEEDS]
    o += 2 * MOID_MAX_SEEDS
    colarg = wi[0:ng]
    flag = wb[0:ng]
    for j in range(ng):
        x2[j] = a2 * (cos_t[j] - e2)
        y2[j] = b2 * sin_t[j]
        t = a2 * (1.0 - e2 * cos_t[j])
        f2[j] = t * t
        vx[j] = 2.0 * (x2[j] * g_pp + y2[j] * g_pq)
        vy[j] = 2.0 * (x2[j] * g_qp + y2[j] * g_qq)
    for i in range(ng):
        x1[i] = a1 * (cos_t[i] - e1)
        y1[i] = b1 * sin_t[i]
        t = a1 * (1.0 - e1 * cos_t[i])
        f1[i] = t * t
        wx[i] = 2.0 * (x1[i] * g_pp + y1[i] * g_qp)
        wy[i] = 2.0 * (x1[i] * g_pq + y1[i] * g_qq)
    for i in range(ng):
        f1i, wxi, wyi = f1[i], wx[i], wy[i]
        for j in range(ng):  # vectorised: 2 FMAs per cell
            grid[i + 1, j + 1] = f1i + f2[j] - wxi * x2[j] - wyi * y2[j]
    for i in range(1, ng + 1):  # cyclic padding
        grid[i, 0] = grid[i, ng]
        grid[i, ng + 1] = grid[i, 1]
    for j in range(ng + 2):
        grid[0, j] = grid[ng, j]
        grid[ng + 1, j] = grid[1, j]
    # Row and column minima, refined by a parabola through the three cells around them: in
    # near-coplanar, Earth-like cases the grid is far coarser than the width of the distance valley, and
    # without this the profiles are dominated by how far each cell happens to lie from the valley floor
    # rather than by the true variation along it (2011 UD21 was missed that way).
    for j in range(ng):
        colmin[j] = np.inf
        colarg[j] = 0
    for i in range(ng):
        # four running minima: four independent select chains instead of one (ng is a multiple of 4)
        m0 = m1 = m2 = m3 = np.inf
        for j in range(0, ng, 4):
            m0 = min(m0, grid[i + 1, j + 1])
            m1 = min(m1, grid[i + 1, j + 2])
            m2 = min(m2, grid[i + 1, j + 3])
            m3 = min(m3, grid[i + 1, j + 4])
        best = min(min(m0, m1), min(m2, m3))
        bj = 0
        while grid[i + 1, bj + 1] != best:
            bj += 1
        for j in range(ng):  # vectorised: selects, no branch
            v = grid[i + 1, j + 1]
            less = v < colmin[j]
            colarg[j] = i if less else colarg[j]
            colmin[j] = v if less else colmin[j]
        off, rowmin[i] = _parabola(grid[i + 1, bj], best, grid[i + 1, bj + 2])
        rowu[i] = (bj + off) * step
        rows[i], rowc[i] = _rotate(sin_t[bj], cos_t[bj], off * step)
    # In a long flat valley (near-identical, near-coplanar orbits) the parabola is no estimate at all
    # (it can even go negative) and hides the true variation along the valley floor; so every row and
    # column gets its exact minimum over the other anomaly (1-D Newton from the parabola's abscissa),
    # and the profiles show the real local minima. Rejected: refining only rows whose parabolic value
    # is near the best -- the parabola is wrong exactly where this matters (missed minima in tests).
    for i in range(ng):
        r0 = x1[i] * p1[0] + y1[i] * q1[0]
        r1 = x1[i] * p1[1] + y1[i] * q1[1]
        r2 = x1[i] * p1[2] + y1[i] * q1[2]
        rowmin[i], rowu[i], rows[i], rowc[i] = _min_along(
            r0, r1, r2, wx[i], wy[i], a2, b2, e2, p2, q2, rowu[i], rows[i], rowc[i]
        )
    for j in range(ng):
        bi = colarg[j]
        off, _ = _parabola(grid[bi, j + 1], colmin[j], grid[bi + 2, j + 1])
        s, c = _rotate(sin_t[bi], cos_t[bi], off * step)
        r0 = x2[j] * p2[0] + y2[j] * q2[0]
        r1 = x2[j] * p2[1] + y2[j] * q2[1]
        r2 = x2[j] * p2[2] + y2[j] * q2[2]
        colmin[j], colu[j], _, _ = _min_along(
            r0, r1, r2, vx[j], vy[j], a1, b1, e1, p1, q1, (bi + off) * step, s, c
        )
    # seeds: (value, u1, u2)
    ns = 0
    for i in range(ng):
        if rowmin[i] <= rowmin[i - 1] and rowmin[i] <= rowmin[(i + 1) % ng] and ns < _NSEED:
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
        fine_u = seed_u2[_NSEED - nf : _NSEED]  # scratch at the end of the seed list (ns stays below)
        for m in range(nf):
            u1m = m * (TWO_PI / nf)
            s1, c1 = _sincos(u1m)
            xx = a1 * (c1 - e1)
            yy = b1 * s1
            k = ((m + 2) // 4) % ng
            fine_v[m], fine_u[m], _, _ = _min_along(
                xx * p1[0] + yy * q1[0],
                xx * p1[1] + yy * q1[1],
                xx * p1[2] + yy * q1[2],
                2.0 * (xx * g_pp + yy * g_qp),
                2.0 * (xx * g_pq + yy * g_qq),
                a2, b2, e2, p2, q2, rowu[k], rows[k], rowc[k],
            )  # fmt: skip
        for m in range(nf):
            if fine_v[m] <= fine_v[m - 1] and fine_v[m] <= fine_v[(m + 1) % nf] and ns < _NSEED - nf:
                seed_v[ns] = fine_v[m]
                seed_u1[ns] = m * (TWO_PI / nf)
                seed_u2[ns] = fine_u[m]
                ns += 1
    for j in range(ng):
        if colmin[j] <= colmin[j - 1] and colmin[j] <= colmin[(j + 1) % ng] and ns < _NSEED:
            seed_v[ns] = colmin[j]
            seed_u1[ns] = colu[j]
            seed_u2[ns] = j * step
            ns += 1
    # local minima of the grid: the minimum of the 8 neighbours by selects (vectorised) and a count per
    # row; only the few rows holding one are scanned (8 branches per cell were a quarter of the time)
    for i in range(1, ng + 1):
        cnt = 0
        for j in range(1, ng + 1):
            m8 = min(
                min(min(grid[i - 1, j - 1], grid[i - 1, j]), min(grid[i - 1, j + 1], grid[i, j - 1])),
                min(min(grid[i, j + 1], grid[i + 1, j - 1]), min(grid[i + 1, j], grid[i + 1, j + 1])),
            )
            is_min = grid[i, j] <= m8
            flag[j - 1] = is_min
            cnt += is_min
        if cnt == 0:
            continue
        for j in range(ng):
            if flag[j] and ns < _NSEED:
                seed_v[ns] = grid[i, j + 1]
                seed_u1[ns] = (i - 1) * step
                seed_u2[ns] = j * step
                ns += 1
    order = np.argsort(seed_v[:ns])
    best_f = np.inf
    best_u1 = 0.0
    best_u2 = 0.0
    # refine the MOID_MAX_SEEDS lowest seeds, skipping exact repeats (a seed found twice). Skipping seeds
    # merely *near* a used one was rejected: in a flat valley a nearby seed can lead to another minimum.
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


@njit(**_FAST, parallel=True)
def moid_kernel(a1, e1, p1, q1, a2, e2, p2, q2, cos_t, sin_t, out, u1_out, u2_out):  # pragma: no cover
    """MOID of pair k: orbits (a1[k], e1[k], p1[k], q1[k]) and (a2[k], ...); results in ``out``.

    Parallel over blocks of pairs, each with its own work arrays (per-pair allocation cost ~1 us)."""
    n = a1.shape[0]
    ng = cos_t.shape[0]
    nblocks = min(n, 64)
    size = workspace_size(ng)
    for b in prange(nblocks):
        ws = np.empty(size)
        wi = np.empty(ng, dtype=np.int64)
        wb = np.empty(ng, dtype=np.bool_)
        for k in range((n * b) // nblocks, (n * (b + 1)) // nblocks):
            d, u1, u2 = moid_pair(
                a1[k], e1[k], p1[k], q1[k], a2[k], e2[k], p2[k], q2[k], cos_t, sin_t, ws, wi, wb
            )
            out[k] = d
            u1_out[k] = u1
            u2_out[k] = u2
