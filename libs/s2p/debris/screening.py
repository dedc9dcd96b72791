"""Conjunction screening of a TLE catalogue over a time window (SGP4 states, TEME).

Pipeline (kernels in :mod:`s2p.debris._screen_kernels` and :mod:`s2p.debris._screen_sieve`, each with
its proof of "no missed event"):

1. *apogee/perigee filter* — in primaries mode, catalogue objects whose radial shell (from the mean
   elements, padded) cannot come within the threshold of any primary's shell are dropped before
   propagation; on every chunk, each pair's sampled shells (padded by a bound on the radius between
   samples) must overlap within the threshold, else the pair is skipped;
2. *sampling* — :func:`s2p.debris.sgp4` at the node ``step`` (default 240 s), chunk by chunk
   (bounded memory); between nodes each trajectory is its quintic Hermite interpolant (position,
   velocity, and a two-body + J2 acceleration at both ends), within ~5 cm of SGP4 in LEO;
3. *spatial-grid sieve* — every sub-step ``h ≤ 48 s`` (interpolated states), a dense grid of cells
   no smaller than ``L = D' + 2 V_cut · h/2`` (``V_cut`` bounds the speed of all but the fastest
   0.1 % of the objects, which are compared over their own wider neighbourhood; ``D'`` is the
   threshold plus the interpolation allowance) finds every pair closer than ``D' + (V_i + V_j)·h/2``
   — the only pairs that can be within ``D`` at a time whose nearest sub-step is this one, since
   ``|ḋ| ≤ V_i + V_j``; a linear-motion bound (remainder ``≤ ½ τ² |d̈|``, with ``|d̈|`` the tidal
   acceleration of objects this close plus their deviation from the gravity model), first in float32 SIMD with a
   rounding allowance, then exact, removes most of them (proofs: :func:`~s2p.debris._screen_sieve.sieve`);
4. *TCA refinement* — on each candidate node interval, the roots of d/dt |d|² = 0 of the relative
   quintic give TCA, miss distance and relative speed at each local minimum below the threshold.

An *encounter* is a local minimum of the inter-object distance, at most ``threshold_km``, strictly
inside ``[start, stop)``. Samples at which SGP4 reports an error for an object (decay, eccentricity
out of range) are excluded, and so are the intervals touching them; an object whose SGP4 states on a
chunk (≤ ~16 h) are no bound orbit (speed above 11.5 km/s) or too erratic to interpolate (error
estimate above 0.5 km) — seen just before decay — is left out of that chunk with a ``RuntimeWarning``.
"""

from __future__ import annotations

import datetime as _dt
import math
import warnings
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from s2p.debris import _screen_kernels as K
from s2p.debris._screen_sieve import sieve

if TYPE_CHECKING:  # pragma: no cover
    from s2p.debris.tle import TLESet

__all__ = ["screen", "DEFAULT_STEP_S"]

DEFAULT_STEP_S = 240.0
"""Default SGP4 step [s] between interpolation nodes. The quintic Hermite interpolant between nodes
is within ≈ 5 cm of SGP4 in LEO at this step (error ∝ step⁶), so SGP4 — the costly part — runs at
this step only."""

SIEVE_STEP_S = 48.0
"""Largest sieve sub-step [s]: the grid runs every ``step/ceil(step/SIEVE_STEP_S)`` seconds on
interpolated states; it balances the per-sub-step grid cost (∝ 1/h) against the neighbours per
object (∝ h² in a shell) and the linear-motion bound's curvature term (∝ h², see
:func:`_curvature_km`). Measured on 25,000 objects × 1 day (bench catalogue, best of 3 in one
process): 48 s took 2.6 s of sieve, 40 s 3.0 s, 30 s 3.8 s; 60 s was as fast (2.5 s) but doubled
the candidates to refine. (With the coarse ``a_max`` curvature bound, 30 s was best.)"""

_CHUNK_SAMPLE_BUDGET = 6_000_000  # objects × samples per chunk: ~0.6 GB of float64 states
_SPEED_MAX_KMS = 11.5  # escape speed at the Earth's surface is 11.19 km/s
_EPS_MAX_KM = 0.5  # interpolation error allowance beyond which an object's states are not trusted
_cap_hint: dict[int, int] = {}  # catalogue size -> sieve output capacity that sufficed
_MU_KM3_S2 = 398600.4418
# Pre-propagation shell filter margin on the mean-element radius a(1±e) [km]: SGP4 short-period
# terms (≲ 10 km in LEO), plus drag decay and lunisolar drift over the window (per day).
_SHELL_MARGIN_KM = 100.0
_SHELL_MARGIN_KM_PER_DAY = 10.0

COLUMNS = ["norad_a", "norad_b", "tca", "miss_km", "rel_speed_kms"]


def _as_datetime64(t: Any, what: str) -> np.datetime64:
    if isinstance(t, _dt.datetime) and t.tzinfo is not None:
        t = t.astimezone(_dt.UTC).replace(tzinfo=None)
    try:
        out = np.datetime64(t, "ns")
    except (ValueError, TypeError):
        raise ValueError(f"{what}: cannot read {t!r} as a UTC time") from None
    if np.isnat(out):
        raise ValueError(f"{what} is NaT")
    return out


class _Buffers:
    """Work arrays reused from chunk to chunk of one run: the SGP4 output and the sample-major
    states are ~0.7 GB per chunk at the sample budget, whose fresh allocation (page faults on first
    touch) cost ~0.1 s a chunk."""

    def __init__(self) -> None:
        self._flat: dict[str, np.ndarray] = {}

    def get(self, name: str, shape: tuple[int, ...], dtype: Any = np.float64) -> np.ndarray:
        size = math.prod(shape)
        flat = self._flat.get(name)
        if flat is None or flat.size < size or flat.dtype != dtype:
            flat = self._flat[name] = np.empty(size, dtype=dtype)
        return flat[:size].reshape(shape)


def _sample(tles: TLESet, times: np.ndarray, buf: _Buffers | None = None) -> tuple[np.ndarray, ...]:
    """SGP4 states sample-major ``(T, N, 3)``, model accelerations, validity ``(T, N)`` and the
    per-object boxes of valid positions (``lo``, ``hi``: ``(N, 3)``). With ``buf``, the arrays are
    its (valid until the next call with the same ``buf``)."""
    from s2p import debris

    buf = _Buffers() if buf is None else buf
    N, T = len(tles), len(times)
    out = (buf.get("r_in", (N, T, 3)), buf.get("v_in", (N, T, 3)), buf.get("err", (N, T), np.int8))
    r_in, v_in, err = debris.sgp4(tles, times, out=out)
    r, v, a = buf.get("r", (T, N, 3)), buf.get("v", (T, N, 3)), buf.get("a", (T, N, 3))
    valid = buf.get("valid", (T, N), np.bool_)
    lo, hi = K.prepare(r_in, v_in, err, r, v, a, valid)
    return r, v, a, valid, lo, hi


def _grid(
    vmax: np.ndarray,
    lo_i: np.ndarray,
    hi_i: np.ndarray,
    base: float,
    h: float,
    all_vs_all: bool,
    n_objects: int,
) -> tuple[float, float, float, float]:
    """Speed split, cell size, linear extent and full extent [km] of the sieve's grid.

    ``vcut``: objects faster than this (all-vs-all: the fastest 0.1 %, eccentric objects near
    perigee) are handled apart, so that one such object does not set the cell size of everyone
    (on the bench catalogue: one object at 9.9 km/s made the cells 302 km instead of 243, ~1.5x the
    pair tests). ``cell = base + vcut·h`` (the proof in :func:`~s2p.debris._screen_sieve.sieve`).
    The grid is dense in x and y: ``x0`` is the largest coordinate mapped linearly (beyond it the
    map is logarithmic) such that the number of columns stays within ``max(2¹⁶, 4N)``; interpolated
    positions beyond the nodes' box are clamped to the border cells, which keeps the neighbour property.
    """
    vcut = float(np.quantile(vmax, 0.999)) if all_vs_all and vmax.size >= 1000 else float(vmax.max())
    cell = base + vcut * h
    xmax = float(max(np.abs(lo_i).max(), np.abs(hi_i).max())) + 2.0 * cell + 1.0
    budget = max(1 << 16, 4 * n_objects)

    def columns(x0: float, cell: float) -> int:
        g = x0 / cell * (1.0 + math.log(xmax / x0))
        return int((2 * (math.ceil(g) + 1) + 1) ** 2)

    while columns(min(cell, xmax), cell) > budget:  # only for extents ~e^100 cells: coarser cells
        cell *= 2.0
    if columns(xmax, cell) <= budget:
        return vcut, cell, xmax, xmax
    lo, hi = min(cell, xmax), xmax
    for _ in range(60):  # columns(x0) grows with x0: the largest x0 within the budget
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if columns(mid, cell) <= budget else (lo, mid)
    return vcut, cell, lo, xmax


def _curvature_km(h: float, Dp: float, vmax: np.ndarray, rlo: np.ndarray, nu: np.ndarray) -> float:
    """Bound [km] of ``|d̃(t_s + τ) − d̃(t_s) − d̃'(t_s) τ|``, ``|τ| ≤ h/2``, for the relative
    interpolant d̃ of any pair that comes within ``Dp`` in the sub-step's window (the sieve's
    linear-motion bound, :func:`~s2p.debris._screen_sieve.sieve`).

    Taylor: ``≤ ½ (h/2)² max |d̃''|``. The coarse bound takes ``|d̃''| ≤ 2 a_max`` (``a_max h²/4``:
    2.2 km at h = 30 s). The tidal bound uses that the two objects are close during the whole window:
    ``|d̃| ≤ L = Dp + (V_i + V_j) h`` there, and ``p̃'' = g(p̃) + ν`` with ``|ν| ≤ nu`` (the model
    deviation of :func:`~s2p.debris._screen_kernels.object_bounds`, doubled), so ``|d̃''| ≤
    G·L + 2·2 nu_max`` with ``G`` the gravity gradient bound on the chord between them (radius ≥
    ``√(ρ_lo² − L²/4)``, ``ρ_lo`` the lowest shell less the interpolation allowance): 0.2 km at
    h = 30 s in LEO. The smaller of the two is returned (each alone is a bound).
    """
    coarse = K.ACC_MAX_KMS2 * h * h / 4.0
    if vmax.size == 0:
        return coarse
    L = Dp + 2.0 * float(vmax.max()) * h
    rho = float(rlo.min()) - _EPS_MAX_KM
    rho_c2 = rho * rho - 0.25 * L * L
    if not (np.isfinite(rho_c2) and rho_c2 > (0.5 * K.R_EARTH_KM) ** 2):
        return coarse
    G = K.gravity_gradient_bound(math.sqrt(rho_c2))
    tidal = 0.5 * (0.5 * h) ** 2 * (G * L + 4.0 * float(nu.max()))
    return min(coarse, tidal)


def _screen_chunk(
    tles: TLESet,
    primary: np.ndarray | None,
    t_first: np.datetime64,
    H: float,
    m: int,
    n_nodes: int,
    D: float,
    buf: _Buffers | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Encounters on the ``n_nodes − 1`` node intervals after ``t_first``: (i, j, offset_s, miss, speed)."""
    offsets_ns = np.round(np.arange(n_nodes) * H * 1e9).astype(np.int64)
    r, v, a, valid, box_lo, box_hi = _sample(tles, t_first + offsets_ns.astype("timedelta64[ns]"), buf)
    vmax, rlo, rhi, eps, nu = K.object_bounds(r, v, a, valid, H, m)
    # SGP4 output that is no orbit above the Earth (faster than escape speed at the surface) or
    # that the interpolant cannot follow (erratic states, typically just before decay) would set
    # the grid radius for everyone: such objects are left out of this chunk, with a warning.
    bad = valid.any(axis=0) & ((vmax > _SPEED_MAX_KMS) | (eps > _EPS_MAX_KM))
    if bad.any():
        warnings.warn(
            f"screen: {int(bad.sum())} object(s) left out from {t_first} for {(n_nodes - 1) * H / 3600:.1f} h: "
            f"SGP4 states not a bound, smooth orbit (NORAD {tles.norad_id[bad][:10].tolist()})",
            RuntimeWarning,
            stacklevel=4,
        )
        valid[:, bad] = False
        vmax[bad], eps[bad], nu[bad], rlo[bad], rhi[bad] = 0.0, 0.0, 0.0, np.inf, -np.inf
    alive = valid.any(axis=0)
    if alive.sum() < 2:
        return _NO_ROWS
    # allowance for the interpolation error of both objects: 4× the circular-orbit estimate + 10 m
    pad = 0.01 + 2.0 * 4.0 * float(eps[alive].max())
    h = H / m
    vcut, cell, x0, xmax = _grid(
        vmax[alive], box_lo[alive], box_hi[alive], D + pad, h, primary is None, len(tles)
    )
    curv = _curvature_km(h, D + pad, vmax[alive], rlo[alive], nu[alive])
    prim = np.zeros(len(tles), dtype=np.bool_) if primary is None else primary
    nblocks = max(1, min((n_nodes - 1) * m + 1, 4 * _threads()))
    # output rows per block: generous (12 bytes a row) so that a rerun after an overflow, which
    # repeats the whole sieve, stays rare; grown caps are remembered for the next chunks
    cap = max(_cap_hint.get(len(tles), 0), 1 << 16, 4 * len(tles))
    while True:
        out, counts = sieve(
            r,
            v,
            a,
            valid,
            vmax,
            rlo,
            rhi,
            prim,
            primary is None,
            D,
            H,
            m,
            pad,
            curv,
            cell,
            vcut,
            x0,
            xmax,
            nblocks,
            cap,
        )
        if counts.max(initial=0) <= cap:
            break
        cap = int(counts.max() * 1.5) + 16
        _cap_hint[len(tles)] = cap
    if counts.sum() == 0:
        return _NO_ROWS
    raw = np.concatenate([out[b, : counts[b]] for b in range(nblocks)]).astype(np.int64)
    # one int64 key per (i, j, k) row, sorted and deduplicated: ~10x faster than np.unique(axis=0),
    # and a sort is ~10x faster than numpy 2's hash-based 1-D np.unique
    n_obj, n_int = np.int64(len(tles)), np.int64(n_nodes)
    keys = np.sort((raw[:, 0] * n_obj + raw[:, 1]) * n_int + raw[:, 2])
    keys = keys[np.concatenate(([True], keys[1:] != keys[:-1]))]
    cand = np.empty((keys.size, 3), dtype=np.int32)
    cand[:, 2] = keys % n_int
    cand[:, 1] = (keys // n_int) % n_obj
    cand[:, 0] = keys // (n_int * n_obj)
    xs, miss, speed = K.refine(r, v, a, cand, H, D)
    ok = np.isfinite(xs)
    rows = np.nonzero(ok)[0] // K.MAX_MINIMA
    i = cand[rows, 0].astype(np.int64)
    j = cand[rows, 1].astype(np.int64)
    offset_s = (cand[rows, 2] + xs[ok]) * H
    return i, j, offset_s, miss[ok], speed[ok]


_NO_ROWS = (np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0), np.empty(0), np.empty(0))


def _threads() -> int:
    import numba

    return int(numba.get_num_threads())


def _chunk_len(n_objects: int) -> int:
    """Node intervals per chunk (the chunk budget)."""
    return max(8, _CHUNK_SAMPLE_BUDGET // max(n_objects, 1) - 1)


def _chunks(k0: int, k1: int, n_objects: int) -> Iterator[tuple[int, int]]:
    """Interval ranges [a, b) of at most the chunk budget (each needs samples a..b)."""
    per = _chunk_len(n_objects)
    a = k0
    while a < k1:
        b = min(k1, a + per)
        yield a, b
        a = b


def _screen_range(
    tles: TLESet,
    primary: np.ndarray | None,
    start: np.datetime64,
    stop: np.datetime64,
    H: float,
    m: int,
    k0: int,
    k1: int,
    D: float,
    progress: Any = None,
) -> pd.DataFrame:
    """Encounters on global node intervals [k0, k1) of the node grid ``start + k·H``."""
    parts = []
    buf = _Buffers()
    for a, b in _chunks(k0, k1, len(tles)):
        t_first = start + np.timedelta64(int(round(a * H * 1e9)), "ns")
        i, j, off, miss, speed = _screen_chunk(tles, primary, t_first, H, m, b - a + 1, D, buf)
        tca = t_first + np.round(off * 1e9).astype(np.int64).astype("timedelta64[ns]")
        keep = (tca >= start) & (tca < stop)
        parts.append(
            pd.DataFrame(
                {
                    "norad_a": tles.norad_id[i[keep]],
                    "norad_b": tles.norad_id[j[keep]],
                    "tca": tca[keep],
                    "miss_km": miss[keep],
                    "rel_speed_kms": speed[keep],
                }
            )
        )
        if progress is not None:
            progress.update(b - a)
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=COLUMNS)


def _shells_km(tles: TLESet) -> tuple[np.ndarray, np.ndarray]:
    """Perigee and apogee radii [km] from the TLE mean elements (mean motion, eccentricity)."""
    n = np.asarray(tles.mean_motion_rev_per_day, float) * 2.0 * math.pi / 86400.0
    a = np.cbrt(_MU_KM3_S2 / np.where(n > 0, n, np.nan) ** 2)
    e = np.asarray(tles.eccentricity, float)
    return a * (1.0 - e), a * (1.0 + e)


def _resolve_primaries(tles: TLESet, primaries: Any) -> tuple[TLESet, np.ndarray]:
    """Catalogue (+ primaries not in it) and the boolean primary mask over it."""
    ids = np.asarray(tles.norad_id)
    if hasattr(primaries, "norad_id") and hasattr(primaries, "line1"):
        extra = ~np.isin(np.asarray(primaries.norad_id), ids)
        if extra.any():
            from s2p.debris.tle import read_tle

            lines = [f"{a}\n{b}" for a, b in zip(tles.line1, tles.line2, strict=True)]
            lines += [
                f"{a}\n{b}" for a, b in zip(primaries.line1[extra], primaries.line2[extra], strict=True)
            ]
            tles = read_tle("\n".join(lines))
            ids = np.asarray(tles.norad_id)
        wanted = np.asarray(primaries.norad_id)
    else:
        wanted = np.atleast_1d(np.asarray(list(primaries) if isinstance(primaries, Iterable) else primaries))
        missing = wanted[~np.isin(wanted, ids)]
        if missing.size:
            raise ValueError(f"primaries not in the catalogue: {missing[:10].tolist()}")
    return tles, np.isin(ids, wanted)


def screen(
    tles: TLESet,
    start: Any,
    stop: Any,
    *,
    threshold_km: float = 5.0,
    primaries: Any = None,
    step: float | None = None,
    client: Any = None,
    progress: bool | None = None,
) -> pd.DataFrame:
    """Find close approaches in a TLE catalogue.

    Parameters
    ----------
    tles : TLESet
        The catalogue (from :func:`s2p.debris.read_tle`).
    start, stop : datetime64, datetime or ISO string
        UTC window ``[start, stop)``.
    threshold_km : float
        Report local minima of the distance at most this [km].
    primaries : sequence of NORAD ids, TLESet or None
        None: all pairs of the catalogue. Otherwise only pairs with at least one primary (primaries
        given as a TLESet need not be in ``tles``).
    step : float, optional
        SGP4 step [s] between interpolation nodes (default :data:`DEFAULT_STEP_S`, at most 300).
        No encounter is missed at any step (the sieve's bounds account for it); the accuracy of
        TCA and miss distance (quintic interpolation, error ∝ step⁶) and the run time depend on it.
    client : distributed.Client, optional
        Partition the window over the Dask cluster (whole chunks of the local run when there are
        at least four per worker); the rows are identical to a local run (see :func:`_screen_dask`
        for the one exception on short windows).
    progress : bool, optional
        Show a tqdm progress bar (notebook or terminal); default: on for runs of more than
        ~20 million object-samples.

    Returns
    -------
    pandas.DataFrame
        One row per encounter, sorted by ``tca``: ``norad_a``, ``norad_b`` (``norad_a`` is the
        earlier of the pair in the catalogue), ``tca`` (``datetime64[ns]``, UTC), ``miss_km``,
        ``rel_speed_kms``.
    """
    t0 = _as_datetime64(start, "start")
    t1 = _as_datetime64(stop, "stop")
    if not t1 > t0:
        raise ValueError(f"stop ({t1}) must be after start ({t0})")
    if not threshold_km > 0:
        raise ValueError(f"threshold_km must be positive, got {threshold_km}")
    H = float(DEFAULT_STEP_S if step is None else step)
    if not 0.0 < H <= 300.0:
        raise ValueError(f"step must be in (0, 300] s, got {step}")
    m = max(1, math.ceil(H / SIEVE_STEP_S - 1e-9))
    D = float(threshold_km)
    primary = None
    if primaries is not None:
        tles, primary = _resolve_primaries(tles, primaries)
        tles, primary = _drop_far_shells(tles, primary, D, float((t1 - t0) / np.timedelta64(1, "D")))
    n_intervals = int(math.ceil(((t1 - t0) / np.timedelta64(1, "ns")) / (H * 1e9)))
    if len(tles) < 2 or n_intervals == 0:
        return pd.DataFrame(columns=COLUMNS)
    if client is not None:
        result = _screen_dask(client, tles, primary, t0, t1, H, m, n_intervals, D, progress)
    else:
        show = progress if progress is not None else len(tles) * n_intervals > 20_000_000
        bar = _bar(n_intervals, show)
        try:
            result = _screen_range(tles, primary, t0, t1, H, m, 0, n_intervals, D, bar)
        finally:
            if bar is not None:
                bar.close()
    return result.sort_values(["tca", "norad_a", "norad_b"], ignore_index=True)


def _drop_far_shells(tles: TLESet, primary: np.ndarray, D: float, days: float) -> tuple[TLESet, np.ndarray]:
    """Apogee/perigee filter before propagation (primaries mode): keep objects whose padded shell
    overlaps the union of the primaries' padded shells."""
    rp, ra = _shells_km(tles)
    pad = _SHELL_MARGIN_KM + _SHELL_MARGIN_KM_PER_DAY * days + 0.5 * D
    lo, hi = rp - pad, ra + pad
    bad = ~np.isfinite(lo)
    lo[bad], hi[bad] = -np.inf, np.inf  # unusable elements: keep (SGP4 will report them)
    order = np.argsort(lo[primary])
    plo, phi = lo[primary][order], np.maximum.accumulate(hi[primary][order])
    # overlap with some primary interval [plo_k, phi_k]: the last primary starting below hi must
    # reach lo (phi is a running max, so the last one is enough)
    idx = np.searchsorted(plo, hi, side="right") - 1
    keep = primary | ((idx >= 0) & (phi[np.maximum(idx, 0)] >= lo))
    if keep.all():
        return tles, primary
    sel = np.nonzero(keep)[0]
    return tles[sel], primary[sel]


def _bar(total: int, show: bool) -> Any:
    if not show:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="step", desc="screening")


def _dask_bounds(n_intervals: int, n_objects: int, workers: int) -> list[int]:
    """Interval bounds of the parts of :func:`_screen_dask`."""
    per = _chunk_len(n_objects)
    n_chunks = -(-n_intervals // per)
    if n_chunks >= 4 * workers:  # fewer: whole chunks would leave a worker idle too long
        # whole chunks: up to 8 parts per worker (dynamic balance), runs of chunks beyond that
        n_parts = min(n_chunks, 8 * workers)
        return [min(n_intervals, ((n_chunks * p) // n_parts) * per) for p in range(n_parts + 1)]
    n_parts = min(n_intervals, 4 * workers)
    return [(n_intervals * p) // n_parts for p in range(n_parts + 1)]


def _screen_dask(
    client: Any,
    tles: TLESet,
    primary: np.ndarray | None,
    t0: np.datetime64,
    t1: np.datetime64,
    H: float,
    m: int,
    n_intervals: int,
    D: float,
    progress: bool | None,
) -> pd.DataFrame:
    """Split the interval range into contiguous parts on the global node grid and run them on the
    cluster.

    With at least four of the local run's chunks per worker, the parts are those chunks (or runs of
    whole chunks), so each part screens exactly what the local run screens: the same rows, also for
    an object left out of a chunk (see :func:`_screen_chunk`). A shorter window (fewer chunks than
    that) is cut into ``4 × workers`` equal parts: the rows are still those of the local run, with
    TCAs computed from another origin (a few ns apart), except that an object left out of a chunk
    is left out over that part's chunk instead.
    """
    from distributed import as_completed

    workers = max(1, len(client.scheduler_info().get("workers", {})))
    bounds = _dask_bounds(n_intervals, len(tles), workers)
    [tles_f] = client.scatter([tles], broadcast=True)
    futures = [
        client.submit(_screen_range, tles_f, primary, t0, t1, H, m, a, b, D, None, pure=False)
        for a, b in zip(bounds[:-1], bounds[1:], strict=True)
        if b > a
    ]
    bar = _bar(len(futures), bool(progress))
    parts = []
    for fut in as_completed(futures):
        parts.append(fut.result())
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    return pd.concat(parts, ignore_index=True)
