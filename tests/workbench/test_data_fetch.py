"""``workbench data fetch`` against a real HTTP server on 127.0.0.1 serving the shipped samples
under the providers' URL paths: fetch, verify, replace; and never replace a good file with a
cut, tampered or unparsable download."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

import s2p
from s2p.catalogs import rewrite_url
from tests.data_mirror import DataMirror, route_of
from tests.support import DATA, ROOT
from workbench.cli import main

# omni2_2000 is a fixed-content file (sha256 pinned in the catalog); solar_cycle_observed is
# an updating one read by pandas (so its validation does not depend on a segment's reader).
FIXED = "omni2_2000"
UPDATING = "solar_cycle_observed"


def _specs() -> dict[str, object]:
    return {spec.name: spec for _, spec in s2p.catalog().specs()}


@pytest.fixture(scope="module")
def specs():
    return _specs()


@pytest.fixture
def mirror(specs):
    """Every catalogued file, served under its provider's path, from the project's data/."""
    files = {}
    for spec in specs.values():
        for item in spec.files:
            files[route_of(item.url)] = (DATA / item.path).read_bytes()
    with DataMirror(files) as server:
        yield server


@pytest.fixture
def data_dir(tmp_path, specs, monkeypatch):
    """A scratch data folder holding copies of the two test entries' files."""
    root = tmp_path / "data"
    for name in (FIXED, UPDATING):
        for item in specs[name].files:
            dest = root / item.path
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(DATA / item.path, dest)
    monkeypatch.setenv("WORKBENCH_DATA_DIR", str(root))
    return root


def fetch(*args: str) -> int:
    return main(["data", "fetch", "--no-progress", "--backoff", "0.01", *args])


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def leftovers(root: Path) -> list[Path]:
    return [p for p in root.rglob(".fetch-*")]


def test_provider_urls_map_to_distinct_mirror_routes(specs):
    urls = [rewrite_url(f.url, "http://127.0.0.1:1") for s in specs.values() for f in s.files]
    assert len(urls) == len(set(urls))
    assert rewrite_url(
        "https://celestrak.org/NORAD/elements/gp.php?GROUP=geo&FORMAT=tle", "http://m:8/x"
    ) == ("http://m:8/x/NORAD/elements/gp.php?GROUP=geo&FORMAT=tle")


def test_fetch_restores_a_fixed_file_and_verifies_its_checksum(mirror, data_dir, specs, capsys):
    item = specs[FIXED].files[0]
    target = data_dir / item.path
    target.write_bytes(b"corrupted local copy\n")

    assert fetch("--entry", FIXED, "--base-url", mirror.base_url) == 0

    assert sha(target) == item.sha256
    assert mirror.hits[route_of(item.url)] == 1
    out = capsys.readouterr().out
    assert "updated" in out and item.path in out
    # A second run finds the pinned checksum on disk and downloads nothing.
    assert fetch("--entry", FIXED, "--base-url", mirror.base_url) == 0
    assert mirror.hits[route_of(item.url)] == 1
    assert "1 verified" in capsys.readouterr().out


def test_fetch_updates_a_changing_file_and_records_provenance(mirror, data_dir, specs, capsys):
    item = specs[UPDATING].files[0]
    target = data_dir / item.path
    # The local copy is an older release of the provider's file (fewer months).
    records = json.loads(target.read_text())
    target.write_text(json.dumps(records[:-3]))
    old = sha(target)

    assert fetch("--segment", "swe", "--entry", UPDATING, "--base-url", mirror.base_url) == 0

    assert sha(target) == item.sha256 != old
    ledger = [json.loads(line) for line in (data_dir / "provenance.jsonl").read_text().splitlines()]
    assert ledger[-1]["path"] == item.path
    assert ledger[-1]["sha256"] == item.sha256
    assert ledger[-1]["previous_sha256"] == old
    assert ledger[-1]["url"] == rewrite_url(item.url, mirror.base_url)
    log = (data_dir / "PROVENANCE.md").read_text()
    assert "## Fetch log" in log and item.path in log and item.sha256 in log
    out = capsys.readouterr().out
    assert f"updated    swe.{UPDATING}" in out and "1 updated" in out

    # The catalog now shows the fetched file's checksum and retrieval date.
    entry = s2p.catalog().swe[UPDATING]
    assert entry.metadata["sha256"] == item.sha256
    assert entry.metadata["retrieved"] == ledger[-1]["retrieved"]
    assert len(entry.read()) == len(records)


@pytest.mark.parametrize("mode", ["cut", "status:503"])
def test_a_cut_download_never_replaces_the_old_file(mirror, data_dir, specs, capsys, mode):
    item = specs[UPDATING].files[0]
    target = data_dir / item.path
    target.write_text("[]")  # old but valid
    before = target.read_bytes()
    mirror.modes[route_of(item.url)] = mode

    assert fetch("--entry", UPDATING, "--base-url", mirror.base_url, "--retries", "2") == 1

    assert target.read_bytes() == before
    assert leftovers(data_dir) == []
    err = capsys.readouterr().err
    assert "FAILED" in err and item.path in err and "kept the existing file" in err
    assert "after 3 attempts" in err
    assert ("incomplete" in err or "failed after" in err) if mode == "cut" else "HTTP 503" in err
    assert mirror.hits[route_of(item.url)] == 3
    assert not (data_dir / "provenance.jsonl").exists()


def test_a_wrong_checksum_never_replaces_the_old_file(mirror, data_dir, specs, capsys):
    item = specs[FIXED].files[0]
    target = data_dir / item.path
    before = target.read_bytes()
    mirror.modes[route_of(item.url)] = "wrong"

    assert fetch("--entry", FIXED, "--base-url", mirror.base_url, "--force") == 1

    assert target.read_bytes() == before
    assert leftovers(data_dir) == []
    err = capsys.readouterr().err
    assert "checksum mismatch" in err and item.sha256 in err and "kept the existing file" in err


def test_an_unparsable_update_never_replaces_the_old_file(mirror, data_dir, specs, capsys):
    item = specs[UPDATING].files[0]
    target = data_dir / item.path
    before = target.read_bytes()
    mirror.modes[route_of(item.url)] = "html"  # an error page served with status 200

    assert fetch("--entry", UPDATING, "--base-url", mirror.base_url) == 1

    assert target.read_bytes() == before
    assert "does not parse with pandas.read_json" in capsys.readouterr().err


def test_a_transient_cut_is_retried(mirror, data_dir, specs):
    item = specs[FIXED].files[0]
    (data_dir / item.path).unlink()
    mirror.modes[route_of(item.url)] = "flaky"

    assert fetch("--entry", FIXED, "--base-url", mirror.base_url) == 0

    assert sha(data_dir / item.path) == item.sha256
    assert mirror.hits[route_of(item.url)] == 2


def test_unknown_entry_is_a_usage_error(capsys):
    assert fetch("--entry", "no_such_entry") == 2
    assert "no_such_entry" in capsys.readouterr().err


def test_the_installed_command_fetches_a_whole_segment(mirror, tmp_path, specs):
    """The real ``workbench`` executable, one segment, every file served from the mirror."""
    root = tmp_path / "fresh"
    env = {**os.environ, "WORKBENCH_DATA_DIR": str(root), "WORKBENCH_DATA_BASE_URL": mirror.base_url}
    proc = subprocess.run(
        [str(ROOT / ".venv/bin/workbench"), "data", "fetch", "--segment", "debris", "--no-progress"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    debris = [s for s in specs.values() if s.segment == "debris"]
    for spec in debris:
        for item in spec.files:
            assert sha(root / item.path) == item.sha256, item.path
    n = sum(len(s.files) for s in debris)
    assert f"{n} added" in proc.stdout


def test_an_identical_update_changes_nothing(mirror, data_dir, specs, capsys):
    item = specs[UPDATING].files[0]
    before = (data_dir / item.path).stat().st_mtime_ns

    assert fetch("--entry", UPDATING, "--base-url", mirror.base_url) == 0

    assert "1 unchanged" in capsys.readouterr().out
    assert (data_dir / item.path).stat().st_mtime_ns == before
    assert not (data_dir / "provenance.jsonl").exists()
