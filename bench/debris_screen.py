"""All-vs-all conjunction screening: ``s2p.debris.screen`` (and ``astroz.screen`` when importable).

    .venv/bin/python bench/debris_screen.py [--objects 25000] [--days 7] [--threshold 5] [--seed 2026]
        [--alt-jitter 100] [--step S] [--peer-days 0.25] [--shipped] [--dask [1,2]] [--no-peer] [--save PATH]

Catalogue: every object of the shipped CelesTrak files (``data/space_debris/tle/*.tle``, ~11,000
real element sets: Starlink, GEO, stations, weather), scaled up to ``--objects`` by copies of real
element sets with a seeded perturbation: copy ``c`` of object ``k`` (chosen in turn, seeded) keeps
every element but gets a new mean anomaly drawn uniformly in [0°, 360°), its RAAN shifted by a
uniform ±1°, its semi-major axis shifted by a uniform ±100 km (mean motion rescaled), and a new
catalogue number (70000 upwards). The copies thus spread around the real populations like debris
clouds instead of stacking exactly on the real Starlink shells (``--alt-jitter 0`` keeps them on
the shells: a far denser case, ~2.3 million 5 km encounters a week). The TLE lines are rewritten
with valid checksums and read by ``s2p.debris.read_tle``.

Window: ``--days`` from the newest TLE epoch's midnight; threshold ``--threshold`` km. Prints the
wall time (the first, compiling call of the numba kernels is made beforehand on a tiny case and
reported separately) and the number of encounters. When ``astroz`` is importable, it screens the
first ``--peer-days`` (default 0.25) of the same window with the same TLE text, and ours is timed
again on that window: the printed ratio compares identical work in the same process run.

Options beyond the catalogue and window above:

``--shipped``
    Screen the shipped catalogue as it is — every unique element set of ``data/space_debris/tle``
    (~11,000 objects, no seeded copies) — against itself; ``--objects`` is then ignored. With the
    default ``--days 7``: the whole shipped catalogue for a week.
``--dask [N,N,...]``
    After the in-process run, run the same screening (same catalogue, window and threshold) with
    ``screen(..., client=...)`` on a ``dask.distributed`` ``LocalCluster`` of N separate worker
    processes, one thread each and ``NUMBA_NUM_THREADS=1`` in each worker (default ``1,2``), and
    print each wall time beside the in-process one, the speed-up over the 1-worker cluster and per
    worker (speed-up / N), and whether the cluster's rows equal the in-process rows (same pairs, TCAs
    to 1 µs, miss distances to 1 mm). Cluster start and the workers' numba cache load are
    done before the clock starts and reported apart.
``--no-peer``
    Skip the ``astroz`` comparison even when it is importable.
``--save PATH``
    Write the in-process encounters to PATH (a pandas pickle), e.g. to compare two versions of the code.

Examples::

    .venv/bin/python bench/debris_screen.py                          # 25,000 objects x 7 days (default)
    .venv/bin/python bench/debris_screen.py --dask                   # + dask, 1 and 2 worker processes
    .venv/bin/python bench/debris_screen.py --shipped --dask 1,2     # shipped catalogue x 7 days, + dask
    .venv/bin/python bench/debris_screen.py --days 1 --no-peer --save /tmp/ours.pkl
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
TLE_DIR = ROOT / "data" / "space_debris" / "tle"
MU_KM3_S2 = 398600.8  # WGS72, as the TLEs
ALT_JITTER_KM = 100.0


def _checksum(line: str) -> int:
    return sum(int(c) if c.isdigit() else (1 if c == "-" else 0) for c in line[:68]) % 10


def shipped_elements() -> tuple[list[str], list[str]]:
    """Lines 1 and 2 of the shipped CelesTrak files, one element set per catalogue number (the
    files overlap a little: the first occurrence is kept, files in name order)."""
    from s2p.debris import read_tle

    real = [read_tle(p) for p in sorted(TLE_DIR.glob("*.tle"))]
    line1 = [a for t in real for a in t.line1]
    line2 = [b for t in real for b in t.line2]
    seen: dict[str, int] = {}
    for k, a in enumerate(line1):
        seen.setdefault(a[2:7], k)
    keep = sorted(seen.values())
    return [line1[k] for k in keep], [line2[k] for k in keep]


def shipped_catalogue() -> str:
    """TLE text of every unique shipped element set, unchanged (``--shipped``)."""
    line1, line2 = shipped_elements()
    return "".join(f"{a}\n{b}\n" for a, b in zip(line1, line2, strict=True))


def scaled_catalogue(n_objects: int, seed: int = 2026, alt_jitter_km: float = ALT_JITTER_KM) -> str:
    """TLE text of the shipped catalogue scaled to ``n_objects`` (see the module docstring)."""
    line1, line2 = shipped_elements()
    out = [f"{a}\n{b}" for a, b in zip(line1[:n_objects], line2[:n_objects], strict=True)]
    rng = np.random.default_rng(seed)
    next_id = 70000
    while len(out) < n_objects:
        k = int(rng.integers(len(line1)))
        a, b = line1[k], line2[k]
        raan = (float(b[17:25]) + rng.uniform(-1.0, 1.0)) % 360.0
        ma = rng.uniform(0.0, 360.0)
        # semi-major axis shifted by up to ±ALT_JITTER_KM (mean motion ∝ a^-3/2)
        n0 = float(b[52:63])
        a0 = (MU_KM3_S2 / (n0 * 2.0 * np.pi / 86400.0) ** 2) ** (1.0 / 3.0)
        n1 = n0 * (a0 / (a0 + rng.uniform(-alt_jitter_km, alt_jitter_km))) ** 1.5
        sat = f"{next_id:05d}"
        next_id += 1
        a = a[:2] + sat + a[7:68]
        b = b[:2] + sat + b[7:17] + f"{raan:8.4f}" + b[25:43] + f"{ma:8.4f}" + f" {n1:11.8f}" + b[63:68]
        out.append(f"{a}{_checksum(a)}\n{b}{_checksum(b)}")
    return "\n".join(out) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--objects", type=int, default=25_000)
    ap.add_argument("--days", type=float, default=7.0)
    ap.add_argument("--threshold", type=float, default=5.0)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--alt-jitter", type=float, default=ALT_JITTER_KM, help="copies' ±Δa [km]")
    ap.add_argument("--step", type=float, default=None, help="SGP4 node step [s] (default: screen's)")
    ap.add_argument("--peer-days", type=float, default=0.25, help="window given to astroz (and to us again)")
    ap.add_argument("--shipped", action="store_true", help="the shipped catalogue as it is (no copies)")
    ap.add_argument(
        "--dask",
        nargs="?",
        const="1,2",
        default=None,
        metavar="N,N",
        help="also run on a dask LocalCluster of N worker processes (1 thread each); default 1,2",
    )
    ap.add_argument("--no-peer", action="store_true", help="skip astroz even when importable")
    ap.add_argument(
        "--save", default=None, metavar="PATH", help="write our encounters to PATH (pandas pickle)"
    )
    args = ap.parse_args()

    import numba

    from s2p.debris import read_tle, screen

    text = shipped_catalogue() if args.shipped else scaled_catalogue(args.objects, args.seed, args.alt_jitter)
    tles = read_tle(text)
    start = np.datetime64(str(tles.epoch.max())[:10], "ns")
    stop = start + np.timedelta64(int(args.days * 86400), "s")
    print(
        f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cpus, numba threads "
        f"{numba.get_num_threads()}; {len(tles)} objects, {start} .. {stop}, threshold {args.threshold} km"
    )
    t0 = time.perf_counter()
    screen(tles[:50], start, start + np.timedelta64(1, "h"), threshold_km=args.threshold, step=args.step)
    print(f"warm-up (numba compile or cache load): {time.perf_counter() - t0:.1f} s")

    t0, c0 = time.perf_counter(), time.process_time()
    ours = screen(tles, start, stop, threshold_km=args.threshold, step=args.step, progress=False)
    ours_s, ours_cpu = time.perf_counter() - t0, time.process_time() - c0
    print(
        f"s2p.debris.screen : {ours_s:8.1f} s   {len(ours)} encounters   (CPU {ours_cpu:.1f} s over all "
        f"threads; load average now {os.getloadavg()[0]:.1f})"
    )
    if args.save:
        ours.to_pickle(args.save)
    if args.dask:
        workers = [int(w) for w in args.dask.split(",") if w.strip()]
        run_dask(tles, start, stop, args.threshold, args.step, workers, ours, ours_s)

    if args.no_peer:
        return
    if importlib.util.find_spec("astroz") is None:
        print("astroz.screen     : not installed (pip install astroz) — no peer figure in this run")
        return
    import datetime as dt

    import astroz  # type: ignore[import-not-found]

    # Same TLE text (never a CelesTrak group name: no network), same start and threshold, astroz's
    # default 1-minute grid. The peer runs on the first --peer-days of the window only (it takes
    # about five times longer than ours: a 7-day run would occupy the shared machine for ~20 min);
    # ours is timed again on exactly that window, so the ratio compares identical work.
    peer_days = min(args.peer_days, args.days)
    con = astroz.Constellation(text)
    t_start = dt.datetime.fromisoformat(str(start)[:19]).replace(tzinfo=dt.UTC)
    astroz.screen(con, 10.0, threshold=args.threshold, start_time=t_start)  # warm-up
    t0 = time.perf_counter()
    peer = astroz.screen(con, peer_days * 1440.0, threshold=args.threshold, start_time=t_start)
    peer_s = time.perf_counter() - t0
    zero = int(np.count_nonzero(np.asarray(peer.distance) == 0.0))
    stop_p = start + np.timedelta64(int(peer_days * 86400), "s")
    t0 = time.perf_counter()
    ours_p = screen(tles, start, stop_p, threshold_km=args.threshold, step=args.step, progress=False)
    ours_p_s = time.perf_counter() - t0
    print(f"first {peer_days:g} days:")
    print(f"  s2p.debris.screen   : {ours_p_s:8.1f} s   {len(ours_p)} encounters")
    print(
        f"  astroz.screen {getattr(astroz, '__version__', '?'):<6}: {peer_s:8.1f} s   {len(peer.i)} encounters "
        f"({zero} of them at distance 0: co-located identical element sets, not minima)"
    )
    print(f"  ratio astroz / s2p  : {peer_s / ours_p_s:.2f}x")


def same_rows(a: Any, b: Any, miss_tol_km: float = 1e-6, tca_tol_ns: int = 1000) -> str:
    """'' when the two encounter tables agree (same pairs; TCAs within ``tca_tol_ns``: a part of the
    window that starts elsewhere computes a TCA from another origin, a few ns apart at most; miss
    within ``miss_tol_km``), else a short description of the difference."""
    if len(a) != len(b):
        return f"{len(a)} rows vs {len(b)}"
    if len(a) == 0:
        return ""
    dt = np.abs((a["tca"].to_numpy() - b["tca"].to_numpy()).astype(np.int64))
    dm = np.abs(a["miss_km"].to_numpy() - b["miss_km"].to_numpy())
    bad = (
        (a["norad_a"].to_numpy() != b["norad_a"].to_numpy())
        | (a["norad_b"].to_numpy() != b["norad_b"].to_numpy())
        | (dt > tca_tol_ns)
        | (dm > miss_tol_km)
    )
    if bad.any():
        return f"{int(bad.sum())} of {len(a)} rows differ"
    return (
        f" (max |dTCA| {int(dt.max())} ns, max |dmiss| {dm.max() * 1e6:.3f} mm)"
        if dt.any() or dm.any()
        else ""
    )


def run_dask(
    tles: Any,
    start: Any,
    stop: Any,
    threshold: float,
    step: float | None,
    workers: list[int],
    ours: Any,
    ours_s: float,
) -> None:
    """The same screening on LocalClusters of ``workers`` processes (1 thread, 1 numba thread each)."""
    from distributed import Client, LocalCluster

    from s2p.debris import screen

    print(
        f"dask.distributed LocalCluster, worker processes with 1 thread each (in-process run: {ours_s:.1f} s):"
    )
    walls: dict[int, float] = {}
    for n in workers:
        t0 = time.perf_counter()
        with (
            LocalCluster(
                n_workers=n,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",  # loopback only
                dashboard_address=None,
                env={"NUMBA_NUM_THREADS": "1"},
            ) as cluster,
            Client(cluster) as client,
        ):
            # load the numba kernels (compiled into the cache by the in-process run) on every worker
            client.run(_warm_worker, tles[:50], start, threshold, step)
            ready = time.perf_counter() - t0
            cpu0 = client.run(time.process_time)
            t0, load0 = time.perf_counter(), os.getloadavg()[0]
            got = screen(tles, start, stop, threshold_km=threshold, step=step, client=client, progress=False)
            walls[n] = time.perf_counter() - t0
            cpu = sum(c - cpu0[w] for w, c in client.run(time.process_time).items())
        diff = same_rows(got, ours, 1e-6)
        base = walls.get(1)
        speed = (
            f"speed-up {base / walls[n]:.2f}x over 1 worker, {base / walls[n] / n:.2f} per worker"
            if base
            else ""
        )
        print(
            f"  {n} worker(s): {walls[n]:8.1f} s   {len(got)} encounters   {speed}   (workers' CPU {cpu:.1f} s; "
            f"cluster start + kernel load {ready:.1f} s; load average {load0:.1f} before, "
            f"{os.getloadavg()[0]:.1f} after)"
        )
        same = not diff or diff.startswith(" (")
        print(f"    equals the in-process result: {'yes' + diff if same else 'NO: ' + diff}")


def _warm_worker(tles: Any, start: Any, threshold: float, step: float | None) -> int:
    from s2p.debris import screen

    return len(screen(tles, start, start + np.timedelta64(1, "h"), threshold_km=threshold, step=step))


if __name__ == "__main__":
    main()
