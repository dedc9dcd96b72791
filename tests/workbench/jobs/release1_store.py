"""The jobs store of the first release (``hub/workbench/jobs/store.py`` at commit 74b321c), kept verbatim
below this docstring so that tests can make a real store file the way that release did and check that
the migrations upgrade it without loss. Do not edit: it is a record of what operators' files look like.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from workbench.jobs.model import ACTIVE, Job, JobError, utcnow

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    name TEXT PRIMARY KEY,
    segment TEXT NOT NULL,
    notebook TEXT NOT NULL,
    parameters TEXT NOT NULL,
    schedule TEXT,
    timeout_s INTEGER NOT NULL,
    description TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    last_scheduled TEXT
);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    job TEXT NOT NULL,
    segment TEXT NOT NULL,
    notebook TEXT NOT NULL,
    parameters TEXT NOT NULL,
    timeout_s INTEGER NOT NULL,
    status TEXT NOT NULL,
    trigger TEXT NOT NULL,
    requested_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT,
    error TEXT,
    cells_done INTEGER,
    cells_total INTEGER,
    pid INTEGER
);
CREATE INDEX IF NOT EXISTS runs_job ON runs (job, id);
CREATE INDEX IF NOT EXISTS runs_status ON runs (status);
"""

RESTARTED = "service restarted during the run"


def _ts(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


@dataclass
class Run:
    """One execution of a job's notebook."""

    id: int
    job: str
    segment: str
    notebook: str
    parameters: dict[str, Any]
    timeout_s: int
    status: str
    trigger: str
    requested_by: str
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    error: str | None = None
    cells_done: int | None = None
    cells_total: int | None = None
    pid: int | None = None

    def to_json(self) -> dict[str, Any]:
        duration = None
        if self.started_at:
            duration = ((self.finished_at or utcnow()) - self.started_at).total_seconds()
        return {
            "id": self.id,
            "job": self.job,
            "segment": self.segment,
            "notebook": self.notebook,
            "parameters": self.parameters,
            "timeout_s": self.timeout_s,
            "status": self.status,
            "trigger": self.trigger,
            "requested_by": self.requested_by,
            "created_at": self.created_at.isoformat(),
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "duration_s": duration,
            "error": self.error,
            "progress": {"cells_done": self.cells_done, "cells_total": self.cells_total},
        }


class Store:
    """The jobs database.

    Parameters
    ----------
    path
        SQLite file (created with its directory).
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA busy_timeout=5000")
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    # -- jobs ---------------------------------------------------------------------------------------

    def add_job(self, job: Job) -> None:
        """Insert a job; :class:`JobError` 409 if the name is taken."""
        try:
            self.db.execute(
                "INSERT INTO jobs VALUES (?,?,?,?,?,?,?,?,?,?)",
                (
                    job.name,
                    job.segment,
                    job.notebook,
                    json.dumps(job.parameters),
                    job.schedule,
                    job.timeout_s,
                    job.description,
                    job.created_by,
                    job.created_at.isoformat(),
                    job.last_scheduled.isoformat() if job.last_scheduled else None,
                ),
            )
        except sqlite3.IntegrityError:
            raise JobError(f"a job named {job.name!r} exists already", 409) from None

    @staticmethod
    def _job(row: sqlite3.Row) -> Job:
        return Job(
            name=row["name"],
            segment=row["segment"],
            notebook=row["notebook"],
            parameters=json.loads(row["parameters"]),
            schedule=row["schedule"],
            timeout_s=row["timeout_s"],
            description=row["description"],
            created_by=row["created_by"],
            created_at=datetime.fromisoformat(row["created_at"]),
            last_scheduled=_ts(row["last_scheduled"]),
        )

    def job(self, name: str) -> Job | None:
        row = self.db.execute("SELECT * FROM jobs WHERE name = ?", (name,)).fetchone()
        return self._job(row) if row else None

    def jobs(self) -> list[Job]:
        return [self._job(r) for r in self.db.execute("SELECT * FROM jobs ORDER BY name")]

    def delete_job(self, name: str) -> None:
        self.db.execute("DELETE FROM jobs WHERE name = ?", (name,))

    def set_last_scheduled(self, name: str, when: datetime) -> None:
        self.db.execute("UPDATE jobs SET last_scheduled = ? WHERE name = ?", (when.isoformat(), name))

    # -- runs ---------------------------------------------------------------------------------------

    def add_run(self, job: Job, parameters: dict[str, Any], *, trigger: str, requested_by: str) -> Run:
        """A new ``queued`` run of ``job`` with the merged ``parameters``."""
        now = utcnow()
        cur = self.db.execute(
            "INSERT INTO runs (job, segment, notebook, parameters, timeout_s, status, trigger, requested_by,"
            " created_at) VALUES (?,?,?,?,?,?,?,?,?)",
            (
                job.name,
                job.segment,
                job.notebook,
                json.dumps(parameters),
                job.timeout_s,
                "queued",
                trigger,
                requested_by,
                now.isoformat(),
            ),
        )
        run = self.run(int(cur.lastrowid or 0))
        assert run is not None
        return run

    @staticmethod
    def _run(row: sqlite3.Row) -> Run:
        return Run(
            id=row["id"],
            job=row["job"],
            segment=row["segment"],
            notebook=row["notebook"],
            parameters=json.loads(row["parameters"]),
            timeout_s=row["timeout_s"],
            status=row["status"],
            trigger=row["trigger"],
            requested_by=row["requested_by"],
            created_at=datetime.fromisoformat(row["created_at"]),
            started_at=_ts(row["started_at"]),
            finished_at=_ts(row["finished_at"]),
            error=row["error"],
            cells_done=row["cells_done"],
            cells_total=row["cells_total"],
            pid=row["pid"],
        )

    def run(self, run_id: int) -> Run | None:
        row = self.db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        return self._run(row) if row else None

    def runs(self, job: str | None = None, *, status: tuple[str, ...] = (), limit: int = 100) -> list[Run]:
        """Runs, newest first, optionally of one job and/or in some statuses."""
        sql, args = "SELECT * FROM runs WHERE 1=1", []
        if job is not None:
            sql += " AND job = ?"
            args.append(job)
        if status:
            sql += f" AND status IN ({','.join('?' * len(status))})"
            args.extend(status)
        sql += " ORDER BY id DESC LIMIT ?"
        return [self._run(r) for r in self.db.execute(sql, (*args, limit))]

    def update_run(self, run_id: int, **fields: Any) -> None:
        """Set columns of a run (datetimes stored as ISO text)."""
        if not fields:
            return
        values = [v.isoformat() if isinstance(v, datetime) else v for v in fields.values()]
        cols = ", ".join(f"{k} = ?" for k in fields)
        self.db.execute(f"UPDATE runs SET {cols} WHERE id = ?", (*values, run_id))

    def finish_run(self, run_id: int, status: str, error: str | None = None) -> None:
        self.update_run(run_id, status=status, error=error, finished_at=utcnow(), pid=None)

    def recover(self) -> tuple[list[Run], list[Run]]:
        """After a restart: runs left ``running`` become ``failed``; ``queued`` ones are returned to re-queue.

        Returns
        -------
        (failed, queued)
            The runs marked failed (their ``pid`` still set, so the caller can end what is left of
            them) and the queued runs, oldest first.
        """
        failed = self.runs(status=("running",), limit=1_000_000)
        for run in failed:
            self.db.execute(
                "UPDATE runs SET status = 'failed', error = ?, finished_at = ? WHERE id = ?",
                (RESTARTED, utcnow().isoformat(), run.id),
            )
        queued = sorted(self.runs(status=("queued",), limit=1_000_000), key=lambda r: r.id)
        return failed, queued

    def active_runs(self, job: str) -> list[Run]:
        return self.runs(job, status=ACTIVE, limit=1_000_000)
