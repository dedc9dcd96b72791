"""Every shipped planetary-defence file parses; corrupted variants raise ParseError naming the line."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from s2p import ParseError, neo

# file (relative to data/planetary_defence) -> (reader, expected number of records)
SHIPPED: dict[str, tuple[Callable[[Any], Any], int]] = {
    "orbits/mpc_NEA_2019-07.txt": (neo.read_mpcorb, 20060),
    "orbits/jpl_sbdb_apophis.json": (neo.read_sbdb, 1),
    "orbits/neodys_2018VP1.eq0": (neo.read_oef, 1),
    "risk_lists/esa_risk_list_2026-02-03.txt": (neo.read_neocc_risk_list, 1904),
    "risk_lists/jpl_sentry_summary_2026-02.json": (neo.read_sentry, 2066),
    "risk_lists/jpl_sentry_99942_apophis_raw.json": (neo.read_sbdb, 1),  # despite its name: an SBDB answer
    "risk_lists/neocc_99942_apophis.ke0": (neo.read_oef, 1),
    "neocc/esa_risk_list": (neo.read_neocc_risk_list, 1216),
    "neocc/esa_special_risk_list": (neo.read_neocc_risk_list, 2),
    "neocc/esa_recent_close_app": (neo.read_neocc_close_approaches, 60),
    "neocc/esa_upcoming_close_app": (neo.read_neocc_close_approaches, 174),
    "neocc/past_impactors_list": (neo.read_neocc_past_impactors, 5),
    "neocc/esa_priority_neo_list": (neo.read_neocc_priority_list, 176),
    "neocc/esa_faint_neo_list": (neo.read_neocc_priority_list, 734),
    "neocc/allneo.lst": (neo.read_allneo, 26844),
    "neocc/allnea.csv": (neo.read_allneo, 32338),
    "neocc/updated_nea.lst": (neo.read_allneo, 3251),
    "neocc/close_encounter2.txt": (neo.read_neocc_close_encounters, 4770),
    "neocc/99942.clolin": (neo.read_neocc_close_encounters, 26),
    "neocc/99942.ke1": (neo.read_oef, 1),
    "neocc/99942.eq1": (neo.read_oef, 1),
    "neocc/99942.eph": (neo.read_neocc_ephemeris, 15),
    "neocc/99942.phypro": (neo.read_neocc_physical_properties, 20),
    "neocc/1979XB.risk": (neo.read_neocc_risk_file, 8),
    "neocc/433.risk": (neo.read_neocc_risk_file, 0),  # NEOCC's "not available" page
    "neocc/433.rwo": (neo.read_rwo, 13680),
    "neocc/1685.rwo": (neo.read_rwo, 4468),
    "neocc/2020BX12.rwo": (neo.read_rwo, 164),
    "close_approaches/cneos_closeapproach_data.csv": (neo.read_cneos_close_approaches, 1215),
    "close_approaches/cneos_closeapproach_data_future.csv": (neo.read_cneos_close_approaches, 37),
    "observations/mpc80_12893_1983-2019.obs": (neo.read_mpc80, 1401),
    "observations/mpc_obs_api_12893.json": (neo.read_mpc_obs_json, 1401),
    "observations/ades/2023MQ5.psv": (neo.read_ades, 2),
    "observations/ades/319.xml": (neo.read_ades, 4),
    "observations/ades/G96_20131004_1A_N20016_01_0001.mpcd.xml": (neo.read_ades, 92),
    "observations/ades/G96_20131004_1A_N20016_01_0001.mpcd.xml.psv": (neo.read_ades, 92),
    "observations/ades/a4179_radar.psv": (neo.read_ades, 56),
    "observations/ades/a4179_radar.xml": (neo.read_ades, 56),
    "observations/ades/a4179_radar.mpc": (neo.read_mpc80, 38),
    "observations/ades/test.mpc": (neo.read_mpc80, 47),
}


def test_every_shipped_file_has_a_reader(pd_dir: Path) -> None:
    shipped = {str(p.relative_to(pd_dir)) for p in pd_dir.rglob("*") if p.is_file()}
    assert shipped == set(SHIPPED), shipped ^ set(SHIPPED)


@pytest.mark.parametrize("rel", sorted(SHIPPED))
def test_shipped_file_parses(pd_dir: Path, rel: str) -> None:
    reader, count = SHIPPED[rel]
    assert len(reader(pd_dir / rel)) == count


def test_mpcorb_values(nea: neo.Orbits) -> None:
    eros = nea[0]
    assert eros.designation[0] == "433" and eros.name[0] == "(433) Eros"
    assert eros.epoch[0] == np.datetime64("2019-07-02")  # packed K1972
    assert (eros.h_mag[0], eros.g_slope[0]) == (11.16, 0.46)
    assert (eros.m_deg[0], eros.peri_deg[0], eros.node_deg[0], eros.i_deg[0]) == (
        84.17190,
        178.83549,
        304.30424,
        10.82858,
    )
    assert (eros.e[0], eros.a_au[0], eros.n_deg_per_day[0]) == (0.2227385, 1.4581823, 0.55973997)
    # the published mean motion is k / a^1.5 in degrees: the file's a and n agree to their printed digits
    assert np.allclose(np.degrees(np.sqrt(nea.gm / nea.a_au**3)), nea.n_deg_per_day, rtol=2e-7)
    assert set(nea[nea.packed == "h0804"].designation) == {"430804"}
    # packing is the exact inverse of unpacking over the whole catalogue (numbers and provisionals)
    assert all(neo.pack_designation(d) == p for d, p in zip(nea.designation, nea.packed, strict=True))
    assert {"2019 EE1", "6344 P-L"} <= set(nea.designation)


def test_sentry_and_risk_list_values(pd_dir: Path) -> None:
    s = neo.read_sentry(pd_dir / "risk_lists" / "jpl_sentry_summary_2026-02.json")
    xb = s[s.designation == "1979 XB"].iloc[0]
    assert (xb.ip, xb.ps_cum, xb.n_imp, xb.years_first, xb.years_last) == (8.515158e-07, -2.69, 4, 2056, 2113)
    r = neo.read_neocc_risk_list(pd_dir / "risk_lists" / "esa_risk_list_2026-02-03.txt")
    assert r.attrs["last_update"] == np.datetime64("2026-02-03T14:44")
    first = r.iloc[0]
    assert (first.designation, first.diameter_m, first.ip_max, first.ps_max, first.vel_kms) == (
        "2023VD3",
        14.0,
        2.35e-3,
        -2.67,
        21.01,
    )
    special = neo.read_neocc_risk_list(pd_dir / "neocc" / "esa_special_risk_list")
    assert list(special.designation) == ["101955", "29075"] and list(special.name) == ["Bennu", "1950DA"]


def test_neocc_risk_file_values(pd_dir: Path) -> None:
    # 2056-12-12.902 72344.902 0.255 0.000 0.22 +/- 0.105 2.89E6 2.86E-7 1.15E-2 -3.22 0
    risk = neo.read_neocc_risk_file(pd_dir / "neocc" / "1979XB.risk")
    first = risk.iloc[0]
    assert abs(first.time - np.datetime64("2056-12-12T21:38:52.8")) < np.timedelta64(1, "ms")
    assert (first.sigma, first.dist_re, first.width_re, first.stretch_re) == (0.255, 0.22, 0.105, 2.89e6)
    assert (first.ip, first.expected_energy_mt, first.ps, first.ts) == (2.86e-7, 1.15e-2, -3.22, 0)
    # "exp. en." is IP times the impact energy: ~4e4 Mt, a ~0.7 km body at 27.5 km/s
    assert first.energy_mt == pytest.approx(1.15e-2 / 2.86e-7)
    a = risk.attrs
    assert (a["object"], a["n_obs"], a["n_rejected"], a["software"]) == ("1979XB", 18, 0, "2.0")
    assert a["arc_start"] == pd.Timestamp("1979-12-11") + pd.Timedelta(days=0.511)
    assert a["arc_end"] == pd.Timestamp("1979-12-15") + pd.Timedelta(days=0.430)
    assert a["computed"] == pd.Timestamp("2019-08-08")


def test_observation_readers_agree_across_formats(pd_dir: Path) -> None:
    ades = pd_dir / "observations" / "ades"
    xml = neo.read_ades(ades / "G96_20131004_1A_N20016_01_0001.mpcd.xml")
    psv = neo.read_ades(ades / "G96_20131004_1A_N20016_01_0001.mpcd.xml.psv")
    assert np.array_equal(xml.ra.to_numpy(), psv.ra.to_numpy()) and np.array_equal(
        xml.dec.to_numpy(), psv.dec.to_numpy()
    )
    assert (xml.obsTime == psv.obsTime).all() and set(xml.mpcCode) == {"G96"}
    obs = neo.read_mpc80(pd_dir / "observations" / "mpc80_12893_1983-2019.obs")
    api = neo.read_mpc_obs_json(pd_dir / "observations" / "mpc_obs_api_12893.json")
    assert np.allclose(obs.ra_deg, api.ra_deg) and (obs.obscode == api.obscode).all()
    assert set(obs.designation) == {"12893"}
    first = obs.iloc[0]  # 12893 ... 1983 10 08.40478 20 52 03.89 -15 47 20.0 ... 413
    assert first.ra_deg == pytest.approx(15 * (20 + 52 / 60 + 3.89 / 3600))
    assert first.dec_deg == pytest.approx(-(15 + 47 / 60 + 20.0 / 3600))
    assert abs(
        first.time - (np.datetime64("1983-10-08") + np.timedelta64(int(0.40478 * 86400e9), "ns"))
    ) < np.timedelta64(1, "us")
    wise = obs[obs.obscode == "C51"]
    assert len(wise) > 0 and wise.sat_x_km.notna().all()  # the second lines were attached


# ----------------------------------------------------------------------------- corrupted input
def _corrupt(text: str, line_no: int, col: int, bad: str) -> str:
    lines = text.split("\n")
    ln = lines[line_no - 1]
    lines[line_no - 1] = ln[:col] + bad + ln[col + len(bad) :]
    return "\n".join(lines)


# (file, reader, first data line, [(column, what is put there)]) -- each replacement breaks a field
CORRUPTIONS = [
    ("orbits/mpc_NEA_2019-07.txt", neo.read_mpcorb, 1, [(20, "Z1972"), (30, "x"), (72, "y"), (0, "??433")]),
    (
        "risk_lists/esa_risk_list_2026-02-03.txt",
        neo.read_neocc_risk_list,
        5,
        [(47, "20x4"), (66, "ab"), (31, "x")],
    ),
    ("neocc/esa_upcoming_close_app", neo.read_neocc_close_approaches, 5, [(30, "2023-1x"), (50, "q")]),
    ("observations/mpc80_12893_1983-2019.obs", neo.read_mpc80, 1, [(16, "x"), (33, "2x"), (45, "9")]),
    ("observations/ades/2023MQ5.psv", neo.read_ades, 20, [(52, "2023-0x"), (76, "abc")]),
    ("neocc/433.rwo", neo.read_rwo, 8, [(20, "xx"), (48, "ab")]),
    ("close_approaches/cneos_closeapproach_data.csv", neo.read_cneos_close_approaches, 2, [(16, "Xyz")]),
]


@pytest.mark.parametrize(("rel", "reader", "first", "edits"), CORRUPTIONS, ids=[c[0] for c in CORRUPTIONS])
def test_corrupted_field_raises_with_line(pd_dir: Path, rel: str, reader, first: int, edits) -> None:
    text = (pd_dir / rel).read_text()
    n_lines = len(text.split("\n"))
    for line_no in (first, first + 1, min(first + 37, n_lines - 2)):
        for col, bad in edits:
            with pytest.raises(ParseError) as err:
                reader(_corrupt(text, line_no, col, bad))
            assert err.value.line == line_no, (line_no, col, bad, str(err.value))


def test_corrupted_risk_file_rows_name_their_line(pd_dir: Path) -> None:
    text = (pd_dir / "neocc" / "1979XB.risk").read_text()
    lines = text.split("\n")
    rows = [k for k, ln in enumerate(lines, start=1) if re.match(r"^\s*\d{4}-\d\d-\d\d\.", ln)]
    assert len(rows) == 8
    for line_no in (rows[0], rows[-1]):
        fields = lines[line_no - 1].split()
        for index, bad in ((1, "7234x.902"), (8, "2.x6E-7"), (10, "-3.Q")):
            broken = lines.copy()
            broken[line_no - 1] = broken[line_no - 1].replace(fields[index], bad, 1)
            with pytest.raises(ParseError) as err:
                neo.read_neocc_risk_file("\n".join(broken))
            assert err.value.line == line_no, (line_no, index, bad, str(err.value))
    with pytest.raises(ParseError, match="arc"):
        neo.read_neocc_risk_file(text.replace("from 1979/12/11.511", "from 1979/13/11.511"))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mpcorb_any_corrupted_numeric_field_names_its_line(pd_dir: Path, data) -> None:
    lines = (pd_dir / "orbits" / "mpc_NEA_2019-07.txt").read_text().split("\n")[:200]
    k = data.draw(st.integers(0, 199))
    # numeric fields of MPCORB: M, peri, node, i, e, n, a (0-based column ranges)
    start, stop = data.draw(
        st.sampled_from([(26, 35), (37, 46), (48, 57), (59, 68), (70, 79), (80, 91), (92, 103)])
    )
    junk = data.draw(st.text(alphabet="abcXYZ#:/", min_size=1, max_size=3))
    pos = data.draw(st.integers(start, stop - len(junk)))
    lines[k] = lines[k][:pos] + junk + lines[k][pos + len(junk) :]
    with pytest.raises(ParseError) as err:
        neo.read_mpcorb("\n".join(lines))
    assert err.value.line == k + 1


def test_truncated_and_wrong_files(pd_dir: Path) -> None:
    with pytest.raises(ParseError, match="line 3"):
        neo.read_mpcorb(
            "\n".join((pd_dir / "orbits" / "mpc_NEA_2019-07.txt").read_text().split("\n")[:3])[:-120]
        )
    with pytest.raises(ParseError):
        neo.read_sentry('{"signature": {"source": "something else"}, "data": []}')
    with pytest.raises(ParseError) as err:
        neo.read_ades("<ades version='2017'><optical><obsTime>2020</obsTime>\n<ra>1</ra></optical>\n</ade>")
    assert err.value.line == 3
    with pytest.raises(ParseError, match="Last Update"):
        neo.read_neocc_risk_list(
            "2021QM1 | 50 | * | 2052-04-02 01:36 | 2.98E-4 | -2.72 | 0 | 23.72 | 2050-2054 | 2.98E-4 | -2.72 |"
        )


def test_rwo_carries_neoccs_catalogue_biases(pd_dir):
    """NEOCC's debiasing of each observation (the 'Bias' columns): (1685) Toro by WISE, 2010-02-11."""
    toro = neo.read_rwo(pd_dir / "neocc" / "1685.rwo")
    wise = toro[(toro.obscode == "C51") & (toro.time.dt.strftime("%Y-%m-%d") == "2010-02-11")].iloc[0]
    assert (wise.ra_bias_arcsec, wise.dec_bias_arcsec) == (0.098, 0.063)
    assert wise.ra_resid_arcsec == 0.099 and np.isfinite(wise.sat_x_km)
    assert (toro.ra_bias_arcsec == 0.0).mean() > 0.05  # old observations carry none
