"""The hub's SQLite database on a full disk: reads go on, writes fail with a clear page.

JupyterHub records the "last activity" of the token or cookie of a request (at most every
``activity_resolution`` seconds) and commits it before it has even decided who the caller is. On a
full state disk that commit fails, and JupyterHub then treats the request as anonymous: a logged-in
user is sent to a login that cannot complete, and every API token looks invalid (services answer
"authentication required"). :func:`guard_activity_writes` makes the hub skip those bookkeeping
writes while the database's filesystem is nearly full, so authenticated requests keep working;
writes that matter (a first login, a new token, a server's state) still fail, and the hub shows
``templates/500.html``, which says the storage is full. When space is freed, everything is written
again as before: nothing is lost but some "last activity" times.

Only for a SQLite database: with PostgreSQL (``WORKBENCH_DB_URL``) the database's disk is not the
hub's to watch.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import event, inspect
from sqlalchemy.orm import Session, attributes

LOW_SPACE_BYTES = 1 << 20
"""Below this much free space [bytes] on the database's filesystem, activity times are not written."""

ACTIVITY = frozenset({"last_activity"})


def sqlite_path(db_url: str) -> Path | None:
    """The file of a ``sqlite:///`` URL (None for other databases and in-memory ones)."""
    if not db_url.startswith("sqlite:///") or ":memory:" in db_url:
        return None
    return Path(db_url[len("sqlite:///") :].split("?", 1)[0])


def free_bytes(path: Path) -> int:
    """Free space for an unprivileged writer on the filesystem of ``path`` (its folder) [bytes]."""
    st = os.statvfs(path if path.is_dir() else path.parent)
    return st.f_bavail * st.f_frsize


def _changed(obj: Any) -> set[str]:
    return {a.key for a in inspect(obj).attrs if a.history.has_changes()}


class ActivityGuard:
    """A ``before_flush`` listener: drop flushes that only move activity times when space is low."""

    def __init__(self, db_file: Path, low_space: int = LOW_SPACE_BYTES) -> None:
        self.db_file = db_file
        self.low_space = low_space
        self.skipped = 0

    def __call__(self, session: Session, flush_context: Any, instances: Any) -> None:
        if session.new or session.deleted or not session.dirty:
            return
        dirty = list(session.dirty)
        if any(not _changed(obj) <= ACTIVITY for obj in dirty):
            return  # a real change: let it be written (or fail, and say so)
        try:
            if free_bytes(self.db_file) >= self.low_space:
                return
        except OSError:
            return
        for obj in dirty:
            history = inspect(obj).attrs.last_activity.history
            if history.has_changes():
                old = history.deleted[0] if history.deleted else None
                attributes.set_committed_value(obj, "last_activity", old)
        self.skipped += 1


def guard_activity_writes(db_url: str) -> ActivityGuard | None:
    """Install the :class:`ActivityGuard` for a SQLite hub database (once per process)."""
    global _guard
    path = sqlite_path(db_url)
    if path is None:
        return None
    if _guard is None:
        _guard = ActivityGuard(path)
        event.listen(Session, "before_flush", _guard)
    return _guard


_guard: ActivityGuard | None = None
