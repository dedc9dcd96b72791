"""Input plumbing shared by the readers: path, text or open file in; lines and a source name out."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import IO, Any

from s2p.errors import ParseError


def read_text(source: Any) -> tuple[str, str]:
    """Return ``(text, name)`` for a path, a string of file content, bytes, or an open file.

    A ``str`` is taken as a path when it has no newline and names an existing file, else as content.
    """
    if isinstance(source, bytes):
        return source.decode("utf-8", errors="replace"), "<bytes>"
    if isinstance(source, os.PathLike) or (
        isinstance(source, str) and "\n" not in source and len(source) < 4096 and Path(source).is_file()
    ):
        path = Path(source)
        return path.read_text(encoding="utf-8", errors="replace"), str(path)
    if isinstance(source, str):
        if "\n" not in source and " " not in source and ("/" in source or "\\" in source):
            # looks like a path, not like content: say so instead of "cannot parse line 1"
            from s2p.errors import DataNotFoundError

            raise DataNotFoundError(f"no such file: {source}")
        return source, "<text>"
    if isinstance(source, io.IOBase) or hasattr(source, "read"):
        f: IO[Any] = source
        data = f.read()
        if isinstance(data, bytes):
            data = data.decode("utf-8", errors="replace")
        return data, str(getattr(f, "name", "<file>"))
    raise TypeError(f"cannot read {type(source).__name__}: give a path, text or an open file")


def field_float(
    line: str, start: int, stop: int, what: str, name: str, lineno: int, blank: float | None = None
) -> float:
    """Float from columns ``[start, stop)`` (0-based), or ParseError naming the field and the line."""
    raw = line[start:stop].strip()
    if not raw:
        if blank is not None:
            return blank
        raise ParseError(f"{what} (columns {start + 1}-{stop}) is blank", source=name, line=lineno, text=line)
    try:
        return float(raw)
    except ValueError:
        raise ParseError(
            f"{what} (columns {start + 1}-{stop}) is not a number: {raw!r}",
            source=name,
            line=lineno,
            text=line,
        ) from None


def after_header(lines: list[str], name: str, *, reason: str = "no END_OF_HEADER line") -> int:
    """Index of the first line after the ``END_OF_HEADER`` line of an OrbFit file (``.oef``, ``.rwo``).

    Raises :class:`ParseError` at line 1, with ``reason``, when the file has no such line.
    """
    for i, line in enumerate(lines):
        if line.strip() == "END_OF_HEADER":
            return i + 1
    raise ParseError(reason, source=name, line=1, text=lines[0] if lines else None)
