"""All-vs-all conjunction screening: ``s2p.debris.screen`` (and ``astroz.screen`` when importable).

    .venv/bin/python bench/debris_screen.py [--objects 25000] [--days 7] [--threshold 5] [--seed 2026]

Catalogue: every object of the shipped CelesTrak files (``data/space_debris/tle/*.tle``, ~11,000
real element sets: Starlink, GEO, stations, weather), scaled up to ``--objects`` by copies of real
element sets with a seeded perturbation: copy ``c`` of object ``k`` (chosen in turn, seeded) keeps
every element but gets a new mean anomaly drawn uniformly in [0°, 360°), its RAAN shifted by a
uniform ±1°, and a new catalogue number (70000 upwards). Copies thus fill the same orbital shells
(the dense Starlink shells dominate), which is the hard case for a screener. The TLE lines are
rewritten with valid checksums and read by ``s2p.debris.read_tle``.

Window: ``--days`` from the newest TLE epoch's midnight; threshold ``--threshold`` km. Prints the
wall time (the first, compiling call of the numba kernels is made beforehand on a tiny case and
reported separately), the number of encounters, and the same for the peer when it is installed.
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
    """TLE text of the shipped catalogue scaled to ``n_objects`` (see the module docstring)."""
    from s2p.debris import read_tle

    real = [read_tle(p) for p in sorted(TLE_DIR.glob("*.tle"))]
    line1 = [a for t in real for a in t.line1]
    line2 = [b for t in real for b in t.line2]
    # one element set per catalogue number (the files overlap a little)
    seen: dict[str, int] = {}
    for k, a in enumerate(line1):
        seen.setdefault(a[2:7], k)
    keep = sorted(seen.values())
    line1 = [line1[k] for k in keep]
    line2 = [line2[k] for k in keep]
    out = [f"{a}\n{b}" for a, b in zip(line1[:n_objects], line2[:n_objects], strict=True)]
    rng = np.random.default_rng(seed)
    next_id = 70000
    while len(out) < n_objects:
        k = int(rng.integers(len(line1)))
        a, b = line1[k], line2[k]
        raan = (float(b[17:25]) + rng.uniform(-1.0, 1.0)) % 360.0
        ma = rng.uniform(0.0, 360.0)
        sat = f"{next_id:05d}"
        next_id += 1
        a = a[:2] + sat + a[7:68]
        b = b[:2] + sat + b[7:17] + f"{raan:8.4f}" + b[25:43] + f"{ma:8.4f}" + b[51:68]
        out.append(f"{a}{_checksum(a)}\n{b}{_checksum(b)}")
    return "\n".join(out) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--objects", type=int, default=25_000)
    ap.add_argument("--days", type=float, default=7.0)
    ap.add_argument("--threshold", type=float, default=5.0)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--step", type=float, default=None, help="SGP4 node step [s] (default: screen's)")
    args = ap.parse_args()

    import numba

    from s2p.debris import read_tle, screen

    tles = read_tle(scaled_catalogue(args.objects, args.seed))
    start = np.datetime64(str(tles.epoch.max())[:10], "ns")
    stop = start + np.timedelta64(int(args.days * 86400), "s")
    print(
        f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cpus, numba threads "
        f"{numba.get_num_threads()}; {len(tles)} objects, {start} .. {stop}, threshold {args.threshold} km"
    )
    t0 = time.perf_counter()
    screen(tles[:50], start, start + np.timedelta64(1, "h"), threshold_km=args.threshold, step=args.step)
    print(f"warm-up (numba compile or cache load): {time.perf_counter() - t0:.1f} s")

    t0 = time.perf_counter()
    ours = screen(tles, start, stop, threshold_km=args.threshold, step=args.step, progress=False)
    ours_s = time.perf_counter() - t0
    print(f"s2p.debris.screen : {ours_s:8.1f} s   {len(ours)} encounters")

    if importlib.util.find_spec("astroz") is not None:  # pragma: no cover - optional peer
        import astroz  # type: ignore[import-not-found]

        t0 = time.perf_counter()
        peer = astroz.screen(tles, start, stop, threshold_km=args.threshold)
        peer_s = time.perf_counter() - t0
        print(f"astroz.screen     : {peer_s:8.1f} s   {len(peer)} encounters   ratio {peer_s / ours_s:.2f}x")
    else:
        print("astroz.screen     : not installed (pip install astroz) — no peer figure in this run")


if __name__ == "__main__":
    main()
