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
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # for tests.s2p.neo.references (the registered peers)

from s2p import neo  # noqa: E402
from s2p.neo.propagation import positions_at_mean_anomaly, propagate_days  # noqa: E402
from tests.s2p.neo.references import distlink_moid, numpy_two_body, skyfield_de421, skyfield_radec  # noqa: E402

CPP_DISTLINK_US_PER_PAIR = 15.0  # docs/PERFORMANCE.md


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
    print(f"\nload average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
