"""The lab image's recipe: pinned requirements, apt mirror, target interpreter (no Docker needed)."""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import version
from pathlib import Path

from tests.support import ROOT
from workbench.images import build


def test_requirements_in_covers_the_library_and_the_pins_match_the_hub():
    names = build._requested_names(ROOT / "images/lab/requirements.in")
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    wanted = {build.normalise(re.split(r"[\[=<>!~;\s]", d, maxsplit=1)[0]) for d in deps}
    assert wanted <= names, wanted - names
    pins = build.read_pins(ROOT / "images/lab/requirements.txt")
    assert names <= pins.keys(), names - pins.keys()
    assert pins["jupyterhub"] == version("jupyterhub")


def test_debian_mirror_is_read_from_apt_sources(tmp_path: Path):
    deb822 = tmp_path / "debian.sources"
    deb822.write_text(
        "Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm bookworm-updates\nComponents: main\n\n"
        "Types: deb\nURIs: http://security.example/debian-security\nSuites: bookworm-security\nComponents: main\n"
    )
    assert build.debian_mirror([deb822]) == "http://mirror.example/debian"
    one_line = tmp_path / "sources.list"
    one_line.write_text("# comment\ndeb [arch=amd64] http://m2.example/debian bookworm main\n")
    assert build.debian_mirror([one_line]) == "http://m2.example/debian"
    assert build.debian_mirror([tmp_path / "missing.list"]) == build.DEBIAN_FALLBACK_MIRROR


def test_interpreter_platform_tags_cover_its_glibc():
    interp = build.Interpreter("3.11.2", (2, 36))
    assert interp.abi == "cp311"
    assert interp.platforms[0] == "manylinux_2_36_x86_64"
    assert "manylinux_2_17_x86_64" in interp.platforms and "manylinux2014_x86_64" in interp.platforms
    assert "manylinux_2_37_x86_64" not in interp.platforms
