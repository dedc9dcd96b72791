"""``workbench images …``: build the lab and stack images, compile the lab's pinned requirements."""

from __future__ import annotations

import argparse
import sys

from workbench.images import build, services

BUILD_DESCRIPTION = """\
Build the workbench's images: all of them, or the one named. `lab` is what the docker and swarm
spawners run (JupyterLab, the hub's single-user server, Voila, papermill, dask and the s2p library,
numba cache warmed, user jovyan); `hub` (on top of `lab`), `keycloak`, `postgres` and `front` (nginx,
TLS) make the production stack (deploy/swarm/stack.yaml, `workbench stack deploy`).

The lab image:

Steps, each cached so a rebuild with nothing changed takes seconds:
  1. the base: --base-image when given, else a local Debian image made with debootstrap and
     `docker import` (no registry needed);
  2. a wheelhouse resolved on this host for the image's Python, with this host's pip settings
     (proxy, CA, index) — none of them enters the image;
  3. `docker build --network none` from a staging folder (Dockerfile, wheels, catalogs; the data
     is not copied: the spawners mount it read-only at /data).
"""


def _default_image() -> str:
    # The tag the spawners run: WORKBENCH_IMAGE through the platform settings when they exist.
    try:
        from workbench.settings import Settings

        return str(Settings.from_env().image) or build.DEFAULT_IMAGE
    except (ImportError, ValueError):
        return build.DEFAULT_IMAGE


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``images build`` and ``images compile`` to the ``workbench`` CLI."""
    images = subparsers.add_parser("images", help="build the lab and production stack container images")
    sub = images.add_subparsers(dest="images_command", metavar="ACTION")

    p = sub.add_parser(
        "build",
        help="build the images (local Debian base, host-resolved wheelhouse; cached)",
        description=BUILD_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "name",
        nargs="?",
        choices=services.IMAGE_NAMES,
        help="the one image to build (default: all, the lab first)",
    )
    p.add_argument(
        "--image",
        default=None,
        help=f"tag of the lab image (default: WORKBENCH_IMAGE or {build.DEFAULT_IMAGE})",
    )
    p.add_argument(
        "--base-image",
        default=None,
        help=f"an image with Python 3.11 to build on; default: make {build.LOCAL_BASE} with debootstrap",
    )
    p.add_argument("--if-missing", action="store_true", help="do nothing when the image already exists")
    p.add_argument("--no-cache", action="store_true", help="rebuild every layer")
    p.set_defaults(handler=_build)

    c = sub.add_parser(
        "compile", help="pin images/lab/requirements.in into requirements.txt for the image's Python"
    )
    c.add_argument("--base-image", default=None, help="base whose interpreter to resolve for")
    c.set_defaults(handler=_compile)
    images.set_defaults(handler=lambda args: images.print_help() or 2)


def _build(args: argparse.Namespace) -> int:
    names = (args.name,) if args.name else services.IMAGE_NAMES
    extra = ["--no-cache"] if args.no_cache else []
    lab = args.image or _default_image()
    try:
        for name in names:
            image = lab if name == "lab" else services.tag(name)
            if args.if_missing and build.image_exists(image):
                print(f"{image}: present")
                continue
            if name == "lab":
                build.build_lab_image(image, base_image=args.base_image, extra_args=extra)
            else:
                services.build_service_image(name, extra_args=tuple(extra), lab_image=lab)
    except build.BuildError as exc:
        print(f"workbench images build: {exc}", file=sys.stderr)
        return 1
    return 0


def _compile(args: argparse.Namespace) -> int:
    lab = build.ROOT / "images" / "lab"
    base, _ = build.ensure_base(args.base_image)
    interp = build.probe_interpreter(base)
    build.compile_requirements(lab / "requirements.in", lab / "requirements.txt", interp)
    return 0
