"""Review regressions for s2p.catalog(): a data root written with "~", as env files and k8s specs do."""

from __future__ import annotations

import shutil

import s2p
from tests.support import DATA


def test_workbench_data_dir_with_a_tilde_is_expanded(tmp_path, monkeypatch):
    home = tmp_path / "home"
    src = DATA / "space_debris" / "tle" / "celestrak_stations_2026-05-30.tle"
    dest = home / "s2p-data" / "space_debris" / "tle" / src.name
    dest.parent.mkdir(parents=True)
    shutil.copy(src, dest)
    monkeypatch.setenv("HOME", str(home))
    # no shell between an env file (or a pod spec) and the lab: "~" arrives as is
    monkeypatch.setenv("WORKBENCH_DATA_DIR", "~/s2p-data")
    tles = s2p.catalog().debris.tle_stations.read()  # used to look for "./~/s2p-data/..."
    assert len(tles) == 25
    assert tles.source == str(dest)
