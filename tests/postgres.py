"""A throwaway PostgreSQL server for tests: its own cluster in a temp dir, on a free port of 127.0.0.1.

Under ``CI=true`` a missing PostgreSQL is a failure (``.ci/run`` installs Debian's ``postgresql``).
PostgreSQL refuses to run as root, so as root the cluster belongs to the ``postgres`` system user.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from tests.support import free_port, need


def _pg_bin() -> Path | None:
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if Path(candidate, "initdb").exists():
            return Path(candidate)
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


@contextlib.contextmanager
def postgres_server(dbname: str = "workbench") -> Iterator[str]:
    """Start PostgreSQL, create ``dbname`` and yield its SQLAlchemy URL; stop and delete on exit."""
    bindir = _pg_bin()
    need(bindir is not None, "PostgreSQL server binaries (Debian package postgresql)")
    assert bindir is not None
    run_as: list[str] = []
    tmp = Path(tempfile.mkdtemp(prefix="s2p-pg-"))
    if os.geteuid() == 0:
        need(shutil.which("runuser") is not None, "runuser to drop root for PostgreSQL")
        try:
            pw = pwd.getpwnam("postgres")
        except KeyError:
            need(False, "a 'postgres' system user")
            raise
        os.chown(tmp, pw.pw_uid, pw.pw_gid)
        run_as = ["runuser", "-u", "postgres", "--"]
    datadir, port = tmp / "data", free_port()
    try:
        subprocess.run(
            [*run_as, str(bindir / "initdb"), "-D", str(datadir), "-U", "workbench", "--auth=trust", "-E", "UTF8"],
            check=True, capture_output=True,
        )  # fmt: skip
        opts = f"-p {port} -k {tmp} -c listen_addresses=127.0.0.1 -c fsync=off"
        subprocess.run(
            [*run_as, str(bindir / "pg_ctl"), "-D", str(datadir), "-o", opts, "-l", str(tmp / "log"), "-w", "start"],
            check=True, capture_output=True,
        )  # fmt: skip
        url_base = f"postgresql+psycopg2://workbench@127.0.0.1:{port}"
        subprocess.run(
            [str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "workbench", dbname],
            check=True,
            capture_output=True,
        )
        yield f"{url_base}/{dbname}"
    finally:
        if (datadir / "postmaster.pid").exists():
            subprocess.run(
                [*run_as, str(bindir / "pg_ctl"), "-D", str(datadir), "-m", "immediate", "stop"],
                capture_output=True,
            )
            for _ in range(50):
                if not (datadir / "postmaster.pid").exists():
                    break
                time.sleep(0.1)
        shutil.rmtree(tmp, ignore_errors=True)
