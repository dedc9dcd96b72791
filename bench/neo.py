"""Planetary Defence benchmarks: s2p.neo next to its peers, measured in one run.

    .venv/bin/python bench/neo.py            # full run (~1-2 min on 2 cores)
    .venv/bin/python bench/neo.py --quick    # smaller peer samples

1. MOID per pair vs the Earth: s2p ``moid_elements`` on the 20,060 NEAs of the shipped MPC file, against
   ``distlink-python`` (pure-Python port of distlink) on a sample; the C++ distlink figure (15 us/pair,
   docs/PERFORMANCE.md) is printed for context, not measured here.
2. Kepler / two-body, 1,000,000 orbits x 1 epoch: s2p's throughput kernel (one libm sin/cos per orbit)
   and the general ``propagate`` path, against a vectorised numpy implementation.
3. Astrometric ephemerides of the 20,060 NEAs at one epoch (geocentre): s2p ``ephemeris`` against
   Skyfield's per-object loop (``mpc.mpcorb_orbit`` + ``observe().radec()`` on the same DE421), timed on a
   sample and scaled per object-epoch.
4. The floor: the clock and the FMA throughput of this CPU measured by bare loops, a bare loop of the
   two-body kernel's arithmetic (vectorised, cache-resident: no memory traffic, no fallback) and the
   memory stream of its inputs and outputs, and a bare first pass of the MOID (the grid, its row and
   column minima and its local-minimum scan, the fixed work of every pair); each printed beside ours.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np
from numba import njit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # for tests.s2p.neo.references (the registered peers)

from s2p import neo  # noqa: E402
from s2p.neo._kernels import (  # noqa: E402
    TWO_PI,
    _halley,
    _rotate3,
    _rotate7,
    _rotate9,
    _sincos,
    _sincos_small,
)
from s2p.neo.propagation import positions_at_mean_anomaly, propagate_days  # noqa: E402
from tests.s2p.neo.references import distlink_moid, numpy_two_body, skyfield_de421, skyfield_radec  # noqa: E402

CPP_DISTLINK_US_PER_PAIR = 15.0  # docs/PERFORMANCE.md
# Zen 3 (this machine: AMD EPYC, family 25): 2 FMA pipes x 4 doubles (AVX2; no AVX-512 in /proc/cpuinfo)
PEAK_FLOPS_PER_CYCLE = 16
ADD_LATENCY_CYCLES = 3
# Per orbit in the two-body kernel, counted in its LLVM IR (numba 0.68; the vectorised stages plus the
# scalar strided stores): ~128 multiplications and ~89 additions/subtractions (most fused into FMAs),
# 4 divisions, 2 square roots; besides ~15 compares and ~13 selects
KEPLER_FLOPS = 215
# Per grid cell of the MOID first pass (bare loop below): the cell (2 FMAs + 1 add), its column minimum
# (compare + select) and row minimum, the 3x3 local-minimum test (8 minimums + compare)
MOID_CELL_OPS = 5 + 3 + 9
_FAST = {"cache": True, "error_model": "numpy", "fastmath": {"contract"}}


# ------------------------------------------------------------------ bare loops of the floor analysis
@njit(cache=True)
def _add_chain(n: int, x: float) -> float:
    """n dependent additions: ADD_LATENCY_CYCLES each, hence the clock."""
    for _ in range(n):
        x = x + 1.0
    return x


@njit(**_FAST)
def _horner(x, y, reps):  # pragma: no cover - compiled
    """16 FMAs per element, independent across elements (vectorised): the FMA throughput."""
    for _ in range(reps):
        for i in range(x.shape[0]):
            t = x[i]
            u = t
            for _j in range(16):
                u = u * t + 0.25
            y[i] = u


@njit(**_FAST)
def _divider(x, z, y, reps):  # pragma: no cover - compiled
    """One division and one square root per element (vectorised): the divider's throughput."""
    for _ in range(reps):
        for i in range(x.shape[0]):
            y[i] = x[i] / z[i] + math.sqrt(z[i])


@njit(**_FAST)
def _kepler_bare(a, e, m, x, y, reps):  # pragma: no cover - compiled
    """The throughput kernel's arithmetic in one flat loop (same functions and steps): in-plane x, y."""
    for _ in range(reps):
        for k in range(a.shape[0]):
            ek = e[k]
            mk = m[k] - TWO_PI * np.floor(m[k] * (1.0 / TWO_PI) + 0.5)
            sm, cm = _sincos(mk)
            d = ek * sm / math.sqrt(1.0 - 2.0 * ek * cm + ek * ek)
            sd, cd = _sincos_small(d)
            s = sm * cd + cm * sd
            c = cm * cd - sm * sd
            st = _halley(d, s, c, ek)
            d += st
            s, c = _rotate9(s, c, st)
            st = _halley(d, s, c, ek)
            d += st
            s, c = _rotate7(s, c, st)
            st = _halley(d, s, c, ek)
            s, c = _rotate3(s, c, st)
            x[k] = a[k] * (c - ek)
            y[k] = a[k] * math.sqrt(1.0 - ek * ek) * s


@njit(**_FAST)
def _stream(a, e, p, q, m, out):  # pragma: no cover - compiled
    """The kernel's memory traffic (9 doubles in, 3 out per orbit) with next to no arithmetic."""
    for k in range(a.shape[0]):
        x = a[k] * e[k] + m[k]
        y = a[k] - m[k]
        for j in range(3):
            out[k, j] = x * p[k, j] + y * q[k, j]


@njit(**_FAST)
def _moid_first_pass(a1, e1, a2, e2, g, cos_t, sin_t, out):  # pragma: no cover - compiled
    """The fixed work of a grid-seeded MOID per pair: the ng x ng grid of squared distances (2 FMAs a
    cell), row and column minima, and the count of 3x3 local minima; g[k] = (PP, PQ, QP, QQ) dot
    products of the two frames."""
    ng = cos_t.shape[0]
    x1 = np.empty(ng)
    y1 = np.empty(ng)
    f1 = np.empty(ng)
    x2 = np.empty(ng)
    y2 = np.empty(ng)
    f2 = np.empty(ng)
    wx = np.empty(ng)
    wy = np.empty(ng)
    colmin = np.empty(ng)
    grid = np.empty((ng + 2, ng + 2))
    for k in range(a1.shape[0]):
        b1 = a1[k] * math.sqrt(1.0 - e1[k] * e1[k])
        b2 = a2[k] * math.sqrt(1.0 - e2[k] * e2[k])
        for j in range(ng):
            x2[j] = a2[k] * (cos_t[j] - e2[k])
            y2[j] = b2 * sin_t[j]
            t = a2[k] * (1.0 - e2[k] * cos_t[j])
            f2[j] = t * t
            colmin[j] = np.inf
        for i in range(ng):
            x1[i] = a1[k] * (cos_t[i] - e1[k])
            y1[i] = b1 * sin_t[i]
            t = a1[k] * (1.0 - e1[k] * cos_t[i])
            f1[i] = t * t
            wx[i] = 2.0 * (x1[i] * g[k, 0] + y1[i] * g[k, 2])
            wy[i] = 2.0 * (x1[i] * g[k, 1] + y1[i] * g[k, 3])
        best = np.inf
        for i in range(ng):
            rmin = np.inf
            for j in range(ng):
                v = f1[i] + f2[j] - wx[i] * x2[j] - wy[i] * y2[j]
                grid[i + 1, j + 1] = v
                rmin = v if v < rmin else rmin
                colmin[j] = v if v < colmin[j] else colmin[j]
            best = rmin if rmin < best else best
        for i in range(1, ng + 1):
            grid[i, 0] = grid[i, ng]
            grid[i, ng + 1] = grid[i, 1]
        for j in range(ng + 2):
            grid[0, j] = grid[ng, j]
            grid[ng + 1, j] = grid[1, j]
        cnt = 0
        for i in range(1, ng + 1):
            for j in range(1, ng + 1):
                m8 = min(
                    min(min(grid[i - 1, j - 1], grid[i - 1, j]), min(grid[i - 1, j + 1], grid[i, j - 1])),
                    min(min(grid[i, j + 1], grid[i + 1, j - 1]), min(grid[i + 1, j], grid[i + 1, j + 1])),
                )
                cnt += grid[i, j] <= m8
        out[k] = best + cnt + colmin[0]


def cpu_best(fn, repeat: int = 5) -> float:
    """Best CPU time [s] of this process over ``repeat`` calls (numba threads set by the caller)."""
    times = []
    for _ in range(repeat):
        c0 = time.process_time()
        fn()
        times.append(time.process_time() - c0)
    return min(times)


def best_of(fn, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    nea = neo.read_mpcorb(ROOT / "data" / "planetary_defence" / "orbits" / "mpc_NEA_2019-07.txt")
    n = len(nea)
    import os

    import numba

    print(
        f"s2p.neo benchmarks -- {n} NEAs, numba threads: {numba.get_num_threads()}, load average {os.getloadavg()[0]:.1f}"
    )
    print("(wall-clock best of several runs; other processes on the machine slow both sides alike)\n")

    # ---------------------------------------------------------------- 1. MOID
    earth = neo.earth_elements(2458666.5)
    el = [earth[k][0] for k in ("a_au", "e", "i_deg", "node_deg", "peri_deg")]

    def ours_moid() -> np.ndarray:
        return neo.moid_elements(nea.a_au, nea.e, nea.i_deg, nea.node_deg, nea.peri_deg, *el)

    ours_moid()  # compile / warm
    t_ours = best_of(ours_moid, 3) / n
    sample = np.linspace(0, n - 1, 150 if args.quick else 600).astype(int)
    t0 = time.perf_counter()
    ref = [
        distlink_moid(nea.a_au[k], nea.e[k], nea.i_deg[k], nea.node_deg[k], nea.peri_deg[k], *el)
        for k in sample
    ]
    t_dl = (time.perf_counter() - t0) / sample.size
    d = ours_moid()
    good = np.array([g for _, g in ref])
    err = np.abs(d[sample] - np.array([m for m, _ in ref]))[good].max()
    numba.set_num_threads(1)
    c0 = time.process_time()
    ours_moid()
    cpu_moid = (time.process_time() - c0) / n
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    print("1. MOID vs Earth (per pair)")
    print(
        f"   s2p, CPU time of one thread  {cpu_moid * 1e6:6.2f} us/pair  -> {cpu_moid * 1e6 / 2:5.2f} us/pair on 2 idle cores"
    )
    print(f"   s2p moid_elements        {t_ours * 1e6:9.2f} us/pair   ({n} pairs)")
    print(
        f"   distlink-python (peer)   {t_dl * 1e6:9.1f} us/pair   ({sample.size} pairs)   ratio {t_dl / t_ours:8.0f}x"
    )
    print(
        f"   C++ distlink (context)   {CPP_DISTLINK_US_PER_PAIR:9.1f} us/pair   (docs/PERFORMANCE.md, not measured)"
    )
    print(f"   max |s2p - distlink| on the sample (distlink 'good'): {err:.1e} au\n")

    # ---------------------------------------------------------------- 2. Kepler / two-body
    big = 1_000_000
    rep = np.resize(np.arange(n), big)
    orbs = nea[rep]
    rng = np.random.default_rng(1)
    m = rng.uniform(0, 2 * np.pi, big)
    orbs.perifocal()  # the orbit frames: set once per catalogue, like sgp4init
    positions_at_mean_anomaly(orbs[:10], m[:10])
    t_fast = best_of(lambda: positions_at_mean_anomaly(orbs, m))
    dt = ((m - np.radians(orbs.m_deg)) / np.sqrt(orbs.gm / orbs.a_au**3))[:, None]
    propagate_days(orbs[:10], dt[:10])
    t_gen = best_of(lambda: propagate_days(orbs, dt), 3)
    t_np = best_of(
        lambda: numpy_two_body(orbs.a_au, orbs.e, orbs.i_deg, orbs.node_deg, orbs.peri_deg, np.degrees(m)), 2
    )
    diff = np.abs(
        positions_at_mean_anomaly(orbs, m)
        - numpy_two_body(orbs.a_au, orbs.e, orbs.i_deg, orbs.node_deg, orbs.peri_deg, np.degrees(m))
    ).max()
    # CPU time of one thread: insensitive to time-slicing by other processes (not to shared caches)
    numba.set_num_threads(1)
    cpu = []
    for _ in range(5):
        c0 = time.process_time()
        positions_at_mean_anomaly(orbs, m)
        cpu.append(time.process_time() - c0)
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    c0 = time.process_time()
    numpy_two_body(orbs.a_au, orbs.e, orbs.i_deg, orbs.node_deg, orbs.peri_deg, np.degrees(m))
    cpu_np = time.process_time() - c0
    print("2. Kepler / two-body, 1,000,000 orbits x 1 epoch")
    print(
        f"   s2p kernel, CPU time of one thread {min(cpu) * 1e3:7.1f} ms  (numpy: {cpu_np * 1e3:7.0f} ms CPU)"
        f" -> {min(cpu) * 1e3 / 2:5.1f} ms on 2 idle cores"
    )
    print(f"   s2p throughput kernel    {t_fast * 1e3:9.1f} ms   ({big / t_fast / 1e6:6.1f} M orbits/s)")
    print(f"   s2p propagate (general)  {t_gen * 1e3:9.1f} ms   ({big / t_gen / 1e6:6.1f} M orbits/s)")
    print(
        f"   numpy vectorised (peer)  {t_np * 1e3:9.1f} ms   ({big / t_np / 1e6:6.1f} M orbits/s)   ratio {t_np / t_fast:5.1f}x"
    )
    print(f"   max |s2p - numpy|: {diff:.1e} au\n")

    # ---------------------------------------------------------------- 3. ephemerides
    when = np.array(["2019-08-01T00:00"], dtype="datetime64[ns]")
    neo.ephemeris(nea[:10], when)
    t_eph = best_of(lambda: neo.ephemeris(nea, when), 5)
    sky = skyfield_de421()
    from skyfield.data import mpc

    with open(ROOT / "data" / "planetary_defence" / "orbits" / "mpc_NEA_2019-07.txt", "rb") as f:
        rows = mpc.load_mpcorb_dataframe(f)
    k_sample = np.linspace(0, n - 1, 20 if args.quick else 60).astype(int)
    skyfield_radec(sky, rows, 0, when)  # warm
    t0 = time.perf_counter()
    for k in k_sample:
        skyfield_radec(sky, rows, int(k), when)
    t_sky = (time.perf_counter() - t0) / k_sample.size
    per_ours = t_eph / n
    print(
        "3. Ephemerides, 20,060 NEAs x 1 epoch, geocentric astrometric (light-time, RA/Dec, r, delta, phase, V)"
    )
    print(
        f"   s2p ephemeris            {t_eph * 1e3:9.1f} ms total   {per_ours * 1e6:8.2f} us per object-epoch"
    )
    print(
        f"   Skyfield loop (peer)     {t_sky * n:9.1f} s  total*  {t_sky * 1e3:8.2f} ms per object-epoch"
        f"   ratio {t_sky / per_ours:8.0f}x"
    )
    print(f"   * Skyfield timed on {k_sample.size} objects and scaled to {n}")

    # ---------------------------------------------------------------- 4. the floor
    # All on one thread, CPU time (time-slicing by other processes does not inflate it; a busy sibling
    # core still shares the caches and memory bus).
    numba.set_num_threads(1)
    _add_chain(10, 0.0)
    n_add = 100_000_000
    ghz = ADD_LATENCY_CYCLES * n_add / cpu_best(lambda: _add_chain(n_add, 0.0), 3) / 1e9
    peak = PEAK_FLOPS_PER_CYCLE * ghz  # GFLOP/s
    hx = np.random.default_rng(0).uniform(0.5, 0.9, 512)
    hy = np.empty(512)
    _horner(hx, hy, 1)
    reps = 20_000
    fma_rate = 2 * 16 * 512 * reps / cpu_best(lambda: _horner(hx, hy, reps)) / 1e9  # GFLOP/s
    _divider(hx, hx + 1.0, hy, 1)
    t_div = cpu_best(lambda: _divider(hx, hx + 1.0, hy, reps)) / (512 * reps)  # 1 div + 1 sqrt
    print("4. The floor (one thread, CPU time)")
    print(
        f"   clock {ghz:.2f} GHz (chain of dependent adds, {ADD_LATENCY_CYCLES} cycles each); peak {peak:.0f} GFLOP/s"
        f" ({PEAK_FLOPS_PER_CYCLE} flops/cycle: 2 FMA x 4 doubles); a bare FMA loop reaches {fma_rate:.0f} GFLOP/s"
        f" ({fma_rate / peak:.0%})"
    )
    # two-body: the same arithmetic as a bare loop on cache-resident orbits; the memory stream
    nb = 2048
    ka, ke, km = orbs.a_au[:nb].copy(), np.minimum(orbs.e[:nb], 0.95), m[:nb].copy()
    kp, kq = (np.ascontiguousarray(v[:nb]) for v in orbs.perifocal())
    kx, ky, ko = np.empty(nb), np.empty(nb), np.empty((nb, 3))
    _kepler_bare(ka, ke, km, kx, ky, 1)
    reps = 500
    t_bare = cpu_best(lambda: _kepler_bare(ka, ke, km, kx, ky, reps)) / (reps * nb)
    from s2p.neo import _kernels

    t_l2 = cpu_best(lambda: [_kernels.elliptic_fast_kernel(ka, ke, kp, kq, km, ko) for _ in range(reps)]) / (
        reps * nb
    )
    pa, pq_ = orbs.perifocal()
    sout = np.empty((big, 3))
    _stream(orbs.a_au, orbs.e, pa, pq_, m, sout)
    t_stream = cpu_best(lambda: _stream(orbs.a_au, orbs.e, pa, pq_, m, sout)) / big
    t_kep = min(cpu) / big
    print(
        f"   two-body: {KEPLER_FLOPS} flops + 4 div + 2 sqrt per orbit; at peak {KEPLER_FLOPS / peak:.1f} ns/orbit,"
        f" at the bare-FMA rate {KEPLER_FLOPS / fma_rate:.1f} ns/orbit; the divider (measured"
        f" {t_div * 1e9:.2f} ns per div + sqrt) >= {2 * t_div * 1e9:.1f} ns/orbit; memory stream (96 B/orbit)"
        f" {t_stream * 1e9:.1f} ns/orbit"
    )
    print(
        f"   arithmetic floor: {t_bare * 1e9:.1f} ns/orbit measured by a bare loop of the same arithmetic"
        f" (cache-resident, {KEPLER_FLOPS / (t_bare * 1e9) / peak:.0%} of peak); ours {t_l2 * 1e9:.1f} ns/orbit"
        f" cache-resident = {t_l2 / t_bare:.2f}x the floor, {t_kep * 1e9:.1f} ns/orbit on 1M"
        f" = {t_kep / t_bare:.2f}x the floor ({t_kep / (t_bare + t_stream):.2f}x floor + stream)"
    )
    # MOID: the bare first pass (grid + row/column minima + local-minimum scan) of every pair
    from s2p.neo import _moid_kernels
    from s2p.neo.moid import _COS_T, _SIN_T, _frame

    p1, q1 = _frame(nea.i_deg, nea.node_deg, nea.peri_deg)
    p2, q2 = _frame(*(np.full(n, v) for v in el[2:]))
    gm = np.stack([(p1 * p2).sum(1), (p1 * q2).sum(1), (q1 * p2).sum(1), (q1 * q2).sum(1)], axis=1)
    a2, e2 = np.full(n, el[0]), np.full(n, el[1])
    fp_out = np.empty(n)
    _moid_first_pass(nea.a_au, nea.e, a2, e2, gm, _COS_T, _SIN_T, fp_out)
    t_fp = cpu_best(lambda: _moid_first_pass(nea.a_au, nea.e, a2, e2, gm, _COS_T, _SIN_T, fp_out), 3) / n
    ng = _moid_kernels.MOID_GRID
    ops = MOID_CELL_OPS * ng * ng
    print(
        f"   MOID: the first pass ({ng}x{ng} grid, {MOID_CELL_OPS} ops a cell = {ops} per pair; at peak"
        f" {ops / peak / 1e3:.2f} us/pair) as a bare loop: {t_fp * 1e6:.2f} us/pair; ours {cpu_moid * 1e6:.2f}"
        f" us/pair = {cpu_moid / t_fp:.1f}x the first pass (the rest: 64 exact row/column minima by 1-D"
        f" Newton and up to {_moid_kernels.MOID_MAX_SEEDS} 2-D Newton refinements, scalar and data-dependent)"
    )
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    print(f"\nload average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
