"""Every notebook of ``notebooks/`` and ``voila-apps/`` runs in the suite, as papermill runs it.

- The production notebooks of the segments run with their defaults and with other parameters; the
  values they record (scraps) are checked against references where they are stable: NOAA's G5 of
  2024-05-11, the quiet Kp of 2013-10-28 and the C2.3 flare in GOES-15's sample of that day,
  CelesTrak's predicted section, NASA CARA's Pc of the CDMs on file, the Rice distribution's Pc for an
  assumed isotropic covariance, CNEOS's close approaches, and an observation of (12893) by I41 that the
  ephemeris from a fitted orbit must reproduce.
- The published tools (``voila-apps/*/app.ipynb``) run as Voila runs them, then a cell added at the end
  changes their controls the way a visitor does: each plot must change, and the kernel's time to
  recompute and draw must stay under :data:`INTERACTION_LIMIT_S`.
- Any other notebook found there runs with its defaults and must not fail, unless another test module
  runs it (:data:`RUN_ELSEWHERE`).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nbformat
import pytest

from tests.support import ROOT
from workbench.jobs.scraps import read_scraps

pytestmark = [pytest.mark.slow]

NOTEBOOKS = ROOT / "notebooks"
APPS = ROOT / "voila-apps"
INTERACTION_LIMIT_S = 1.0
"""A tool's kernel must recompute and draw within this CPU time after a control changes [s] (the
wall-clock time, printed too, is that stretched by whatever else the machine runs)."""
RUN_ELSEWHERE = {
    "examples/catalog_tour.ipynb": "tests/e2e/test_catalog_notebook.py runs it under papermill with its checks",
}

Check = Callable[[dict[str, Any]], None]


def _bulletin_storm(s: dict[str, Any]) -> None:
    # NOAA SWPC: the storm of 10-11 May 2024 reached G5 (Kp 9o) on the 11th
    assert s["g_scale"] == "G5" and s["values_kind"] == "observed" and s["kp_max"] == 9.0
    assert len(s["daily"]) == 8 and {d["kind"] for d in s["daily"]} == {"observed"}
    assert [d["g_scale"] for d in s["daily"]][-2:] == ["G4", "G5"]


def _bulletin_quiet_flare_tec(s: dict[str, Any]) -> None:
    # 2013-10-28: Kp at most 0+ all day; GOES-15's sample of that morning holds a C2.3
    assert s["g_scale"] == "G0" and s["kp_max"] == pytest.approx(1 / 3)
    assert s["n_flares"] == 1 and s["max_flare_class"] == "C2.3"
    assert s["tec_file"] == "jplg0010.17i.gz" and s["tec_map_time"].startswith("2017-01-01")
    assert 5.0 < s["tec_max_tecu"] < 100.0


def _bulletin_predicted(s: dict[str, Any]) -> None:
    # SW-All.txt is observed to 2025-07-20, then CelesTrak's daily predictions
    assert s["values_kind"] == "predicted" and s["g_scale"] == "G0"
    kinds = [d["kind"] for d in s["daily"]]
    assert kinds[:3] == ["observed"] * 3 and kinds[3:] == ["predicted (daily)"] * 5


def _screening_defaults(s: dict[str, Any]) -> None:
    assert s["n_objects"] > 11000 and s["n_encounters"] > 0
    assert all(
        e["miss_km"] <= 5.0 and e["primary"] in (44714, 44718, 44723, 54234, 38771) for e in s["encounters"]
    )
    assert s["closest"]["miss_km"] == min(e["miss_km"] for e in s["encounters"])
    assert s["n_with_pc"] == 0 and s["max_pc"] is None  # element sets carry no covariance
    # NASA CARA's Pc of the messages of METOP-B and NOAA 21, recomputed from their covariances
    assert len(s["cdms_on_file"]) == 2
    for cdm in s["cdms_on_file"]:
        assert cdm["pc_s2p"] == pytest.approx(cdm["pc_message"], rel=1e-2)


def _rice_pc(miss_m: float, hbr_m: float, sigma2: float) -> float:
    """Pc of an isotropic Gaussian (variance ``sigma2`` per axis) over a disc: the Rice distribution's
    CDF, integrated here with the exponentially scaled Bessel function (no underflow before 1e-300)."""
    from scipy import integrate, special

    def density(r: float) -> float:
        return r / sigma2 * math.exp(-((r - miss_m) ** 2) / (2.0 * sigma2)) * special.i0e(r * miss_m / sigma2)

    return float(integrate.quad(density, 0.0, hbr_m, epsabs=0.0, epsrel=1e-10)[0])


def _screening_assumed_covariance(s: dict[str, Any]) -> None:
    assert s["n_encounters"] > 0 and s["n_with_pc"] == s["n_encounters"]
    for e in s["encounters"]:
        assert e["pc_source"] == "assumed sigma 100 m"
        # both objects 100 m per axis: 2 * 100^2 m^2 per axis of the encounter plane
        reference = _rice_pc(e["miss_km"] * 1e3, e["hbr_m"], 2.0 * 100.0**2)
        assert e["pc"] == pytest.approx(reference, rel=1e-6, abs=1e-300)


def _close_approaches_defaults(s: dict[str, Any]) -> None:
    assert s["n_approaches"] >= 25 and s["n_in_reference"] >= 20
    # against CNEOS's n-body predictions, near the orbits' epoch: minutes and a fraction of a percent
    assert s["median_time_diff_min"] < 30.0 and s["median_distance_diff_pct"] < 1.0
    assert s["closest"]["distance_au"] == min(a["distance_au"] for a in s["approaches"]) < 0.05


def _close_approaches_window(s: dict[str, Any]) -> None:
    assert s["n_approaches"] >= 1
    assert all(
        "2019-08-01" <= a["time"] <= "2019-08-31" and a["distance_au"] <= 0.03 for a in s["approaches"]
    )


def _ephemeris_catalogue(s: dict[str, Any]) -> None:
    assert s["orbit_source"] == "catalogue" and s["n_rows"] == 31 and s["fit"] is None
    assert s["orbit"]["a_au"] == pytest.approx(1.3674045)  # Toro in the MPC file
    assert all(1.5 < r["delta_au"] < 3.0 and 15.0 < r["v_mag"] < 20.0 for r in s["ephemeris"])


def _ephemeris_fitted(s: dict[str, Any]) -> None:
    # the last observation of (12893) in the file: I41, 2019-01-10.48677, 09 18 40.08 +12 43 03.1
    assert s["orbit_source"] == "fit" and s["fit"]["rms_arcsec"] < 1.0 and s["fit"]["n_used"] > 1300
    first = s["ephemeris"][0]
    ra, dec = 15.0 * (9 + 18 / 60 + 40.08 / 3600), 12 + 43 / 60 + 3.1 / 3600
    d_ra = (first["ra_deg"] - ra) * math.cos(math.radians(dec)) * 3600.0
    d_dec = (first["dec_deg"] - dec) * 3600.0
    assert math.hypot(d_ra, d_dec) < 1.5, (d_ra, d_dec)


RUNS: dict[str, list[tuple[str, dict[str, Any], Check]]] = {
    "swe/daily_bulletin.ipynb": [
        ("defaults", {}, _bulletin_storm),
        ("quiet-flare-tec", {"date": "2013-10-28", "tec_max_days": 1200}, _bulletin_quiet_flare_tec),
        ("predicted", {"date": "2025-07-25"}, _bulletin_predicted),
    ],
    "debris/conjunction_screening.ipynb": [
        ("defaults", {}, _screening_defaults),
        (
            "assumed-covariance",
            {"primaries": [44723], "hours": 12.0, "assumed_sigma_m": 100.0},
            _screening_assumed_covariance,
        ),
    ],
    "neo/close_approaches.ipynb": [
        ("defaults", {}, _close_approaches_defaults),
        (
            "august",
            {"start": "2019-08-01", "stop": "2019-08-31", "max_distance_au": 0.03},
            _close_approaches_window,
        ),
    ],
    "neo/ephemerides.ipynb": [
        ("defaults", {}, _ephemeris_catalogue),
        (
            "fitted-orbit",
            {
                "designation": "12893",
                "orbit_source": "fit",
                "observations_file": "planetary_defence/observations/mpc80_12893_1983-2019.obs",
                "observer": "I41",
                "start": "2019-01-10T11:40:56.928",
                "stop": "2019-01-20",
            },
            _ephemeris_fitted,
        ),
    ],
}


def _all_notebooks() -> list[str]:
    found = [
        p.relative_to(NOTEBOOKS).as_posix()
        for p in NOTEBOOKS.rglob("*.ipynb")
        if ".ipynb_checkpoints" not in p.parts
    ]
    return sorted(found)


def _cases() -> list[Any]:
    cases = []
    for rel in _all_notebooks():
        if rel in RUN_ELSEWHERE:
            continue
        for label, params, check in RUNS.get(rel, [("defaults", {}, None)]):
            cases.append(pytest.param(rel, params, check, id=f"{rel}:{label}"))
    return cases


def _errors(nb: nbformat.NotebookNode) -> list[str]:
    return [
        f"{o.ename}: {o.evalue}" for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"
    ]


def _images(nb: nbformat.NotebookNode) -> int:
    return sum("image/png" in o.get("data", {}) for c in nb.cells for o in c.get("outputs", []))


def test_every_production_notebook_is_covered() -> None:
    """A product notebook renamed or added is noticed here: each one has runs with checks."""
    import papermill

    found = set(_all_notebooks())
    assert set(RUNS) <= found, set(RUNS) - found
    products = {rel for rel in found if rel.split("/")[0] in ("swe", "debris", "neo")}
    assert products == set(RUNS), products ^ set(RUNS)
    for rel in products:
        nb = nbformat.read(NOTEBOOKS / rel, as_version=4)
        tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1, f"{rel}: one cell tagged 'parameters'"
        assert "s2p._paths" not in "".join(c.source for c in nb.cells), (
            f"{rel} imports the private s2p._paths"
        )
        # papermill (and so the jobs service) reads every parameter with its type and help text
        inspected = papermill.inspect_notebook(str(NOTEBOOKS / rel))
        assigned = [
            line.split(":")[0] for line in tagged[0].source.splitlines() if re.match(r"^\w+\s*:", line)
        ]
        assert sorted(inspected) == sorted(assigned), rel
        assert all(info["help"] for info in inspected.values()), rel


@pytest.mark.parametrize(("rel", "params", "check"), _cases())
def test_notebook_runs(rel: str, params: dict[str, Any], check: Check | None, tmp_path: Path) -> None:
    import papermill

    out = tmp_path / "out.ipynb"
    papermill.execute_notebook(
        str(NOTEBOOKS / rel), str(out), parameters=params, kernel_name="python3", cwd=str(tmp_path),
        progress_bar=False,
    )  # fmt: skip
    nb = nbformat.read(out, as_version=4)
    assert _errors(nb) == []
    if check is not None:
        assert _images(nb) >= 1, "a production report shows its plots"
        check(read_scraps(nb))


# ------------------------------------------------------------------------------------------------ tools

INTERACTIONS = {
    # tool: [(statement that changes a control, the Image widget it must redraw, its note widget)]
    "geomagnetic-storms": [
        ("storm.value = storm.options[1][1]", "kp_plot", "kp_note"),
        ("level.value = 1", "kp_plot", "kp_note"),
        ("storm.value = storm.options[2][1]", "kp_plot", "kp_note"),
        ("hour.value = 6", "tec_plot", "tec_note"),
        ("day.value = day.options[1]", "tec_plot", "tec_note"),
    ],
    "conjunction-viewer": [
        ("choice.value = choice.options[2][1]", "plot", "note"),
        ("window.value = 30", "plot", "note"),
        ("satellite.value = satellites[1]", "plot", "note"),
    ],
    "neo-risk-list": [
        ("obj.value = 3", "orbit_plot", "orbit_note"),
        ("days.value = 300", "orbit_plot", "orbit_note"),
        ("obj.value = 10", "orbit_plot", "orbit_note"),
    ],
}
PROBE = """
import hashlib as _h, json as _j, re as _re
_out = []
for _stmt, _image, _note in {interactions!r}:
    _before = _h.sha256(globals()[_image].value).hexdigest()
    exec(_stmt)
    _m = _re.search(r"drawn in ([0-9.]+) s [(]CPU ([0-9.]+) s[)]", globals()[_note].value)
    _out.append({{"change": _stmt, "changed": _h.sha256(globals()[_image].value).hexdigest() != _before,
                  "wall_s": float(_m.group(1)), "cpu_s": float(_m.group(2))}})
print("PROBE " + _j.dumps(_out))
"""


def test_every_tool_has_interactions() -> None:
    assert {p.parent.name for p in APPS.glob("*/app.ipynb")} == set(INTERACTIONS)


@pytest.mark.parametrize("tool", sorted(INTERACTIONS))
def test_tool_runs_and_redraws_on_each_change(tool: str, tmp_path: Path) -> None:
    import papermill

    nb = nbformat.read(APPS / tool / "app.ipynb", as_version=4)
    assert "s2p._paths" not in "".join(c.source for c in nb.cells), f"{tool} imports the private s2p._paths"
    nb.cells.append(nbformat.v4.new_code_cell(PROBE.format(interactions=INTERACTIONS[tool])))
    probe = tmp_path / "app.ipynb"
    nbformat.write(nb, probe)
    out = tmp_path / "out.ipynb"
    # the tool's own folder as working directory, as Voila runs it
    papermill.execute_notebook(
        str(probe), str(out), kernel_name="python3", cwd=str(APPS / tool), progress_bar=False
    )
    done = nbformat.read(out, as_version=4)
    assert _errors(done) == []
    text = "".join(o.get("text", "") for o in done.cells[-1].outputs if o.output_type == "stream")
    results = json.loads(re.search(r"PROBE (.*)", text).group(1))
    print(f"{tool}: " + ", ".join(f"{r['wall_s']:.2f} s (CPU {r['cpu_s']:.2f} s)" for r in results))
    assert all(r["changed"] for r in results), results
    assert all(r["cpu_s"] < INTERACTION_LIMIT_S for r in results), results
