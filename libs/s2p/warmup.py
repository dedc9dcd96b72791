"""Compile the s2p numba kernels once, at install or image build time, into numba's cache.

Run as ``python -m s2p.warmup``: by ``make install`` (into ``.venv/numba-cache``, the cache the local
labs and the tests use) and by the lab image's Dockerfile as ``jovyan`` (into ``/opt/numba-cache``);
both name the folder with ``NUMBA_CACHE_DIR``. Each step calls a public s2p function on a tiny real
input (embedded below: an image build carries no data), which makes numba compile every kernel it
reaches with the argument types notebooks use and write the machine code to its cache
(``cache=True`` kernels). A new lab then loads that code instead of compiling in front of its user.

The segments are written independently, so every step is defensive: a missing function is
reported and skipped, never a build failure. The last line summarises what was warmed; the image
tests check that a fresh container's first SGP4 call is served from the cache.
"""

from __future__ import annotations

import importlib
import os
import sys
import time
import traceback
from collections.abc import Callable

import numpy as np

# Vallado's verification cases 00005 (near-earth) and 23599 (deep space), and the ISS, CelesTrak 2026-05-30.
TLE_TEXT = """\
ISS (ZARYA)
1 25544U 98067A   26150.51748228  .00011776  00000+0  21767-3 0  9998
2 25544  51.6337  27.5746 0007245 114.7080 245.4664 15.49496548569014
1 00005U 58002B   00179.78495062  .00000023  00000-0  28098-4 0  4753
2 00005  34.2682 348.7242 1859667 331.7664  19.3264 10.82419157413667
1 23599U 95029B   06171.76535463  .00085586  12891-6  12956-2 0  2905
2 23599   6.9327   0.2849 5782022 274.4436  25.2425  4.47796565123555
"""

# Three NEAs from the MPC's NEA.txt (July 2019).
MPCORB_TEXT = """\
00433   11.16  0.46 K1972  84.17190  178.83549  304.30424   10.82858  0.2227385  0.55973997   1.4581823  0 MPO467611  8406  52 1893-2019 0.69 M-v 38h MPCLINUX   1804    (433) Eros               20190509
00719   15.5   0.15 K1972  63.48955  156.16594  183.88436   11.56493  0.5463278  0.22992624   2.6388236  0 MPO467616  1790  17 1911-2019 0.41 M-v 38h MPCLINUX   1804    (719) Albert             20190123
00887   13.4  -0.12 K1972 210.09971  350.42271  110.42767    9.38774  0.5694193  0.25297756   2.4759852  0 MPO452170  1123  34 1918-2018 0.65 M-v 3Eh MPCLINUX   1804    (887) Alinda             20180712
"""


def _times(start: str, hours: float, n: int) -> np.ndarray:
    t0 = np.datetime64(start, "ns")
    return t0 + (np.linspace(0.0, hours, n) * 3.6e12).astype("timedelta64[ns]")


def warm_debris() -> None:
    debris = importlib.import_module("s2p.debris")
    tles = debris.read_tle(TLE_TEXT)
    times = _times("2026-05-30T12:00", 24.0, 7)
    debris.sgp4(tles, times)
    tles.propagate(times)
    # also the single-epoch shape (scalar-like input normalised to a length-1 array)
    debris.sgp4(tles, times[:1])


def warm_debris_screen() -> None:
    debris = importlib.import_module("s2p.debris")
    tles = debris.read_tle(TLE_TEXT)
    start = np.datetime64("2026-05-30T12:00", "ns")
    debris.screen(tles, start, start + np.timedelta64(2, "h"), threshold_km=5.0)


def warm_neo() -> None:
    neo = importlib.import_module("s2p.neo")
    neo.moid_elements(1.458, 0.2227, 10.83, 304.3, 178.8, 1.0, 0.0167, 0.0, 0.0, 102.9)
    a = np.array([1.458, 2.639])
    neo.moid_elements(a, 0.2, 10.0, 300.0, 170.0, 1.0, 0.0167, 0.0, 0.0, 102.9)
    orbits = neo.read_mpcorb(MPCORB_TEXT)
    neo.moid(orbits)
    times = _times("2026-01-01", 240.0, 5)
    neo.propagate(orbits, times)
    if hasattr(neo, "ephemeris"):
        neo.ephemeris(orbits, times)


def warm_neo_orbit_determination() -> None:
    """The integrator of ``s2p.neo.fit_orbit`` in its two modes (one signature, both compiled by it)."""
    dynamics = importlib.import_module("s2p.neo.dynamics")
    state = np.array([-0.54, 0.84, 0.28, -0.0152, -0.0073, -0.0023])  # (1685) Toro, ICRF [au, au/day]
    times = 2458666.5 + np.array([-30.0, 10.0, 40.0])
    dynamics.propagate_state(state, 2458666.5, times, model="two-body")
    dynamics.propagate_state(state, 2458666.5, times, model="n-body")


def warm_spaceweather() -> None:
    swe = importlib.import_module("s2p.spaceweather")
    kp = np.array([1.0, 2.33, 5.0, 7.67, 9.0, 4.0, 3.0, 2.0])
    swe.g_scale(kp)
    if hasattr(swe, "storms"):
        import pandas as pd

        swe.storms(pd.Series(kp, index=pd.date_range("2024-05-10", periods=kp.size, freq="3h")))
    if hasattr(swe, "flare_class"):
        swe.flare_class(np.array([1e-6, 2e-5, 3e-4]))


STEPS: dict[str, Callable[[], None]] = {
    "debris.sgp4": warm_debris,
    "debris.screen": warm_debris_screen,
    "neo": warm_neo,
    "neo.fit_orbit": warm_neo_orbit_determination,
    "spaceweather": warm_spaceweather,
}


def _compiled_kernels() -> tuple[int, int]:
    """(kernels with at least one compiled signature, all numba dispatchers) in loaded s2p modules."""
    try:
        from numba.core.registry import CPUDispatcher
    except ImportError:
        return 0, 0
    seen: set[int] = set()
    compiled = total = 0
    for name, module in list(sys.modules.items()):
        if not name.startswith("s2p") or module is None:
            continue
        for obj in vars(module).values():
            if isinstance(obj, CPUDispatcher) and id(obj) not in seen:
                seen.add(id(obj))
                total += 1
                compiled += bool(obj.signatures)
    return compiled, total


def main() -> int:
    print(f"numba cache: {os.environ.get('NUMBA_CACHE_DIR', '(default: next to the sources)')}")
    done = []
    for name, step in STEPS.items():
        t0 = time.perf_counter()
        try:
            step()
        except Exception as exc:  # a segment not written yet, or a changed signature: report, go on
            print(f"  {name:<14} skipped: {type(exc).__name__}: {exc}".rstrip()[:300])
            if os.environ.get("WARM_NUMBA_DEBUG"):
                traceback.print_exc()
            continue
        done.append(name)
        print(f"  {name:<14} warmed in {time.perf_counter() - t0:.1f} s")
    compiled, total = _compiled_kernels()
    print(f"warmed {len(done)}/{len(STEPS)} steps; {compiled}/{total} s2p kernels compiled")
    return 0


if __name__ == "__main__":
    sys.exit(main())
