"""s2p.catalog(): every entry loads with the variables, dims and units its catalog declares; the
catalog's checksums match the shipped files; errors name the entry and the file; live reads go
through the fsspec cache; another centre's catalog is included by URL."""

from __future__ import annotations

import functools
import hashlib
import http.server
import shutil
import threading
from pathlib import Path

import intake
import numpy as np
import pandas as pd
import pytest
import xarray as xr
import yaml

import s2p
from s2p.catalogs import CatalogError, S2PCatalog, open_catalog
from s2p.errors import DataNotFoundError
from tests.data_mirror import DataMirror, route_of
from tests.support import DATA, ROOT

CATALOGS = ROOT / "catalogs"


def _entries() -> list[tuple[str, str]]:
    cat = s2p.catalog()
    return [(name, entry.kwargs["function"]) for name, entry in cat.walk()]


ENTRIES = _entries()


@pytest.fixture(scope="module")
def cat() -> S2PCatalog:
    return s2p.catalog()


def test_root_lists_the_three_segments(cat):
    assert cat.segments == ["swe", "debris", "neo"]
    for segment in cat.segments:
        sub = cat[segment]
        assert isinstance(sub, S2PCatalog)
        assert len(sub) > 0
        assert {e.metadata["segment"] for e in sub.entries.values()} == {segment}


def test_plain_intake_opens_the_same_tree():
    """The files are ordinary Intake 2 catalogs, not a private format."""
    root = intake.from_yaml_file(str(CATALOGS / "s2p.yaml"))
    swe = root.swe.read()
    assert "celestrak_sw" in list(swe)
    assert swe.entries["celestrak_sw"].kwargs["function"] == "s2p.spaceweather.read_celestrak"


def test_every_entry_describes_its_provenance(cat):
    table = cat.describe()
    assert len(table) == len(ENTRIES) >= 20
    for name, entry in cat.walk():
        meta = entry.metadata
        assert meta["description"] and meta["licence"] and meta["cadence"], name
        assert meta["provider"]["url"].startswith(("http://", "https://")), name
        assert meta["segment"] == name.split(".")[0]
        assert meta["reader"] == entry.kwargs["function"]
        declared = meta.get("variables") or meta.get("columns") or meta.get("attributes")
        assert declared, f"{name} declares no variables, columns or attributes"
        for item in meta["files"]:
            assert item["url"].startswith("https://"), name
            assert len(item["sha256"]) == 64 and item["retrieved"] and item["bytes"] > 0, name


def test_recorded_checksums_match_the_shipped_files(cat):
    """The catalogs' sha256 and sizes are those of the files in data/ (and of the upstream sums);
    a file refreshed by ``workbench data fetch`` is checked against its ledger record instead."""
    upstream = {}
    for line in (DATA / "SHA256SUMS.shared").read_text().splitlines():
        digest, path = line.split(maxsplit=1)
        upstream[path.removeprefix("./")] = digest
    for name, entry in cat.walk():
        for item in entry.metadata["files"]:
            blob = (DATA / item["path"]).read_bytes()
            assert hashlib.sha256(blob).hexdigest() == item["sha256"], f"{name}: {item['path']}"
            assert len(blob) == item["bytes"], f"{name}: {item['path']}"
            if "fetched_from" not in item:
                assert upstream[item["path"]] == item["sha256"], (
                    f"{name}: {item['path']} differs from upstream"
                )


def test_provenance_md_lists_every_catalogued_file(cat):
    text = (DATA / "PROVENANCE.md").read_text()
    for _, entry in cat.walk():
        for item in entry.kwargs["files"]:
            assert item["sha256"] in text, item["path"]


def _check_units(name: str, declared: dict, actual: dict) -> None:
    for var, spec in declared.items():
        if "units" in spec:
            assert actual.get(var) == spec["units"], (
                f"{name}.{var}: units {actual.get(var)!r} != {spec['units']!r}"
            )


def _check_output(name: str, meta: dict, out: object) -> None:
    """The reader's result has what the catalog declares: variables/dims/units, columns, attributes."""
    if "variables" in meta:
        assert isinstance(out, xr.Dataset), f"{name}: expected an xarray.Dataset, got {type(out)}"
        for var, spec in meta["variables"].items():
            assert var in out.variables, f"{name}: no variable {var!r} in {list(out.variables)}"
            assert list(out[var].dims) == spec["dims"], f"{name}.{var}: dims {out[var].dims}"
            assert out[var].size > 0
        _check_units(name, meta["variables"], {v: out[v].attrs.get("units") for v in out.variables})
    if "columns" in meta:
        assert isinstance(out, pd.DataFrame), f"{name}: expected a DataFrame, got {type(out)}"
        assert len(out) > 0
        missing = set(meta["columns"]) - set(out.columns)
        assert not missing, f"{name}: columns {missing} missing from {list(out.columns)}"
        _check_units(name, meta["columns"], out.attrs.get("units") or {})
    if "attributes" in meta:
        items = out if isinstance(out, list) else [out]
        assert items, name
        for obj in items:
            for attr in meta["attributes"]:
                value = getattr(obj, attr)
                assert value is not None, f"{name}: {attr} is None"
    if "count" in meta:
        assert len(out) == meta["count"], name


@pytest.mark.parametrize(("name", "function"), ENTRIES, ids=[n for n, _ in ENTRIES])
def test_entry_loads_with_declared_variables_dims_and_units(cat, name, function):
    segment, entry_name = name.split(".")
    reader = cat[segment][entry_name]
    out = reader.read()
    _check_output(name, reader.metadata, out)


def test_entries_resolve_against_workbench_data_dir(tmp_path, monkeypatch):
    src = DATA / "space_weather/goes_xrs/observed-solar-cycle-indices-truncated.json"
    dest = tmp_path / "space_weather/goes_xrs" / src.name
    dest.parent.mkdir(parents=True)
    dest.write_text(pd.read_json(src).head(3).to_json(orient="records"))
    monkeypatch.setenv("WORKBENCH_DATA_DIR", str(tmp_path))
    assert len(s2p.catalog().swe.solar_cycle_observed.read()) == 3


def test_a_missing_data_file_names_the_entry_and_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_DATA_DIR", str(tmp_path))
    with pytest.raises(DataNotFoundError) as info:
        s2p.catalog().debris.hbr_mass.read()
    message = str(info.value)
    assert "'hbr_mass'" in message and "debris.yaml" in message
    assert str(tmp_path / "space_debris/satcat/nasa_cara_HBR_Mass_Estimates_20260601.csv") in message


def _copy_tree(tmp_path: Path) -> Path:
    dest = tmp_path / "catalogs"
    shutil.copytree(CATALOGS, dest)
    return dest


def test_malformed_yaml_names_the_file_and_line(tmp_path):
    tree = _copy_tree(tmp_path)
    text = (tree / "neo.yaml").read_text()
    at = text.index("\n  esa_risk_list:\n")
    broken = text[at:].replace("segment: neo\n", "segment: neo: planetary defence\n", 1)
    (tree / "neo.yaml").write_text(text[:at] + broken)
    cat = s2p.catalog(tree / "s2p.yaml")
    with pytest.raises(CatalogError) as info:
        cat.neo  # noqa: B018 - opening the sub-catalog is the act under test
    message = str(info.value)
    assert str(tree / "neo.yaml") in message and "malformed YAML" in message and "line" in message
    assert "entry 'esa_risk_list'" in message


def test_malformed_entry_names_the_entry_and_the_file(tmp_path):
    tree = _copy_tree(tmp_path)
    doc = yaml.safe_load((tree / "swe.yaml").read_text())
    del doc["entries"]["gfz_kp"]["kwargs"]["function"]
    (tree / "swe.yaml").write_text(yaml.safe_dump(doc))
    with pytest.raises(CatalogError) as info:
        open_catalog(tree / "swe.yaml")
    assert "entry 'gfz_kp'" in str(info.value) and str(tree / "swe.yaml") in str(info.value)
    assert "function" in str(info.value)

    doc["entries"]["gfz_kp"]["kwargs"]["function"] = "s2p.spaceweather.read_gfz_kp"
    doc["entries"]["gfz_kp"]["kwargs"]["files"][0]["sha256"] = "not-a-checksum"
    (tree / "swe.yaml").write_text(yaml.safe_dump(doc))
    with pytest.raises(CatalogError, match=r"entry 'gfz_kp'.*sha256"):
        open_catalog(tree / "swe.yaml")


def test_a_missing_catalog_file_is_named(tmp_path):
    with pytest.raises(CatalogError, match="catalog file not found"):
        s2p.catalog(tmp_path / "nowhere.yaml")


# -- live sources ------------------------------------------------------------------------------


@pytest.fixture
def provider_mirror(cat):
    files = {}
    for _, entry in cat.walk():
        for item in entry.kwargs["files"]:
            files[route_of(item["url"])] = (DATA / item["path"]).read_bytes()
    with DataMirror(files) as server:
        yield server


def test_live_reads_come_from_the_provider_url_through_a_local_cache(provider_mirror, tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_DATA_DIR", str(tmp_path / "empty"))  # proves nothing is read locally
    monkeypatch.setenv("WORKBENCH_DATA_LIVE", "1")
    monkeypatch.setenv("WORKBENCH_DATA_BASE_URL", provider_mirror.base_url)
    monkeypatch.setenv("WORKBENCH_DATA_CACHE", str(tmp_path / "cache"))
    entry = s2p.catalog().debris.hbr_mass
    route = route_of(entry.kwargs["files"][0]["url"])

    first = entry.read()
    downloads = provider_mirror.hits[route]
    second = entry.read()

    assert downloads >= 1  # fsspec probes the URL with a GET before downloading it
    assert provider_mirror.hits[route] == downloads  # the second read was served by the cache
    pd.testing.assert_frame_equal(first, second)
    assert len(first) == 58609
    cached = [p for p in (tmp_path / "cache").iterdir() if p.name.endswith(".csv")]
    assert len(cached) == 1
    # One switch: the same entry reads the local file again without it.
    monkeypatch.delenv("WORKBENCH_DATA_LIVE")
    with pytest.raises(DataNotFoundError):
        entry.read()
    # ... and a reader can ask for the provider explicitly.
    monkeypatch.setenv("WORKBENCH_DATA_DIR", str(DATA))
    assert len(entry.read(live=True)) == 58609
    assert provider_mirror.hits[route] == downloads


@pytest.mark.parametrize(
    ("segment", "name"),
    [("swe", "ionex_jpl"), ("debris", "tle_geo"), ("debris", "tle_weather"), ("neo", "sentry_summary")],
)
def test_live_reads_match_the_local_files(provider_mirror, tmp_path, monkeypatch, segment, name):
    """Gzip names survive the cache (``.gz``), and providers' URLs differing only in their query
    (CelesTrak ``gp.php?GROUP=…``) get distinct cache files."""
    monkeypatch.setenv("WORKBENCH_DATA_BASE_URL", provider_mirror.base_url)
    monkeypatch.setenv("WORKBENCH_DATA_CACHE", str(tmp_path / "cache"))
    cat = s2p.catalog()
    for other in ("tle_geo", "tle_weather"):  # both CelesTrak groups share one cache folder
        cat.debris[other].read(live=True)
    entry = cat[segment][name]
    live = entry.read(live=True)
    local = entry.read()
    if isinstance(local, xr.Dataset):
        xr.testing.assert_identical(live.drop_attrs(), local.drop_attrs())
    elif isinstance(local, pd.DataFrame):
        pd.testing.assert_frame_equal(live, local, check_like=True, check_flags=False, obj=name)
    else:
        np.testing.assert_array_equal(live.norad_id, local.norad_id)
        np.testing.assert_array_equal(live.epoch, local.epoch)


# -- federation ----------------------------------------------------------------------------------


@pytest.fixture
def partner_centre(tmp_path):
    """Another expert centre publishing its own catalog and data over HTTP (a plain static server)."""
    site = tmp_path / "centre"
    (site / "data/swe").mkdir(parents=True)
    sample = DATA / "space_weather/goes_xrs/observed-solar-cycle-indices-truncated.json"
    (site / "data/swe/ssn.json").write_bytes(sample.read_bytes())
    entry = {
        "reader": "s2p.catalogs:S2PFileReader",
        "output_instance": "pandas:DataFrame",
        "kwargs": {
            "function": "pandas.read_json",
            "data_root": "{CATALOG_DIR}/data",
            "files": [{"path": "swe/ssn.json", "url": "https://centre.example.org/ssn.json"}],
        },
        "metadata": {
            "description": "monthly sunspot number published by a partner centre",
            "segment": "swe",
            "provider": {"name": "Partner centre", "url": "https://centre.example.org"},
            "licence": "CC BY 4.0",
            "cadence": "monthly",
            "content": "updating",
            "columns": {"ssn": {"units": "1"}},
        },
    }
    doc = {
        "version": 2,
        "metadata": {"name": "centre"},
        "user_parameters": {},
        "data": {},
        "aliases": {"ssn": "ssn"},
        "entries": {"ssn": entry},
    }
    (site / "s2p.yaml").write_text(yaml.safe_dump(doc))
    bad = yaml.safe_load(yaml.safe_dump(doc))
    bad["entries"]["ssn"]["kwargs"]["function"] = "os.system"
    (site / "evil.yaml").write_text(yaml.safe_dump(bad))

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
    handler.log_message = lambda *a: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_root_catalog_includes_another_centre_by_url(partner_centre, tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_DATA_CACHE", str(tmp_path / "cache"))
    tree = _copy_tree(tmp_path)
    root = yaml.safe_load((tree / "s2p.yaml").read_text())
    root["entries"]["centre"] = {
        "reader": "s2p.catalogs:SubCatalog",
        "kwargs": {"url": f"{partner_centre}/s2p.yaml"},
        "metadata": {"description": "partner centre", "federated": True},
    }
    root["aliases"]["centre"] = "centre"
    (tree / "s2p.yaml").write_text(yaml.safe_dump(root, sort_keys=False))

    cat = s2p.catalog(tree / "s2p.yaml")

    assert cat.segments == ["swe", "debris", "neo", "centre"]
    df = cat.centre.ssn.read()
    expected = pd.read_json(DATA / "space_weather/goes_xrs/observed-solar-cycle-indices-truncated.json")
    np.testing.assert_array_equal(df["ssn"].to_numpy(), expected["ssn"].to_numpy())
    assert df.attrs["units"]["ssn"] == "1"
    assert "centre.ssn" in cat.describe().index


def test_federation_by_setting_and_argument(partner_centre, tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_DATA_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("WORKBENCH_CATALOG_FEDERATION", f"centre={partner_centre}/s2p.yaml")
    cat = s2p.catalog(federate={"other": f"{partner_centre}/s2p.yaml"})
    assert cat.segments == ["swe", "debris", "neo", "centre", "other"]
    assert len(cat.other.ssn.read()) == len(cat.centre.ssn.read()) > 0


def test_a_federated_catalog_cannot_name_an_arbitrary_callable(partner_centre, tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_DATA_CACHE", str(tmp_path / "cache"))
    cat = s2p.catalog(federate={"evil": f"{partner_centre}/evil.yaml"})
    with pytest.raises(CatalogError, match=r"entry 'ssn'.*os.system.*not trusted"):
        cat.evil.ssn.read()


def test_find_searches_every_segment_by_word():
    import s2p

    cat = s2p.catalog()
    assert cat.find("TLE") == [n for n, _ in cat.walk() if n.startswith("debris.tle_")]
    kp = cat.find("kp")
    assert "swe.celestrak_sw" in kp and "swe.gfz_kp" in kp
    assert all(name.startswith("swe.") for name in kp)
    assert cat.find("no-such-thing-anywhere") == []
