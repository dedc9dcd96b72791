"""Refresh the data folder from the providers' URLs: ``workbench data fetch``.

For every file of the selected catalog entries:

1. download the provider's URL (or its mirror under ``--base-url``) into a temporary file *in the
   destination folder* (so the final rename stays on one file system), hashing as it goes and
   showing a progress bar; a transfer shorter than the announced ``Content-Length`` is an error;
2. retry transport failures (connection reset, truncated body, HTTP 5xx/429) with exponential
   back-off;
3. verify: a ``fixed`` entry must match the sha256 the catalog records; an ``updating`` entry
   must still parse with the entry's own reader (a provider's HTML error page served with
   status 200 must never replace good data), and its new checksum is recorded;
4. ``fsync`` the temporary file, ``os.replace`` it over the old one and ``fsync`` the folder.

Whatever fails, the previous file is left untouched and the temporary file is removed. Each
changed file is appended to ``<data dir>/provenance.jsonl`` (read back by the catalog) and to the
"Fetch log" of ``<data dir>/PROVENANCE.md``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests
import urllib3
from tqdm import tqdm

from s2p.catalogs import EntrySpec, FileSpec, append_records, import_function, rewrite_url

CHUNK_BYTES = 1 << 16
FETCH_LOG_HEADING = "## Fetch log"
# HTTP statuses worth retrying: the provider is busy or briefly broken, not refusing the request.
RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


class FetchError(Exception):
    """One file could not be fetched; the old file (if any) was kept."""


class _Transient(FetchError):
    """A failure that another attempt may not repeat."""


@dataclass(frozen=True)
class FetchResult:
    """What happened to one file."""

    entry: str  #: dotted entry name, e.g. ``swe.celestrak_sw``
    path: str  #: relative to the data folder
    url: str  #: the URL actually downloaded
    status: str  #: ``added``, ``updated``, ``unchanged``, ``verified`` (fixed, not downloaded) or ``failed``
    old_sha256: str | None
    new_sha256: str | None
    bytes: int | None
    message: str = ""

    @property
    def changed(self) -> bool:
        return self.status in {"added", "updated"}


@dataclass(frozen=True)
class FetchOptions:
    """How to fetch: mirror, retries, time-outs, verification."""

    base_url: str | None = None
    retries: int = 3  #: further attempts after the first
    backoff_s: float = 1.0  #: first back-off delay [s], doubled at each retry
    timeout_s: float = 60.0  #: connect/read time-out per request [s]
    force: bool = False  #: download fixed files even when the local copy already verifies
    validate: bool = True  #: parse updated files with the entry's reader before accepting them
    progress: bool = True


def sha256_of(path: Path) -> str | None:
    """Hex sha256 of a file, or ``None`` when it does not exist."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(CHUNK_BYTES), b""):
                digest.update(block)
    except FileNotFoundError:
        return None
    return digest.hexdigest()


def fetch_entries(
    specs: Iterable[tuple[str, EntrySpec]],
    data_dir: Path,
    options: FetchOptions | None = None,
    *,
    session: requests.Session | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> list[FetchResult]:
    """Fetch every file of ``specs`` (pairs of dotted name and entry) into ``data_dir``.

    Returns one :class:`FetchResult` per file; failures are reported, not raised, so that one
    broken provider does not stop the others. New provenance is recorded for changed files.
    """
    options = options or FetchOptions()
    data_dir = Path(data_dir)
    session = session or requests.Session()
    results = []
    for name, spec in specs:
        for item in spec.files:
            results.append(fetch_file(name, spec, item, data_dir, options, session=session, sleep=sleep))
    record_provenance(data_dir, results)
    return results


def fetch_file(
    name: str,
    spec: EntrySpec,
    item: FileSpec,
    data_dir: Path,
    options: FetchOptions,
    *,
    session: requests.Session,
    sleep: Callable[[float], None] = time.sleep,
) -> FetchResult:
    """Fetch one file of an entry; never raises for a download or verification failure."""
    dest = data_dir / item.path
    url = rewrite_url(item.url, options.base_url)
    old = sha256_of(dest)
    if spec.content == "fixed" and item.sha256 and old == item.sha256 and not options.force:
        return FetchResult(name, item.path, url, "verified", old, old, dest.stat().st_size)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp, new, size = _download_with_retries(url, dest, options, session=session, sleep=sleep)
    except FetchError as exc:
        return FetchResult(name, item.path, url, "failed", old, None, None, f"{exc}; kept the existing file")
    except OSError as exc:  # the data folder is not writable, or the disk is full
        return FetchResult(
            name, item.path, url, "failed", old, None, None, f"cannot write into {dest.parent}: {exc}"
        )
    try:
        # Same bytes as the file in place: nothing to verify or replace (a fixed file that differs
        # from the catalog's checksum is still reported by _verify).
        if new == old and spec.content == "updating":
            return FetchResult(name, item.path, url, "unchanged", old, new, size)
        _verify(spec, item, tmp, new, options)
        if new == old:
            return FetchResult(name, item.path, url, "unchanged", old, new, size)
        _replace(tmp, dest)
    except FetchError as exc:
        return FetchResult(name, item.path, url, "failed", old, new, size, f"{exc}; kept the existing file")
    except OSError as exc:
        return FetchResult(name, item.path, url, "failed", old, new, size, f"cannot replace {dest}: {exc}")
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return FetchResult(name, item.path, url, "added" if old is None else "updated", old, new, size)


def _download_with_retries(
    url: str,
    dest: Path,
    options: FetchOptions,
    *,
    session: requests.Session,
    sleep: Callable[[float], None],
) -> tuple[Path, str, int]:
    attempts = options.retries + 1
    for attempt in range(attempts):
        # The temporary file keeps the destination's name at its end, so extensions that readers
        # look at (``.gz``) survive verification.
        fd, name = tempfile.mkstemp(dir=dest.parent, prefix=".fetch-", suffix=f"-{dest.name}")
        tmp = Path(name)
        try:
            with os.fdopen(fd, "wb") as fh:
                digest, size = _download(url, fh, options, session, desc=dest.name)
                fh.flush()
                os.fsync(fh.fileno())
            return tmp, digest, size
        except _Transient as exc:
            tmp.unlink(missing_ok=True)
            if attempt + 1 == attempts:
                raise FetchError(f"{exc} (after {attempts} attempts)") from exc
            sleep(options.backoff_s * 2**attempt)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    raise AssertionError("unreachable")  # pragma: no cover


def _download(
    url: str, fh: Any, options: FetchOptions, session: requests.Session, desc: str
) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    total = None
    try:
        # ``identity``: the bytes on disk must be the provider's bytes, and ``Content-Length``
        # must count them, so no transparent compression.
        headers = {"Accept-Encoding": "identity", "User-Agent": "s2p-workbench-data-fetch"}
        with session.get(url, stream=True, timeout=options.timeout_s, headers=headers) as response:
            if response.status_code in RETRY_STATUSES:
                raise _Transient(f"{url} answered HTTP {response.status_code}")
            if response.status_code != 200:
                raise FetchError(f"{url} answered HTTP {response.status_code}")
            announced = response.headers.get("Content-Length", "")
            total = int(announced) if announced.isdigit() else None
            with tqdm(
                total=total, unit="B", unit_scale=True, desc=desc, disable=not options.progress, leave=False
            ) as bar:
                for block in response.iter_content(CHUNK_BYTES):
                    fh.write(block)
                    digest.update(block)
                    size += len(block)
                    bar.update(len(block))
    except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:
        # Connection refused or reset, time-out, or a body cut before its Content-Length.
        raise _Transient(f"download of {url} failed after {size} bytes: {exc}") from exc
    # A body that ends early without a protocol error is caught here.
    if total is not None and size != total:
        raise _Transient(f"download of {url} is incomplete: got {size} of {total} bytes")
    return digest.hexdigest(), size


def _verify(spec: EntrySpec, item: FileSpec, tmp: Path, new: str, options: FetchOptions) -> None:
    if spec.content == "fixed":
        if item.sha256 and new != item.sha256:
            raise FetchError(
                f"checksum mismatch for {item.path}: downloaded sha256 {new}, the catalog records {item.sha256}"
            )
        return
    if not options.validate:
        return
    try:
        reader = import_function(spec.function, entry=spec.name, catalog=spec.catalog)
    except Exception:
        # The segment's reader is not installed here: the checksum is still recorded, and the
        # summary says the file was not parsed.
        return
    try:
        reader(str(tmp), **spec.options)
    except Exception as exc:
        raise FetchError(f"the downloaded {item.path} does not parse with {spec.function}: {exc}") from exc


def _replace(tmp: Path, dest: Path) -> None:
    os.replace(tmp, dest)
    # The rename is durable only once the directory entry is on disk.
    dir_fd = os.open(dest.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def record_provenance(data_dir: Path, results: list[FetchResult], now: datetime | None = None) -> None:
    """Append the changed files to ``provenance.jsonl`` and to PROVENANCE.md's fetch log."""
    changed = [r for r in results if r.changed]
    if not changed:
        return
    now = now or datetime.now(UTC)
    stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    append_records(
        data_dir,
        [
            {
                "path": r.path,
                "entry": r.entry,
                "url": r.url,
                "sha256": r.new_sha256,
                "bytes": r.bytes,
                "retrieved": now.date().isoformat(),
                "fetched_at": stamp,
                "previous_sha256": r.old_sha256,
            }
            for r in changed
        ],
    )
    provenance = data_dir / "PROVENANCE.md"
    try:
        text = provenance.read_text(encoding="utf-8")
    except FileNotFoundError:
        text = "# Provenance of the data in this folder\n"
    lines = [] if FETCH_LOG_HEADING in text else ["", FETCH_LOG_HEADING, ""]
    lines += [
        f"- {stamp} `{r.path}` ({r.entry}) {r.status} from <{r.url}>, sha256 `{r.new_sha256}`, {r.bytes} bytes"
        for r in changed
    ]
    with open(provenance, "a", encoding="utf-8") as fh:
        if not text.endswith("\n"):
            fh.write("\n")
        fh.write("\n".join(lines) + "\n")


def summary(results: list[FetchResult]) -> str:
    """Human summary: one line per file that changed or failed, then the counts."""
    out = []
    for r in results:
        if r.status == "failed":
            out.append(f"FAILED     {r.entry}  {r.path}\n           {r.message}")
        elif r.changed:
            before = (r.old_sha256 or "-")[:12]
            out.append(
                f"{r.status:<10} {r.entry}  {r.path}  sha256 {before} -> {(r.new_sha256 or '')[:12]}  ({r.bytes} bytes)"
            )
    counts: dict[str, int] = {}
    for r in results:
        counts[r.status] = counts.get(r.status, 0) + 1
    order = ("added", "updated", "unchanged", "verified", "failed")
    out.append(", ".join(f"{counts[k]} {k}" for k in order if k in counts) or "nothing to fetch")
    return "\n".join(out)
