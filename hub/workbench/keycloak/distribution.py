"""Get the Keycloak server distribution from Maven Central and make it ready to start, once per machine.

:data:`KEYCLOAK_VERSION` is the one place the version is pinned. :func:`fetch` downloads the
distribution zip with Maven (``mvn dependency:copy`` of ``org.keycloak:keycloak-quarkus-dist``, so
Maven's own local repository caches it too); :func:`prepare` unpacks it, runs Keycloak's Quarkus
augmentation once (``kc.sh build`` with :data:`BUILD_OPTIONS`) and initialises a template database
(schema, master realm and a bootstrap admin) that every local server copies, so a start pays neither
the augmentation nor the database initialisation again. Everything lives in the cache directory
(``WORKBENCH_KEYCLOAK_CACHE``, outside the repository)::

    <cache>/keycloak-quarkus-dist-26.5.6.zip     the download (what a container build also starts from)
    <cache>/26.5.6/dist/                         unpacked and augmented (bin/, lib/, conf/, themes/ …)
    <cache>/26.5.6/template/h2/                  the initialised H2 database, copied by each server
    <cache>/26.5.6/template/admin.json           its bootstrap admin (mode 0600)

A file lock makes concurrent callers (tests, ``workbench up``, a benchmark) wait for one another
instead of preparing twice; each step writes into a temporary folder renamed into place when done,
so an interrupted step is redone at the next call, never half-used.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import secrets
import shutil
import subprocess
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

# Pinned here and nowhere else. 26.5.6 is the newest patch of the newest Keycloak line that was seen
# to start on this machine kind's OpenJDK 17 (2026-12); 26.7.x is served too, but 26.7.4 was not
# (a line still being published), and 26.5 keeps the realm-import and bootstrap-admin behaviour the
# workbench relies on (placeholders resolved at import, `kc.sh bootstrap-admin user`).
KEYCLOAK_VERSION = "26.5.6"
MAVEN_GROUP = "org.keycloak"
MAVEN_ARTIFACT = "keycloak-quarkus-dist"
MIN_JAVA_MAJOR = 17

BUILD_OPTIONS: tuple[str, ...] = ("--db=dev-file",)
"""Build-time options of the augmented distribution: the embedded H2 file database (dev and tests)."""

RUNTIME_OPTIONS: tuple[str, ...] = ("--cache=local",)
"""Options every local start and the template initialisation pass: a single node, so Keycloak opens
no JGroups cluster ports (by default ``start`` listens on every interface for cluster peers)."""

JAVA_OPTS_APPEND = "-XX:TieredStopAtLevel=1"
"""JVM option of local servers: the C1 compiler only. Measured here it halves the start (21 s instead
of 45 s with a ready database, 73 s instead of 114 s with a fresh one on a loaded 2-core machine); the
peak throughput it costs does not matter for a development or test server."""

FETCH_TIMEOUT = 1800.0  # [s] Maven download of ~165 MB
BUILD_TIMEOUT = 900.0  # [s] augmentation (about 40 s on an idle machine)
TEMPLATE_TIMEOUT = 900.0  # [s] schema + master realm (about 40 s)
ADMIN_USERNAME = "kcadmin"


class KeycloakError(RuntimeError):
    """Keycloak cannot be fetched, prepared, started or administered; the message says what to do."""


@dataclass(frozen=True)
class Distribution:
    """A prepared Keycloak: the augmented distribution and its template database.

    Attributes
    ----------
    version
        Keycloak version.
    home
        The augmented distribution (``bin/kc.sh``, ``lib/``…); shared read-only by every server.
    template
        Folder holding ``h2/`` (the initialised database) and ``admin.json``.
    java_home
        JDK the distribution was prepared with (``None``: the ``java`` on ``PATH``).
    """

    version: str
    home: Path
    template: Path
    java_home: Path | None

    @property
    def kc_sh(self) -> Path:
        return self.home / "bin" / "kc.sh"

    def admin_credentials(self) -> tuple[str, str]:
        """(username, password) of the master realm's bootstrap admin in the template database."""
        data = json.loads((self.template / "admin.json").read_text())
        return str(data["username"]), str(data["password"])

    def java_env(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """Environment for ``kc.sh``: ``base`` plus ``JAVA_HOME`` (when set) and the fast-start JVM option."""
        env = dict(os.environ if base is None else base)
        if self.java_home is not None:
            env["JAVA_HOME"] = str(self.java_home)
        env["JAVA_OPTS_APPEND"] = JAVA_OPTS_APPEND
        return env


# --------------------------------------------------------------------------------------------------
# tools


def java_command(java_home: Path | None = None) -> str:
    """The ``java`` executable to run Keycloak with, checked to be Java 17 or later.

    Parameters
    ----------
    java_home
        A JDK folder (``WORKBENCH_KEYCLOAK_JAVA_HOME``); default: ``java`` on ``PATH``.

    Raises
    ------
    KeycloakError
        When no such ``java`` exists or it is older than Java 17.
    """
    if java_home is not None:
        java = java_home / "bin" / "java"
        if not java.is_file():
            raise KeycloakError(f"WORKBENCH_KEYCLOAK_JAVA_HOME={java_home} has no bin/java")
        path = str(java)
    else:
        found = shutil.which("java")
        if found is None:
            raise KeycloakError(
                f"Keycloak {KEYCLOAK_VERSION} needs Java {MIN_JAVA_MAJOR} or later and `java` is not on PATH: "
                "install a JDK (Debian: openjdk-17-jdk-headless) or set WORKBENCH_KEYCLOAK_JAVA_HOME"
            )
        path = found
    out = subprocess.run([path, "-version"], capture_output=True, text=True, timeout=60)
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    major = int(match.group(1)) if match else 0
    if major == 1 and match and match.group(2):  # "1.8.0_…"
        major = int(match.group(2))
    if major < MIN_JAVA_MAJOR:
        raise KeycloakError(
            f"{path} is Java {major or '?'}; Keycloak {KEYCLOAK_VERSION} needs Java {MIN_JAVA_MAJOR} or later "
            "(set WORKBENCH_KEYCLOAK_JAVA_HOME to a newer JDK)"
        )
    return path


def _maven() -> str:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise KeycloakError(
            "Maven (`mvn`) is not on PATH: it downloads the Keycloak distribution from Maven Central "
            "(Debian: apt-get install maven)"
        )
    return mvn


@contextlib.contextmanager
def _locked(cache_dir: Path, log: Callable[[str], None]) -> Iterator[None]:
    cache_dir.mkdir(parents=True, exist_ok=True)
    with open(cache_dir / ".lock", "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log(f"waiting for another process preparing Keycloak in {cache_dir} …")
            fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _run(argv: list[str], *, env: Mapping[str, str], cwd: Path, timeout: float, what: str) -> None:
    """Run a preparation step; on failure raise with the tail of its output."""
    try:
        r = subprocess.run(
            argv,
            env=dict(env),
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        raise KeycloakError(f"{what} did not finish within {timeout:.0f} s") from None
    if r.returncode != 0:
        tail = "\n".join((r.stdout + r.stderr).strip().splitlines()[-25:])
        raise KeycloakError(f"{what} failed (exit {r.returncode}):\n{tail}")


# --------------------------------------------------------------------------------------------------
# the three steps


def zip_path(cache_dir: Path, version: str = KEYCLOAK_VERSION) -> Path:
    """Where :func:`fetch` puts the distribution zip."""
    return cache_dir / f"{MAVEN_ARTIFACT}-{version}.zip"


def fetch(cache_dir: Path, *, version: str = KEYCLOAK_VERSION, log: Callable[[str], None] = print) -> Path:
    """Download the Keycloak server distribution zip into ``cache_dir`` (no-op when it is there).

    Maven fetches ``org.keycloak:keycloak-quarkus-dist:<version>:zip`` from Maven Central with strict
    checksums into its local repository (``~/.m2``, itself a cache) and copies it here. A container
    build (the ``keycloak`` image) starts from the same zip.

    Parameters
    ----------
    cache_dir
        Cache folder (``WORKBENCH_KEYCLOAK_CACHE``).
    version
        Keycloak version (default: the pinned :data:`KEYCLOAK_VERSION`).
    log
        Receives one line per step.

    Returns
    -------
    Path of the zip.

    Raises
    ------
    KeycloakError
        When Maven is missing or the download fails (Maven's last lines are in the message).
    """
    target = zip_path(cache_dir, version)
    if target.is_file() and zipfile.is_zipfile(target):
        return target
    mvn = _maven()
    cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache_dir, prefix=".fetch-") as tmp:
        log(f"fetching Keycloak {version} ({MAVEN_GROUP}:{MAVEN_ARTIFACT}, ~165 MB) with Maven …")
        t0 = time.monotonic()
        _run(
            [
                mvn,
                "-q",
                "-B",
                "--strict-checksums",
                "dependency:copy",
                f"-Dartifact={MAVEN_GROUP}:{MAVEN_ARTIFACT}:{version}:zip",
                f"-DoutputDirectory={tmp}",
            ],
            env=os.environ,
            cwd=Path(tmp),
            timeout=FETCH_TIMEOUT,
            what=f"mvn dependency:copy of {MAVEN_GROUP}:{MAVEN_ARTIFACT}:{version}:zip",
        )
        got = Path(tmp) / target.name
        if not zipfile.is_zipfile(got):
            raise KeycloakError(f"Maven did not produce a zip at {got}")
        got.replace(target)
        log(f"fetched {target} in {time.monotonic() - t0:.0f} s")
    return target


def unpack(zip_file: Path, dest: Path) -> None:
    """Extract the distribution zip into ``dest`` (its top folder stripped, executable bits kept)."""
    with zipfile.ZipFile(zip_file) as zf:
        for info in zf.infolist():
            # The zip holds one top folder, keycloak-<version>/: strip it.
            parts = Path(info.filename).parts[1:]
            if not parts or ".." in parts:
                continue
            out = dest.joinpath(*parts)
            if info.is_dir():
                out.mkdir(parents=True, exist_ok=True)
                continue
            out.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, open(out, "wb") as dst:
                shutil.copyfileobj(src, dst)
            mode = (info.external_attr >> 16) & 0o777
            if mode:
                out.chmod(mode)


def _build_stamp(version: str, java: str) -> dict[str, object]:
    return {"version": version, "options": list(BUILD_OPTIONS), "java": java}


def run_home(dist_home: Path, home: Path) -> Path:
    """Make ``home`` a Keycloak home of its own that shares ``dist_home``'s read-only parts.

    ``kc.sh`` finds its home from its own resolved path, so it is copied (not linked); ``lib``,
    ``conf``, ``providers`` and ``themes`` are symbolic links; ``data/`` (database, import folder,
    transaction logs) belongs to ``home``.
    """
    (home / "bin").mkdir(parents=True, exist_ok=True)
    (home / "data").mkdir(exist_ok=True)
    shutil.copy2(dist_home / "bin" / "kc.sh", home / "bin" / "kc.sh")
    for name in ("lib", "conf", "providers", "themes"):
        link = home / name
        if link.is_symlink() and link.resolve() == (dist_home / name).resolve():
            continue
        if link.is_symlink():
            link.unlink()
        link.symlink_to(dist_home / name, target_is_directory=True)
    return home


def prepare(
    cache_dir: Path,
    *,
    java_home: Path | None = None,
    version: str = KEYCLOAK_VERSION,
    log: Callable[[str], None] = print,
) -> Distribution:
    """Fetch, unpack, augment and initialise Keycloak in ``cache_dir``; reuse whatever is done.

    Parameters
    ----------
    cache_dir
        Cache folder (``WORKBENCH_KEYCLOAK_CACHE``).
    java_home
        JDK to build and run with (``WORKBENCH_KEYCLOAK_JAVA_HOME``); default: ``java`` on ``PATH``.
    version
        Keycloak version (default: the pinned :data:`KEYCLOAK_VERSION`).
    log
        Receives one line per step that does work (nothing when everything is ready).

    Raises
    ------
    KeycloakError
        When Java or Maven is missing, or a step fails (with the tail of its output).
    """
    cache_dir = Path(cache_dir)
    java = java_command(java_home)
    root = cache_dir / version
    home = root / "dist"
    template = root / "template"
    with _locked(cache_dir, log):
        stamp_file = home / ".workbench-build.json"
        stamp = _build_stamp(version, java)
        if not (stamp_file.is_file() and json.loads(stamp_file.read_text()) == stamp):
            zip_file = fetch(cache_dir, version=version, log=log)
            shutil.rmtree(template, ignore_errors=True)  # a template belongs to one build
            work = Path(tempfile.mkdtemp(dir=cache_dir, prefix=".build-"))
            try:
                unpack(zip_file, work)
                log(f"augmenting Keycloak {version} ({' '.join(BUILD_OPTIONS)}), once per machine …")
                t0 = time.monotonic()
                augment(work, java_home=java_home)
                (work / ".workbench-build.json").write_text(json.dumps(stamp))
                root.mkdir(parents=True, exist_ok=True)
                shutil.rmtree(home, ignore_errors=True)
                work.replace(home)
                log(f"augmented in {time.monotonic() - t0:.0f} s: {home}")
            finally:
                shutil.rmtree(work, ignore_errors=True)
        dist = Distribution(version, home, template, java_home)
        if not (template / "h2").is_dir() or not (template / "admin.json").is_file():
            make_template(dist, log)
    return dist


def augment(home: Path, *, java_home: Path | None = None, options: tuple[str, ...] = BUILD_OPTIONS) -> None:
    """Run Keycloak's Quarkus augmentation (``kc.sh build``) in the unpacked distribution ``home``.

    Raises
    ------
    KeycloakError
        With the tail of Keycloak's output when the build fails.
    """
    env = Distribution(KEYCLOAK_VERSION, home, home, java_home).java_env()
    _run(
        [str(home / "bin" / "kc.sh"), "build", *options],
        env=env,
        cwd=home,
        timeout=BUILD_TIMEOUT,
        what="kc.sh build",
    )


def make_template(dist: Distribution, log: Callable[[str], None] = print) -> None:
    """Initialise ``dist.template``: a database (schema, master realm, bootstrap admin) servers start from."""
    log("initialising Keycloak's template database (schema, master realm, admin), once per machine …")
    t0 = time.monotonic()
    parent = dist.template.parent
    work = Path(tempfile.mkdtemp(dir=parent, prefix=".template-"))
    try:
        home = run_home(dist.home, work / "home")
        password = secrets.token_urlsafe(24)
        env = dist.java_env()
        env.update({"KC_WORKBENCH_ADMIN": ADMIN_USERNAME, "KC_WORKBENCH_ADMIN_PASSWORD": password})
        _run(
            [
                str(home / "bin" / "kc.sh"),
                "bootstrap-admin",
                "user",
                "--optimized",
                *RUNTIME_OPTIONS,
                "--username:env",
                "KC_WORKBENCH_ADMIN",
                "--password:env",
                "KC_WORKBENCH_ADMIN_PASSWORD",
            ],
            env=env,
            cwd=home,
            timeout=TEMPLATE_TIMEOUT,
            what="kc.sh bootstrap-admin user (template database)",
        )
        out = work / "template"
        out.mkdir()
        (home / "data" / "h2").replace(out / "h2")
        fd = os.open(out / "admin.json", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump({"username": ADMIN_USERNAME, "password": password}, fh)
        shutil.rmtree(dist.template, ignore_errors=True)
        out.replace(dist.template)
        log(f"template database ready in {time.monotonic() - t0:.0f} s")
    finally:
        shutil.rmtree(work, ignore_errors=True)
