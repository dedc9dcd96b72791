"""Conjunction-screening kernels (private; no validation — see :mod:`s2p.debris.screening`).

Layout: one chunk of ``T`` SGP4 *nodes* ``t_k = t_0 + k·H`` for ``N`` objects, sample-major so that
one instant's objects are contiguous: positions ``r[T, N, 3]`` [km], velocities ``v`` [km/s],
accelerations ``a`` [km/s²] (gravity model, :func:`prepare`), ``valid[T, N]``.

Between nodes each object's trajectory is its quintic Hermite interpolant (position, velocity and
acceleration at both ends). The sieve runs on ``m`` sub-steps ``h = H/m`` per node interval using
interpolated states (cheap: 36 multiply-adds per object), so that SGP4 — the expensive part — runs
at the coarse step only.

- :func:`prepare` — sample-major states, two-body + J2 accelerations (WGS72, as SGP4), validity;
- :func:`object_bounds` — per object: speed bound and radial shell valid at all times (proofs inside);
- :func:`sieve` — per sub-step, a spatial grid with cells ≥ ``L`` finds every pair that can be
  within ``D`` near that instant; survivors of a linear-motion bound become candidate node intervals;
- :func:`refine` — local minima of the distance on a candidate interval from the relative quintic.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

# Upper bound of the acceleration of any object at or above the Earth's surface [km/s²]:
# μ/R⊕² = 9.80e-3, times 1.01 for J2 (1.6e-3 relative) and drag/lunisolar terms (≪ 1e-3).
ACC_MAX_KMS2 = 1.01 * 398600.4418 / 6378.137**2
R_EARTH_KM = 6378.137
# WGS72, the constants SGP4 and the TLEs use, for the interpolation's acceleration model.
_MU = 398600.8
_RE = 6378.135
_J2 = 0.001082616

# Quintic Hermite basis on x ∈ [0, 1]: rows p0, H·v0, H²·a0, p1, H·v1, H²·a1; columns x⁰..x⁵.
HERMITE5 = np.array(
    [
        [1.0, 0.0, 0.0, -10.0, 15.0, -6.0],
        [0.0, 1.0, 0.0, -6.0, 8.0, -3.0],
        [0.0, 0.0, 0.5, -1.5, 1.5, -0.5],
        [0.0, 0.0, 0.0, 10.0, -15.0, 6.0],
        [0.0, 0.0, 0.0, -4.0, 7.0, -3.0],
        [0.0, 0.0, 0.0, 0.5, -1.0, 0.5],
    ]
)


@njit(cache=True, parallel=True)
def prepare(r_in, v_in, err):  # pragma: no cover - compiled
    """SGP4 output ``(N, T, 3)`` → sample-major states ``(T, N, 3)``, accelerations, validity, and
    each object's bounding box of valid positions — one parallel pass (a numpy transpose, the
    finiteness reductions and a boolean-indexed box were ~10 % of a run, all on one core).

    Acceleration: two-body + J2 (WGS72; TEME z ≈ the Earth's axis). It only shapes the
    interpolant: an error δa moves it by ≤ 0.018 δa H², so the neglected J3+, drag and lunisolar
    terms (≲ 1e-8 km/s² in LEO) cost ≲ 1 cm at H = 240 s.
    """
    N, T = err.shape
    r = np.empty((T, N, 3))
    v = np.empty((T, N, 3))
    a = np.zeros((T, N, 3))
    valid = np.zeros((T, N), dtype=np.bool_)
    lo = np.full((N, 3), np.inf)
    hi = np.full((N, 3), -np.inf)
    for i in prange(N):
        for s in range(T):
            ok = err[i, s] == 0
            for ax in range(3):
                r[s, i, ax] = r_in[i, s, ax]
                v[s, i, ax] = v_in[i, s, ax]
                ok = ok and math.isfinite(r_in[i, s, ax]) and math.isfinite(v_in[i, s, ax])
            valid[s, i] = ok
            if not ok:
                continue
            x, y, z = r_in[i, s, 0], r_in[i, s, 1], r_in[i, s, 2]
            r2 = x * x + y * y + z * z
            k = -_MU / (r2 * math.sqrt(r2))
            f = 1.5 * _J2 * _RE * _RE / r2
            zz = 5.0 * z * z / r2
            a[s, i, 0] = k * x * (1.0 + f * (1.0 - zz))
            a[s, i, 1] = k * y * (1.0 + f * (1.0 - zz))
            a[s, i, 2] = k * z * (1.0 + f * (3.0 - zz))
            lo[i, 0], lo[i, 1], lo[i, 2] = min(lo[i, 0], x), min(lo[i, 1], y), min(lo[i, 2], z)
            hi[i, 0], hi[i, 1], hi[i, 2] = max(hi[i, 0], x), max(hi[i, 1], y), max(hi[i, 2], z)
    return r, v, a, valid, lo, hi


@njit(cache=True, inline="always")
def _weights(x, w, dw):  # pragma: no cover - compiled
    """Quintic Hermite weights of (p0, Hv0, H²a0, p1, Hv1, H²a1) at x, and of their x-derivatives."""
    for b in range(6):
        c = HERMITE5[b]
        w[b] = c[0] + x * (c[1] + x * (c[2] + x * (c[3] + x * (c[4] + x * c[5]))))
        dw[b] = c[1] + x * (2.0 * c[2] + x * (3.0 * c[3] + x * (4.0 * c[4] + x * 5.0 * c[5])))


@njit(cache=True, inline="always")
def _interp(r, v, a, k, i, H, w, dw, out_p, out_v):  # pragma: no cover - compiled
    """Interpolated position [km] and velocity [km/s] of object i in node interval k."""
    for ax in range(3):
        d = (r[k, i, ax], H * v[k, i, ax], H * H * a[k, i, ax], r[k + 1, i, ax], H * v[k + 1, i, ax],
             H * H * a[k + 1, i, ax])  # fmt: skip
        out_p[ax] = w[0] * d[0] + w[1] * d[1] + w[2] * d[2] + w[3] * d[3] + w[4] * d[4] + w[5] * d[5]
        out_v[ax] = (
            dw[0] * d[0] + dw[1] * d[1] + dw[2] * d[2] + dw[3] * d[3] + dw[4] * d[4] + dw[5] * d[5]
        ) / H


@njit(cache=True, parallel=True)
def object_bounds(r, v, a, valid, H, m):  # pragma: no cover - compiled
    """Speed bound ``V_i`` [km/s], radial shell ``[r_lo_i, r_hi_i]`` [km] and interpolation error
    estimate ``eps_i`` [km] of every object over the chunk, valid at all times in between.

    Speed: sampled at the ``m`` sub-steps of every interval (interpolated). For the nearest sub-step
    ``|t − t_s| ≤ h/2`` and ``|v(t)| ≤ |v(t_s)| + a_max h/2``; the interpolation error of the
    velocity is covered by the caller's ``pad``.

    Shell: ``ρ = |r|`` has ``ρ̇ = r̂·v`` and ``ρ̈ = (|v|² − ρ̇²)/ρ + r̂·a ≤ V²/R⊕ + a_max``; Taylor from
    the nearest node gives ``|ρ(t) − ρ(t_k)| ≤ |ρ̇(t_k)| H/2 + ρ̈_max H²/8``, which pads the nodes'
    min/max radius.

    Interpolation error (quintic Hermite): ``|r − p| ≤ H⁶/46080 · max|r⁽⁶⁾|`` and, for an orbit of
    angular rate ω at radius ρ, ``|r⁽⁶⁾| ≈ ω⁶ ρ`` with ``ω ≤ V/ρ_min``, or the object's measured
    two-interval prediction error scaled by 2⁻⁶ if larger; the caller multiplies it by a safety
    factor.
    """
    T, N = valid.shape
    vmax = np.zeros(N)
    rlo = np.full(N, np.inf)
    rhi = np.full(N, -np.inf)
    eps = np.zeros(N)
    h = H / m
    for i in prange(N):
        w = np.empty(6)
        dw = np.empty(6)
        p = np.empty(3)
        q = np.empty(3)
        vm = 0.0
        lo = np.inf
        hi = -np.inf
        rdot_max = 0.0
        for s in range(T):
            if not valid[s, i]:
                continue
            x, y, z = r[s, i, 0], r[s, i, 1], r[s, i, 2]
            vx, vy, vz = v[s, i, 0], v[s, i, 1], v[s, i, 2]
            rho = math.sqrt(x * x + y * y + z * z)
            vm = max(vm, math.sqrt(vx * vx + vy * vy + vz * vz))
            lo = min(lo, rho)
            hi = max(hi, rho)
            rdot_max = max(rdot_max, abs(x * vx + y * vy + z * vz) / rho)
            if s + 1 < T and valid[s + 1, i]:
                for sub in range(1, m):
                    _weights(sub / m, w, dw)
                    _interp(r, v, a, s, i, H, w, dw, p, q)
                    vm = max(vm, math.sqrt(q[0] * q[0] + q[1] * q[1] + q[2] * q[2]))
        vb = vm + ACC_MAX_KMS2 * 0.5 * h
        vmax[i] = vb
        if lo <= hi:
            pad = rdot_max * 0.5 * H + (vb * vb / R_EARTH_KM + ACC_MAX_KMS2) * H * H / 8.0
            rlo[i] = lo - pad
            rhi[i] = hi + pad
            omega = vb / max(lo, R_EARTH_KM)
            eps[i] = (omega * H) ** 6 * hi / 46080.0
        # Empirical check of that estimate on this object's own nodes: the interpolant over two
        # intervals (step 2H) predicts the middle node; its miss, /2⁶ for step H, must not exceed
        # the estimate (it guards eccentric orbits, where ω⁶ρ can underestimate r⁽⁶⁾ at perigee).
        _weights(0.5, w, dw)
        for s in range(T - 2):
            if not (valid[s, i] and valid[s + 1, i] and valid[s + 2, i]):
                continue
            e2 = 0.0
            for ax in range(3):
                pm = (
                    w[0] * r[s, i, ax]
                    + w[1] * 2.0 * H * v[s, i, ax]
                    + w[2] * 4.0 * H * H * a[s, i, ax]
                    + w[3] * r[s + 2, i, ax]
                    + w[4] * 2.0 * H * v[s + 2, i, ax]
                    + w[5] * 4.0 * H * H * a[s + 2, i, ax]
                )
                e2 += (pm - r[s + 1, i, ax]) ** 2
            eps[i] = max(eps[i], math.sqrt(e2) / 64.0)
    return vmax, rlo, rhi, eps


@njit(cache=True, inline="always")
def _segment_hit(dx, dy, dz, ux, uy, uz, half, reach):  # pragma: no cover - compiled
    """Is min over τ ∈ [−half, half] of |d + u τ| ≤ reach?  (closest point of a segment)."""
    uu = ux * ux + uy * uy + uz * uz
    tau = 0.0
    if uu > 0.0:
        tau = -(dx * ux + dy * uy + dz * uz) / uu
        tau = min(max(tau, -half), half)
    px = dx + ux * tau
    py = dy + uy * tau
    pz = dz + uz * tau
    return px * px + py * py + pz * pz <= reach * reach


@njit(cache=True, inline="always")
def _emit(out, n, cap, i, j, k):  # pragma: no cover - compiled
    if n < cap:
        out[n, 0] = min(i, j)
        out[n, 1] = max(i, j)
        out[n, 2] = k
    return n + 1


@njit(cache=True, inline="always")
def _check_pair(P, U, ok, i, j, vmax, rlo, rhi, D, h, reach, k_lo, k_hi, out, n, cap):  # pragma: no cover
    """Pair (i, j), already within the grid radius at one sub-step (states P, U): shells, the pair's
    own radius, the linear-motion bound, then emit the node intervals of the sub-step's window."""
    if rlo[i] > rhi[j] + D or rlo[j] > rhi[i] + D:
        return n  # radial shells never come within D on this chunk
    dx = P[j, 0] - P[i, 0]
    dy = P[j, 1] - P[i, 1]
    dz = P[j, 2] - P[i, 2]
    lij = D + (vmax[i] + vmax[j]) * 0.5 * h
    if dx * dx + dy * dy + dz * dz > lij * lij:
        return n
    if not _segment_hit(dx, dy, dz, U[j, 0] - U[i, 0], U[j, 1] - U[i, 1], U[j, 2] - U[i, 2], 0.5 * h, reach):
        return n
    for k in range(k_lo, k_hi + 1):
        if ok[k, i] and ok[k, j]:
            n = _emit(out, n, cap, i, j, k)
    return n


# z cells are cell/ZSUB high: a column's run is sorted by z cell, and two objects at most one cell
# apart differ by at most ZSUB z cells, so the sweep's z window is (2·ZSUB + 1)/ZSUB cells high
# instead of 3 — 25 % fewer distance evaluations at ZSUB = 4 (the sweep dominates the run time).
ZSUB = 4


@njit(cache=True, inline="always")
def _sweep(
    X,
    Y,
    Z,
    VX,
    VY,
    VZ,
    IZ,
    ids,
    p0,
    p1,
    q0,
    q1,
    same,
    P,
    U,
    ok,
    vmax,
    rlo,
    rhi,
    D,
    h,
    L2,
    reach,
    k_lo,
    k_hi,
    out,
    n,
    cap,
):  # pragma: no cover
    """Pairs between column runs [p0, p1) and [q0, q1) (or within [p0, p1) when ``same``), both
    sorted by z cell, whose z cells differ by at most ZSUB (two-pointer sweep)."""
    lo = q0
    for p in range(p0, p1):
        zc = IZ[p]
        if same:
            q = p + 1
            stop = p1
        else:
            while lo < q1 and IZ[lo] < zc - ZSUB:
                lo += 1
            q = lo
            stop = q1
        x, y, z = X[p], Y[p], Z[p]
        while q < stop and IZ[q] <= zc + ZSUB:
            dx = X[q] - x
            dy = Y[q] - y
            dz = Z[q] - z
            # grid radius, then the linear-motion bound on the sorted (contiguous) copies; the rest of
            # the tests read per-object arrays at random and run on the few survivors only
            if dx * dx + dy * dy + dz * dz <= L2 and _segment_hit(
                dx, dy, dz, VX[q] - VX[p], VY[q] - VY[p], VZ[q] - VZ[p], 0.5 * h, reach
            ):
                n = _check_pair(
                    P, U, ok, ids[p], ids[q], vmax, rlo, rhi, D, h, reach, k_lo, k_hi, out, n, cap
                )
            q += 1
    return n


@njit(cache=True, inline="always")
def _column_run(col_s, start, stop, c):  # pragma: no cover - compiled
    """Sub-run [a, b) of a bucket run [start, stop) (sorted by column) holding column c."""
    a = start
    while a < stop and col_s[a] < c:
        a += 1
    b = a
    while b < stop and col_s[b] == c:
        b += 1
    return a, b


@njit(cache=True, parallel=True)
def sieve(
    r, v, a, valid, vmax, rlo, rhi, primary, all_vs_all, D, H, m, pad, cell, origin, dims, nblocks, cap
):  # pragma: no cover
    """Candidate node intervals ``(i, j, k)`` of a chunk, from ``m`` sub-steps per interval.

    Why no encounter is missed. Let ``|d_ij(t)| ≤ D`` and ``s`` be the sub-step nearest to ``t``
    (``|t − t_s| ≤ h/2``, ``h = H/m``). With ``|ḋ_ij| ≤ V_i + V_j`` (:func:`object_bounds`),
    ``|d_ij(t_s)| ≤ D + (V_i + V_j) h/2``, and the interpolated state is within ``pad`` of the true
    one, so ``|d̃_ij(t_s)| ≤ D' + (V_i + V_j) h/2 = L_ij ≤ L`` with ``D' = D + pad`` and
    ``L = D' + 2 max V · h/2 ≤ cell``. Two points at most ``L ≤ cell`` apart differ by at most one
    cell index per axis, so comparing each occupied column with itself and its 4 "forward"
    neighbour columns over z cells differing by ≤ 1 (all-vs-all: each pair once), or each primary
    with its 9 columns, finds every such pair. The tests applied next only drop pairs that provably stay farther than ``D``: ``L``,
    shells (:func:`object_bounds`), ``L_ij``, and the linear-motion bound — ``d(t_s + τ) = d(t_s) +
    ḋ(t_s) τ + e`` with ``|e| ≤ ½·2a_max τ² ≤ a_max h²/4`` for ``|τ| ≤ h/2``, so the segment
    ``d̃ + ḋ̃ τ`` must come within ``reach = D' + a_max h²/4 + pad`` of the origin. Survivors name
    every node interval overlapping ``[t_s − h/2, t_s + h/2]``.

    Grid: per sub-step, objects are counting-sorted by a hash of their grid *column* (x, y cell)
    into ``2^⌈log2 N⌉`` buckets and, within a bucket, by (column, z cell); positions are gathered
    into sorted contiguous arrays. A column is then a contiguous run sorted by z, and comparing two
    columns is a two-pointer sweep over z cells — 4 hash lookups per occupied column (all-vs-all)
    instead of 13 per occupied cell. (Linked lists over a dense cell array, then per-cell hashing,
    were measured 2–4× and ~1.5× slower at 10k objects: cache misses on the lookups dominate.)

    Parallel over blocks of sub-steps; each block owns its work arrays and an output slab of
    ``cap`` rows. Returns ``(out[nblocks, cap, 3], counts[nblocks])``; a count above ``cap`` means
    the caller must rerun with a larger ``cap``.
    """
    T, N = valid.shape
    n_sub = (T - 1) * m + 1
    out = np.empty((nblocks, cap, 3), dtype=np.int32)
    counts = np.zeros(nblocks, dtype=np.int64)
    h = H / m
    Dp = D + pad
    L = Dp + vmax.max() * h if N > 0 else Dp
    L2 = L * L
    reach = Dp + ACC_MAX_KMS2 * h * h / 4.0 + pad
    inv_cell = 1.0 / cell
    inv_zcell = ZSUB / cell
    # ok[k, i]: object i valid at both ends of node interval k (the refinement needs both)
    ok = np.zeros((max(T - 1, 1), N), dtype=np.bool_)
    for k in range(T - 1):
        for i in range(N):
            ok[k, i] = valid[k, i] and valid[k + 1, i]
    nx, ny, nz = dims[0], dims[1], dims[2]
    nbuckets = 256
    while nbuckets < N:
        nbuckets *= 2
    mask = nbuckets - 1
    for b in prange(nblocks):
        s0 = (n_sub * b) // nblocks
        s1 = (n_sub * (b + 1)) // nblocks
        P = np.empty((N, 3))
        U = np.empty((N, 3))
        key = np.empty(N, dtype=np.int64)  # column * nz + z cell: the sort key
        bkt = np.empty(N, dtype=np.int64)
        live = np.empty(N, dtype=np.int32)
        start = np.empty(nbuckets + 1, dtype=np.int64)
        X = np.empty(N)
        Y = np.empty(N)
        Z = np.empty(N)
        VX = np.empty(N)
        VY = np.empty(N)
        VZ = np.empty(N)
        IZ = np.empty(N, dtype=np.int64)
        COL = np.empty(N, dtype=np.int64)
        KEY = np.empty(N, dtype=np.int64)
        ids = np.empty(N, dtype=np.int32)
        w = np.empty(6)
        dw = np.empty(6)
        slab = out[b]
        n = 0
        for s in range(s0, s1):
            k = s // m
            q = s - k * m
            if k == T - 1:  # the chunk's last node
                k, q = T - 2, m
            _weights(q / m, w, dw)
            # node intervals touched by [t_s − h/2, t_s + h/2]
            k_lo = max(k - 1 if q == 0 else k, 0)
            k_hi = min(k + 1 if q == m else k, T - 2)
            nlive = 0
            start[:] = 0
            for i in range(N):
                if q == 0 or q == m:  # a node: its SGP4 state (the other end may be invalid)
                    kk = k if q == 0 else k + 1
                    if not valid[kk, i]:
                        continue
                    for ax in range(3):
                        P[i, ax] = r[kk, i, ax]
                        U[i, ax] = v[kk, i, ax]
                else:
                    if not ok[k, i]:
                        continue
                    _interp(r, v, a, k, i, H, w, dw, P[i], U[i])
                ix = min(max(int((P[i, 0] - origin[0]) * inv_cell), 0), nx - 1)
                iy = min(max(int((P[i, 1] - origin[1]) * inv_cell), 0), ny - 1)
                iz = min(max(int((P[i, 2] - origin[2]) * inv_zcell), 0), nz - 1)
                key[i] = (ix * ny + iy) * nz + iz
                hb = _bucket(ix, iy, mask)
                bkt[i] = hb
                start[hb + 1] += 1
                live[nlive] = i
                nlive += 1
            for hb in range(nbuckets):
                start[hb + 1] += start[hb]
            # Scatter only (id, key) — 2 random writes per object, not 8 — sort the small buckets,
            # then gather the states in sorted order (sequential writes, 2 rows read per object).
            for t in range(nlive):  # scatter (start[hb] advances; restored below)
                i = live[t]
                pos = start[bkt[i]]
                start[bkt[i]] = pos + 1
                ids[pos] = i
                KEY[pos] = key[i]
            for hb in range(nbuckets, 0, -1):
                start[hb] = start[hb - 1]
            start[0] = 0
            for hb in range(nbuckets):  # insertion sort by (column, z) inside each (small) bucket
                for p in range(start[hb] + 1, start[hb + 1]):
                    c = KEY[p]
                    ii = ids[p]
                    t = p - 1
                    while t >= start[hb] and KEY[t] > c:
                        KEY[t + 1] = KEY[t]
                        ids[t + 1] = ids[t]
                        t -= 1
                    KEY[t + 1] = c
                    ids[t + 1] = ii
            for p in range(nlive):
                i = ids[p]
                X[p], Y[p], Z[p] = P[i, 0], P[i, 1], P[i, 2]
                VX[p], VY[p], VZ[p] = U[i, 0], U[i, 1], U[i, 2]
            for p in range(nlive):
                COL[p] = KEY[p] // nz
                IZ[p] = KEY[p] - COL[p] * nz
            if all_vs_all:
                p0 = 0
                while p0 < nlive:
                    c = COL[p0]
                    p1 = p0 + 1
                    while p1 < nlive and COL[p1] == c:
                        p1 += 1
                    n = _sweep(X, Y, Z, VX, VY, VZ, IZ, ids, p0, p1, 0, 0, True, P, U, ok, vmax, rlo, rhi, Dp, h, L2, reach,
                               k_lo, k_hi, slab, n, cap)  # fmt: skip
                    cx = c // ny
                    cy = c - cx * ny
                    for dd in range(4):  # forward columns: (0, 1), (1, -1), (1, 0), (1, 1)
                        jx = cx + (0 if dd == 0 else 1)
                        jy = cy + (1 if dd == 0 else dd - 2)
                        if jx >= nx or jy < 0 or jy >= ny:
                            continue
                        hb = _bucket(jx, jy, mask)
                        if start[hb] == start[hb + 1]:
                            continue
                        q0, q1 = _column_run(COL, start[hb], start[hb + 1], jx * ny + jy)
                        if q1 > q0:
                            n = _sweep(X, Y, Z, VX, VY, VZ, IZ, ids, p0, p1, q0, q1, False, P, U, ok, vmax, rlo, rhi, Dp, h,
                                       L2, reach, k_lo, k_hi, slab, n, cap)  # fmt: skip
                    p0 = p1
            else:
                for t in range(nlive):
                    i = live[t]
                    if not primary[i]:
                        continue
                    cz = key[i] % nz
                    c = key[i] // nz
                    cx = c // ny
                    cy = c - cx * ny
                    for ddx in range(-1, 2):
                        for ddy in range(-1, 2):
                            jx, jy = cx + ddx, cy + ddy
                            if jx < 0 or jx >= nx or jy < 0 or jy >= ny:
                                continue
                            hb = _bucket(jx, jy, mask)
                            q0, q1 = _column_run(COL, start[hb], start[hb + 1], jx * ny + jy)
                            for qq in range(q0, q1):
                                if IZ[qq] < cz - ZSUB or IZ[qq] > cz + ZSUB:
                                    continue
                                j = ids[qq]
                                # primary–primary pairs are seen from both sides: keep one
                                if j == i or (primary[j] and j < i):
                                    continue
                                dx = X[qq] - P[i, 0]
                                dy = Y[qq] - P[i, 1]
                                dz = Z[qq] - P[i, 2]
                                if dx * dx + dy * dy + dz * dz <= L2:
                                    n = _check_pair(P, U, ok, i, j, vmax, rlo, rhi, Dp, h, reach, k_lo, k_hi,
                                                    slab, n, cap)  # fmt: skip
        counts[b] = n
    return out, counts


@njit(cache=True, inline="always")
def _bucket(ix, iy, mask):  # pragma: no cover - compiled
    """Hash bucket of a grid column (x, y cell): the classic prime-multiply spatial hash."""
    return ((ix * 73856093) ^ (iy * 19349663)) & mask


@njit(cache=True, inline="always")
def _g(C, x):  # pragma: no cover - compiled
    """p(x)·p'(x) (half of d|p|²/dx) for the 3×6 monomial coefficients C of the relative quintic."""
    acc = 0.0
    for ax in range(3):
        c = C[ax]
        p = c[0] + x * (c[1] + x * (c[2] + x * (c[3] + x * (c[4] + x * c[5]))))
        dp = c[1] + x * (2.0 * c[2] + x * (3.0 * c[3] + x * (4.0 * c[4] + x * 5.0 * c[5])))
        acc += p * dp
    return acc


# Sign changes of d/dx |p|² are searched on N_SUB sub-intervals of each node interval (H/64, i.e.
# ≤ 2 s at H = 120 s): two extrema closer than that are a shallow double dip of co-moving objects,
# whose distance barely changes between them.
N_SUB = 64
MAX_MINIMA = 4


@njit(cache=True, parallel=True)
def refine(r, v, a, cand, H, D):  # pragma: no cover - compiled
    """Local minima of the distance on candidate node intervals.

    The relative position on ``[t_k, t_k+1]`` is the difference of the two objects' quintic
    Hermite interpolants (itself the quintic of the relative state). Minima are the roots of
    ``g = p·p'`` where g goes from negative to non-negative, bracketed on ``N_SUB`` sub-intervals and
    polished by bisection to 1e-13 of the interval.

    Returns ``(x, miss [km], rel_speed [km/s])``, each of length ``MAX_MINIMA · len(cand)``: slot
    ``MAX_MINIMA·c + n`` holds the n-th minimum of candidate c with miss ≤ D (``x`` ∈ [0, 1) is the
    fraction of the interval), NaN elsewhere.
    """
    M = cand.shape[0]
    xs = np.full(M * MAX_MINIMA, np.nan)
    miss = np.full(M * MAX_MINIMA, np.nan)
    speed = np.full(M * MAX_MINIMA, np.nan)
    for c in prange(M):
        i, j, k = cand[c, 0], cand[c, 1], cand[c, 2]
        C = np.zeros((3, 6))
        for ax in range(3):
            d = (r[k, j, ax] - r[k, i, ax], H * (v[k, j, ax] - v[k, i, ax]), H * H * (a[k, j, ax] - a[k, i, ax]),
                 r[k + 1, j, ax] - r[k + 1, i, ax], H * (v[k + 1, j, ax] - v[k + 1, i, ax]),
                 H * H * (a[k + 1, j, ax] - a[k + 1, i, ax]))  # fmt: skip
            for b in range(6):
                for e in range(6):
                    C[ax, e] += HERMITE5[b, e] * d[b]
        found = 0
        g_lo = _g(C, 0.0)
        for q in range(N_SUB):
            x_lo = q / N_SUB
            x_hi = (q + 1) / N_SUB
            g_hi = _g(C, x_hi)
            if g_lo < 0.0 and g_hi >= 0.0 and found < MAX_MINIMA:
                lo, hi = x_lo, x_hi
                for _ in range(64):
                    mid = 0.5 * (lo + hi)
                    if _g(C, mid) < 0.0:
                        lo = mid
                    else:
                        hi = mid
                    if hi - lo < 1e-13:
                        break
                x = 0.5 * (lo + hi)
                if x < 1.0:
                    d2 = 0.0
                    s2 = 0.0
                    for ax in range(3):
                        cc = C[ax]
                        p = cc[0] + x * (cc[1] + x * (cc[2] + x * (cc[3] + x * (cc[4] + x * cc[5]))))
                        dp = cc[1] + x * (
                            2.0 * cc[2] + x * (3.0 * cc[3] + x * (4.0 * cc[4] + x * 5.0 * cc[5]))
                        )
                        d2 += p * p
                        s2 += dp * dp
                    dist = math.sqrt(d2)
                    if dist <= D:
                        slot = c * MAX_MINIMA + found
                        xs[slot] = x
                        miss[slot] = dist
                        speed[slot] = math.sqrt(s2) / H
                        found += 1
            g_lo = g_hi
    return xs, miss, speed
