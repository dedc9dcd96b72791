"""Close approaches of a catalogue to the Earth by two-body propagation (a screening tool)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from s2p.neo.orbits import Orbits

_NS_PER_DAY = 86_400e9


def _earth_helio(times: np.ndarray) -> np.ndarray:
    """Heliocentric ecliptic J2000 position [au] of the Earth at UTC ``times`` (any shape) -> shape + (3,)."""
    from s2p.neo.planets import ECL_FROM_EQ, sun_earth_barycentric
    from s2p.time import jd_tdb

    flat = times.reshape(-1)
    w, f = jd_tdb(flat)
    s = sun_earth_barycentric(w, f)
    return ((s["earth_p"] - s["sun_p"]) @ ECL_FROM_EQ.T).reshape(times.shape + (3,))


def _distances(orbits: Orbits, times: np.ndarray) -> np.ndarray:
    """Geocentric distances [au], shape (N, T), of orbit k at ``times[k, :]`` (UTC datetime64)."""
    from s2p.neo.propagation import _dt_days, propagate_days

    # days from each epoch to each (per-object) time: epoch offsets via the first column, then deltas
    base = _dt_days(orbits, times[:, :1].reshape(-1)[:1])[:, 0]  # to times[0, 0]
    offsets = (times - times[0, 0]) / np.timedelta64(1, "ns") / _NS_PER_DAY
    pos = propagate_days(orbits, base[:, None] + offsets)
    return np.linalg.norm(pos - _earth_helio(times), axis=-1)


def close_approaches(
    orbits: Orbits,
    start: Any,
    stop: Any,
    *,
    max_distance_au: float = 0.05,
    step_days: float = 0.5,
) -> pd.DataFrame:
    """Close approaches to the Earth within a window, by two-body motion of the objects.

    Parameters
    ----------
    orbits : Orbits
        Heliocentric orbits.
    start, stop : datetime-like
        UTC window.
    max_distance_au : float
        Report minima of the geocentric distance below this [au].
    step_days : float
        Sampling step [d] of the scan; each sampled local minimum is then refined on two finer grids and
        a parabola (time to ~1 s of the two-body minimum).

    Returns
    -------
    pandas.DataFrame
        ``designation, time`` (UTC), ``distance_au``, ``v_rel_kms`` (relative speed at the minimum).

    Notes
    -----
    Limits, stated plainly: the objects move on fixed Kepler orbits about the Sun (no planetary
    perturbations, in particular none from the Earth itself) while the Earth follows DE421. The further
    the window lies from the osculation epoch the larger the along-track error (hours after months,
    days after a few years for an NEA); gravitational focusing by the Earth is ignored, so distances
    below ~0.001 au (and their times) are rough. Use it to screen a catalogue, then confirm with an
    n-body propagator. An encounter shorter than the step (faster than ``max_distance_au / step_days``
    au/day of relative motion at the threshold) may be missed.
    """
    from s2p.neo.propagation import propagate
    from s2p.time import to_datetime64

    t0 = to_datetime64(start)
    t1 = to_datetime64(stop)
    step = np.timedelta64(int(step_days * _NS_PER_DAY), "ns")
    times = t0 + step * np.arange(int((t1 - t0) // step) + 1)
    earth = _earth_helio(times)
    cand_obj = []
    cand_t = []
    chunk = max(1, 4_000_000 // max(len(times), 1))
    for lo in range(0, len(orbits), chunk):
        idx = np.arange(lo, min(lo + chunk, len(orbits)))
        d = np.linalg.norm(propagate(orbits[idx], times) - earth[None], axis=2)
        # a local minimum of the samples within reach of the threshold (the true minimum lies between)
        interior = (d[:, 1:-1] <= d[:, :-2]) & (d[:, 1:-1] < d[:, 2:]) & (d[:, 1:-1] < 2.0 * max_distance_au)
        ks, js = np.nonzero(interior)
        cand_obj.append(idx[ks])
        cand_t.append(times[js + 1])
    obj = np.concatenate(cand_obj) if cand_obj else np.zeros(0, int)
    tc = np.concatenate(cand_t) if cand_t else np.zeros(0, "datetime64[ns]")
    cols = ["designation", "time", "distance_au", "v_rel_kms"]
    if obj.size == 0:
        return pd.DataFrame(columns=cols)
    sub = orbits[obj]
    # two refinement passes on 65-point grids: +-1 step, then +-2 cells of the first grid
    half = step
    for _ in range(2):
        grid = np.linspace(-1.0, 1.0, 65)
        offs = (grid * (half / np.timedelta64(1, "ns"))).astype("int64").astype("timedelta64[ns]")
        tt = tc[:, None] + offs[None, :]
        d = _distances(sub, tt)
        j = np.clip(np.argmin(d, axis=1), 1, 63)
        r = np.arange(len(j))
        dm, d0, dp = d[r, j - 1], d[r, j], d[r, j + 1]
        curv = dp - 2.0 * d0 + dm
        shift = np.where(curv > 0, 0.5 * (dm - dp) / np.where(curv > 0, curv, 1.0), 0.0)
        cell = half / 32
        tc = tt[r, j] + (np.clip(shift, -1.0, 1.0) * (cell / np.timedelta64(1, "ns"))).astype("int64").astype(
            "timedelta64[ns]"
        )
        half = 2 * cell
    h = np.timedelta64(30_000_000_000, "ns")  # +-30 s central difference for the relative velocity
    tt = np.stack([tc - h, tc, tc + h], axis=1)
    from s2p.neo.planets import constants
    from s2p.neo.propagation import _dt_days, propagate_days

    base = _dt_days(sub, tt[:1, 0])[:, 0]
    offsets = (tt - tt[0, 0]) / np.timedelta64(1, "ns") / _NS_PER_DAY
    rel = propagate_days(sub, base[:, None] + offsets) - _earth_helio(tt)
    dist = np.linalg.norm(rel[:, 1], axis=1)
    v = np.linalg.norm(rel[:, 2] - rel[:, 0], axis=1) / 60.0 * constants()["AU"]
    out = pd.DataFrame({"designation": sub.designation, "time": tc, "distance_au": dist, "v_rel_kms": v})
    out = out[(out["distance_au"] <= max_distance_au) & (out["time"] >= t0) & (out["time"] <= t1)]
    return out.sort_values("time").reset_index(drop=True)
