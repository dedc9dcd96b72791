"""Opening s2p catalogs: the root, its segments, and catalogs federated from other centres."""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Iterator, Mapping
from typing import Any

import fsspec
import yaml
from intake.readers.entry import Catalog, ReaderDescription

from s2p import _paths
from s2p.catalogs._ledger import latest_records
from s2p.catalogs._readers import SubCatalog
from s2p.catalogs._spec import (
    FILE_READER,
    SUB_CATALOG,
    CatalogError,
    EntrySpec,
    check_catalog_dict,
    entry_spec,
)

#: The root catalog shipped with the project (``catalogs/s2p.yaml`` of the source tree).
ROOT_CATALOG = _paths._PROJECT_CATALOG


class S2PCatalog(Catalog):
    """An Intake 2 :class:`~intake.readers.entry.Catalog` whose sub-catalogs open on access.

    ``cat.swe`` (or ``cat["swe"]``) is the space-weather catalog itself rather than a reader of
    it, so entries read as ``s2p.catalog().swe.celestrak_sw.read()``. Everything else is
    Intake's: ``list(cat)``, ``cat.entries``, ``cat.metadata``, ``cat.swe.search("kp")`` (Intake's
    search looks at one catalog; :meth:`find` searches the whole tree).
    """

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._opened: dict[str, S2PCatalog] = {}

    def __getitem__(self, item: str) -> Any:
        # Via __dict__: a copy made without __init__ must not recurse through Catalog.__getattr__.
        opened = self.__dict__.setdefault("_opened", {})
        if item in opened:
            return opened[item]
        out = super().__getitem__(item)
        if isinstance(out, SubCatalog):
            # Opened once per parent: a notebook looping over ``cat[segment]`` parses each file once.
            opened[item] = out.read()
            return opened[item]
        return out

    @property
    def segments(self) -> list[str]:
        """Names of the sub-catalogs (segments and federated centres), in file order."""
        return [
            alias
            for alias, token in self.aliases.items()
            if token in self.entries and self.entries[token].reader == SUB_CATALOG
        ]

    def walk(self, prefix: str = "") -> Iterator[tuple[str, ReaderDescription]]:
        """Yield ``(dotted name, entry)`` for every file entry, descending into sub-catalogs."""
        for alias, token in self.aliases.items():
            entry = self.entries.get(token)
            if entry is None:
                continue
            if entry.reader == SUB_CATALOG:
                yield from self[alias].walk(prefix=f"{prefix}{alias}.")
            else:
                yield f"{prefix}{alias}", entry

    def find(self, text: str) -> list[str]:
        """Dotted names of the entries, in every sub-catalog, whose name or metadata mention ``text``.

        Case-insensitive match at the start of a word in the entry name, description, segment,
        provider, licence and declared variable/column names, e.g. ``s2p.catalog().find("kp")`` →
        ``["swe.celestrak_sw", ...]``.
        """
        import re

        # Whole words (or word prefixes) only: "tle" must find TLE catalogues, not "title".
        pattern = re.compile(r"(?<![a-z0-9])" + re.escape(text.lower()))
        found = []
        for name, entry in self.walk():
            meta = entry.metadata
            fields = [
                name.replace("_", " "),
                str(meta.get("description", "")),
                str(meta.get("segment", "")),
                str((meta.get("provider") or {}).get("name", "")),
                str(meta.get("licence", "")),
                " ".join(meta.get("variables") or {}),
                " ".join(meta.get("columns") or {}),
            ]
            if pattern.search(" ".join(fields).lower()):
                found.append(name)
        return found

    def specs(self) -> list[tuple[str, EntrySpec]]:
        """``(dotted name, EntrySpec)`` of every entry whose files live in the local data folder.

        Used by ``workbench data fetch``; entries with their own ``data_root`` (another centre's
        data, read from its server) are left out.
        """
        out = []
        for name, entry in self.walk():
            if entry.kwargs.get("data_root"):
                continue
            doc = {"kwargs": entry.kwargs, "metadata": entry.metadata}
            source = entry.metadata.get("catalog", "<catalog>")
            out.append((name, entry_spec(name.rsplit(".", 1)[-1], doc, source)))
        return out

    def describe(self) -> Any:
        """One row per file entry: segment, reader, provider, licence, cadence, values (observed,
        predicted, derived, or observed and predicted), files, checksum.

        Returns
        -------
        pandas.DataFrame
            Indexed by the dotted entry name (``swe.celestrak_sw``).
        """
        import pandas as pd

        rows = []
        for name, entry in self.walk():
            meta = entry.metadata
            files = meta.get("files") or []
            rows.append(
                {
                    "entry": name,
                    "segment": meta.get("segment"),
                    "description": meta.get("description"),
                    "reader": entry.kwargs.get("function"),
                    "provider": (meta.get("provider") or {}).get("name"),
                    "provider_url": (meta.get("provider") or {}).get("url"),
                    "licence": meta.get("licence"),
                    "cadence": meta.get("cadence"),
                    "values": meta.get("values"),
                    "files": len(files),
                    "sha256": files[0].get("sha256") if len(files) == 1 else None,
                    "retrieved": max((f.get("retrieved") or "" for f in files), default=None) or None,
                }
            )
        return pd.DataFrame(rows).set_index("entry")


def _load_yaml(url: str, storage_options: Mapping[str, Any]) -> tuple[Any, str]:
    """Text of the catalog at ``url`` parsed as YAML; errors name the file and line."""
    shown = url.removeprefix("file://")
    try:
        of = fsspec.open(url, mode="rt", encoding="utf-8", **storage_options)
        with of as fh:
            text = fh.read()
        parent = of.fs.unstrip_protocol(of.fs._parent(of.path))
    except FileNotFoundError as exc:
        raise CatalogError("catalog file not found", catalog=shown) from exc
    except OSError as exc:
        raise CatalogError(f"could not read the catalog file: {exc}", catalog=shown) from exc
    try:
        return yaml.safe_load(text), parent
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        entry = _entry_at_line(text, mark.line) if mark is not None else None
        raise CatalogError(f"malformed YAML: {where}{problem}", catalog=shown, entry=entry) from exc


def _entry_at_line(text: str, line: int) -> str | None:
    """Name of the entry whose block holds 0-based ``line`` (the file is not valid YAML, so by indent)."""
    name = None
    in_entries = False
    for number, raw in enumerate(text.splitlines()):
        if number > line:
            break
        if raw.startswith("entries:"):
            in_entries = True
            continue
        if raw and not raw[0].isspace() and not raw.startswith("#"):
            in_entries = False
            name = None
        elif in_entries:
            match = re.match(r"^  ([^\s#:][^:]*):", raw)
            if match:
                name = match.group(1).strip("'\"")
    return name


def open_catalog(url: str | os.PathLike[str], storage_options: Mapping[str, Any] | None = None) -> S2PCatalog:
    """Open one s2p catalog file (local path or URL) after checking every entry.

    Parameters
    ----------
    url : str or path
        Catalog file: a path, ``file://``, ``http(s)://`` or any fsspec URL.
    storage_options : dict, optional
        Passed to fsspec when opening ``url``.

    Returns
    -------
    S2PCatalog

    Raises
    ------
    CatalogError
        The file is missing, is not YAML, or an entry is malformed; the message names the file
        and the entry.
    """
    url = os.fspath(url)
    options = dict(storage_options or {})
    doc, parent = _load_yaml(url, options)
    url = url.removeprefix("file://")  # messages and metadata show a local file as a plain path
    check_catalog_dict(doc, url)
    doc = copy.deepcopy(doc)
    for key in ("entries", "aliases", "data", "user_parameters", "metadata"):
        doc[key] = doc.get(key) or {}
    for name, entry in doc["entries"].items():
        entry.setdefault("user_parameters", {})
        entry.setdefault("output_instance", None)
        entry["metadata"]["entry"] = name
        entry["metadata"]["catalog"] = url
        if entry["reader"] == FILE_READER:
            entry["metadata"].setdefault("reader", entry["kwargs"]["function"])
            _show_files(entry)
        # An entry that forgot its alias would be invisible to ``list(cat)``.
        doc["aliases"].setdefault(name, name)
    try:
        cat = S2PCatalog.from_dict(doc)
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        raise CatalogError(f"not a valid Intake 2 catalog: {exc}", catalog=url) from exc
    # The same parameters Intake's own ``Catalog.from_yaml_file`` sets, so templates such as
    # ``{CATALOG_DIR}/swe.yaml`` resolve identically whichever way the file is opened.
    cat.user_parameters["CATALOG_PATH"] = url
    cat.user_parameters["CATALOG_DIR"] = parent
    cat.user_parameters["STORAGE_OPTIONS"] = options
    return cat


def _show_files(entry: dict[str, Any]) -> None:
    """Put the entry's files, with the data folder's newest provenance, into its metadata."""
    files = [dict(f) for f in entry["kwargs"]["files"]]
    if not entry["kwargs"].get("data_root"):
        records = latest_records(_paths.data_dir())
        for item in files:
            record = records.get(item["path"])
            if record:
                for key in ("sha256", "retrieved", "bytes", "url"):
                    if key in record:
                        item[key if key != "url" else "fetched_from"] = record[key]
    entry["metadata"]["files"] = files
    if len(files) == 1:
        entry["metadata"]["sha256"] = files[0].get("sha256")
        entry["metadata"]["retrieved"] = files[0].get("retrieved")


def catalog(
    path: str | os.PathLike[str] | None = None,
    *,
    federate: Mapping[str, str] | None = None,
) -> S2PCatalog:
    """Open the s2p root catalog: the ``swe``, ``debris`` and ``neo`` segments, and partners.

    Parameters
    ----------
    path : str or path, optional
        Root catalog file or URL; default ``WORKBENCH_CATALOG``, else the project's
        ``catalogs/s2p.yaml``, else ``/catalogs/s2p.yaml`` (see :func:`s2p._paths.catalog_path`).
    federate : mapping of str to str, optional
        Extra sub-catalogs by name and URL, e.g. ``{"dlr": "https://dlr.example/s2p.yaml"}``,
        added to those of ``WORKBENCH_CATALOG_FEDERATION`` (``name=url,name=url``).

    Returns
    -------
    S2PCatalog
        ``cat.segments`` lists the sub-catalogs; ``cat.swe.celestrak_sw.read()`` reads an entry.

    Examples
    --------
    >>> import s2p
    >>> cat = s2p.catalog()
    >>> cat.segments
    ['swe', 'debris', 'neo']
    """
    root = path if path is not None else _paths.catalog_path()
    cat = open_catalog(root)
    partners = _federation_from_env()
    partners.update(federate or {})
    for name, url in partners.items():
        if name in cat.aliases:
            raise CatalogError(
                f"federated catalog {name!r} clashes with an existing entry", catalog=str(root)
            )
        cat[name] = ReaderDescription(
            reader=SUB_CATALOG,
            kwargs={"url": url},
            metadata={"description": f"catalog federated from {url}", "federated": True},
            output_instance=SubCatalog.output_instance,
        )
        # Intake adds no alias when the name equals the entry's token; listing goes by aliases.
        cat.aliases[name] = name
    return cat


def _federation_from_env() -> dict[str, str]:
    value = _paths.catalog_federation()
    out = {}
    for item in filter(None, (part.strip() for part in value.split(","))):
        name, sep, url = item.partition("=")
        if not sep or not name.strip() or not url.strip():
            raise CatalogError(
                f"WORKBENCH_CATALOG_FEDERATION item {item!r} is not name=url",
                catalog="WORKBENCH_CATALOG_FEDERATION",
            )
        out[name.strip()] = url.strip()
    return out
