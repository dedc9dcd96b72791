"""The two Intake reader classes that s2p catalog entries use.

:class:`S2PFileReader` calls an ``s2p`` reader function (named by its dotted path in the catalog,
e.g. ``s2p.spaceweather.read_celestrak``) on the entry's file(s). The function is imported only
when the entry is read, so a catalog opens even while a segment is still being written, and a
missing reader is reported against the entry that needs it.

Where the bytes come from is decided at read time, not when the catalog is opened:

- by default, ``<data root>/<path>`` where the data root is ``WORKBENCH_DATA_DIR`` (or the
  project's ``data/``), see :func:`s2p._paths.data_dir`;
- with ``live=True`` (or ``WORKBENCH_DATA_LIVE=1``), the provider's URL, fetched over HTTP by
  fsspec into a local ``filecache`` that expires with the entry's update cadence, optionally
  through a mirror (``WORKBENCH_DATA_BASE_URL``);
- a catalog published by another centre sets ``data_root`` to a URL; its files go through the
  same cache.

:class:`SubCatalog` opens another catalog file (local path or URL): segments, and federation.
"""

from __future__ import annotations

import hashlib
import importlib
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import fsspec
from fsspec.implementations.cache_mapper import AbstractCacheMapper
from intake.readers.readers import BaseReader

from s2p import _paths
from s2p.catalogs._spec import CatalogError
from s2p.errors import DataNotFoundError

# Only these callables may be named by a catalog entry. A catalog can come from another centre
# over HTTP; without this list, an entry could name any importable callable (``os.system``) and
# have it called on a string of its choosing.
TRUSTED_FUNCTION_PREFIXES = ("s2p.", "pandas.read_", "xarray.open_dataset")

# Seconds a live file stays fresh in the local cache, by the provider's update cadence. A fixed
# file never expires (0 means "no expiry" to fsspec).
_CADENCE_SECONDS = {
    "fixed": 0,
    "hourly": 3600,
    "3-hourly": 3 * 3600,
    "8-hourly": 8 * 3600,
    "daily": 86400,
    "weekly": 7 * 86400,
    "monthly": 30 * 86400,
    "yearly": 365 * 86400,
}


class _NamedHashMapper(AbstractCacheMapper):
    """Cache file name = hash of the URL + its basename.

    fsspec's default mapper keeps only the hash, which loses the extension that some readers use
    to recognise compression (``.gz``); its basename mapper collides on provider URLs that
    differ only in the query (``gp.php?GROUP=stations`` vs ``GROUP=geo``). Both are kept here.
    """

    def __call__(self, path: str) -> str:
        digest = hashlib.sha256(path.encode()).hexdigest()[:24]
        base = re.sub(r"[^A-Za-z0-9._-]+", "_", path.rstrip("/").rsplit("/", 1)[-1])[-80:]
        return f"{digest}-{base}"


def rewrite_url(url: str, base_url: str | None) -> str:
    """Replace the scheme and host of ``url`` by ``base_url``, keeping the path and query.

    ``rewrite_url("https://celestrak.org/SpaceData/SW-All.txt", "http://127.0.0.1:8080/mirror")``
    gives ``"http://127.0.0.1:8080/mirror/SpaceData/SW-All.txt"``. With ``base_url=None`` the URL
    is returned unchanged.
    """
    if not base_url:
        return url
    src = urlsplit(url)
    base = urlsplit(base_url.rstrip("/"))
    return urlunsplit((base.scheme, base.netloc, base.path + src.path, src.query, ""))


def cached_local_path(url: str, *, expiry_s: int = 0, cache_dir: Path | None = None) -> str:
    """Local file holding the bytes at ``url``, downloaded through fsspec's ``filecache``.

    Parameters
    ----------
    url : str
        ``http(s)`` (or any fsspec) URL.
    expiry_s : int
        Seconds after which a cached copy is fetched again; 0 keeps it for ever [s].
    cache_dir : Path, optional
        Cache folder; default :func:`s2p._paths.data_cache_dir`.
    """
    storage = Path(cache_dir) if cache_dir is not None else _paths.data_cache_dir()
    storage.mkdir(parents=True, exist_ok=True)
    # ``fsspec.open`` rather than ``open_local``: the latter globs, and a provider's query string
    # (``gp.php?GROUP=geo``) contains the glob character ``?``.
    opened = fsspec.open(
        f"filecache::{url}",
        mode="rb",
        filecache={
            "cache_storage": str(storage),
            "expiry_time": expiry_s,
            "cache_mapper": _NamedHashMapper(),
        },
    )
    with opened as fh:
        return str(fh.name)


def import_function(name: str, *, entry: str, catalog: str) -> Any:
    """Import the reader function ``name`` (dotted path) for ``entry`` of ``catalog``."""
    if not name.startswith(TRUSTED_FUNCTION_PREFIXES):
        raise CatalogError(
            f"reader {name!r} is not trusted (allowed: {', '.join(TRUSTED_FUNCTION_PREFIXES)})",
            catalog=catalog,
            entry=entry,
        )
    # Both spellings: ``s2p.spaceweather.read_celestrak`` and Intake's ``s2p.spaceweather:read_celestrak``.
    module_name, _, attr = name.rpartition(":") if ":" in name else name.rpartition(".")
    try:
        module = importlib.import_module(module_name)
        return getattr(module, attr)
    except (ImportError, AttributeError) as exc:
        raise CatalogError(f"reader {name} is not available: {exc}", catalog=catalog, entry=entry) from exc


class S2PFileReader(BaseReader):
    """Read an s2p catalog entry: call ``function`` on the entry's file(s).

    Keyword arguments (from the catalog's ``kwargs``; any can be overridden in ``read``)
    ---------------------------------------------------------------------------------
    function : str
        Dotted name of the reader, e.g. ``"s2p.spaceweather.read_celestrak"``.
    files : list of dict
        Each with ``path`` (below the data root) and the provider's ``url``.
    options : dict, optional
        Extra keyword arguments for ``function``.
    combine : {"single", "list"}
        ``single``: one file, return the reader's result; ``list``: a list of results.
    data_root : str, optional
        Folder or URL the paths are relative to; default :func:`s2p._paths.data_dir`.
    live : bool, optional
        Read from the provider's URL instead; default :func:`s2p._paths.live_sources`.
    base_url : str, optional
        Mirror for live reads; default :func:`s2p._paths.data_base_url`.
    """

    output_instance = "builtins:object"

    def __call__(self, *args: Any, **kwargs: Any) -> S2PFileReader:
        # BaseReader.__call__ drops the metadata; an entry without it loses its provenance.
        kw = {**self.kwargs, **kwargs}
        if args:
            kw["args"] = args
        return type(self)(metadata=self.metadata, output_instance=self.output_instance, **kw)

    # -- where the bytes are -------------------------------------------------------------
    def _where(self) -> tuple[str, str]:
        return self.metadata.get("catalog", "<catalog>"), self.metadata.get("entry", "<entry>")

    def local_paths(
        self,
        files: list[dict[str, Any]],
        *,
        data_root: str | None = None,
        live: bool | None = None,
        base_url: str | None = None,
    ) -> list[str]:
        """Local file names to hand to the reader function (downloading when live)."""
        catalog, entry = self._where()
        live = _paths.live_sources() if live is None else bool(live)
        expiry = _CADENCE_SECONDS.get(str(self.metadata.get("cadence", "")), 86400)
        out = []
        for item in files:
            if live:
                url = rewrite_url(item["url"], base_url if base_url is not None else _paths.data_base_url())
                out.append(self._fetch(url, expiry, item["path"]))
                continue
            root = str(data_root) if data_root else str(_paths.data_dir())
            if re.match(r"^[a-z][a-z0-9+.-]*://", root) and not root.startswith("file://"):
                out.append(self._fetch(f"{root.rstrip('/')}/{item['path']}", expiry, item["path"]))
                continue
            local = Path(root.removeprefix("file://")) / item["path"]
            if not local.is_file():
                raise DataNotFoundError(
                    f"{catalog}, entry {entry!r}: data file {local} does not exist "
                    f"(data root {root}; set WORKBENCH_DATA_DIR, or run "
                    f"`workbench data fetch --entry {entry}`)"
                )
            out.append(str(local))
        return out

    def _fetch(self, url: str, expiry: int, path: str) -> str:
        catalog, entry = self._where()
        try:
            return cached_local_path(url, expiry_s=expiry)
        except (OSError, ValueError) as exc:
            raise DataNotFoundError(
                f"{catalog}, entry {entry!r}: could not read {path} from {url}: {exc}"
            ) from exc

    # -- reading -------------------------------------------------------------------------
    def _read(
        self,
        function: str,
        files: list[dict[str, Any]],
        options: dict[str, Any] | None = None,
        combine: str = "single",
        data_root: str | None = None,
        live: bool | None = None,
        base_url: str | None = None,
        **extra: Any,
    ) -> Any:
        catalog, entry = self._where()
        func = import_function(function, entry=entry, catalog=catalog)
        paths = self.local_paths(files, data_root=data_root, live=live, base_url=base_url)
        kwargs = {**(options or {}), **extra}
        results = []
        for path in paths:
            try:
                results.append(self._label(func(path, **kwargs)))
            except Exception as exc:
                # Keep the reader's own error (it names the file and line) and say which entry.
                exc.add_note(f"while reading catalog entry {entry!r} of {catalog}")
                raise
        return results if combine == "list" else results[0]

    def _label(self, result: Any) -> Any:
        """Fill in the catalog's units and provenance where the reader did not set them."""
        meta = self.metadata
        provenance = {
            "catalog_entry": str(meta.get("entry", "")),
            "provider_url": str((meta.get("provider") or {}).get("url", "")),
            "licence": str(meta.get("licence", "")),
        }
        variables = meta.get("variables") or {}
        columns = meta.get("columns") or {}
        import pandas as pd
        import xarray as xr

        if isinstance(result, xr.Dataset | xr.DataArray):
            result.attrs.update({k: v for k, v in provenance.items() if k not in result.attrs})
            if isinstance(result, xr.Dataset):
                for name, spec in variables.items():
                    if name in result.variables and "units" in spec:
                        result[name].attrs.setdefault("units", spec["units"])
            return result
        if isinstance(result, pd.DataFrame):
            for key, value in provenance.items():
                result.attrs.setdefault(key, value)
            units = dict(result.attrs.get("units") or {})
            for name, spec in columns.items():
                if name in result.columns and "units" in spec:
                    units.setdefault(name, spec["units"])
            if units:
                result.attrs["units"] = units
        return result


class SubCatalog(BaseReader):
    """A catalog inside a catalog: a segment file, or another centre's catalog by URL.

    ``read()`` returns an :class:`s2p.catalogs.S2PCatalog`; an :class:`S2PCatalog` parent does that
    for you on item access, so ``s2p.catalog().swe`` is the space-weather catalog itself.
    """

    output_instance = "intake.readers.entry:Catalog"

    def _read(self, url: str, storage_options: dict[str, Any] | None = None, **_: Any) -> Any:
        from s2p.catalogs._catalog import open_catalog

        return open_catalog(url, storage_options=storage_options)
