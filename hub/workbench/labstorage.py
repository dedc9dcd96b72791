"""The labs on a full disk: a save fails with a clear 507, leaves no broken file, and reading goes on.

Two things of Jupyter Server get in the way when the disk holding a user's home is full:

- a failed save of a *new* file leaves that file behind, empty or cut short (Jupyter writes a new
  file in place; only an existing one is protected by a backup copy), and the answer is a generic
  "500: Unexpected error while saving file". :class:`WorkbenchContentsManager` removes what the
  failed save created and answers ``507 Insufficient Storage`` naming the file and the cause;
- JupyterLab records the signature of every notebook it saves or opens in a small SQLite database in the
user's home (``~/.local/share/jupyter/nbsignatures.db``), and even *opening* a notebook writes to it
(the signature's "last seen" time). On a full disk that write fails and Jupyter Server answers every
notebook read with a bare "Unhandled error": the user cannot open their own work. With this store a
failed write only costs the bookkeeping: a notebook opens (trusted if its signature was known), and a
save fails on the file itself, with the operating system's "No space left on device".

The labs load both from their Jupyter config (``labconfig/jupyter_server_config.py``: local labs have it
on ``JUPYTER_CONFIG_PATH``, the lab image copies it to ``/etc/jupyter``).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path
from typing import Any

from jupyter_core.paths import jupyter_data_dir
from jupyter_server.services.contents.largefilemanager import AsyncLargeFileManager
from nbformat.sign import SQLiteSignatureStore
from tornado import web

from workbench.diskfull import STORAGE_FULL, is_full


class WorkbenchContentsManager(AsyncLargeFileManager):
    """Jupyter's file manager, with saves that fail cleanly on a full disk (see the module doc)."""

    async def save(self, model: dict[str, Any], path: str = "") -> dict[str, Any]:
        os_path = self._get_os_path(path.strip("/"))
        created_now = not os.path.lexists(os_path) and model.get("chunk") in (None, 1)
        try:
            return dict(await super().save(model, path))
        except Exception as exc:
            if not is_full(exc):
                raise
            if created_now and os.path.isfile(os_path):
                with contextlib.suppress(OSError):
                    os.remove(os_path)  # what the failed save began: never a broken file in the home
            raise web.HTTPError(
                STORAGE_FULL,
                f"No space left on device: {path.strip('/')} was not saved (the disk holding your files "
                "is full; delete files you no longer need, or ask the workbench's administrator)",
            ) from exc


class ResilientSignatureStore(SQLiteSignatureStore):
    """SQLite signature store whose writes may fail (full disk) without failing the request."""

    def check_signature(self, digest: str, algorithm: str) -> bool:
        try:
            return bool(super().check_signature(digest, algorithm))
        except sqlite3.OperationalError as exc:  # the "last seen" update could not be written
            self.log.warning("Notebook trust database not updated (%s): reading it only", exc)
            return self._known(digest, algorithm)

    def _known(self, digest: str, algorithm: str) -> bool:
        if self.db is None:
            return False
        try:
            self.db.rollback()
            row = self.db.execute(
                "SELECT id FROM nbsignatures WHERE algorithm = ? AND signature = ?", (algorithm, digest)
            ).fetchone()
        except sqlite3.Error:
            return False
        return row is not None

    def store_signature(self, digest: str, algorithm: str) -> None:
        try:
            super().store_signature(digest, algorithm)
        except sqlite3.OperationalError as exc:  # the notebook itself may still be written, or not
            self.log.warning("Notebook signature not recorded (%s): it will open as untrusted", exc)
            if self.db is not None:
                with contextlib.suppress(sqlite3.Error):
                    self.db.rollback()


def resilient_store() -> ResilientSignatureStore:
    """``NotebookNotary.store_factory``: Jupyter's usual database file, with resilient writes."""
    return ResilientSignatureStore(str(Path(jupyter_data_dir()) / "nbsignatures.db"))
