"""The sieve's linear-motion bound on real element sets: the curvature term it allows for
(``screening._curvature_km``) covers what the interpolated relative motion of every close pair
really does over a sub-step's window."""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from s2p.debris import _screen_kernels as K
from s2p.debris import screening as S
from tests.s2p.debris.test_screening import START, _subset_2000

H = 240.0
M = 5  # h = 48 s, the sieve's sub-step at the default node step


def _hermite(r, v, a, k, x):
    """Positions (N, 3) of every object at x ∈ [0, 1] of node interval k (the sieve's interpolant)."""
    w = K.HERMITE5 @ (x ** np.arange(6))
    data = (r[k], H * v[k], H * H * a[k], r[k + 1], H * v[k + 1], H * H * a[k + 1])
    return sum(wb * d for wb, d in zip(w, data, strict=True))


def test_curvature_bound_covers_every_close_pair() -> None:
    tles = _subset_2000()
    n_nodes = 16  # one hour
    times = START + (np.arange(n_nodes) * H * 1e9).astype("timedelta64[ns]")
    r, v, a, valid, _, _ = S._sample(tles, times)
    vmax, rlo, _, eps, nu = K.object_bounds(r, v, a, valid, H, M)
    alive = valid.all(axis=0) & (eps < 0.5)
    h = H / M
    Dp = 5.0 + 0.01 + 8.0 * float(eps[alive].max())
    curv = S._curvature_km(h, Dp, vmax[alive], rlo[alive], nu[alive])
    coarse = K.ACC_MAX_KMS2 * h * h / 4.0
    assert curv < coarse / 3  # the tidal bound is the one in force, not the coarse fallback
    # pairs this close at a sub-step stay within the bound's L = Dp + 2·V·h over its window
    near = Dp + float(vmax[alive].max()) * h
    worst, pairs = 0.0, 0
    dx = 1e-4
    for k in range(n_nodes - 1):
        for xs in (0.1, 0.3, 0.5, 0.7, 0.9):
            p = _hermite(r, v, a, k, xs)[alive]
            u = (_hermite(r, v, a, k, xs + dx)[alive] - _hermite(r, v, a, k, xs - dx)[alive]) / (2 * dx * H)
            ij = cKDTree(p).query_pairs(near, output_type="ndarray")
            if len(ij) == 0:
                continue
            pairs += len(ij)
            d0 = p[ij[:, 1]] - p[ij[:, 0]]
            u0 = u[ij[:, 1]] - u[ij[:, 0]]
            for tau in np.linspace(-h / 2, h / 2, 9):
                x = xs + tau / H
                kk, xx = (k, x) if 0.0 <= x <= 1.0 else ((k - 1, x + 1) if x < 0 else (k + 1, x - 1))
                if not 0 <= kk < n_nodes - 1:
                    continue
                q = _hermite(r, v, a, kk, xx)[alive]
                rem = np.linalg.norm(q[ij[:, 1]] - q[ij[:, 0]] - d0 - u0 * tau, axis=1)
                worst = max(worst, float(rem.max()))
    assert pairs > 1000
    # the bound holds, and is not loose by orders of magnitude (the test could fail)
    print(f"pairs {pairs}, worst remainder {worst:.4f} km, bound {curv:.4f} km (coarse {coarse:.2f} km)")
    assert worst <= curv, (worst, curv)
    assert worst > curv / 50, (worst, curv)
