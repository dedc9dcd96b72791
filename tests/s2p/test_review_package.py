"""Review regression: ``dir(s2p)`` (tab completion) shows the lazily imported segments in a fresh kernel."""

from __future__ import annotations

import subprocess
import sys


def test_dir_of_a_freshly_imported_s2p_lists_the_segments_and_not_its_helpers():
    code = "import s2p; print(' '.join(n for n in dir(s2p) if not n.startswith('_')))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    for name in ("catalog", "debris", "frames", "neo", "spaceweather", "time", "ParseError"):
        assert name in out
    assert not {"Any", "annotations", "import_module"} & set(out)


def test_dir_lists_a_subpackage_once_it_is_imported():
    code = "import s2p, s2p.catalogs; print(' '.join(dir(s2p)))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert "catalogs" in out and "catalog" in out
