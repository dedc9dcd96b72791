"""The jobs store on SQLite and on a real PostgreSQL: the same tests, and the upgrade of a first-release file.

Jobs and runs survive a restart; a crash leaves no run 'running' for ever; attempts, the outbox and the
scheduler's compare-and-set hold in one transaction; the migrated schema is the models' schema.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from tests.postgres import postgres_server
from tests.support import DATA
from tests.workbench.jobs import release1_store
from workbench.jobs.model import JobError, job_from_request, utcnow
from workbench.jobs.policies import NotifyPolicy, RetentionPolicy, RetryPolicy
from workbench.jobs.retention import apply_retention, to_delete
from workbench.jobs.store import RESTARTED, Run, Store
from workbench.jobs.tables import Base


@pytest.fixture(scope="module")
def pg_server() -> Iterator[str]:
    with postgres_server("jobs") as url:
        yield url


_dbs = iter(range(1_000_000))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty jobs database: a SQLite file, or a new database on the module's PostgreSQL."""
    if request.param == "sqlite":
        return str(tmp_path / "jobs.sqlite")
    server = request.getfixturevalue("pg_server")
    name = f"jobs_{next(_dbs)}"
    engine = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    engine.dispose()
    return server.rsplit("/", 1)[0] + f"/{name}"


def _job(notebooks: Path, name: str = "tiny", **extra: object):
    body = {"name": name, "segment": "neo", "notebook": "jobs/tiny.ipynb", **extra}
    job, _ = job_from_request(
        body, notebooks_dir=notebooks, data_dir=DATA, default_timeout=60, created_by="operator"
    )
    return job


def _planner(run: Run, job: Any, previous: str | None) -> list[dict[str, Any]]:
    """Every final run but cancelled ones: one webhook row naming the previous status."""
    payload = {"status": run.status, "previous": previous}
    return [
        {
            "event": "e",
            "channel": "webhook",
            "target": "http://127.0.0.1:9/",
            "payload": payload,
            "secret": None,
        }
    ]


def test_jobs_and_runs_round_trip_and_names_are_unique(db_url: str, notebooks: Path) -> None:
    store = Store(db_url)
    job = _job(
        notebooks,
        parameters={"count": 4},
        schedule="0 * * * *",
        description="hourly",
        executor="dask",
        retry={"retries": 2, "on": ["lost", "timeout"]},
        notify={
            "on": ["failure", "recovery"],
            "webhooks": ["https://ops.example.org/hook"],
            "secret": "s" * 20,
        },
        retention={"keep_last": 5},
        misfire="run_all",
        misfire_cap=3,
    )
    store.add_job(job)
    with pytest.raises(JobError, match="exists already") as err:
        store.add_job(job)
    assert err.value.status == 409
    run = store.add_run(
        job, {"count": 5}, trigger="cli", requested_by="operator", provenance={"notebook_sha256": "ab" * 32}
    )
    store.close()

    again = Store(db_url)
    stored_job = again.job("tiny")
    assert stored_job == job
    assert stored_job is not None and stored_job.notify is not None and stored_job.notify.secret == "s" * 20
    assert stored_job.retry == RetryPolicy(retries=2, on=("lost", "timeout"))
    assert stored_job.retention == RetentionPolicy(keep_last=5)
    stored = again.run(run.id)
    assert stored is not None
    assert (stored.status, stored.trigger, stored.parameters, stored.segment, stored.executor) == (
        "queued",
        "cli",
        {"count": 5},
        "neo",
        "dask",
    )
    assert stored.notebook_sha256 == "ab" * 32 and stored.created_at.tzinfo is not None
    changed = again.job("tiny")
    assert changed is not None
    changed.description, changed.notify = "changed", NotifyPolicy(on=("success",))
    again.update_job(changed)
    assert again.job("tiny") == changed
    again.delete_job("tiny")
    assert again.job("tiny") is None and again.run(run.id) is not None  # history stays
    again.close()


def test_attempts_retries_and_the_outbox_are_recorded_with_the_status(db_url: str, notebooks: Path) -> None:
    store = Store(db_url, planner=_planner)
    events: list[tuple[str, int, str]] = []
    store.listeners.append(lambda what, run: events.append((what, run.id, run.status)))
    job = _job(notebooks)
    store.add_job(job)
    first = store.add_run(job, {}, trigger="api", requested_by="a")
    store.update_run(first.id, status="running", started_at=utcnow(), worker="tcp://127.0.0.1:1")
    store.finish_run(first.id, "failed", "ValueError: no (code cell 5)")
    run = store.add_run(job, {}, trigger="api", requested_by="a")
    store.update_run(run.id, status="running", started_at=utcnow())
    later = utcnow() + timedelta(seconds=30)
    retried = store.retry_run(run.id, failure="lost", error="worker died", not_before=later)
    assert retried is not None and (retried.status, retried.not_before) == ("queued", later)
    store.update_run(run.id, status="running")
    store.finish_run(run.id, "succeeded")
    cancelled = store.add_run(job, {}, trigger="api", requested_by="a")
    store.finish_run(cancelled.id, "cancelled", "cancelled before it started")

    done = store.run(run.id, attempts=True)
    assert done is not None and done.status == "succeeded" and done.attempts == 2
    assert [(a.number, a.status, a.failure, a.error) for a in done.attempt_list] == [
        (1, "failed", "lost", "worker died"),
        (2, "succeeded", None, None),
    ]
    assert all(a.executor == "local" and a.finished_at is not None for a in done.attempt_list)
    failed = store.run(first.id, attempts=True)
    assert failed is not None and failed.failure == "notebook_error"
    assert failed.attempt_list[0].worker == "tcp://127.0.0.1:1"
    # One outbox row per final run (the planner's), none for the cancelled one; the previous status is told.
    assert [n.payload for n in store.notifications(first.id)] == [{"status": "failed", "previous": None}]
    assert [n.payload for n in store.notifications(run.id)] == [{"status": "succeeded", "previous": "failed"}]
    assert store.notifications(cancelled.id) == []
    assert events == [
        ("started", first.id, "running"),
        ("finished", first.id, "failed"),
        ("started", run.id, "running"),
        ("retry", run.id, "queued"),
        ("started", run.id, "running"),
        ("finished", run.id, "succeeded"),
        ("finished", cancelled.id, "cancelled"),
    ]
    # The outbox: due, failed with a retry time, then sent.
    note = store.due_notifications(utcnow())[0]
    store.notification_failed(note.id, "HTTP 503", utcnow() + timedelta(hours=1))
    assert note.id not in [n.id for n in store.due_notifications(utcnow())]
    store.notifications_due_now()
    assert note.id in [n.id for n in store.due_notifications(utcnow())]
    store.notification_sent(note.id)
    sent = [n for n in store.notifications(note.run_id) if n.id == note.id][0]
    assert (sent.status, sent.attempts, sent.last_error) == ("sent", 2, "HTTP 503")
    counts = store.counts()
    assert ("tiny", "succeeded", 1) in counts["runs"] and counts["retries"] == [("tiny", 1)]
    assert dict(counts["failed_deliveries"]) == {"webhook": 1}
    store.close()


def test_recover_fails_running_runs_and_requeues_queued_ones(db_url: str, notebooks: Path) -> None:
    store = Store(db_url)
    job = _job(notebooks)
    store.add_job(job)
    running = store.add_run(job, {}, trigger="api", requested_by="a")
    queued = store.add_run(job, {}, trigger="api", requested_by="b")
    done = store.add_run(job, {}, trigger="api", requested_by="c")
    store.update_run(running.id, status="running", pid=999_999_999)
    store.finish_run(done.id, "succeeded")
    store.close()  # the service dies here

    store = Store(db_url)
    failed, requeue = store.recover()
    assert [r.id for r in failed] == [running.id] and [r.id for r in requeue] == [queued.id]
    assert failed[0].pid == 999_999_999
    after = store.run(running.id, attempts=True)
    assert after is not None and after.status == "failed" and after.error == RESTARTED
    assert after.finished_at is not None and after.failure == "lost"
    assert [(a.status, a.failure) for a in after.attempt_list] == [("failed", "lost")]
    assert store.run(done.id).status == "succeeded"  # type: ignore[union-attr]
    store.close()


def test_a_fire_time_is_claimed_once_even_by_two_services_at_once(db_url: str, notebooks: Path) -> None:
    a, b = Store(db_url), Store(db_url)
    job = _job(notebooks, schedule="* * * * *")
    a.add_job(job)
    due = job.created_at.replace(second=0) + timedelta(minutes=1)
    results: list[Run | None] = []
    barrier = threading.Barrier(8)

    def claim(store: Store) -> None:
        barrier.wait()
        results.append(store.add_scheduled_run(job, {}, due, previous=None))

    threads = [threading.Thread(target=claim, args=(s,)) for s in (a, b) * 4]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    won = [r for r in results if r is not None]
    assert len(won) == 1 and won[0].scheduled_for == due and won[0].trigger == "schedule"
    assert a.job("tiny").last_scheduled == due  # type: ignore[union-attr]
    # A stale tick (it read last_scheduled before the claim) cannot fire the same time again.
    assert b.add_scheduled_run(job, {}, due, previous=None) is None
    assert b.add_scheduled_run(job, {}, due + timedelta(minutes=1), previous=due) is not None
    assert len(a.runs("tiny")) == 2
    a.close()
    b.close()


def test_retention_keeps_the_newest_the_young_and_the_last_success(
    db_url: str, notebooks: Path, tmp_path: Path
) -> None:
    store = Store(db_url, planner=_planner)
    job = _job(notebooks, retention={"keep_last": 2})
    other = _job(notebooks, name="other")  # the default policy: keep for 1 day
    store.add_job(job)
    store.add_job(other)
    ids = []
    for status in ("failed", "succeeded", "failed", "failed", "failed", "running"):
        run = store.add_run(job, {}, trigger="api", requested_by="a")
        if status != "running":
            store.finish_run(run.id, status)
        else:
            store.update_run(run.id, status="running")
        (tmp_path / "runs" / str(run.id)).mkdir(parents=True)
        ids.append(run.id)
    old = store.add_run(other, {}, trigger="api", requested_by="a")
    store.finish_run(old.id, "failed")
    for n in store.notifications(ids[2]) + store.notifications(old.id):  # delivered: they may go
        store.notification_sent(n.id)
    # ids[0]'s notification is still pending: the run waits until it is delivered.
    later = utcnow() + timedelta(days=2)
    deleted = apply_retention(
        store, lambda i: tmp_path / "runs" / str(i), RetentionPolicy(keep_days=1), later
    )
    assert sorted(deleted) == [ids[2], old.id]
    kept = sorted(r.id for r in store.runs("tiny"))
    assert kept == [ids[0], ids[1], ids[3], ids[4], ids[5]]  # pending, last success, 2 newest, running
    assert not (tmp_path / "runs" / str(ids[2])).exists() and (tmp_path / "runs" / str(ids[1])).exists()
    assert store.notifications(ids[2]) == [] and store.run(old.id) is None
    store.close()


def test_to_delete_rules() -> None:
    now = utcnow()
    finished = [(6 - i, "failed", now - timedelta(days=i)) for i in range(6)]  # ids 6..1, 0..5 days old
    finished[3] = (3, "succeeded", finished[3][2])
    assert to_delete(finished, RetentionPolicy(), now) == []
    assert to_delete(finished, RetentionPolicy(keep_last=2), now) == [4, 2, 1]
    assert to_delete(finished, RetentionPolicy(keep_days=1.5), now) == [4, 2, 1]
    assert to_delete(finished, RetentionPolicy(keep_last=1, keep_days=3.5), now) == [2, 1]


def test_the_migrated_schema_is_the_models_schema(db_url: str) -> None:
    store = Store(db_url)
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []
    store.close()


def test_a_first_release_store_is_upgraded_without_loss(tmp_path: Path, notebooks: Path) -> None:
    """A file made by the first release's own store module, with runs in every state, opened by this one."""
    path = tmp_path / "jobs.sqlite"
    old = release1_store.Store(path)
    job = _job(notebooks, schedule="30 6 * * *", parameters={"count": 2}, description="daily")
    old.add_job(job)
    old.set_last_scheduled("tiny", job.created_at)
    made = {}
    for label, status, error in (
        ("succeeded", "succeeded", None),
        ("notebook", "failed", "ValueError: asked to fail after 0.0 s (code cell 5)"),
        ("timeout", "timed_out", "timed out after 8 s"),
        ("running", "running", None),
        ("queued", "queued", None),
        ("cancelled", "cancelled", "cancelled before it started"),
    ):
        run = old.add_run(job, {"count": 3}, trigger="schedule", requested_by="scheduler")
        if status not in ("queued", "cancelled"):
            old.update_run(run.id, status="running", started_at=utcnow() - timedelta(seconds=7), pid=4242)
        if status not in ("queued", "running"):
            old.finish_run(run.id, status, error)
        if status == "succeeded":
            old.update_run(run.id, cells_done=5, cells_total=5)
        made[label] = run.id
    old.close()
    raw = sqlite3.connect(path)
    raw.row_factory = sqlite3.Row
    before = {t: [dict(r) for r in raw.execute(f"SELECT * FROM {t} ORDER BY 1")] for t in ("jobs", "runs")}
    raw.close()

    store = Store(path)
    raw = sqlite3.connect(path)
    raw.row_factory = sqlite3.Row
    after = {t: [dict(r) for r in raw.execute(f"SELECT * FROM {t} ORDER BY 1")] for t in ("jobs", "runs")}
    raw.close()
    for table in ("jobs", "runs"):  # every old column of every row, byte for byte
        assert [{k: row[k] for k in before[table][0]} for row in after[table]] == before[table]
    upgraded = store.job("tiny")
    assert upgraded is not None and upgraded.last_scheduled == job.created_at
    assert (upgraded.schedule, upgraded.parameters, upgraded.misfire, upgraded.retry) == (
        "30 6 * * *",
        {"count": 2},
        "run_once",
        None,
    )
    kinds = {label: store.run(i, attempts=True) for label, i in made.items()}
    assert {k: (r.failure if r else None) for k, r in kinds.items()} == {
        "succeeded": None,
        "notebook": "notebook_error",
        "timeout": "timeout",
        "running": None,
        "queued": None,
        "cancelled": "cancelled",
    }
    ok = kinds["succeeded"]
    assert ok is not None and (ok.cells_done, ok.attempts, ok.executor) == (5, 1, "local")
    assert [(a.number, a.status, a.started_at) for a in ok.attempt_list] == [(1, "succeeded", ok.started_at)]
    assert kinds["queued"] is not None and kinds["queued"].attempt_list == []
    # The upgraded store goes on: ids continue, the running run is recovered, the queued one re-queued.
    failed, queued = store.recover()
    assert [r.id for r in failed] == [made["running"]] and [r.id for r in queued] == [made["queued"]]
    new = store.add_run(upgraded, {}, trigger="api", requested_by="op")
    assert new.id == max(made.values()) + 1
    store.close()
    assert Store(path).job("tiny") == upgraded  # and opening it again changes nothing


def test_an_interim_store_with_some_new_columns_is_upgraded(tmp_path: Path, notebooks: Path) -> None:
    """A store of a release between the first and this one (executor, ref, failure, provenance already
    added by hand): the migration adds only what is missing and keeps what that release recorded."""
    path = tmp_path / "jobs.sqlite"
    old = release1_store.Store(path)
    job = _job(notebooks)
    old.add_job(job)
    run = old.add_run(job, {}, trigger="api", requested_by="op")
    old.update_run(run.id, status="running", started_at=utcnow())
    old.finish_run(run.id, "failed", "the run's container was killed")
    for table, column in (("jobs", "executor"), ("runs", "executor"), ("runs", "ref"), ("runs", "failure"),
                          ("runs", "provenance")):  # fmt: skip
        old.db.execute(f"ALTER TABLE {table} ADD COLUMN {column} TEXT")
    old.db.execute("UPDATE runs SET executor = 'container', failure = 'lost', ref = 'abc'")
    old.close()
    store = Store(path)
    upgraded = store.run(run.id, attempts=True)
    assert upgraded is not None and (upgraded.executor, upgraded.failure, upgraded.ref) == (
        "container",
        "lost",
        "abc",
    )
    assert [(a.executor, a.failure) for a in upgraded.attempt_list] == [("container", "lost")]
    store.close()


def test_a_lost_run_is_queued_again_when_its_job_retries_lost_runs(db_url: str, notebooks: Path) -> None:
    """After a crash, a running run of a job that retries ``lost`` attempts is queued again (after its
    back-off), its first attempt recorded as lost; a run of a job without retries fails."""
    from workbench.jobs.retries import lost_run_retry_at

    store = Store(db_url, planner=_planner)
    retried = _job(notebooks, name="retried", retry={"retries": 2, "backoff_s": 60, "on": ["lost"]})
    plain = _job(notebooks, name="plain")
    store.add_job(retried)
    store.add_job(plain)
    runs = {}
    for job in (retried, plain):
        run = store.add_run(job, {}, trigger="api", requested_by="a")
        store.update_run(run.id, status="running", started_at=utcnow(), ref="pid 1")
        runs[job.name] = run.id
    store.close()

    store = Store(db_url, planner=_planner)
    before = utcnow()
    lost, queued = store.recover(lost_run_retry_at)
    assert sorted(r.id for r in lost) == sorted(runs.values()) and [r.id for r in queued] == [runs["retried"]]
    again = store.run(runs["retried"], attempts=True)
    assert again is not None and (again.status, again.attempts, again.ref) == ("queued", 1, None)
    assert again.not_before is not None and again.not_before >= before + timedelta(seconds=59)
    assert [(a.status, a.failure, a.error) for a in again.attempt_list] == [("failed", "lost", RESTARTED)]
    assert store.notifications(again.id) == []  # not final: nobody is told yet
    failed = store.run(runs["plain"])
    assert failed is not None and (failed.status, failed.failure) == ("failed", "lost")
    assert len(store.notifications(failed.id)) == 1
    store.close()
