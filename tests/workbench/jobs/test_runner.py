"""The runner with the local executor, real papermill and a real kernel: success, failure, timeout,
cancel, queue order. As root (here and in CI) the runs execute as the run account."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.support import DATA
from workbench.jobs.executors.local import LocalExecutor
from workbench.jobs.model import ACTIVE, job_from_request
from workbench.jobs.runner import Runner
from workbench.jobs.store import Run, Store

pytestmark = pytest.mark.slow

RUN_BOUND_S = 120.0  # no run of the tiny notebook may take longer, even on a busy 2-core machine


def _setup(
    tmp_path: Path, notebooks: Path, work_dir: Path, *, workers: int = 2, timeout_s: int = 120, warm: int = 0
) -> tuple[Store, Runner, Any]:
    store = Store(tmp_path / "jobs.sqlite")
    job, _ = job_from_request(
        {"name": "tiny", "segment": "swe", "notebook": "jobs/tiny.ipynb", "timeout_s": timeout_s},
        notebooks_dir=notebooks,
        data_dir=DATA,
        default_timeout=60,
        created_by="operator",
    )
    store.add_job(job)
    local = LocalExecutor(work_dir, data_environment={"WORKBENCH_DATA_DIR": str(DATA)}, warm=warm)
    runner = Runner(
        store,
        tmp_path / "runs",
        notebooks,
        executors={"local": local},
        default_executor="local",
        workers=workers,
    )
    return store, runner, job


async def _until(store: Store, run_id: int, pred: Any, bound: float = RUN_BOUND_S) -> Run:
    deadline = time.monotonic() + bound
    while True:
        run = store.run(run_id)
        assert run is not None
        if pred(run):
            return run
        assert time.monotonic() < deadline, f"run {run_id} stuck: {run}"
        await asyncio.sleep(0.1)


def _final(run: Run) -> bool:
    return run.status not in ACTIVE


def _gone(pids: list[int], bound: float = 10.0) -> list[int]:
    deadline = time.monotonic() + bound
    while True:
        alive = []
        for pid in pids:
            try:
                if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                    alive.append(pid)
            except psutil.NoSuchProcess:
                pass
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.1)


def test_run_succeeds_with_outputs_scraps_report_and_progress(
    tmp_path: Path, notebooks: Path, work_dir: Path
) -> None:
    store, runner, job = _setup(tmp_path, notebooks, work_dir)

    async def main() -> Run:
        await runner.start()
        run = store.add_run(
            job, {"count": 4, "label": "from the test"}, trigger="api", requested_by="operator"
        )
        runner.submit(run.id)
        done = await _until(store, run.id, _final)
        await runner.stop()
        return done

    run = asyncio.run(main())
    assert run.status == "succeeded", run.error
    assert run.error is None and run.started_at is not None and run.finished_at is not None
    # parameters cell + papermill's injected cell + 3 code cells, all done
    assert (run.cells_done, run.cells_total) == (5, 5)
    d = runner.run_dir(run.id)
    assert json.loads((d / "scraps.json").read_text()) == {
        "label": "from the test",
        "squares": [0, 1, 4, 9],
        "done": True,
    }
    out = json.loads((d / "output.ipynb").read_text())
    assert 'label = "from the test"' in "".join(out["cells"][1]["source"])  # papermill injected it
    log = (d / "run.log").read_text()
    assert "Executing Cell 5" in log and "Ending Cell 5" in log
    report = (d / "report.html").read_text()
    assert "succeeded" in report and "import time" not in report  # outputs only, no code
    assert "Recorded values" in report and "from the test" in report


def test_with_a_warm_pool_runs_take_ready_processes_and_give_the_same_results(
    tmp_path: Path, notebooks: Path, work_dir: Path
) -> None:
    store, runner, job = _setup(tmp_path, notebooks, work_dir, workers=1, warm=1)
    local = runner.executors["local"]
    idle: list[int] = []

    async def ready_slot() -> int:
        deadline = time.monotonic() + RUN_BOUND_S
        while not (local._slots and await local._slots[0].ready(0.1)):
            assert time.monotonic() < deadline, "no warm process got ready"
            await asyncio.sleep(0.1)
        return int(local._slots[0].proc.pid)

    async def main() -> list[Run]:
        await runner.start()
        done = []
        for params in ({"count": 4, "label": "warm"}, {"fail": True}):
            slot_pid = await ready_slot()
            run = store.add_run(job, params, trigger="api", requested_by="operator")
            runner.submit(run.id)
            done.append(await _until(store, run.id, _final))
            assert (done[-1].provenance or {}).get("pid") == slot_pid  # the process that was waiting
        pid = await ready_slot()  # the pool refilled behind the runs
        idle.extend([pid, *(p.pid for p in psutil.Process(pid).children(recursive=True))])
        await runner.stop()
        return done

    good, bad = asyncio.run(main())
    assert good.status == "succeeded", good.error
    assert (good.provenance or {}).get("warm") is True and (good.cells_done, good.cells_total) == (5, 5)
    assert json.loads((runner.run_dir(good.id) / "scraps.json").read_text()) == {
        "label": "warm",
        "squares": [0, 1, 4, 9],
        "done": True,
    }
    log = (runner.run_dir(good.id) / "run.log").read_text()
    assert "Executing Cell 5" in log and "Ending Cell 5" in log and "s2p-warm" not in log
    assert bad.status == "failed" and bad.error == "ValueError: asked to fail after 0.0 s (code cell 5)"
    assert "ValueError" in (runner.run_dir(bad.id) / "run.log").read_text()  # the traceback, as the CLI
    assert len(idle) >= 2 and _gone(idle) == []  # the idle process and its kernel ended with the runner
    assert not list(work_dir.glob("run-*"))


def test_failed_run_records_the_error_and_still_has_a_report(
    tmp_path: Path, notebooks: Path, work_dir: Path
) -> None:
    store, runner, job = _setup(tmp_path, notebooks, work_dir)

    async def main() -> Run:
        await runner.start()
        run = store.add_run(job, {"fail": True}, trigger="api", requested_by="operator")
        runner.submit(run.id)
        done = await _until(store, run.id, _final)
        await runner.stop()
        return done

    run = asyncio.run(main())
    assert run.status == "failed"
    assert run.error == "ValueError: asked to fail after 0.0 s (code cell 5)"
    d = runner.run_dir(run.id)
    assert "ValueError" in (d / "report.html").read_text()
    assert json.loads((d / "scraps.json").read_text()) == {"label": "tiny", "squares": [0, 1, 4]}


def test_timeout_kills_papermill_and_the_kernel(tmp_path: Path, notebooks: Path, work_dir: Path) -> None:
    store, runner, job = _setup(tmp_path, notebooks, work_dir, timeout_s=6)
    pids: list[int] = []

    async def main() -> Run:
        await runner.start()
        run = store.add_run(job, {"seconds": 600.0}, trigger="api", requested_by="operator")
        runner.submit(run.id)
        running = await _until(
            store, run.id, lambda r: r.status == "running" and (runner.progress(r).cells_done or 0) >= 3
        )
        assert running is not None and running.pid is not None
        root = psutil.Process(running.pid)
        pids.extend([root.pid, *(p.pid for p in root.children(recursive=True))])
        done = await _until(store, run.id, _final)
        await runner.stop()
        return done

    t0 = time.monotonic()
    run = asyncio.run(main())
    assert run.status == "timed_out" and run.error == "timed out after 6 s"
    assert time.monotonic() - t0 < 60  # not the notebook's 600 s
    assert len(pids) >= 2  # papermill and its kernel
    assert _gone(pids) == []
    assert (runner.run_dir(run.id) / "report.html").exists()
    # what the cells before the sleep recorded is kept
    assert json.loads((runner.run_dir(run.id) / "scraps.json").read_text())["label"] == "tiny"


def test_cancel_queued_and_running_runs_with_one_worker(
    tmp_path: Path, notebooks: Path, work_dir: Path
) -> None:
    store, runner, job = _setup(tmp_path, notebooks, work_dir, workers=1)
    pids: list[int] = []

    async def main() -> tuple[Run, Run, Run]:
        await runner.start()
        first = store.add_run(job, {"seconds": 600.0}, trigger="api", requested_by="a")
        second = store.add_run(job, {}, trigger="api", requested_by="b")
        runner.submit(first.id)
        runner.submit(second.id)
        # Progress shows while it runs: the sleep is in code cell 4 (cells 1-3 done).
        running = await _until(
            store, first.id, lambda r: r.status == "running" and (runner.progress(r).cells_done or 0) >= 3
        )
        progress = runner.progress(running)
        assert (progress.cells_done, progress.cells_total) == (3, 5)
        assert store.run(second.id).status == "queued"  # type: ignore[union-attr]  # one worker: it waits
        await runner.cancel(second.id)
        waiting = store.run(second.id)
        assert running.pid is not None
        root = psutil.Process(running.pid)
        pids.extend([root.pid, *(p.pid for p in root.children(recursive=True))])
        await runner.cancel(first.id)
        cancelled = await _until(store, first.id, _final, bound=30)
        third = store.add_run(job, {}, trigger="api", requested_by="c")
        runner.submit(third.id)  # the worker is free again
        after = await _until(store, third.id, _final)
        await runner.stop()
        assert waiting is not None
        return cancelled, waiting, after

    cancelled, waiting, after = asyncio.run(main())
    assert (cancelled.status, cancelled.error) == ("cancelled", "cancelled while running")
    assert (waiting.status, waiting.started_at) == ("cancelled", None)
    assert after.status == "succeeded"
    assert _gone(pids) == []


def test_a_run_that_does_not_reach_its_first_cell_in_time_fails_to_start(
    tmp_path: Path, notebooks: Path, work_dir: Path
) -> None:
    store, runner, job = _setup(tmp_path, notebooks, work_dir)
    runner.start_timeout_s = 0.2  # papermill alone takes longer to import

    async def main() -> Run:
        await runner.start()
        run = store.add_run(job, {}, trigger="api", requested_by="operator")
        runner.submit(run.id)
        done = await _until(store, run.id, _final)
        await runner.stop()
        return done

    run = asyncio.run(main())
    assert (run.status, run.failure) == ("failed", "start_failed")
    assert run.error == "did not start within 0.2 s (kernel or container)"


PLANT_LINKS = """\
import os
for name in ("scraps.json", "report.html", "run.log", "parameters.json"):
    os.symlink(TARGET, name)
os.symlink(SECRET, "output.lnk")
os.replace("output.lnk", "output.ipynb")
"""


def test_a_run_cannot_make_the_service_read_or_write_through_links(
    tmp_path: Path, notebooks: Path, work_dir: Path
) -> None:
    """The notebook replaces its files by links to a secret and to a file of the service's: the service,
    as root, must neither copy the secret into the run's record nor write through the links."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    secret = tmp_path / "admin_api_token"
    secret.write_text("s3cret-token")
    target = tmp_path / "service-file"
    target.write_text("untouched")
    code = f"TARGET = {str(target)!r}\nSECRET = {str(secret)!r}\n" + PLANT_LINKS
    nbformat.write(new_notebook(cells=[new_code_cell(code)]), notebooks / "jobs" / "links.ipynb")
    store, runner, _ = _setup(tmp_path, notebooks, work_dir)
    links, _ = job_from_request(
        {"name": "links", "segment": "swe", "notebook": "jobs/links.ipynb"},
        notebooks_dir=notebooks,
        data_dir=DATA,
        default_timeout=60,
        created_by="operator",
    )
    store.add_job(links)

    async def main() -> Run:
        await runner.start()
        run = store.add_run(links, {}, trigger="api", requested_by="operator")
        runner.submit(run.id)
        done = await _until(store, run.id, _final)
        await runner.stop()
        return done

    run = asyncio.run(main())
    assert run.status in {"succeeded", "failed"}, run
    assert target.read_text() == "untouched"
    record = runner.run_dir(run.id)
    assert not [p for p in record.iterdir() if p.is_symlink()]
    for p in record.iterdir():
        assert "s3cret-token" not in p.read_text(errors="replace"), p.name
    assert (record / "report.html").is_file() and (record / "scraps.json").is_file()
    assert list(work_dir.glob("run-*")) == []  # the run's folder is gone
