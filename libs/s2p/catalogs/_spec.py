"""The shape of an s2p catalog file, checked before Intake sees it.

Intake 2 reads a catalog file by trusting its keys (``Tokenizable.from_dict`` copies them into
objects), so a typo surfaces much later as an ``AttributeError`` far from the file. Here every
entry is checked once, at open time, and an error names the catalog file and the entry.

An s2p catalog file is an ordinary Intake 2 catalog (``version: 2``; ``entries``, ``aliases``,
``data``, ``user_parameters``, ``metadata``) whose entries use one of two reader classes:

- :class:`s2p.catalogs.S2PFileReader` — calls an ``s2p`` reader function (``kwargs.function``)
  on one or more ``kwargs.files``; each file has a ``path`` below the data root, the provider's
  ``url``, its ``sha256``, ``bytes`` and ``retrieved`` date;
- :class:`s2p.catalogs.SubCatalog` — another catalog file, local or at an ``http(s)`` URL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from s2p.errors import S2PError

FILE_READER = "s2p.catalogs:S2PFileReader"
SUB_CATALOG = "s2p.catalogs:SubCatalog"
READERS = (FILE_READER, SUB_CATALOG)

SEGMENTS = ("swe", "debris", "neo")
CONTENT_KINDS = ("fixed", "updating")
# What the values of an entry are, so that observed and predicted values are never mixed silently:
# ``observed`` (measurements), ``predicted`` (forecasts, computed future events), ``derived`` (fits,
# catalogues, estimates made from observations) or ``observed and predicted`` (both in one file: the
# entry's ``values_marker`` says how to tell them apart).
VALUE_KINDS = ("observed", "predicted", "derived", "observed and predicted")

# Metadata every file entry must carry: scientists see it in the catalog browser, and the fetch
# command needs ``content`` to decide between verifying and recording a checksum.
REQUIRED_METADATA = ("description", "segment", "provider", "licence", "cadence", "content")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class CatalogError(S2PError, ValueError):
    """A catalog file or entry that cannot be used.

    The message always starts with the catalog file, then the entry (when one is concerned).
    """

    def __init__(self, reason: str, *, catalog: str, entry: str | None = None):
        self.reason = reason
        self.catalog = catalog
        self.entry = entry
        where = catalog if entry is None else f"{catalog}, entry {entry!r}"
        super().__init__(f"{where}: {reason}")


@dataclass(frozen=True)
class FileSpec:
    """One data file of an entry, as recorded in the catalog."""

    path: str  #: relative to the data root, POSIX separators
    url: str  #: the provider's URL for this file
    sha256: str | None  #: checksum of the shipped (or last fetched) bytes
    retrieved: str | None  #: ISO date the recorded bytes were retrieved
    bytes: int | None  #: size of the recorded bytes


@dataclass(frozen=True)
class EntrySpec:
    """What the fetch command and the tests need to know about one file entry."""

    name: str
    catalog: str  #: the catalog file it was read from
    segment: str
    function: str  #: dotted name of the reader function, e.g. ``s2p.spaceweather.read_celestrak``
    content: str  #: ``fixed`` (checksum verified) or ``updating`` (new checksum recorded)
    files: tuple[FileSpec, ...]
    options: dict[str, Any] = field(default_factory=dict, compare=False)  #: extra reader kwargs
    metadata: dict[str, Any] = field(default_factory=dict, compare=False)


def check_catalog_dict(doc: Any, source: str) -> None:
    """Raise :class:`CatalogError` unless ``doc`` is a well-formed s2p catalog mapping."""
    if not isinstance(doc, dict):
        raise CatalogError(f"expected a mapping at the top level, found {type(doc).__name__}", catalog=source)
    if doc.get("version") != 2:
        raise CatalogError(
            f"expected 'version: 2' (an Intake 2 catalog), found {doc.get('version')!r}", catalog=source
        )
    for key in ("entries", "aliases", "data", "user_parameters", "metadata"):
        if not isinstance(doc.get(key, {}), dict):
            raise CatalogError(f"'{key}' must be a mapping", catalog=source)
    entries = doc.get("entries") or {}
    for name, entry in entries.items():
        check_entry(name, entry, source)
    aliases = doc.get("aliases") or {}
    for alias, target in aliases.items():
        if target not in entries:
            raise CatalogError(f"alias points to unknown entry {target!r}", catalog=source, entry=alias)


def check_entry(name: str, entry: Any, source: str) -> None:
    """Raise :class:`CatalogError` naming ``name`` and ``source`` when ``entry`` is malformed."""

    def fail(reason: str) -> CatalogError:
        return CatalogError(reason, catalog=source, entry=name)

    if not isinstance(entry, dict):
        raise fail(f"expected a mapping, found {type(entry).__name__}")
    reader = entry.get("reader")
    if reader not in READERS:
        raise fail(f"'reader' must be one of {', '.join(READERS)}; found {reader!r}")
    kwargs = entry.get("kwargs")
    metadata = entry.get("metadata")
    if not isinstance(kwargs, dict):
        raise fail("'kwargs' must be a mapping")
    if not isinstance(metadata, dict):
        raise fail("'metadata' must be a mapping")
    if reader == SUB_CATALOG:
        if not isinstance(kwargs.get("url"), str):
            raise fail("a sub-catalog needs 'kwargs.url' (path or URL of the catalog file)")
        return
    function = kwargs.get("function")
    if not isinstance(function, str) or "." not in function:
        raise fail(f"'kwargs.function' must be a dotted reader name, found {function!r}")
    missing = [key for key in REQUIRED_METADATA if key not in metadata]
    if missing:
        raise fail(f"metadata lacks {', '.join(missing)}")
    if metadata["segment"] not in SEGMENTS:
        raise fail(f"metadata.segment must be one of {SEGMENTS}, found {metadata['segment']!r}")
    if metadata["content"] not in CONTENT_KINDS:
        raise fail(f"metadata.content must be one of {CONTENT_KINDS}, found {metadata['content']!r}")
    if "values" in metadata:
        if metadata["values"] not in VALUE_KINDS:
            raise fail(f"metadata.values must be one of {VALUE_KINDS}, found {metadata['values']!r}")
        if (
            metadata["values"] == "observed and predicted"
            and not str(metadata.get("values_marker") or "").strip()
        ):
            raise fail(
                "metadata.values is 'observed and predicted': say in metadata.values_marker how to tell them apart"
            )
    files = kwargs.get("files")
    if not isinstance(files, list) or not files:
        raise fail("'kwargs.files' must be a non-empty list")
    for i, item in enumerate(files):
        _check_file(item, f"kwargs.files[{i}]", fail)
    combine = kwargs.get("combine", "single")
    if combine not in ("single", "list"):
        raise fail(f"'kwargs.combine' must be 'single' or 'list', found {combine!r}")
    if combine == "single" and len(files) != 1:
        raise fail(f"combine 'single' needs exactly one file, found {len(files)}")


def _check_file(item: Any, where: str, fail: Any) -> None:
    if not isinstance(item, dict):
        raise fail(f"{where} must be a mapping")
    path = item.get("path")
    if not isinstance(path, str) or not path or path.startswith("/") or ".." in path.split("/"):
        raise fail(f"{where}.path must be a relative path inside the data root, found {path!r}")
    url = item.get("url")
    if not isinstance(url, str) or not re.match(r"^https?://", url):
        raise fail(f"{where} ({path}): 'url' must be the provider's http(s) URL, found {url!r}")
    sha = item.get("sha256")
    if sha is not None and not (isinstance(sha, str) and _SHA256.match(sha)):
        raise fail(f"{where} ({path}): 'sha256' must be 64 lowercase hex digits, found {sha!r}")
    date = item.get("retrieved")
    if date is not None and not (isinstance(date, str) and _DATE.match(date)):
        raise fail(f"{where} ({path}): 'retrieved' must be an ISO date YYYY-MM-DD, found {date!r}")


def entry_spec(name: str, entry: dict[str, Any], source: str) -> EntrySpec:
    """Build the :class:`EntrySpec` of a checked file entry."""
    kwargs, metadata = entry["kwargs"], entry["metadata"]
    files = tuple(
        FileSpec(
            path=f["path"],
            url=f["url"],
            sha256=f.get("sha256"),
            retrieved=f.get("retrieved"),
            bytes=f.get("bytes"),
        )
        for f in kwargs["files"]
    )
    return EntrySpec(
        name=name,
        catalog=source,
        segment=metadata["segment"],
        function=kwargs["function"],
        content=metadata["content"],
        files=files,
        options=dict(kwargs.get("options") or {}),
        metadata=metadata,
    )
