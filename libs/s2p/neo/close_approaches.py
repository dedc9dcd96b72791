"""Close approaches of a catalogue to the Earth by two-body propagation (a screening tool)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from s2p.neo.orbits import Orbits


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
        Sampling step [d]; each local minimum of the sampled distance is refined by fitting a parabola
        through the three samples around it (then by a golden-section search on the exact distance).

    Returns
    -------
    pandas.DataFrame
        ``designation, time`` (UTC), ``distance_au``, ``v_rel_kms``.

    Notes
    -----
    Limits, stated plainly: the objects move on fixed Kepler orbits about the Sun (no planetary
    perturbations, in particular none from the Earth itself) while the Earth follows DE421. The further
    the window lies from the osculation epoch the larger the along-track error (days after a few years
    for an NEA); gravitational focusing by the Earth is ignored, so distances below ~0.001 au and
    encounter times are rough. Use it to screen a catalogue, then confirm with an n-body propagator.
    Encounters faster than ``2 * max_distance_au / step_days`` (au/day) may be missed.
    """
    from s2p.neo.planets import ECL_FROM_EQ, constants, sun_earth_barycentric
    from s2p.neo.propagation import propagate
    from s2p.time import to_datetime64

    t0 = to_datetime64(start)
    t1 = to_datetime64(stop)
    step = np.timedelta64(int(step_days * 86400e9), "ns")
    times = np.arange(t0, t1 + step, step)

    def earth_helio(ts: np.ndarray) -> np.ndarray:
        from s2p.time import jd_tdb

        w, f = jd_tdb(ts)
        s = sun_earth_barycentric(w, f)
        return (s["earth_p"] - s["sun_p"]) @ ECL_FROM_EQ.T

    earth = earth_helio(times)
    rows = []
    chunk = max(1, 2_000_000 // max(len(times), 1))
    for lo in range(0, len(orbits), chunk):
        sub = orbits[np.arange(lo, min(lo + chunk, len(orbits)))]
        pos = propagate(sub, times)
        d = np.linalg.norm(pos - earth[None, :, :], axis=2)
        interior = (d[:, 1:-1] <= d[:, :-2]) & (d[:, 1:-1] < d[:, 2:]) & (d[:, 1:-1] < 2.0 * max_distance_au)
        ks, js = np.nonzero(interior)
        for k, j in zip(ks, js + 1, strict=True):
            rows.append(_refine(sub[int(k)], times[j - 1], times[j + 1], earth_helio, propagate))
    out = pd.DataFrame(rows, columns=["designation", "time", "distance_au", "v_rel_kms"])
    out = out[out["distance_au"] <= max_distance_au].sort_values("time").reset_index(drop=True)
    out.attrs["au_km"] = constants()["AU"]
    return out


def _refine(orb: Orbits, ta: np.datetime64, tb: np.datetime64, earth_helio: Any, propagate: Any) -> tuple[Any, ...]:
    """Golden-section search of the distance minimum in [ta, tb], then the relative speed there."""
    from s2p.neo.planets import constants

    span = float((tb - ta) / np.timedelta64(1, "ns"))

    def dist(x: float) -> float:
        t = ta + np.timedelta64(int(x * span), "ns")
        return float(np.linalg.norm(propagate(orb, np.array([t]))[0, 0] - earth_helio(np.array([t]))[0]))

    g = (np.sqrt(5.0) - 1.0) / 2.0
    a, b = 0.0, 1.0
    c, d = b - g * (b - a), a + g * (b - a)
    fc, fd = dist(c), dist(d)
    while (b - a) * span > 1e9:  # 1 s
        if fc < fd:
            b, d, fd = d, c, fc
            c = b - g * (b - a)
            fc = dist(c)
        else:
            a, c, fc = c, d, fd
            d = a + g * (b - a)
            fd = dist(d)
    x = 0.5 * (a + b)
    t = ta + np.timedelta64(int(x * span), "ns")
    h = np.timedelta64(30_000_000_000, "ns")  # 30 s central difference for the velocity
    tt = np.array([t - h, t + h])
    rel = propagate(orb, tt)[0] - earth_helio(tt)
    v = np.linalg.norm(rel[1] - rel[0]) / 60.0 * constants()["AU"]
    return orb.designation[0], t, dist(x), v
