"""Intake catalogs over the segment data: ``s2p.catalog()``.

The catalog files live in the project's ``catalogs/`` folder: ``s2p.yaml`` (root) includes
``swe.yaml``, ``debris.yaml`` and ``neo.yaml``, and can include other centres' catalogs by URL.
They are ordinary Intake 2 catalogs (``intake.readers``, ``version: 2``), so
``intake.from_yaml_file("catalogs/s2p.yaml")`` opens them too; :func:`catalog` adds checks with
clear errors, opens sub-catalogs on access, and shows each file's checksum and retrieval date.

Settings (read by :mod:`s2p._paths`): ``WORKBENCH_DATA_DIR`` (data root),
``WORKBENCH_DATA_LIVE=1`` (read from the providers' URLs through a local cache),
``WORKBENCH_DATA_BASE_URL`` (mirror for the providers' URLs), ``WORKBENCH_DATA_CACHE`` (cache
folder), ``WORKBENCH_CATALOG`` (another root), ``WORKBENCH_CATALOG_FEDERATION`` (``name=url,...``).
"""

from __future__ import annotations

from s2p.catalogs._catalog import ROOT_CATALOG, S2PCatalog, catalog, open_catalog
from s2p.catalogs._ledger import LEDGER_NAME, append_records, latest_records
from s2p.catalogs._readers import (
    TRUSTED_FUNCTION_PREFIXES,
    S2PFileReader,
    SubCatalog,
    cached_local_path,
    import_function,
    rewrite_url,
)
from s2p.catalogs._spec import CatalogError, EntrySpec, FileSpec

__all__ = [
    "LEDGER_NAME",
    "ROOT_CATALOG",
    "TRUSTED_FUNCTION_PREFIXES",
    "CatalogError",
    "EntrySpec",
    "FileSpec",
    "S2PCatalog",
    "S2PFileReader",
    "SubCatalog",
    "append_records",
    "cached_local_path",
    "catalog",
    "import_function",
    "latest_records",
    "open_catalog",
    "rewrite_url",
]
