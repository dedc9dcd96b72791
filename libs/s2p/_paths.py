"""Where the shipped data lives.

The library runs inside lab containers as well as on the host, so it has its own tiny lookup rather
than depending on the platform's settings: ``WORKBENCH_DATA_DIR`` when set, else the project's
``data/`` folder (a source checkout), else ``/data`` (the lab image's read-only mount).
"""

from __future__ import annotations

import os
from pathlib import Path

_PROJECT_DATA = Path(__file__).resolve().parents[2] / "data"


def data_dir() -> Path:
    """Return the root folder of the segment data."""
    env = os.environ.get("WORKBENCH_DATA_DIR")
    if env:
        return Path(env).expanduser()  # set in env files and k8s specs, where no shell expands "~"
    if _PROJECT_DATA.is_dir():
        return _PROJECT_DATA
    return Path("/data")


def live_sources() -> bool:
    """Whether catalog entries read from their providers' URLs instead of the local files.

    ``WORKBENCH_DATA_LIVE=1`` (or ``true``/``yes``/``on``) switches every entry of
    :func:`s2p.catalog` to its provider's URL, read over HTTP through an fsspec local cache.
    """
    return os.environ.get("WORKBENCH_DATA_LIVE", "").strip().lower() in {"1", "true", "yes", "on"}


def data_base_url() -> str | None:
    """Mirror that replaces the scheme and host of every provider URL (``WORKBENCH_DATA_BASE_URL``).

    Used by live reads and by ``workbench data fetch`` so that a site (or a test) can serve the
    providers' files from its own server under the providers' URL paths.
    """
    return os.environ.get("WORKBENCH_DATA_BASE_URL") or None


def data_cache_dir() -> Path:
    """Local cache of files read live from providers (``WORKBENCH_DATA_CACHE``).

    Defaults to ``$XDG_CACHE_HOME/s2p`` (``~/.cache/s2p``).
    """
    env = os.environ.get("WORKBENCH_DATA_CACHE")
    if env:
        return Path(env).expanduser()  # set in env files and k8s specs, where no shell expands "~"
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "s2p"


_PROJECT_CATALOG = Path(__file__).resolve().parents[2] / "catalogs" / "s2p.yaml"


def catalog_path() -> str:
    """The root catalog: ``WORKBENCH_CATALOG`` when set, else the project's ``catalogs/s2p.yaml``
    (a source checkout), else ``/catalogs/s2p.yaml`` (the lab image's copy beside ``/data``)."""
    env = os.environ.get("WORKBENCH_CATALOG")
    if env:
        return env
    if _PROJECT_CATALOG.is_file():
        return str(_PROJECT_CATALOG)
    return "/catalogs/s2p.yaml"


def catalog_federation() -> str:
    """Other centres' catalogs to include, ``name=url,name=url`` (``WORKBENCH_CATALOG_FEDERATION``)."""
    return os.environ.get("WORKBENCH_CATALOG_FEDERATION", "")
