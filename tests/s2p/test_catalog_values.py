"""Catalog entries say whether their values are observed, predicted, derived, or both observed and
predicted (with how to tell them apart), and what they say matches the data they read."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

import s2p
from s2p.catalogs import CatalogError, open_catalog
from s2p.catalogs._spec import VALUE_KINDS
from tests.support import ROOT


@pytest.fixture(scope="module")
def entries() -> dict[str, dict]:
    return {name: dict(entry.metadata) for name, entry in s2p.catalog().walk()}


def test_every_shipped_entry_labels_its_values(entries: dict[str, dict]) -> None:
    for name, meta in entries.items():
        assert meta.get("values") in VALUE_KINDS, f"{name}: values {meta.get('values')!r}"
        if meta["values"] == "observed and predicted":
            assert "observed_only=True" in meta["values_marker"] or "data_type" in meta["values_marker"], name
    assert s2p.catalog().describe()["values"].notna().all()


def test_mixed_entries_hold_both_and_the_marker_separates_them(entries: dict[str, dict]) -> None:
    from s2p import spaceweather as sw

    mixed = [n for n, m in entries.items() if m["values"] == "observed and predicted"]
    assert sorted(mixed) == ["swe.celestrak_sw", "swe.celestrak_sw_csv", "swe.celestrak_sw_last5"]
    ds = s2p.catalog()["swe"]["celestrak_sw_last5"].read()
    assert {"OBS", "PRD", "PRM"} <= set(np.unique(ds.data_type.values))
    path = ROOT / "data" / "space_weather" / "SW-Last5Years.txt"
    observed = sw.read_celestrak(path, observed_only=True)
    assert set(np.unique(observed.data_type.values)) <= {"OBS", "INT"}
    assert observed.kp.time.values[-1] < ds.kp.dropna("time").time.values[-1]  # predictions come after


def test_observed_values_end_before_they_were_retrieved(entries: dict[str, dict]) -> None:
    cat = s2p.catalog()
    for name in ("swe.gfz_kp", "swe.gfz_kp_2006_2022", "swe.dst_kyoto", "swe.omni2_2000", "swe.goes_xrs_g16"):
        assert entries[name]["values"] == "observed"
        segment, entry = name.split(".")
        ds = cat[segment][entry].read()
        retrieved = max(f["retrieved"] for f in cat[segment][entry].kwargs["files"])
        assert pd.Timestamp(ds.time.values.max()) <= pd.Timestamp(retrieved), name


def test_predicted_values_lie_after_the_date_they_were_made(entries: dict[str, dict]) -> None:
    cat = s2p.catalog()
    assert entries["debris.cdm_cara"]["values"] == "predicted"
    for cdm in cat["debris"]["cdm_cara"].read():
        assert cdm.tca > cdm.creation_date
    assert entries["neo.esa_risk_list"]["values"] == "predicted"
    risk = cat["neo"]["esa_risk_list"].read()
    assert (pd.to_datetime(risk["impact_date"]) > pd.Timestamp("2026-02-03")).all()


def test_a_wrong_label_is_refused_with_the_entry_named(tmp_path) -> None:
    doc = yaml.safe_load((ROOT / "catalogs" / "swe.yaml").read_text())
    doc["entries"]["gfz_kp"]["metadata"]["values"] = "measured"
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(doc))
    with pytest.raises(CatalogError, match="gfz_kp.*metadata.values must be one of"):
        open_catalog(str(bad))
    doc["entries"]["gfz_kp"]["metadata"]["values"] = "observed and predicted"
    bad.write_text(yaml.safe_dump(doc))
    with pytest.raises(CatalogError, match="gfz_kp.*values_marker"):
        open_catalog(str(bad))
