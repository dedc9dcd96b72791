"""Turning a reader's ``source`` argument into bytes, and splitting those bytes into lines.

Every reader accepts a path (``str`` or :class:`os.PathLike`), the file's text (a ``str`` holding at
least one newline), raw ``bytes`` or an open binary/text file. Gzip input is recognised by its magic
bytes, not by the file name, so ``.gz`` files renamed by a download tool still open.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path
from typing import Any

import numpy as np

from s2p.errors import ParseError

_GZIP_MAGIC = b"\x1f\x8b"
# Files saved by Windows editors (and text pasted from them) may start with a UTF-8 byte-order mark;
# no provider format starts with it, and left in place it breaks the header check of line 1.
_UTF8_BOM = b"\xef\xbb\xbf"


def read_bytes(source: Any) -> tuple[bytes, str]:
    """Return ``(content, name)`` for any accepted source; gzip is decompressed."""
    if isinstance(source, bytes | bytearray | memoryview):
        data, name = bytes(source), "<bytes>"
    elif isinstance(source, str) and ("\n" in source or "\r" in source):
        data, name = source.lstrip("\ufeff").encode("latin-1", errors="replace"), "<text>"
    elif isinstance(source, str | os.PathLike):
        path = Path(source).expanduser()  # "~/..." as pandas and xarray accept it
        name = str(path)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise  # a missing file is not bad input: keep the standard exception
        except OSError as exc:  # a directory, a permission problem...
            raise ParseError(f"cannot read: {exc}", source=name) from exc
    elif hasattr(source, "read"):
        raw = source.read()
        if isinstance(raw, str):
            data = raw.lstrip("\ufeff").encode("latin-1", errors="replace")
        else:
            data = bytes(raw)
        name = str(getattr(source, "name", "<file>"))
    else:
        raise TypeError(f"expected a path, text, bytes or an open file, got {type(source).__name__}")
    if data[:2] == _GZIP_MAGIC:
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise ParseError(f"corrupt gzip stream: {exc}", source=name) from exc
    if data[:3] == _UTF8_BOM:
        data = data[3:]
    return data, name


class Lines:
    """Line offsets of a byte buffer: ``starts[i]:ends[i]`` is line ``i + 1`` without its CR/LF."""

    def __init__(self, data: bytes, name: str):
        self.data = data
        self.name = name
        self.buf = np.frombuffer(data, dtype=np.uint8)
        nl = np.flatnonzero(self.buf == 10)
        starts = np.concatenate(([0], nl + 1))
        ends = np.concatenate((nl, [len(data)]))
        if len(starts) > 1 and starts[-1] == len(data):  # file ends with a newline: no empty last line
            starts, ends = starts[:-1], ends[:-1]
        # CRLF files (CelesTrak ships them) are common: strip the CR so fixed columns line up.
        has_cr = np.zeros(len(ends), dtype=bool)  # an empty buffer: one empty line, no byte to look at
        if len(data):
            has_cr = (ends > starts) & (self.buf[np.maximum(ends - 1, 0)] == 13)
        ends = ends - has_cr
        self.starts = starts.astype(np.int64)
        self.ends = ends.astype(np.int64)

    def __len__(self) -> int:
        return len(self.starts)

    def text(self, i: int) -> str:
        """Line ``i`` (0-based) as text."""
        return self.data[self.starts[i] : self.ends[i]].decode("latin-1")

    def line_of_offset(self, offset: int) -> int:
        """0-based index of the line holding byte ``offset``."""
        return int(np.searchsorted(self.starts, offset, side="right") - 1)

    def error(self, i: int, reason: str) -> ParseError:
        """A :class:`ParseError` pointing at line ``i`` (0-based)."""
        return ParseError(reason, source=self.name, line=int(i) + 1, text=self.text(int(i)))
