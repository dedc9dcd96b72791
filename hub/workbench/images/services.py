"""Build the production stack's images: ``hub``, ``keycloak``, ``postgres``, ``front`` (TLS) and
``prometheus``.

Each lives in ``images/<name>/`` and is built on the same locally made Debian base as the lab image
(:func:`workbench.images.build.ensure_local_base`); the hub image on top of the lab image itself
(same Python environment, same JupyterHub as the labs it spawns). A staging folder per image holds its
Dockerfile and only what it needs:

- ``hub``: the hub's extra pins and their wheelhouse (resolved on the host for the image's
  interpreter, as for the lab), the host's Node.js 20 binary (:data:`NODE_MAJOR`), the
  project-local ``node_modules`` (configurable-http-proxy) and the project's sources.
- ``keycloak``: the Keycloak distribution zip of :mod:`workbench.keycloak.distribution` (fetched with
  Maven into its cache outside the repository when missing), the realm file.
- ``postgres``, ``front``, ``prometheus``: their Dockerfile and scripts only.

The Debian packages (JRE, PostgreSQL, nginx, Prometheus, Node's C++ runtime) come from the machine's Debian
mirror: those builds run with ``--network host`` (the apt step is the only one that reaches out) and pin
every package version, so a rebuild with nothing changed is served from the cache in seconds.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

from workbench.images import build
from workbench.images.build import BuildError, BuildResult, Log

IMAGE_NAMES = ("lab", "hub", "keycloak", "postgres", "front", "prometheus")
"""Every image ``workbench images build`` makes, in build order (the hub is built on the lab)."""

SERVICE_IMAGES = IMAGE_NAMES[1:]
JSONLOG_IMAGES = ("keycloak", "postgres", "front", "prometheus")
"""Images whose program runs under ``images/common/s2p-jsonlog`` (its output in the log schema)."""

NODE_MAJOR = 20
"""Node.js release line of the hub image: configurable-http-proxy 5 needs Node >= 20 and Debian bookworm
ships 18, so the image takes the host's ``node`` binary (the one ``make install`` runs the proxy with;
its exact version is the image's ``org.s2p.workbench.node`` label)."""

DEBIAN_SECURITY_FALLBACK = "http://deb.debian.org/debian-security"

_SOURCES = ("pyproject.toml", "README.md", "hub", "libs", "catalogs", "notebooks", "voila-apps")


def tag(name: str) -> str:
    """The tag of image ``name``, e.g. ``s2p-workbench/hub:latest``."""
    return f"s2p-workbench/{name}:latest"


def _copy_image_dir(root: Path, name: str, staging: Path) -> None:
    if staging.exists():
        shutil.rmtree(staging)
    shutil.copytree(root / "images" / name, staging, ignore=shutil.ignore_patterns("README.md"))
    if name in JSONLOG_IMAGES:
        shutil.copy2(root / "images" / "common" / "s2p-jsonlog", staging / "s2p-jsonlog")


def _stage_hub(root: Path, staging: Path, wheelhouse_dir: Path, node_modules: Path, log: Log) -> str:
    interp = build.probe_interpreter(build.LOCAL_BASE)
    house, _ = build.ensure_wheelhouse(
        root / "images" / "hub" / "requirements.txt", interp, cache=wheelhouse_dir, log=log, name="hub"
    )
    (staging / "wheelhouse").mkdir()
    for whl in sorted(house.glob("*.whl")):
        build._link_or_copy(whl, staging / "wheelhouse" / whl.name)
    node = shutil.which("node")
    version = ""
    if node:
        version = subprocess.run([node, "--version"], capture_output=True, text=True).stdout.strip()
    if node is None or not version.startswith(f"v{NODE_MAJOR}."):
        raise BuildError(
            f"the hub image takes this host's Node.js {NODE_MAJOR} (configurable-http-proxy 5 needs it); "
            f"found {node or 'no node'} {version}: install Node.js {NODE_MAJOR} as for `make install`"
        )
    (staging / "node").mkdir()
    shutil.copy2(node, staging / "node" / "node")
    if not (node_modules / "configurable-http-proxy").is_dir():
        raise BuildError(f"{node_modules} has no configurable-http-proxy: run `make install` first")
    shutil.copytree(node_modules, staging / "node_modules", symlinks=True)
    src = staging / "src"
    src.mkdir()
    for item in _SOURCES:
        path = root / item
        if path.is_dir():
            shutil.copytree(path, src / item, ignore=build._SKIP)
        elif path.exists():
            shutil.copy2(path, src / item)
    (src / "deploy" / "keycloak").mkdir(parents=True)
    shutil.copy2(root / "deploy" / "keycloak" / "realm-s2p.json", src / "deploy" / "keycloak")
    return version


def _stage_keycloak(root: Path, staging: Path, keycloak_cache: Path | None, log: Log) -> str:
    from workbench.keycloak import distribution

    if keycloak_cache is None:
        from workbench.settings import Settings

        keycloak_cache = Settings.from_env({}).keycloak_cache
    try:
        zip_file = distribution.fetch(keycloak_cache, log=log)
    except Exception as exc:  # the Maven download's own error says what failed
        raise BuildError(f"Keycloak distribution: {exc}") from exc
    build._link_or_copy(zip_file, staging / "keycloak.zip")
    shutil.copy2(root / "deploy" / "keycloak" / "realm-s2p.json", staging / "realm-s2p.json")
    return distribution.KEYCLOAK_VERSION


def _security_mirror(mirror: str) -> str:
    if mirror.rstrip("/").endswith("/debian"):
        return mirror.rstrip("/") + "-security"
    return DEBIAN_SECURITY_FALLBACK


def build_service_image(
    name: str,
    *,
    root: Path = build.ROOT,
    log: Log = print,
    extra_args: tuple[str, ...] = (),
    cache_dir: Path | None = None,
    wheelhouse_dir: Path | None = None,
    node_modules: Path | None = None,
    keycloak_cache: Path | None = None,
    lab_image: str = build.DEFAULT_IMAGE,
) -> BuildResult:
    """Build ``images/<name>`` (one of :data:`SERVICE_IMAGES`) and tag it :func:`tag` (name).

    Parameters
    ----------
    name
        ``hub``, ``keycloak``, ``postgres``, ``front`` or ``prometheus``.
    root
        The project checkout.
    log
        Receives one line per step and the engine's output.
    extra_args
        More ``docker build`` arguments (e.g. ``--no-cache``).
    cache_dir, wheelhouse_dir, node_modules, keycloak_cache
        Staging and download caches (defaults: ``root/.cache/images``, ``root/.wheelhouse``,
        ``root/node_modules``, the ``WORKBENCH_KEYCLOAK_CACHE`` default); a fresh clone can share the
        checkout's.
    lab_image
        The lab image the hub image is built on (it must exist: build ``lab`` first).

    Returns
    -------
    BuildResult
        The image id, the wall time [s] and how many build steps came from the cache.
    """
    if name not in SERVICE_IMAGES:
        raise BuildError(f"unknown image {name!r}: choose one of {', '.join(IMAGE_NAMES)}")
    t0 = time.monotonic()
    cache = cache_dir or root / ".cache" / "images"
    base, base_built = build.ensure_base(None, log=log)
    staging = cache / f"{name}-context"
    _copy_image_dir(root, name, staging)
    mirror = build.debian_mirror()
    args = {
        "BASE_IMAGE": base,
        "DEBIAN_MIRROR": mirror,
        "DEBIAN_SECURITY": _security_mirror(mirror),
    }
    if name == "hub":
        if not build.image_exists(lab_image):
            raise BuildError(f"the hub image is built on {lab_image}, which is missing: build `lab` first")
        args["LAB_IMAGE"] = lab_image
        args["NODE_VERSION"] = _stage_hub(
            root,
            staging,
            wheelhouse_dir or root / ".wheelhouse",
            node_modules or root / "node_modules",
            log,
        )
    elif name == "keycloak":
        args["KEYCLOAK_VERSION"] = _stage_keycloak(root, staging, keycloak_cache, log)
    args["VERSION"] = build._project_version(root)
    args["REVISION"] = build._git_revision(root)
    image = tag(name)
    result = BuildResult(image, "", 0.0, base_built, False)
    cmd = ["-t", image]
    for key, value in args.items():
        cmd += ["--build-arg", f"{key}={value}"]
    log(f"{image}: building ({datetime.now(UTC):%H:%M:%S} UTC)")
    build.docker_build([*cmd, *extra_args], staging, result, log, network="host")
    result.image_id = build.docker("image", "inspect", "--format", "{{.Id}}", image).stdout.strip()
    result.seconds = time.monotonic() - t0
    log(
        f"{image}: {result.image_id[:19]} in {result.seconds:.0f} s "
        f"({result.cached_steps}/{result.steps} steps cached)"
    )
    return result


def build_images(
    names: tuple[str, ...] = IMAGE_NAMES, *, log: Log = print, **kwargs: object
) -> dict[str, BuildResult]:
    """Build ``names`` in :data:`IMAGE_NAMES` order (the lab before the hub); ``kwargs`` as above."""
    results: dict[str, BuildResult] = {}
    lab_kwargs = {
        k: v for k, v in kwargs.items() if k in {"root", "cache_dir", "wheelhouse_dir", "extra_args"}
    }
    for name in IMAGE_NAMES:
        if name not in names:
            continue
        if name == "lab":
            results[name] = build.build_lab_image(build.DEFAULT_IMAGE, log=log, **lab_kwargs)  # type: ignore[arg-type]
        else:
            results[name] = build_service_image(name, log=log, **kwargs)  # type: ignore[arg-type]
    return results
