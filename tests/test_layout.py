"""The repository keeps the layout that ARCHITECTURE.md promises and never reads the shared folder."""

from __future__ import annotations

import subprocess

from tests.support import ROOT


def test_import_s2p_is_light():
    out = subprocess.run(
        [str(ROOT / ".venv/bin/python"), "-X", "importtime", "-c", "import s2p"],
        capture_output=True,
        text=True,
        check=True,
    )
    # numba must not be imported by `import s2p` alone: kernels compile only when a segment is used.
    assert "numba" not in out.stderr


def test_no_code_reads_the_shared_folder():
    out = subprocess.run(
        [
            "git",
            "grep",
            "-n",
            "-I",
            "-F",
            "-e",
            "../" + "shared",
            "--",
            "*.py",
            "*.yaml",
            "*.js",
            "*.mjs",
            "Makefile",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert out.stdout == "", out.stdout
