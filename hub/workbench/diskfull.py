"""How the workbench recognises a full disk in an error, and the status it answers then.

Used by the jobs service, the labs (:mod:`workbench.labstorage`) and the hub's error page: a write
that found no space is refused with ``507 Insufficient Storage`` and a sentence saying so, never with
a bare 500.
"""

from __future__ import annotations

import errno

STORAGE_FULL = 507
"""HTTP 507 Insufficient Storage (RFC 4918)."""

_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
_FULL_WORDS = ("No space left on device", "disk is full", "Disk quota exceeded")


def is_full(exc: BaseException | None) -> bool:
    """Whether ``exc`` or one of its causes says the disk is full (the OS's ENOSPC/EDQUOT, or SQLite's)."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in _FULL_ERRNOS:
            return True
        if any(words in str(exc) for words in _FULL_WORDS):
            return True
        exc = exc.__cause__ or exc.__context__
    return False
