"""Palermo and Torino recomputed from the ESA and JPL lists' own inputs, against their published values.

Assumptions (module :mod:`s2p.neo.risk`): density 2600 kg/m^3, spheres, v_imp^2 = v_inf^2 + 11.18^2 (km/s)^2,
f_B = 0.03 E^-0.8 /yr, dT from the list's date; diameters from H with albedo 0.154 when not given.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from s2p import neo

PS_TOL = 0.1  # acceptance
MIN_FRACTION = 0.95  # acceptance


@pytest.fixture(scope="module")
def sentry(pd_dir) -> pd.DataFrame:
    return neo.risk_table(neo.read_sentry(pd_dir / "risk_lists" / "jpl_sentry_summary_2026-02.json"))


@pytest.fixture(scope="module")
def esa(pd_dir) -> pd.DataFrame:
    return neo.read_neocc_risk_list(pd_dir / "risk_lists" / "esa_risk_list_2026-02-03.txt")


def test_jpl_sentry_palermo_and_torino(sentry: pd.DataFrame) -> None:
    # Palermo: the summary carries one impactor's inputs only when n_imp == 1 (423 of 2066 objects); for
    # those it is the full recomputation (diameter, v_inf, IP, year of impact).
    single = sentry[sentry.n_imp == 1]
    assert len(single) >= 400
    ok = single.ps_diff.abs() <= PS_TOL
    assert ok.mean() >= MIN_FRACTION, ok.mean()
    # Outliers, explained: (a) impacts within ~3 years of the list -- the summary publishes only the
    # year, and a +-0.5 yr error on dT of ~1 yr moves PS by up to 0.3; (b) (29075) 1950 DA, whose
    # Sentry energy uses its measured mass rather than our 2600 kg/m^3 sphere.
    bad = single[~ok]
    near_term = bad.years_to_impact < 3.0
    assert (near_term | (bad.designation == "29075")).all(), bad[
        ["designation", "years_to_impact", "ps", "ps_published"]
    ]
    # Torino for every object with a published value. With n_imp == 1 the cumulative IP is the impactor's
    # own, so the value must be exact; otherwise it is an upper bound of the maximum-impactor value.
    pub = sentry.ts_published.notna()
    same = sentry.ts[pub] == sentry.ts_published[pub]
    assert same[sentry.n_imp[pub] == 1].all()
    assert same.mean() >= 0.999
    # the one exception: 2000 SG344 -- 300 impactors sum to IP 2.7e-3 (level 1 at ~1.5 Mt), none of
    # them alone reaches the 0|1 line
    assert set(sentry[pub][~same].designation) == {"2000 SG344"}


def test_esa_per_object_risk_file_from_its_own_full_precision_inputs(pd_dir) -> None:
    # NEOCC's per-object table for 1979 XB publishes every input unrounded: IP, the expected energy
    # (IP x E, so E itself), the impact time and the observed arc. Recomputed, every virtual impactor's
    # Palermo value is within 0.005 of the published one (which is printed to 0.01) and Torino is exact --
    # with dT counted from the last observation of the arc, NEOCC's convention.
    risk = neo.read_neocc_risk_file(pd_dir / "neocc" / "1979XB.risk")
    table = neo.risk_table(risk)
    assert len(table) == 8
    assert (table.ps_diff.abs() <= 0.005).all(), table[["time", "ps", "ps_published"]]
    assert (table.ts == table.ts_published).all()
    # ... and the convention matters: from the date of computation (2019-08-08) every value misses by > 0.1
    from_computation = neo.risk_table(risk, as_of=risk.attrs["computed"])
    assert (from_computation.ps_diff > PS_TOL).all()
    # NEOCC's "not available" answer has no arc to count from
    with pytest.raises(ValueError, match="as_of"):
        neo.risk_table(neo.read_neocc_risk_file(pd_dir / "neocc" / "433.risk"))


def test_esa_risk_list_palermo_and_torino(esa: pd.DataFrame, sentry: pd.DataFrame) -> None:
    table = neo.risk_table(esa)
    # Torino, exactly, for every entry (all published 0; 'n/a' for one object without a value)
    pub = table.ts_published.notna()
    assert pub.sum() == len(table) - 1
    assert (table.ts[pub] == table.ts_published[pub]).all()

    # Palermo. Every diameter of the list is marked '*': estimated from H, but the list prints the
    # diameter rounded to 1-2 digits, not H. Recomputed with that diameter, the median agrees within 0.1,
    # but only ~65 % of entries do:
    assert table.ps_diff.abs().median() < PS_TOL
    far = (table.years_to_impact >= 5.0) & table.ps_diff.notna()
    printed_ok = (table.ps_diff[far].abs() <= PS_TOL).mean()
    assert 0.6 < printed_ok < 0.75, printed_ok
    # No rule that maps the printed diameter to an energy can do better than ~84 %: even choosing, for
    # every printed diameter value, the Palermo offset that fits most of its entries (an oracle), fewer
    # than 90 % of impacts >= 5 years away land within 0.1. The published values were computed from an
    # unrounded H-based size that the list does not carry -- this part of the acceptance cannot be met
    # from the list's printed inputs alone.
    oracle = 0
    for _, group in table[far].groupby("diameter_m"):
        r = np.sort(group.ps_diff.to_numpy())
        oracle += int((np.searchsorted(r, r + 2 * PS_TOL, side="right") - np.arange(len(r))).max())
    assert oracle / far.sum() < 0.90, oracle / far.sum()

    # With H -- the input the list's '*' names -- taken from the JPL list for the same object (1722 of 1904
    # objects) and JPL's albedo 0.154, and the ESA list's own IP, impact velocity and date: >= 95 % of
    # impacts >= 5 years away agree to 0.1.
    h_jpl = sentry.assign(key=sentry.designation.str.replace(" ", "")).set_index("key")["h_mag"]
    d_from_h = pd.Series(neo.diameter_from_h(h_jpl.to_numpy()), index=h_jpl.index)
    with_h = neo.risk_table(esa, diameters_m=d_from_h)
    have = esa.designation.isin(h_jpl.index)
    assert have.sum() >= 1700
    within = with_h.ps_diff.abs() <= PS_TOL
    assert within[have & far].mean() >= MIN_FRACTION, within[have & far].mean()
    assert within[have].mean() >= 0.94
    # The outliers, explained. (a) Impacts < 5 years away: ESA's dT starts at the date of its last risk
    # computation for the object, which the list does not print. Solving the published value for that
    # start date gives dates before the list's own (2026-02-03) -- mostly mid-2024 to 2025:
    near = have & ~far & ~within
    assert near.sum() >= 15
    energy = neo.impact_energy_mt(with_h.diameter_used_m[near], esa.vel_kms[near])
    dt_implied = esa.ip_max[near] / (0.03 * energy**-0.8 * 10.0 ** esa.ps_max[near])
    start = esa.impact_date[near] - pd.to_timedelta(dt_implied * 365.25, unit="D")
    assert (start < pd.Timestamp(esa.attrs["last_update"])).mean() >= 0.9, start
    # (b) Impacts >= 5 years away (< 5 %): ESA fits its own H, which differs from JPL's for these objects --
    # ESA's own (printed) size departs from the JPL-H size in the direction of the miss for most of them.
    bad = have & far & ~within
    assert (~within[have & far]).mean() <= 1 - MIN_FRACTION
    same_side = np.sign(with_h.ps_diff[bad]) == np.sign(with_h.diameter_used_m[bad] - esa.diameter_m[bad])
    assert same_side.mean() >= 0.75, same_side.mean()


def test_esa_dt_start_per_object(esa: pd.DataFrame) -> None:
    # a mapping gives one entry its own start of dT; the others keep the list's date
    first = esa.designation.iloc[0]
    base = neo.risk_table(esa)
    moved = neo.risk_table(esa, as_of={first: "2020-01-01"})
    assert moved.years_to_impact.iloc[0] == pytest.approx(
        base.years_to_impact.iloc[0]
        + (pd.Timestamp(esa.attrs["last_update"]) - pd.Timestamp("2020-01-01")).total_seconds()
        / 86400
        / 365.25
    )
    assert (moved.years_to_impact.iloc[1:] == base.years_to_impact.iloc[1:]).all()
    assert moved.ps.iloc[0] < base.ps.iloc[0]


def test_scale_formulas_on_textbook_cases() -> None:
    # Palermo: IP equal to the background over dT gives 0; ten times it gives 1
    e = 100.0
    fb = 0.03 * e**-0.8
    assert neo.palermo_scale(fb * 20.0, e, 20.0) == pytest.approx(0.0, abs=1e-12)
    assert neo.palermo_scale(10 * fb * 20.0, e, 20.0) == pytest.approx(1.0, abs=1e-12)
    # Torino, published historical ratings: Apophis, 27 Dec 2004 (IP 2.7 %, ~1000 Mt) rated 4;
    # 2024 YR4, 18 Feb 2025 (IP 3.1 %, ~8 Mt) rated 3; 2007 VK184 (IP 3.4e-4, ~150 Mt) rated 1;
    # small or improbable events 0; certain impacts 8-10 by energy.
    cases = [(0.027, 1000.0, 4), (0.031, 8.0, 3), (3.4e-4, 150.0, 1), (1e-3, 0.5, 0), (1e-9, 1e3, 0),
             (1.0, 10.0, 8), (1.0, 1e3, 9), (1.0, 1e6, 10), (0.5, 1e6, 7), (1e-3, 1e8, 6)]  # fmt: skip
    for ip, energy, ts in cases:
        assert neo.torino_scale(ip, energy) == ts, (ip, energy)
    # monotonic in probability at fixed energy, as the chart is
    grid = neo.torino_scale(np.logspace(-9, 0, 200), 5e3)
    assert np.all(np.diff(grid) >= 0)


def test_energy_and_diameter_conventions() -> None:
    # 1 km sphere, 2600 kg/m^3, 20 km/s: 1.36e21 J / 4.184e15 J/Mt
    assert neo.impact_energy_mt(1000.0, 20.0) == pytest.approx(0.5 * 2600 * np.pi / 6 * 1e9 * 4e8 / 4.184e15)
    assert neo.diameter_from_h(17.75, 0.154) == pytest.approx(1329e3 / np.sqrt(0.154) * 10 ** (-17.75 / 5))
