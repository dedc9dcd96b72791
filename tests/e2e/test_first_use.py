"""End to end: a brand-new user's first cell that uses the s2p kernels answers at once.

Numba compiles a kernel on its first call unless its machine code is in the cache; in a new lab that
took 83 s in front of the user. ``make install`` fills the environment's cache (``python -m
s2p.warmup``) and the local spawner points every lab at it. This test logs a new user in, starts their
lab and runs the first cell a scientist would: SGP4 on a shipped TLE file and the MOID of NEAs.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.e2e.harness import Workbench, start_workbench
from tests.support import need_executable

pytestmark = [pytest.mark.integration, pytest.mark.slow]

FIRST_CELL_S = 3.0
"""Issue 18: the first cell calling s2p.debris.sgp4 and s2p.neo.moid returns within this [s]."""

# Timed inside the kernel: the cell as the user runs it, then how numba served each s2p kernel.
CELL = """
import time
t0, c0 = time.perf_counter(), time.process_time()
import numpy as np, s2p, s2p.debris as debris, s2p.neo as neo
tles = debris.read_tle(s2p.data_path("space_debris/tle/celestrak_stations_2026-05-30.tle"))
times = np.datetime64("2026-05-30T12:00", "ns") + np.arange(6) * np.timedelta64(10, "m")
r, v, err = debris.sgp4(tles, times)
with open(s2p.data_path("planetary_defence/orbits/mpc_NEA_2019-07.txt")) as f:
    orbits = neo.read_mpcorb("".join(f.readlines()[:50]))
m = neo.moid(orbits)
elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0

import sys, json
from numba.core.registry import CPUDispatcher
hits = misses = 0
for name, module in list(sys.modules.items()):
    if name.startswith("s2p") and module is not None:
        for obj in vars(module).values():
            if isinstance(obj, CPUDispatcher):
                hits += sum(obj.stats.cache_hits.values())
                misses += sum(obj.stats.cache_misses.values())
print(json.dumps({"elapsed": elapsed, "cpu": cpu, "shape": list(r.shape), "moid": len(m), "hits": hits, "misses": misses}))
"""


@pytest.fixture(scope="module")
def wb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workbench]:
    need_executable("node")
    workbench = start_workbench(tmp_path_factory.mktemp("state"))
    yield workbench
    workbench.stop()


def test_new_labs_first_s2p_cell_loads_compiled_kernels(wb: Workbench) -> None:
    assert wb.login("neo-analyst", "dev-neo-analyst").ok
    wb.start_server("neo-analyst")
    out = json.loads(wb.run_code("neo-analyst", CELL).strip().splitlines()[-1])
    assert out["shape"][1:] == [6, 3] and out["moid"] == 50
    # Nothing compiled in front of the user: every kernel came from the cache make install filled.
    assert out["hits"] > 0 and out["misses"] == 0, out
    assert out["elapsed"] < FIRST_CELL_S, out
