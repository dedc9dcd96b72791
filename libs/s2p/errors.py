"""The one exception tree of the s2p library.

Every reader raises :class:`ParseError` for bad input; it names the file (or ``<text>``), the
1-based line number and what was expected, so that a user can open the file and fix it.
"""

from __future__ import annotations


class S2PError(Exception):
    """Base class of every error raised on purpose by ``s2p``."""


class ParseError(S2PError, ValueError):
    """Input that a reader cannot accept.

    Parameters
    ----------
    reason : str
        What is wrong and what was expected, e.g. ``"checksum 7 != computed 3"``.
    source : str, optional
        File name, or ``"<text>"`` for in-memory input.
    line : int, optional
        1-based line number of the offending line.
    text : str, optional
        The offending line itself (shown shortened).
    """

    def __init__(
        self, reason: str, *, source: str | None = None, line: int | None = None, text: str | None = None
    ):
        self.reason = reason
        self.source = source
        self.line = line
        self.text = text
        super().__init__(self._format())

    def _format(self) -> str:
        where = self.source or "<input>"
        if self.line is not None:
            where = f"{where}, line {self.line}"
        msg = f"{where}: {self.reason}"
        if self.text is not None:
            shown = self.text.rstrip("\n")
            if len(shown) > 100:
                shown = shown[:97] + "..."
            msg += f"\n    {shown!r}"
        return msg


class DataNotFoundError(S2PError, FileNotFoundError):
    """A catalog entry or reader could not find its data file."""
