"""Space-weather benchmarks: our readers and kernels beside a plain peer, in the same run.

    .venv/bin/python bench/spaceweather.py [--points 5000000] [--repeat 5]

1. Parse the full CelesTrak SW-All text file (all three sections, validated and labelled) with
   ``s2p.spaceweather.read_celestrak`` versus a plain ``pandas.read_fwf`` of the same fixed-width
   records (no validation, no labels), and the CSV form versus ``pandas.read_csv``. The first call
   of a fresh process is reported separately: xarray imports dask.array on its first Dataset.
2. TEC at random (time, lat, lon) points on the JPL global ionosphere map by the IONEX rotated-map
   interpolation: the numba kernel (``s2p.spaceweather.tec_at``) versus the vectorised numpy
   transcription of the standard (``s2p.spaceweather._reference.tec_ionex_numpy``); they must agree
   to 1e-9 TECU.

Each figure is the best of ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
SW = ROOT / "data" / "space_weather"


def best_of(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def pandas_fwf(path: Path) -> pd.DataFrame:
    """The plain peer: pandas' fixed-width reader on the record lines of the three sections."""
    widths = [4, 3, 3, 5, 3] + [3] * 8 + [4] + [4] * 8 + [4, 4, 2, 4, 6, 2, 6, 6, 6, 6, 6]
    text = path.read_text()
    frames = []
    for section in ("OBSERVED", "DAILY_PREDICTED", "MONTHLY_PREDICTED"):
        body = text.split(f"BEGIN {section}")[1].split(f"END {section}")[0]
        frames.append(pd.read_fwf(__import__("io").StringIO(body.strip("\r\n")), widths=widths, header=None))
    return pd.concat(frames, ignore_index=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--points", type=int, default=5_000_000, help="random points for the TEC benchmark")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()

    t0 = time.perf_counter()
    from s2p.spaceweather import read_celestrak, read_ionex, tec_at
    from s2p.spaceweather._reference import tec_ionex_numpy

    import_s = time.perf_counter() - t0
    txt, csv = SW / "SW-All.txt", SW / "celestrak_csv" / "SW-All.csv"
    t0 = time.perf_counter()
    ds = read_celestrak(txt)
    cold = time.perf_counter() - t0
    ours_txt, _ = best_of(lambda: read_celestrak(txt), args.repeat)
    peer_txt, df = best_of(lambda: pandas_fwf(txt), args.repeat)
    assert len(df) == ds.sizes["date"], (len(df), ds.sizes["date"])
    ours_csv, _ = best_of(lambda: read_celestrak(csv), args.repeat)
    peer_csv, _ = best_of(lambda: pd.read_csv(csv), args.repeat)

    gim = read_ionex(SW / "ionex" / "jplg0010.17i.gz")
    rng = np.random.default_rng(1)
    n = args.points
    span = (gim.time.values[-1] - gim.time.values[0]) / np.timedelta64(1, "ns")
    t = gim.time.values[0] + rng.uniform(0, span, n).astype("timedelta64[ns]")
    lat = rng.uniform(-87.5, 87.5, n)
    lon = rng.uniform(-180, 180, n)
    t0 = time.perf_counter()
    tec_at(gim, t[:10], lat[:10], lon[:10])  # numba import + cached machine code, outside the timing
    first_tec = time.perf_counter() - t0
    ours_tec, got = best_of(lambda: tec_at(gim, t, lat, lon), args.repeat)
    peer_tec, ref = best_of(lambda: tec_ionex_numpy(gim, t, lat, lon), max(1, args.repeat // 2))
    err = float(np.abs(got - ref).max())
    assert err <= 1e-9, err

    print(
        f"# s2p.spaceweather benchmarks — {platform.processor() or platform.machine()}, numpy {np.__version__}, pandas {pd.__version__}"
    )
    print(
        f"import s2p.spaceweather: {import_s:.3f} s; first read_celestrak in this process (incl. xarray's one-time import of dask.array): {cold:.3f} s"
    )
    print(f"first tec_at in this process (numba import + cached kernel load): {first_tec:.3f} s")
    print(f"{'task':<46}{'s2p':>12}{'peer':>12}{'peer/s2p':>10}  peer")
    print(
        f"{'SW-All.txt, 25k records, parse+validate+label':<46}{ours_txt:>10.3f} s{peer_txt:>10.3f} s{peer_txt / ours_txt:>9.1f}x  pandas.read_fwf (no validation)"
    )
    print(
        f"{'SW-All.csv, 25k records':<46}{ours_csv:>10.3f} s{peer_csv:>10.3f} s{peer_csv / ours_csv:>9.1f}x  pandas.read_csv (no validation)"
    )
    print(
        f"{f'IONEX rotated-map TEC, {n / 1e6:g} M points':<46}{n / ours_tec / 1e6:>8.1f} M/s{n / peer_tec / 1e6:>8.1f} M/s"
        f"{peer_tec / ours_tec:>9.1f}x  numpy transcription (max diff {err:.1e} TECU)"
    )


if __name__ == "__main__":
    main()
