"""SGP4 throughput: ``s2p.debris.sgp4`` vs ``sgp4.api.SatrecArray`` (and ``astroz``/``heyoka`` if importable).

    .venv/bin/python bench/debris_sgp4.py [--objects 20000] [--epochs 1440] [--step-min 1] [--seed 2026]

Catalogue: every object of the shipped CelesTrak files (``data/space_debris/tle/*.tle``, 11,068 real
element sets: Starlink, GEO, stations, weather — 5 % deep-space), repeated to ``--objects``: the first
copy is the real catalogue; each further copy of object ``k`` keeps every element but gets a new mean
anomaly drawn uniformly in [0°, 360°) and its RAAN shifted by a uniform ±1° (numpy ``default_rng(seed)``),
its line 2 rewritten with a valid checksum. Both sides read the same TLE text.

Times: ``--epochs`` epochs ``--step-min`` minutes apart from the newest TLE epoch (UTC). Both sides
produce the full (N, T, 3) position and velocity arrays and the (N, T) error codes. Ours is timed after
a warm-up call (numba compilation, or loading the on-disk cache); each side's best of ``--repeat`` runs
is reported as satellite-epochs per second, with the ratio, all in the same process run.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
TLE_DIR = ROOT / "data" / "space_debris" / "tle"


def _checksum(line: str) -> int:
    return sum(int(c) if c.isdigit() else (1 if c == "-" else 0) for c in line[:68]) % 10


def scaled_catalogue(n_objects: int, seed: int = 2026) -> str:
    """TLE text (2-line form) of the shipped catalogue repeated and perturbed to ``n_objects``."""
    from s2p.debris import read_tle

    real = [read_tle(p) for p in sorted(TLE_DIR.glob("*.tle"))]
    line1 = [a for s in real for a in s.line1]
    line2 = [b for s in real for b in s.line2]
    rng = np.random.default_rng(seed)
    out = []
    for k in range(n_objects):
        a, b = line1[k % len(line1)], line2[k % len(line2)]
        if k >= len(line1):
            raan = (float(b[17:25]) + rng.uniform(-1.0, 1.0)) % 360.0
            mean_anomaly = rng.uniform(0.0, 360.0)
            b = f"{b[:17]}{raan:8.4f}{b[25:43]}{mean_anomaly:8.4f}{b[51:68]}"
            b += str(_checksum(b))
        out += [a, b]
    return "\n".join(out) + "\n"


def _best(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--objects", type=int, default=20000)
    ap.add_argument("--epochs", type=int, default=1440)
    ap.add_argument("--step-min", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    import numba

    from s2p.debris import read_tle, sgp4
    from s2p.time import jd_utc

    text = scaled_catalogue(args.objects, args.seed)
    tles = read_tle(text)
    start = tles.epoch.max()
    times = start + (np.arange(args.epochs) * args.step_min * 60e9).astype("timedelta64[ns]")
    n_evals = len(tles) * len(times)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, numba threads "
          f"{numba.get_num_threads()}")  # fmt: skip
    print(f"catalogue: {len(tles)} objects ({int((tles.mean_motion_rev_per_day < 6.4).sum())} deep-space) "
          f"× {len(times)} epochs = {n_evals / 1e6:.1f} M satellite-epochs")  # fmt: skip

    t0 = time.perf_counter()
    sgp4(tles[:10], times[:10])
    print(f"s2p warm-up (compile or load cache): {time.perf_counter() - t0:.2f} s")
    t_ours = _best(lambda: sgp4(tles, times), args.repeat)
    rate_ours = n_evals / t_ours
    print(f"s2p.debris.sgp4            {t_ours:8.2f} s  {rate_ours / 1e6:8.2f} M sat-epochs/s")

    from sgp4.api import WGS72, Satrec, SatrecArray

    sats = SatrecArray([Satrec.twoline2rv(a, b, WGS72) for a, b in zip(tles.line1, tles.line2, strict=True)])
    jd, fr = jd_utc(times)
    t_ref = _best(lambda: sats.sgp4(jd, fr), 1)
    rate_ref = n_evals / t_ref
    print(f"sgp4.api.SatrecArray       {t_ref:8.2f} s  {rate_ref / 1e6:8.2f} M sat-epochs/s")
    print(f"ratio s2p / SatrecArray: {rate_ours / rate_ref:.1f}x")

    # agreement on this very run (a sample of objects, to keep memory down)
    pick = np.arange(0, len(tles), max(1, len(tles) // 500))
    r, v, err = sgp4(tles[pick], times)
    sample = SatrecArray([Satrec.twoline2rv(tles.line1[k], tles.line2[k], WGS72) for k in pick])
    e_ref, r_ref, v_ref = sample.sgp4(jd, fr)
    ok = ~np.isnan(r_ref)
    print(f"agreement on {len(pick)} objects: max |dr| {np.abs(r[ok] - r_ref[ok]).max() * 1e6:.3f} mm, "
          f"max |dv| {np.abs(v[ok] - v_ref[ok]).max():.2e} km/s, error codes equal: {bool((err == e_ref).all())}")  # fmt: skip

    if importlib.util.find_spec("astroz") is not None:
        _bench_astroz(text, tles, times, n_evals, rate_ours, args.repeat)
    else:
        print("astroz: not installed (pip install -e .[bench])")
    if importlib.util.find_spec("heyoka") is not None:
        _bench_heyoka(tles, times, n_evals, rate_ours, args.repeat)
    else:
        print("heyoka: not installed (pip install -e .[bench])")


def _bench_astroz(text, tles, times, n_evals, rate_ours, repeat) -> None:
    """astroz from the same TLE text (never a CelesTrak group name: no network), TEME output."""
    import datetime as dt

    try:
        import astroz

        con = astroz.Constellation(text)
        start = times[0].astype("datetime64[us]").astype(object).replace(tzinfo=dt.UTC)
        minutes = (times - times[0]) / np.timedelta64(60, "s")
        astroz.propagate(con, minutes[:2], start_time=start, output="teme", velocities=True)  # warm-up

        def run():
            return astroz.propagate(con, minutes, start_time=start, output="teme", velocities=True)

        t = _best(run, repeat)
    except Exception as exc:  # a peer that fails is reported, not fatal
        print(f"astroz {getattr(astroz, '__version__', '?')}: failed: {exc!r}")
        return
    rate = n_evals / t
    print(f"astroz {astroz.__version__:<19} {t:8.2f} s  {rate / 1e6:8.2f} M sat-epochs/s")
    print(f"ratio s2p / astroz: {rate_ours / rate:.2f}x")


def _bench_heyoka(tles, times, n_evals, rate_ours, repeat) -> None:
    try:
        import heyoka

        print(f"heyoka {heyoka.__version__}: present (near-earth only sgp4_propagator); not timed here")
    except Exception as exc:
        print(f"heyoka: import failed: {exc}")


if __name__ == "__main__":
    main()
