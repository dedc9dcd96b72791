"""Build the lab image from ``images/lab`` with the machine's Docker engine.

The build works with no registry and behind a proxy with its own CA:

1. **Base.** With ``base_image`` unset, a Debian bookworm base with Python is made locally
   (``debootstrap --variant=minbase`` from the machine's own Debian mirror, then ``docker import``)
   and kept as ``s2p/base:bookworm``; an existing base is reused. With a registry, ``base_image`` is
   any image that has ``python3`` (3.11) with ``venv``.
2. **Wheelhouse.** The pinned ``images/lab/requirements.txt`` is downloaded on the *host* with the
   host's pip settings (index, proxy, certificate), for the base image's own interpreter and glibc
   (asked from the image itself), into ``.wheelhouse/lab-<key>``. Inside the image pip only ever sees
   ``--no-index --find-links``: no index URL, certificate or credential enters a layer.
3. **Context.** A staging directory holds the Dockerfile, the wheelhouse (hard links), the
   ``s2p-workbench`` wheel (built reproducibly with a fixed ``SOURCE_DATE_EPOCH`` so an unchanged
   source gives the same bytes), the catalogs (the numba warm-up, ``python -m s2p.warmup``, comes with the wheel). Never the data: it is
   mounted read-only at ``/data`` when a container runs.
4. **Build.** The classic builder with ``--network none``; every layer input is deterministic, the
   build date and commit are labels set by the last instruction, so a rebuild with nothing changed
   is served from the cache.

Run it with ``workbench images build`` (see :mod:`workbench.images.commands`).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

DEFAULT_IMAGE = "s2p-workbench/lab:latest"
"""Tag of the lab image the spawners run unless ``WORKBENCH_IMAGE`` says otherwise."""

LOCAL_BASE = "s2p/base:bookworm"
"""Tag of the base made locally with debootstrap when no ``base_image`` is given."""

DEBIAN_SUITE = "bookworm"
DEBIAN_FALLBACK_MIRROR = "http://deb.debian.org/debian"
BASE_PACKAGES = ("python3", "python3-venv", "ca-certificates")

# Pure-Python distributions that PyPI only has as source archives: built into ``py3-none-any``
# wheels on the host (valid for any interpreter), so the image never compiles anything.
HOST_BUILT_SDISTS = frozenset({"de421"})

# A fixed timestamp for the s2p wheel's zip entries: the same source gives the same bytes, hence
# the same Docker cache key for the layer that installs it (1980-01-01, the zip epoch).
REPRODUCIBLE_EPOCH = "315532800"

Log = Callable[[str], None]


class BuildError(RuntimeError):
    """A step of the image build failed; the message says which and why."""


@dataclass(frozen=True)
class Interpreter:
    """The Python of the base image: what the wheelhouse must be resolved for."""

    python_version: str
    """Full version, e.g. ``"3.11.2"``."""
    glibc: tuple[int, int]
    """glibc (major, minor) of the base, e.g. ``(2, 36)``."""

    @property
    def abi(self) -> str:
        major, minor = self.python_version.split(".")[:2]
        return f"cp{major}{minor}"

    @property
    def platforms(self) -> list[str]:
        """Every manylinux tag this base can run, newest first (pip does not expand them itself)."""
        major, minor = self.glibc
        tags = [f"manylinux_{major}_{m}_x86_64" for m in range(minor, 16, -1)]
        return [*tags, "manylinux2014_x86_64", "manylinux2010_x86_64", "manylinux1_x86_64"]

    def pip_target_args(self) -> list[str]:
        args = ["--only-binary=:all:", "--python-version", self.python_version, "--implementation", "cp"]
        args += ["--abi", self.abi, "--abi", "abi3", "--abi", "none"]
        for tag in self.platforms:
            args += ["--platform", tag]
        return args


@dataclass
class BuildResult:
    """What ``build_lab_image`` did."""

    image: str
    image_id: str
    seconds: float
    base_built: bool
    wheelhouse_downloaded: bool
    steps: int = 0
    cached_steps: int = 0
    log: list[str] = field(default_factory=list, repr=False)


# --------------------------------------------------------------------------------------------- docker


def docker(
    *args: str, check: bool = True, capture: bool = True, **kwargs: object
) -> subprocess.CompletedProcess:
    """Run the ``docker`` CLI (classic builder forced: Debian's engine has no buildx)."""
    env = dict(os.environ, DOCKER_BUILDKIT="0")
    proc = subprocess.run(["docker", *args], capture_output=capture, text=True, env=env, **kwargs)  # type: ignore[call-overload]
    if check and proc.returncode != 0:
        raise BuildError(f"docker {' '.join(args[:3])} failed: {(proc.stderr or '').strip()[-2000:]}")
    return proc


def image_exists(image: str) -> bool:
    """Whether the engine has ``image`` locally."""
    return docker("image", "inspect", image, check=False).returncode == 0


def image_labels(image: str) -> dict[str, str]:
    """The labels of a local image (empty when it has none)."""
    out = docker("image", "inspect", "--format", "{{json .Config.Labels}}", image).stdout
    return json.loads(out) or {}


# ----------------------------------------------------------------------------------------------- base


def debian_mirror(sources: Iterable[Path] | None = None) -> str:
    """The Debian mirror of this machine's apt sources (deb822 or one-line), for ``debootstrap``.

    Returns the first ``deb`` URI serving the ``main`` component of ``bookworm``; the public mirror
    when none is configured.
    """
    if sources is None:
        apt = Path("/etc/apt")
        sources = [apt / "sources.list", *sorted((apt / "sources.list.d").glob("*"))]
    for path in sources:
        try:
            text = path.read_text()
        except OSError:
            continue
        if path.suffix == ".sources":
            for stanza in re.split(r"\n\s*\n", text):
                fields = {}
                for line in stanza.splitlines():
                    key, sep, value = line.partition(":")
                    if sep and not line.startswith(("#", " ", "\t")):
                        fields[key.strip().lower()] = value.strip()
                suites = fields.get("suites", "").split()
                if "deb" in fields.get("types", "").split() and DEBIAN_SUITE in suites:
                    return fields.get("uris", "").split()[0]
        else:
            for line in text.splitlines():
                parts = re.sub(r"\[[^\]]*\]", " ", line.split("#")[0]).split()  # drop [arch=…] options
                if len(parts) >= 4 and parts[0] == "deb" and parts[2] == DEBIAN_SUITE:
                    return parts[1]
    return DEBIAN_FALLBACK_MIRROR


def ensure_local_base(tag: str = LOCAL_BASE, *, mirror: str | None = None, log: Log = print) -> bool:
    """Make the Debian base image with ``debootstrap`` unless ``tag`` exists.

    Returns True when it was built (about a minute), False when the existing image was reused.
    """
    if image_exists(tag):
        log(f"base {tag}: present, reused")
        return False
    if shutil.which("debootstrap") is None:
        raise BuildError(
            "debootstrap is not installed (apt-get install debootstrap), and no base image given"
        )
    mirror = mirror or debian_mirror()
    log(f"base {tag}: debootstrap {DEBIAN_SUITE} from {mirror}")
    with tempfile.TemporaryDirectory(prefix="s2p-base-") as tmp:
        rootfs = Path(tmp) / "rootfs"
        cmd = ["debootstrap", "--variant=minbase", f"--include={','.join(BASE_PACKAGES)}", DEBIAN_SUITE]
        proc = subprocess.run([*cmd, str(rootfs), mirror], capture_output=True, text=True)
        if proc.returncode != 0:
            raise BuildError(f"debootstrap failed: {proc.stdout[-1500:]}{proc.stderr[-1500:]}")
        # apt lists and caches are only needed while bootstrapping
        for junk in ("var/cache/apt/archives", "var/lib/apt/lists"):
            for item in (rootfs / junk).glob("*"):
                if item.is_file():
                    item.unlink()
        tar = subprocess.Popen(
            ["tar", "-C", str(rootfs), "--numeric-owner", "-c", "."], stdout=subprocess.PIPE
        )
        imp = docker("import", "--change", "ENV LANG=C.UTF-8", "-", tag, stdin=tar.stdout)
        tar.wait()
        if tar.returncode != 0:
            raise BuildError(f"tar of the base rootfs failed ({tar.returncode})")
    log(f"base {tag}: imported {imp.stdout.strip()[:19]}")
    return True


def ensure_base(base_image: str | None, *, log: Log = print) -> tuple[str, bool]:
    """The base to build on: ``base_image`` (pulled when absent) or the local debootstrap base."""
    if not base_image:
        return LOCAL_BASE, ensure_local_base(log=log)
    if not image_exists(base_image):
        log(f"base {base_image}: pulling")
        docker("pull", base_image, capture=False)
    return base_image, False


def probe_interpreter(base: str) -> Interpreter:
    """Ask the base image for its Python version and glibc (a container with no network)."""
    code = "import platform; print(platform.python_version(), platform.libc_ver()[1])"
    out = docker("run", "--rm", "--network", "none", "--entrypoint", "python3", base, "-c", code).stdout
    version, glibc = out.split()
    major, minor = (int(x) for x in glibc.split(".")[:2])
    return Interpreter(version, (major, minor))


# ----------------------------------------------------------------------------------------- wheelhouse


def _pip(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    # The host's pip (this interpreter's), with the host's configuration: index, proxy, CA.
    cmd = [sys.executable, "-m", "pip", "--disable-pip-version-check", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise BuildError(f"pip {args[0]} failed:\n{proc.stderr.strip()[-3000:]}")
    return proc


def read_pins(requirements: Path) -> dict[str, str]:
    """``{normalised name: version}`` of a pinned requirements file (``name[extra]==version`` lines)."""
    pins: dict[str, str] = {}
    for raw in requirements.read_text().splitlines():
        line = raw.split("#")[0].strip()
        if not line:
            continue
        m = re.fullmatch(r"([A-Za-z0-9._-]+)(\[[^\]]*\])?\s*==\s*([^\s;]+)", line)
        if m is None:
            raise BuildError(f"{requirements}: not a pinned requirement: {raw!r}")
        pins[normalise(m.group(1))] = m.group(3)
    return pins


def normalise(name: str) -> str:
    """PEP 503 normalised project name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def ensure_wheelhouse(
    requirements: Path, interp: Interpreter, *, cache: Path, log: Log = print, name: str = "lab"
) -> tuple[Path, bool]:
    """Download the pinned requirements for the image's interpreter into ``cache/<name>-<key>``.

    The key hashes the requirements and the target interpreter, so an unchanged set is reused
    without asking any index. Returns the directory and whether anything was downloaded.
    """
    pins = read_pins(requirements)
    key = hashlib.sha256(requirements.read_bytes() + repr(interp).encode()).hexdigest()[:12]
    house = cache / f"{name}-{key}"
    stamp = house / ".complete"
    if stamp.exists():
        log(f"wheelhouse {house.name}: complete, reused ({len(pins)} pins)")
        return house, False
    house.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    for name in sorted(HOST_BUILT_SDISTS & pins.keys()):
        _pip("wheel", "--quiet", "--no-deps", f"{name}=={pins[name]}", "-w", str(house))
    # Every dependency is pinned, so no resolution is needed: --no-deps keeps it to one request each.
    _pip(
        "download",
        "--quiet",
        "--no-deps",
        *interp.pip_target_args(),
        "--find-links",
        str(house),
        "-d",
        str(house),
        "-r",
        str(requirements),
    )
    stamp.write_text(json.dumps({"interpreter": repr(interp), "pins": len(pins)}))
    for stale in cache.glob(f"{name}-*"):
        if stale != house and stale.is_dir():
            shutil.rmtree(stale, ignore_errors=True)
    log(f"wheelhouse {house.name}: {len(pins)} distributions in {time.monotonic() - t0:.0f} s")
    return house, True


def compile_requirements(
    source: Path, target: Path, interp: Interpreter, *, log: Log = print
) -> dict[str, str]:
    """Resolve the unpinned ``requirements.in`` into a pinned ``requirements.txt`` for ``interp``.

    pip resolves for the image's interpreter and platform (not the host's) with ``--dry-run
    --report``; the report's versions are written one ``name==version`` per line.
    """
    with tempfile.TemporaryDirectory(prefix="s2p-compile-") as tmp:
        links = Path(tmp) / "links"
        links.mkdir()
        wanted = _requested_names(source)
        for name in sorted(HOST_BUILT_SDISTS & wanted):
            _pip("wheel", "--quiet", "--no-deps", name, "-w", str(links))
        report = Path(tmp) / "report.json"
        args = ["install", "--quiet", "--dry-run", "--ignore-installed", "--report", str(report)]
        args += [*interp.pip_target_args(), "--target", str(Path(tmp) / "unused"), "--find-links", str(links)]
        _pip(*args, "-r", str(source))
        installs = json.loads(report.read_text())["install"]
    pins = {item["metadata"]["name"]: item["metadata"]["version"] for item in installs}
    lines = [
        "# Pinned for the lab image's interpreter: CPython "
        f"{interp.python_version}, glibc {interp.glibc[0]}.{interp.glibc[1]}, x86_64.",
        f"# Compiled from {source.name} by `workbench images compile`; do not edit by hand.",
        *(f"{name}=={version}" for name, version in sorted(pins.items(), key=lambda kv: normalise(kv[0]))),
    ]
    target.write_text("\n".join(lines) + "\n")
    log(f"{target}: {len(pins)} pins")
    return pins


def _requested_names(source: Path) -> set[str]:
    names = set()
    for raw in source.read_text().splitlines():
        line = raw.split("#")[0].strip()
        if line:
            names.add(normalise(re.split(r"[\[=<>!~;\s]", line, maxsplit=1)[0]))
    return names


# ---------------------------------------------------------------------------------------- s2p wheel

_SOURCE_ITEMS = ("pyproject.toml", "README.md", "libs", "hub")
_SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "*.nbi", "*.nbc", ".mypy_cache")


def _source_digest(root: Path) -> str:
    h = hashlib.sha256()
    for item in _SOURCE_ITEMS:
        path = root / item
        files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        for f in files:
            rel = f.relative_to(root).as_posix()
            if "__pycache__" in rel or rel.endswith((".pyc", ".nbi", ".nbc")) or ".egg-info" in rel:
                continue
            h.update(rel.encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def build_project_wheel(root: Path, cache: Path, *, log: Log = print) -> Path:
    """The ``s2p-workbench`` wheel of the current source, built once per source digest.

    Built from a clean copy (stale ``build/`` trees can't leak in) with a fixed
    ``SOURCE_DATE_EPOCH``, so equal sources give byte-identical wheels.
    """
    digest = _source_digest(root)
    out = cache / f"wheel-{digest}"
    wheels = sorted(out.glob("*.whl"))
    if wheels:
        log(f"s2p wheel: {wheels[0].name} ({digest}) reused")
        return wheels[0]
    with tempfile.TemporaryDirectory(prefix="s2p-wheel-") as tmp:
        src = Path(tmp) / "src"
        src.mkdir()
        for item in _SOURCE_ITEMS:
            path = root / item
            if path.is_dir():
                shutil.copytree(path, src / item, ignore=_SKIP)
            else:
                shutil.copy2(path, src / item)
        env = dict(os.environ, SOURCE_DATE_EPOCH=REPRODUCIBLE_EPOCH)
        out.mkdir(parents=True, exist_ok=True)
        _pip("wheel", "--quiet", "--no-deps", str(src), "-w", str(out), env=env)
    for stale in cache.glob("wheel-*"):
        if stale != out:
            shutil.rmtree(stale, ignore_errors=True)
    wheel = sorted(out.glob("*.whl"))[0]
    log(f"s2p wheel: built {wheel.name} ({digest})")
    return wheel


# -------------------------------------------------------------------------------------------- context


def _link_or_copy(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def stage_context(root: Path, staging: Path, wheelhouse: Path, wheel: Path) -> Path:
    """Assemble the build context: Dockerfile, requirements, wheelhouse, s2p wheel, catalogs, examples."""
    if staging.exists():
        shutil.rmtree(staging)
    lab = root / "images" / "lab"
    (staging / "wheelhouse").mkdir(parents=True)
    (staging / "dist").mkdir()
    for name in ("Dockerfile", "requirements.txt"):
        shutil.copy2(lab / name, staging / name)
    for whl in sorted(wheelhouse.glob("*.whl")):
        _link_or_copy(whl, staging / "wheelhouse" / whl.name)
    _link_or_copy(wheel, staging / "dist" / wheel.name)
    catalogs = root / "catalogs"
    if catalogs.is_dir():
        shutil.copytree(catalogs, staging / "catalogs", ignore=_SKIP)
    else:
        (staging / "catalogs").mkdir()
    # What a new user finds in the lab, as with the local spawner: the example notebooks (copied into
    # each new home volume by Docker, which seeds an empty named volume from the image) and the lab
    # settings of this offline deployment (JupyterLab's news prompt off).
    examples = root / "notebooks" / "examples"
    if examples.is_dir():
        shutil.copytree(examples, staging / "examples", ignore=_SKIP)
    else:
        (staging / "examples").mkdir()
    shutil.copytree(root / "hub" / "workbench" / "labconfig", staging / "jupyter-config", ignore=_SKIP)
    return staging


def _project_version(root: Path) -> str:
    return str(tomllib.loads((root / "pyproject.toml").read_text())["project"]["version"])


def _git_revision(root: Path) -> str:
    proc = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True)
    if proc.returncode != 0:
        return "unknown"
    dirty = subprocess.run(
        [
            "git",
            "-C",
            str(root),
            "status",
            "--porcelain",
            "--",
            *_SOURCE_ITEMS,
            "images",
            "catalogs",
            "notebooks",
        ],
        capture_output=True,
        text=True,
    )
    return proc.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def docker_build(
    args: Sequence[str], context: Path, result: BuildResult, log: Log, *, network: str = "none"
) -> None:
    """One classic ``docker build``; counts steps and cache hits into ``result``.

    ``network`` is ``none`` for the lab image (it needs nothing from outside, and proves it) and ``host``
    for the service images, whose apt step reaches the Debian mirror.
    """
    cmd = ["docker", "build", "--network", network, "--pull=false", *args, str(context)]
    env = dict(os.environ, DOCKER_BUILDKIT="0")
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env) as proc:
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = raw.rstrip()
            result.log.append(line)
            if re.match(r"Step \d+/\d+ :", line):
                result.steps += 1
            elif "Using cache" in line:
                result.cached_steps += 1
            log(line)
    if proc.returncode != 0:
        tail = "\n".join(result.log[-30:])
        raise BuildError(
            f"docker build of {context.name} failed (exit {proc.returncode}); last lines:\n{tail}"
        )


def build_lab_image(
    image: str = DEFAULT_IMAGE,
    *,
    base_image: str | None = None,
    root: Path = ROOT,
    log: Log = print,
    extra_args: Sequence[str] = (),
    cache_dir: Path | None = None,
    wheelhouse_dir: Path | None = None,
) -> BuildResult:
    """Build the lab image; every step reuses its cache when its inputs are unchanged.

    Parameters
    ----------
    image
        Tag of the image to build, e.g. ``"s2p/lab:latest"``.
    base_image
        An image with Python 3.11 to build on; None makes (or reuses) the local debootstrap base.
    root
        The project checkout (Dockerfile in ``images/lab``, catalogs in ``catalogs``).
    log
        Receives one line per step and the engine's output.
    extra_args
        More ``docker build`` arguments (e.g. ``--no-cache``).
    cache_dir, wheelhouse_dir
        Where the staging context and s2p wheel, and the wheelhouses, are kept (default
        ``root/.cache/images`` and ``root/.wheelhouse``); a build from a fresh clone can share them.

    Returns
    -------
    BuildResult
        The image id, the wall time [s] and how many build steps came from the cache.
    """
    t0 = time.monotonic()
    cache = cache_dir or root / ".cache" / "images"
    base, base_built = ensure_base(base_image, log=log)
    interp = probe_interpreter(base)
    log(f"base interpreter: CPython {interp.python_version}, glibc {interp.glibc[0]}.{interp.glibc[1]}")
    house, downloaded = ensure_wheelhouse(
        root / "images" / "lab" / "requirements.txt",
        interp,
        cache=wheelhouse_dir or root / ".wheelhouse",
        log=log,
    )
    wheel = build_project_wheel(root, cache, log=log)
    staging = stage_context(root, cache / "lab-context", house, wheel)
    created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    build_args = {
        "BASE_IMAGE": base,
        "VERSION": _project_version(root),
        "REVISION": _git_revision(root),
        "CREATED": created,
    }
    result = BuildResult(image, "", 0.0, base_built, downloaded)
    # The dependencies' stage is tagged too, so `docker image prune` can't drop the expensive
    # layer's cache (the classic builder leaves a finished stage untagged, i.e. "dangling").
    repo, _, tag = image.rpartition(":")
    venv_tag = f"{repo if repo and '/' not in tag else image}:build-venv"
    venv_args = ["--target", "venv", "-t", venv_tag, "--build-arg", f"BASE_IMAGE={base}"]
    docker_build([*venv_args, *extra_args], staging, result, log)
    args = ["-t", image]
    for k, v in build_args.items():
        args += ["--build-arg", f"{k}={v}"]
    docker_build([*args, *extra_args], staging, result, log)
    result.image_id = docker("image", "inspect", "--format", "{{.Id}}", image).stdout.strip()
    result.seconds = time.monotonic() - t0
    log(
        f"{image}: {result.image_id[:19]} in {result.seconds:.0f} s ({result.cached_steps}/{result.steps} steps cached)"
    )
    return result
