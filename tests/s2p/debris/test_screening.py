"""screen() against an independent brute-force search on real CelesTrak element sets.

The brute force shares no code with ``screen``: python-sgp4 (``SatrecArray``, Vallado's C++) for the
states, every pair of the catalogue tested at every sample of a 120 s grid with numpy (distance
matrices from a matrix product), a per-pair linear-motion bound on the survivors, then each
candidate's local minima found on exact SGP4 states at 1 s and polished by Brent's method.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import minimize_scalar
from sgp4.api import Satrec, SatrecArray

from s2p.debris import _screen_kernels as K
from s2p.debris import read_tle, screen
from s2p.debris.tle import TLESet
from tests.support import DATA

TLE = DATA / "space_debris" / "tle"
START = np.datetime64("2026-05-30T00:00:00", "ns")
STOP = START + np.timedelta64(1, "D")
THRESHOLD_KM = 10.0
MISS_TOL_KM = 0.010  # the tolerance on miss distance vs brute force (10 m)
TCA_TOL_S = 0.5  # matching window on TCA
BORDER_KM = 0.010  # encounters this close to the threshold may fall on either side of it
ACC_MAX = 1.01 * 398600.4418 / 6378.137**2  # km/s², any object above the surface


def _subset_2000() -> TLESet:
    """2,000 real objects: every 6th Starlink (dense shells, trains) plus stations, weather, GEO."""
    star = read_tle(TLE / "celestrak_starlink_2026-05-30.tle")
    parts = [star[np.arange(0, len(star), 6)]]
    for name in ("stations", "weather", "geo"):
        parts.append(read_tle(TLE / f"celestrak_{name}_2026-05-30.tle"))
    lines: list[str] = []
    seen: set[int] = set()
    for part in parts:
        for nid, a, b in zip(part.norad_id, part.line1, part.line2, strict=True):
            if int(nid) not in seen and len(seen) < 2000:
                seen.add(int(nid))
                lines += [a, b]
    tles = read_tle("\n".join(lines))
    assert len(tles) == 2000
    return tles


def _sgp4_states(sats: SatrecArray, times: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    ns = times.astype("datetime64[ns]").astype(np.int64)
    days = ns // 86_400_000_000_000
    jd = 2440587.5 + days.astype(float)
    fr = (ns - days * 86_400_000_000_000) / 86400e9
    err, r, v = sats.sgp4(jd, fr)
    return r, v, err


def _brute_force(tles: TLESet, step_s: float = 120.0) -> pd.DataFrame:
    """All pairs at every sample (numpy), linear bound, exact-SGP4 minima (Brent)."""
    satrecs = [Satrec.twoline2rv(a, b) for a, b in zip(tles.line1, tles.line2, strict=True)]
    sats = SatrecArray(satrecs)
    n_steps = int(round((STOP - START) / np.timedelta64(int(step_s * 1e9), "ns")))
    times = START + (np.arange(n_steps + 1) * step_s * 1e9).astype("timedelta64[ns]")
    r, v, err = _sgp4_states(sats, times)
    good = err == 0
    speed = np.linalg.norm(v, axis=2)
    vmax = 2.0 * float(speed[good].max()) + 2.0 * ACC_MAX * step_s / 2  # any pair, any time
    half = step_s / 2
    radius = THRESHOLD_KM + vmax * half  # |d(t_s)| bound for a minimum within half a step
    reach = THRESHOLD_KM + ACC_MAX * half**2  # linear-motion remainder ½·2a_max·τ²
    n = len(tles)
    candidates = set()
    far = 1e7 * (1 + np.arange(n))[:, None]  # failed propagations: far away from everything
    # float32 distance matrices (half the memory traffic): |p|² ≤ 2e9 km² has an ulp ≤ 256 km², so
    # the +2000 km² margin on R² keeps the test conservative
    limit = np.float32(radius**2 + 2000.0)
    for s in range(len(times)):
        p = np.where(good[:, s, None], r[:, s], far).astype(np.float32)
        sq = np.einsum("ij,ij->i", p, p)
        d2 = p @ p.T  # |pi - pj|² = |pi|² + |pj|² - 2 pi·pj, in place on the n×n matrix
        d2 *= -2.0
        d2 += sq[:, None]
        d2 += sq[None, :]
        ia, ib = np.nonzero(d2 <= limit)
        ia, ib = ia[ia < ib], ib[ia < ib]
        d = r[ib, s] - r[ia, s]
        u = v[ib, s] - v[ia, s]
        tau = np.clip(
            -np.einsum("ij,ij->i", d, u) / np.maximum(np.einsum("ij,ij->i", u, u), 1e-300), -half, half
        )
        closest = np.linalg.norm(d + u * tau[:, None], axis=1)
        for a, b in zip(ia[closest <= reach], ib[closest <= reach], strict=True):
            candidates.add((int(a), int(b), s))
    rows = []
    for a, b, s in sorted(candidates):
        pair = SatrecArray([satrecs[a], satrecs[b]])
        t_c = times[s]
        fine = t_c + (np.arange(-int(half) - 2, int(half) + 3) * 1e9).astype("timedelta64[ns]")
        rr, vv, ee = _sgp4_states(pair, fine)
        if ee.any():
            continue
        dist = np.linalg.norm(rr[1] - rr[0], axis=1)
        speed = np.linalg.norm(vv[1] - vv[0], axis=1)
        for k in range(1, len(fine) - 1):
            if not (dist[k - 1] > dist[k] <= dist[k + 1]):
                continue
            # the true minimum is within 0.5 s of sample k: it can only be below the threshold if
            # the sampled distance is below hypot(threshold, 0.5 s × relative speed)
            if dist[k] > np.hypot(THRESHOLD_KM + BORDER_KM, 0.5 * speed[k] + 0.01):
                continue

            def f(x: float, t0: np.datetime64 = fine[k], sats: SatrecArray = pair) -> float:
                t = np.array([t0 + np.timedelta64(int(round(x * 1e9)), "ns")])
                r2, _, _ = _sgp4_states(sats, t)
                return float(np.linalg.norm(r2[1, 0] - r2[0, 0]))

            res = minimize_scalar(f, bounds=(-1.0, 1.0), method="bounded", options={"xatol": 1e-6})
            tca = fine[k] + np.timedelta64(int(round(res.x * 1e9)), "ns")
            inside = abs((tca - t_c) / np.timedelta64(1, "s")) <= half + 1e-6 and START <= tca < STOP
            if inside and res.fun <= THRESHOLD_KM + BORDER_KM:
                rows.append((int(tles.norad_id[a]), int(tles.norad_id[b]), tca, float(res.fun)))
    df = pd.DataFrame(rows, columns=["norad_a", "norad_b", "tca", "miss_km"])
    # a minimum near a sample's window edge is found from both neighbouring samples: keep one
    df = df.sort_values(["norad_a", "norad_b", "tca"], ignore_index=True)
    dt = df.groupby(["norad_a", "norad_b"])["tca"].diff() / np.timedelta64(1, "s")
    return df[~(dt < 2 * TCA_TOL_S)].reset_index(drop=True)


def _match(ours: pd.DataFrame, ref: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Pairs rows by (pair, TCA within TCA_TOL_S); returns matched, only-ours, only-ref."""
    m = ours.reset_index().merge(ref.reset_index(), on=["norad_a", "norad_b"], suffixes=("", "_ref"))
    # a slow encounter's TCA is flat: 2 cm of position difference moves it by 0.02 km / speed
    tol_s = np.maximum(TCA_TOL_S, 0.02 / m["rel_speed_kms"].clip(lower=1e-9))
    m = m[(m["tca"] - m["tca_ref"]).abs() / pd.Timedelta(seconds=1) <= tol_s]
    return m, ours.drop(index=m["index"].unique()), ref.drop(index=m["index_ref"].unique())


@pytest.mark.slow
def test_screen_equals_brute_force_on_2000_real_objects() -> None:
    tles = _subset_2000()
    ours = screen(tles, START, STOP, threshold_km=THRESHOLD_KM)
    assert list(ours.columns) == ["norad_a", "norad_b", "tca", "miss_km", "rel_speed_kms"]
    assert ours["tca"].dtype == np.dtype("datetime64[ns]")
    ref = _brute_force(tles)
    assert len(ref) > 500  # the Starlink shells give many genuine encounters in a day
    matched, only_ours, only_ref = _match(ours, ref)
    # Unmatched rows are allowed only on the threshold's border (10 m): there the two searches'
    # 1e-3 m-level differences can put an encounter on either side.
    assert (only_ref["miss_km"] > THRESHOLD_KM - BORDER_KM).all(), only_ref
    assert (only_ours["miss_km"] > THRESHOLD_KM - BORDER_KM).all(), only_ours
    assert len(matched) == len(ours) - len(only_ours)
    assert matched["index"].is_unique and matched["index_ref"].is_unique
    err_m = (matched["miss_km"] - matched["miss_km_ref"]).abs() * 1e3
    assert err_m.max() <= MISS_TOL_KM * 1e3, matched.loc[err_m.idxmax()]
    assert (ours["miss_km"] <= THRESHOLD_KM).all() and (ours["rel_speed_kms"] >= 0).all()


def _small() -> TLESet:
    star = read_tle(TLE / "celestrak_starlink_2026-05-30.tle")
    return star[np.arange(0, len(star), 20)]


def test_primaries_rows_are_the_all_vs_all_rows_of_those_objects() -> None:
    tles = _small()
    stop = START + np.timedelta64(6, "h")
    every = screen(tles, START, stop, threshold_km=THRESHOLD_KM)
    assert len(every) > 10
    prim = np.unique(np.concatenate([every["norad_a"].to_numpy()[:5], tles.norad_id[:3]]))
    sub = screen(tles, START, stop, threshold_km=THRESHOLD_KM, primaries=prim)
    want = every[every["norad_a"].isin(prim) | every["norad_b"].isin(prim)].reset_index(drop=True)
    pd.testing.assert_frame_equal(sub, want)
    # a TLESet of primaries gives the same rows
    sub2 = screen(tles, START, stop, threshold_km=THRESHOLD_KM, primaries=tles[np.isin(tles.norad_id, prim)])
    pd.testing.assert_frame_equal(sub2, want)


def test_step_does_not_change_the_encounters() -> None:
    tles = _small()
    stop = START + np.timedelta64(6, "h")
    a = screen(tles, START, stop, threshold_km=THRESHOLD_KM)
    b = screen(tles, START, stop, threshold_km=THRESHOLD_KM, step=60.0)
    matched, only_a, only_b = _match(a, b)
    assert len(only_a) == len(only_b) == 0
    assert (matched["miss_km"] - matched["miss_km_ref"]).abs().max() < 1e-3


@pytest.mark.slow
@pytest.mark.parametrize("processes", [False, True], ids=["threads", "processes"])
def test_dask_cluster_returns_the_same_rows(processes: bool) -> None:
    import distributed  # s2p's own dependency (dask[distributed])

    tles = _small()
    stop = START + np.timedelta64(6, "h")
    local = screen(tles, START, stop, threshold_km=THRESHOLD_KM)
    # in-process workers use distributed's "inproc" transport (no socket); worker processes
    # listen on the loopback interface only
    where = {"host": "127.0.0.1"} if processes else {}
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=processes, dashboard_address=None, **where
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        remote = screen(tles, START, stop, threshold_km=THRESHOLD_KM, client=client)
    pd.testing.assert_frame_equal(remote, local)


@pytest.mark.slow
def test_dask_parts_are_the_local_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Four or more chunks per worker: the cluster screens whole local chunks (same rows by construction)."""
    import distributed

    from s2p.debris import screening

    tles = _small()
    # a budget of ~12 intervals per chunk: 6 h (90 intervals) make 8 chunks for 2 workers
    monkeypatch.setattr(screening, "_CHUNK_SAMPLE_BUDGET", 13 * len(tles))
    assert screening._chunk_len(len(tles)) == 12
    stop = START + np.timedelta64(6, "h")
    local = screen(tles, START, stop, threshold_km=THRESHOLD_KM)
    bounds = screening._dask_bounds(90, len(tles), 2)
    assert bounds == [0, 12, 24, 36, 48, 60, 72, 84, 90]  # the local run's chunks
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
        ) as c,
        distributed.Client(c) as client,
    ):
        remote = screen(tles, START, stop, threshold_km=THRESHOLD_KM, client=client)
    pd.testing.assert_frame_equal(remote, local)


def test_arguments_are_checked() -> None:
    tles = _small()
    with pytest.raises(ValueError, match="after start"):
        screen(tles, STOP, START)
    with pytest.raises(ValueError, match="threshold_km"):
        screen(tles, START, STOP, threshold_km=0)
    with pytest.raises(ValueError, match="step"):
        screen(tles, START, STOP, step=1000)
    with pytest.raises(ValueError, match="not in the catalogue"):
        screen(tles, START, STOP, primaries=[1])
    empty = screen(tles[:1], START, STOP)
    assert list(empty.columns) == ["norad_a", "norad_b", "tca", "miss_km", "rel_speed_kms"] and empty.empty


def test_progress_bar_on_request(capsys: pytest.CaptureFixture[str]) -> None:
    tles = _small()
    screen(tles, START, START + np.timedelta64(2, "h"), progress=True)
    err = capsys.readouterr().err
    assert "screening" in err and "30/30" in err  # 2 h of 240 s node intervals
    screen(tles, START, START + np.timedelta64(2, "h"), progress=False)
    assert "screening" not in capsys.readouterr().err


@pytest.mark.parametrize("w_km", [3.0, 0.02])
def test_refine_finds_both_minima_of_a_curved_pass(w_km: float) -> None:
    """A relative path d(s) = (L(s² − 1), w s, 0), s = 4(t − H/2)/H ∈ [−2, 2] over one node interval
    (a parabola round the other object, exactly a quintic: the interpolant reproduces it), has two
    minima at s = ±√(1 − w²/2L²) with miss √(w² − w⁴/4L²): refine must find both, to 1e-12 of the
    interval, with the relative speed there."""
    H, L = 240.0, 100.0
    r = np.zeros((2, 2, 3))
    v = np.zeros((2, 2, 3))
    a = np.zeros((2, 2, 3))
    for k, s in enumerate((-2.0, 2.0)):  # the nodes t = 0 and t = H of object 1
        r[k, 1] = (L * (s * s - 1.0), w_km * s, 0.0)
        v[k, 1] = (8.0 * L * s / H, 4.0 * w_km / H, 0.0)
        a[k, 1] = (32.0 * L / H**2, 0.0, 0.0)
    cand = np.array([[0, 1, 0]], dtype=np.int32)
    xs, miss, speed = K.refine(r, v, a, cand, H, 5.0)
    found = np.isfinite(xs)
    assert found.sum() == 2
    s_min = np.sqrt(1.0 - w_km**2 / (2.0 * L * L))
    for x, d, u, s in zip(xs[found], miss[found], speed[found], (-s_min, s_min), strict=True):
        assert abs(x - (0.5 + s / 4.0)) < 1e-12
        assert abs(d - np.sqrt(w_km**2 - w_km**4 / (4.0 * L * L))) < 1e-9
        assert abs(u - np.hypot(8.0 * L * s / H, 4.0 * w_km / H)) < 1e-12
    # above the threshold: nothing
    xs, _, _ = K.refine(r, v, a, cand, H, 0.5 * w_km)
    assert not np.isfinite(xs).any()
