"""The grid sieve of conjunction screening (private; no validation — see :mod:`s2p.debris.screening`).

Per sub-step ``t_s`` of a chunk (``m`` per node interval, ``h = H/m``), every pair of objects that can
be within ``D`` at a time whose nearest sub-step is ``t_s`` is found with a uniform grid of cells
``≥ L``, then filtered by the linear-motion bound; survivors name candidate node intervals for
:func:`s2p.debris._screen_kernels.refine`. The proofs are in :func:`sieve`; the layout choices and the
alternatives measured against them are in the comments.
"""

from __future__ import annotations

import math

import numpy as np
from numba import float32, int32, njit, prange, uint64

from s2p import _numba_cache
from s2p.debris._screen_kernels import _check_pair, _interp, _state_weights

_numba_cache.drop_stale(__file__, "_screen_kernels.py")

# z cells are cell/ZSUB high: two objects at most one cell apart differ by at most ZSUB z cells, so a
# z window is (2·ZSUB + 1)/ZSUB cells high instead of 3.
ZSUB = 4
# Lanes of the float32 tile test: up to 8 objects of a column against each object of a neighbour's z
# window, one 256-bit AVX2 vector (see ``_tile`` for what keeps LLVM from splitting it in two SSE
# halves). 8 lanes amortise the broadcast of the other object and the window search over more pairs.
# Rejected, measured on 25,000 objects: the scalar test per pair in a z window (2x slower: a
# mispredicted loop exit or two per pair of object and column), whole columns without a z window
# (1.4x more lane tests), float64 lanes (1.6x slower), 4-lane tiles for small columns (fewer lane
# tests but 8 % slower overall).
TILE = 8
# Tiles are cut where consecutive z cells of a column jump by more than this (the two hemispheres of
# a shell seen through one column), so a tile's z window stays narrow: 20 % fewer lane tests, 5 % faster.
TILE_GAP = 2 * ZSUB
# FMA contraction only: the float32 test is a conservative prefilter whose rounding allowance
# (see ``sieve``) already covers either rounding; no reassociation, no assumption about NaN.
_FM = {"contract"}


@njit(cache=True, inline="always")
def _gmap(x, inv_cell, x0):  # pragma: no cover - compiled
    """Grid coordinate of ``x`` [km]: ``x/cell`` for ``|x| ≤ x0``, logarithmic beyond (slope ≤ 1/cell
    everywhere, so points at most one cell apart still map at most one index apart)."""
    ax = abs(x)
    if ax <= x0:
        return x * inv_cell
    g = x0 * inv_cell * (1.0 + math.log(ax / x0))
    return g if x > 0.0 else -g


@njit(cache=True, inline="always")
def _index(g, off, n):  # pragma: no cover - compiled
    """Cell index of grid coordinate g, clamped to [1, n − 2] (clamping never separates neighbours;
    the border cells 0 and n − 1 stay empty, so neighbour lookups need no bounds test)."""
    return min(max(int(math.floor(g)) + off, 1), n - 2)


@njit(cache=True, inline="always")
def _hit64(dx, dy, dz, ux, uy, uz, lij, half, reach2):  # pragma: no cover - compiled
    """Exact (float64) test: ``|d| ≤ lij`` and the segment ``d + u τ``, ``|τ| ≤ half``, comes within
    ``√reach2``. Written without a division or a branch."""
    dd = dx * dx + dy * dy + dz * dz
    du = dx * ux + dy * uy + dz * uz
    uu = ux * ux + uy * uy + uz * uz
    adu = abs(du)
    if adu < uu * half:  # closest approach inside the window: distance of the line
        seg = dd * uu - du * du <= reach2 * uu
    else:  # at the window's end nearer to it
        seg = dd - 2.0 * adu * half + uu * half * half <= reach2
    return seg and dd <= lij * lij


@njit(cache=True, inline="always", fastmath=_FM)
def _lane(X, Y, Z, VX, VY, VZ, i, x, y, z, vx, vy, vz, half, reach2):  # pragma: no cover
    """float32 prefilter value of the pair (lane i, broadcast object): ≤ 0 may pass, > 0 cannot.

    ``max(uu(|d|² − r²) − du², w² − r² uu)`` with ``w = max(|du| − uu·half, 0)``: the line through the
    relative motion passes within r, and its closest point is at most ``r/|u|`` outside the window —
    a superset of "the segment comes within r" (square instead of disc at the ends), division-free.
    """
    dx = X[i] - x
    dy = Y[i] - y
    dz = Z[i] - z
    ux = VX[i] - vx
    uy = VY[i] - vy
    uz = VZ[i] - vz
    dd = dx * dx + dy * dy + dz * dz
    du = dx * ux + dy * uy + dz * uz
    uu = ux * ux + uy * uy + uz * uz
    v_in = uu * (dd - reach2) - du * du
    w = max(abs(du) - uu * half, float32(0.0))
    return max(v_in, w * w - reach2 * uu)


# Not inlined: numba's IR inlining compiles an inlined body with the caller's flags, which dropped
# _FM (no FMA at all in the sieve's machine code); as its own function the lane test is contracted
# into FMAs (~7 % less sieve CPU on 25,000 objects, the same candidates).
@njit(cache=True, fastmath=_FM)
def _tile(X, Y, Z, VX, VY, VZ, t0, lim0, qa, qb, same, half, reach2):  # pragma: no cover
    """Number of (lane, q) pairs passing :func:`_lane`: lanes ``t0 + l`` below ``lim0`` (and below q
    when ``same``), q in ``[qa, qb)``. The lane loop has a fixed trip count, so LLVM unrolls it into
    SIMD (the count is an integer reduction; a float min reduction was not vectorised). The count is
    truncated to int32 after each lane: numba widens int arithmetic to int64, and an int64 reduction
    made LLVM's SLP vectoriser split the 8 lanes into two 4-wide SSE halves (the lane values spilled
    to the stack); in int32 the lane test is 8-wide AVX2 (~20 % less screening CPU on 25,000 objects
    × 1 day, the same candidates)."""
    hits = 0
    for q in range(qa, qb):
        uq = uint64(q)
        x, y, z, vx, vy, vz = X[uq], Y[uq], Z[uq], VX[uq], VY[uq], VZ[uq]
        lim = float32((min(lim0, q) if same else lim0) - t0) - float32(0.5)
        cnt = int32(0)
        for l in range(TILE):
            val = _lane(X, Y, Z, VX, VY, VZ, uint64(t0 + l), x, y, z, vx, vy, vz, half, reach2)
            cnt = int32(cnt + ((val <= float32(0.0)) & (float32(l) < lim)))
        hits += cnt
    return hits


@njit(cache=True)
def float32_reach(reach, cell, vslow, half, xmax):  # pragma: no cover - compiled
    """Radius [km] of the float32 prefilter that keeps every pair the exact float64 test keeps.

    With unit roundoff ``u = 2⁻²⁴``: rounding positions of magnitude ≤ ``xmax`` moves the relative
    position by ``≤ 2√3·u·xmax`` and the relative velocity by ``≤ 2√3·u·2V`` (so the segment by
    ``≤ half`` times that), and the segment distance is 1-Lipschitz in both. The float32 evaluation of
    :func:`_lane` for a pair with ``|d| ≤ cell`` and ``|u| ≤ 2V`` errs by at most
    ``c·u·uu·(3 cell² + 4 cell·V·half + r²)`` (``c = 8`` for the dot products, sums and the last
    products; 16 is used), which a radius ``r + ε`` absorbs if ``2 r ε ≥`` that bound. A pair that
    passes the prefilter is then tested exactly (float64, :func:`_check_pair`).
    """
    u32 = 2.0**-24
    shift = 2.0 * math.sqrt(3.0) * u32 * (xmax + 2.0 * vslow * half) + 1e-4
    arith = 16.0 * u32 * (3.0 * cell * cell + 4.0 * cell * vslow * half + reach * reach)
    return reach + shift + arith / (2.0 * reach) + 0.01


@njit(cache=True, inline="always")
def _sweep_column(
    X,
    Y,
    Z,
    VX,
    VY,
    VZ,
    IZ,
    ids,
    tiles,
    cstart,
    c,
    p0,
    p1,
    nx,
    P,
    U,
    ok,
    vmax,
    rlo,
    rhi,
    Dp,
    h,
    reach,
    half_f,
    reach2_f,
    k_lo,
    k_hi,
    out,
    n,
    cap,
):  # pragma: no cover - compiled
    """All pairs of column c (run [p0, p1)) with itself and its 4 forward neighbours: per tile of the
    column, the neighbour's z window, the float32 tile test, and for the rare tile with a hit the exact
    tests on each of its pairs."""
    # the column's tiles [t_k, tiles[k]): up to TILE objects without a jump in z
    nt = 0
    t0 = p0
    while t0 < p1:
        e = t0 + 1
        while e < p1 and e - t0 < TILE and IZ[e] - IZ[e - 1] <= TILE_GAP:
            e += 1
        tiles[nt] = e
        nt += 1
        t0 = e
    for dd in range(5):  # columns (0, 0), (0, +1), (+1, −1), (+1, 0), (+1, +1)
        cc = c if dd == 0 else (c + 1 if dd == 1 else c + nx - 3 + dd)
        q0 = cstart[cc]
        q1 = cstart[cc + 1]
        if q1 <= q0 or (dd == 0 and p1 - p0 < 2):
            continue
        same = dd == 0
        lo = q0
        hi = q0
        t0 = p0
        for it in range(nt):
            e = tiles[it]
            if same:
                lo = t0 + 1
            else:
                while lo < q1 and IZ[lo] < IZ[t0] - ZSUB:
                    lo += 1
            if hi < lo:
                hi = lo
            while hi < q1 and IZ[hi] <= IZ[e - 1] + ZSUB:
                hi += 1
            if hi > lo and _tile(X, Y, Z, VX, VY, VZ, t0, e, lo, hi, same, half_f, reach2_f) > 0:
                # rare (~1 tile in 100): the exact float64 tests on each pair of the tile
                for qq in range(lo, hi):
                    for pp in range(t0, min(e, qq) if same else e):
                        n = _check_pair(P, U, ok, ids[pp], ids[qq], vmax, rlo, rhi, Dp, h, reach, k_lo, k_hi, out, n,
                                        cap)  # fmt: skip
            t0 = e
    return n


@njit(cache=True, inline="always")
def _scan_around(
    i,
    P,
    U,
    rc,
    rz,
    ix,
    iy,
    iz,
    nx,
    cstart,
    IZ,
    ids,
    skip_primary,
    primary,
    ok,
    vmax,
    rlo,
    rhi,
    Dp,
    h,
    reach,
    k_lo,
    k_hi,
    out,
    n,
    cap,
):  # pragma: no cover - compiled
    """Object i (float64 state) against the grid's objects within rc columns and rz z cells."""
    half = 0.5 * h
    reach2 = reach * reach
    for jx in range(max(ix - rc, 0), min(ix + rc, nx - 1) + 1):
        for jy in range(max(iy - rc, 0), min(iy + rc, nx - 1) + 1):
            cc = jx * nx + jy
            for qq in range(cstart[cc], cstart[cc + 1]):
                if IZ[qq] < iz - rz or IZ[qq] > iz + rz:
                    continue
                j = ids[qq]
                # primary–primary pairs are seen from both sides: keep one
                if j == i or (skip_primary and primary[j] and j < i):
                    continue
                lij = Dp + (vmax[i] + vmax[j]) * half
                if _hit64(P[j, 0] - P[i, 0], P[j, 1] - P[i, 1], P[j, 2] - P[i, 2], U[j, 0] - U[i, 0],
                          U[j, 1] - U[i, 1], U[j, 2] - U[i, 2], lij, half, reach2):  # fmt: skip
                    n = _check_pair(P, U, ok, i, j, vmax, rlo, rhi, Dp, h, reach, k_lo, k_hi, out, n, cap)
    return n


@njit(cache=True, parallel=True)
def sieve(
    r, v, a, valid, vmax, rlo, rhi, primary, all_vs_all, D, H, m, pad, curv, cell, vcut, x0, xmax, nblocks, cap
):  # pragma: no cover  # fmt: skip
    """Candidate node intervals ``(i, j, k)`` of a chunk, from ``m`` sub-steps per interval.

    Why no encounter is missed. Let ``|d_ij(t)| ≤ D`` and ``s`` be the sub-step nearest to ``t``
    (``|t − t_s| ≤ h/2``, ``h = H/m``). With ``|ḋ_ij| ≤ V_i + V_j`` (:func:`object_bounds`),
    ``|d_ij(t_s)| ≤ D + (V_i + V_j) h/2``, and the interpolated state is within ``pad`` of the true
    one, so ``|d̃_ij(t_s)| ≤ D' + (V_i + V_j) h/2 = L_ij`` with ``D' = D + pad``. Objects with
    ``V ≤ vcut`` ("slow", all but a few eccentric objects near perigee) go into a grid of cells
    ``cell ≥ D' + vcut·h ≥ L_ij``: two of them at most ``L_ij`` apart differ by at most one index per
    axis (also through the logarithmic map beyond ``x0`` and the clamping, both of slope ≤ 1/cell), so
    comparing each occupied column (x, y cell) with itself and its 4 forward neighbours over z cells
    differing by ≤ ZSUB finds the pair once. A fast object is compared with every slow object within
    ``⌈L_i/cell⌉`` columns and z cells (``L_i = D' + (V_i + vcut) h/2``) and with every other fast
    object. The tests applied next only drop pairs that provably stay farther than ``D``: shells
    (:func:`object_bounds`), ``L_ij``, and the linear-motion bound — ``d(t_s + τ) = d(t_s) + ḋ(t_s) τ
    + e`` with ``|e| ≤ curv`` for ``|τ| ≤ h/2``, so the segment ``d̃ + ḋ̃ τ`` must come within ``reach =
    D' + curv + pad`` of the origin (``curv``: the caller's curvature bound, tidal or ``a_max h²/4``,
    see :func:`s2p.debris.screening._curvature_km`); in the grid sweep it is first applied in float32
    with a radius that covers the rounding (:func:`float32_reach`). Survivors name every
    node interval overlapping ``[t_s − h/2, t_s + h/2]``. Primaries mode (``all_vs_all`` false): every
    object is in the grid (``vcut`` ≥ all speeds) and each primary scans its 3×3 columns.

    Grid (per sub-step, per block of sub-steps): dense columns — ``nx²`` of them, ``nx`` from the
    grid's extent ``xmax`` and ``x0`` (the caller keeps ``nx²`` small) — and a two-pass counting sort
    (by z cell, then stably by column) leave each column a contiguous run sorted by z. The sorted
    states are gathered into float32 arrays for the tile test. (Rejected, measured at 25,000 objects:
    the former hash of columns into buckets with an insertion sort, ~1.5x slower to build, and a
    per-column merge of the neighbour runs, slower than the sweeps it saved.)

    Parallel over blocks of sub-steps; each block owns its work arrays and an output slab of
    ``cap`` rows. Returns ``(out[nblocks, cap, 3], counts[nblocks])``; a count above ``cap`` means
    the caller must rerun with a larger ``cap``.
    """
    T, N = valid.shape
    n_sub = (T - 1) * m + 1
    out = np.empty((nblocks, cap, 3), dtype=np.int32)
    counts = np.zeros(nblocks, dtype=np.int64)
    h = H / m
    half = 0.5 * h
    Dp = D + pad
    reach = Dp + curv + pad
    inv_cell = 1.0 / cell
    gx = _gmap(xmax, inv_cell, x0)
    offx = int(math.ceil(gx)) + 1
    nx = 2 * offx + 1
    offz = int(math.ceil(ZSUB * gx)) + 1
    nz = 2 * offz + 1
    ncol = nx * nx
    fast = np.zeros(N, dtype=np.bool_)
    vslow = 0.0
    for i in range(N):
        if all_vs_all and vmax[i] > vcut:
            fast[i] = True
        else:
            vslow = max(vslow, vmax[i])
    half_f = float32(half)
    reach2_f = float32(float32_reach(reach, cell, vslow, half, xmax) ** 2)
    # ok[k, i]: object i valid at both ends of node interval k (the refinement needs both)
    ok = np.zeros((max(T - 1, 1), N), dtype=np.bool_)
    for k in range(T - 1):
        for i in range(N):
            ok[k, i] = valid[k, i] and valid[k + 1, i]
    for b in prange(nblocks):
        s0 = (n_sub * b) // nblocks
        s1 = (n_sub * (b + 1)) // nblocks
        P = np.empty((N, 3))
        U = np.empty((N, 3))
        # float32 states by object (padded to 8): the sorted gather below reads one cache line each
        F = np.empty((N, 8), dtype=np.float32)
        ocol = np.empty(N, dtype=np.int32)
        oiz = np.empty(N, dtype=np.int32)
        order = np.empty(N, dtype=np.int32)
        zstart = np.empty(nz + 1, dtype=np.int32)
        cstart = np.empty(ncol + 1, dtype=np.int32)
        # sorted copies, padded by a tile so that lanes past the last object read finite values
        ids = np.zeros(N + TILE, dtype=np.int32)
        X = np.zeros(N + TILE, dtype=np.float32)
        Y = np.zeros(N + TILE, dtype=np.float32)
        Z = np.zeros(N + TILE, dtype=np.float32)
        VX = np.zeros(N + TILE, dtype=np.float32)
        VY = np.zeros(N + TILE, dtype=np.float32)
        VZ = np.zeros(N + TILE, dtype=np.float32)
        IZ = np.zeros(N + TILE, dtype=np.int32)
        COL = np.zeros(N + TILE, dtype=np.int32)
        tiles = np.empty(N + 1, dtype=np.int64)
        others = np.empty(N, dtype=np.int32)  # fast objects (all-vs-all) or primaries
        w = np.empty(6)
        dw = np.empty(6)
        slab = out[b]
        n = 0
        for s in range(s0, s1):
            k = s // m
            q = s - k * m
            if k == T - 1:  # the chunk's last node
                k, q = T - 2, m
            _state_weights(q / m, H, w, dw)
            # node intervals touched by [t_s − h/2, t_s + h/2]
            k_lo = max(k - 1 if q == 0 else k, 0)
            k_hi = min(k + 1 if q == m else k, T - 2)
            zstart[:] = 0
            cstart[:] = 0
            nlive = 0
            nother = 0
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
                    _interp(r, v, a, k, i, w, dw, P[i], U[i])
                if fast[i] or (not all_vs_all and primary[i]):
                    others[nother] = i
                    nother += 1
                    if fast[i]:
                        continue
                ix = _index(_gmap(P[i, 0], inv_cell, x0), offx, nx)
                iy = _index(_gmap(P[i, 1], inv_cell, x0), offx, nx)
                iz = _index(ZSUB * _gmap(P[i, 2], inv_cell, x0), offz, nz)
                ocol[i] = ix * nx + iy
                oiz[i] = iz
                F[i, 0] = P[i, 0]
                F[i, 1] = P[i, 1]
                F[i, 2] = P[i, 2]
                F[i, 3] = U[i, 0]
                F[i, 4] = U[i, 1]
                F[i, 5] = U[i, 2]
                zstart[iz + 1] += 1
                cstart[ix * nx + iy + 1] += 1
                order[nlive] = i
                nlive += 1
            # two-pass counting sort: by z cell, then stably by column
            for t in range(nz):
                zstart[t + 1] += zstart[t]
            for t in range(nlive):
                i = order[t]
                pos = zstart[oiz[i]]
                zstart[oiz[i]] = pos + 1
                ids[pos] = i
            for t in range(ncol):
                cstart[t + 1] += cstart[t]
            for t in range(nlive):
                i = ids[t]
                pos = cstart[ocol[i]]
                cstart[ocol[i]] = pos + 1
                order[pos] = i
            for t in range(ncol, 0, -1):  # restore the run starts
                cstart[t] = cstart[t - 1]
            cstart[0] = 0
            for p in range(nlive):
                i = order[p]
                ids[p] = i
                X[p] = F[i, 0]
                Y[p] = F[i, 1]
                Z[p] = F[i, 2]
                VX[p] = F[i, 3]
                VY[p] = F[i, 4]
                VZ[p] = F[i, 5]
                IZ[p] = oiz[i]
                COL[p] = ocol[i]
            if all_vs_all:
                p0 = 0
                while p0 < nlive:
                    c = COL[p0]
                    p1 = cstart[c + 1]
                    n = _sweep_column(X, Y, Z, VX, VY, VZ, IZ, ids, tiles, cstart, c, p0, p1, nx, P, U, ok, vmax, rlo,
                                      rhi, Dp, h, reach, half_f, reach2_f, k_lo, k_hi, slab, n, cap)  # fmt: skip
                    p0 = p1
            for t in range(nother):
                i = others[t]
                ix = _index(_gmap(P[i, 0], inv_cell, x0), offx, nx)
                iy = _index(_gmap(P[i, 1], inv_cell, x0), offx, nx)
                iz = _index(ZSUB * _gmap(P[i, 2], inv_cell, x0), offz, nz)
                if all_vs_all:  # a fast object: its own reach over the slow grid, then the other fast ones
                    li = Dp + (vmax[i] + vslow) * half
                    rc = int(math.ceil(li * inv_cell))
                    n = _scan_around(i, P, U, rc, int(math.ceil(li * inv_cell * ZSUB)), ix, iy, iz, nx, cstart, IZ,
                                     ids, False, primary, ok, vmax, rlo, rhi, Dp, h, reach, k_lo, k_hi, slab, n,
                                     cap)  # fmt: skip
                    for t2 in range(t + 1, nother):
                        j = others[t2]
                        lij = Dp + (vmax[i] + vmax[j]) * half
                        if _hit64(P[j, 0] - P[i, 0], P[j, 1] - P[i, 1], P[j, 2] - P[i, 2], U[j, 0] - U[i, 0],
                                  U[j, 1] - U[i, 1], U[j, 2] - U[i, 2], lij, half, reach * reach):  # fmt: skip
                            n = _check_pair(
                                P, U, ok, i, j, vmax, rlo, rhi, Dp, h, reach, k_lo, k_hi, slab, n, cap
                            )
                else:  # a primary: its 3×3 columns
                    n = _scan_around(i, P, U, 1, ZSUB, ix, iy, iz, nx, cstart, IZ, ids, True, primary, ok, vmax,
                                     rlo, rhi, Dp, h, reach, k_lo, k_hi, slab, n, cap)  # fmt: skip
        counts[b] = n
    return out, counts
