"""Jobs: latency and throughput of 20 small runs on each executor, beside bare ``papermill`` CLI.

The same trivial parametrised notebook (the jobs tests' ``tiny``: a parameters cell, three short
cells) is run 20 times:

- by bare ``papermill`` CLI (``python -m papermill in.ipynb out.ipynb -p label …``), ``--workers`` at
  a time — the peer: what a cron job calling papermill would get;
- by the jobs service's runner (store, queue, executor, report, scraps: everything but HTTP) on each
  executor, with ``--workers`` runs at a time: ``local`` (a process as the run account), ``container``
  (a container of the lab image), ``dask`` (tasks on a LocalCluster of two worker processes) and
  ``swarm`` (one-off Swarm services of the lab image).

All 20 are submitted at once; for each it prints the latency of a run (submitted → done, so queueing
behind the others included, p50 and p95), the runs per minute of the whole batch, and the ratios to
papermill measured in the same run. Executors that cannot run here (no
Docker engine, no swarm, no lab image) are reported as such.

Then the wait one person feels (``--single``, default 10): one run at a time on an idle service,
submitted → done, by bare papermill, by the ``local`` executor starting cold, and by the ``local``
executor with its warm pool (``WORKBENCH_JOBS_WARM_POOL=1``: the run takes a process whose papermill
is imported and whose kernel is up; the pool refills before the next run, as on an idle service).

    .venv/bin/python bench/jobs.py [--runs 20] [--workers 2] [--executors local,container,dask,swarm] [--single 10]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.workbench.jobs.conftest import write_tiny  # noqa: E402
from workbench.jobs import executors  # noqa: E402
from workbench.jobs.executors.dask import DaskExecutor  # noqa: E402
from workbench.jobs.model import ACTIVE, job_from_request  # noqa: E402
from workbench.jobs.runner import Runner  # noqa: E402
from workbench.jobs.store import Store  # noqa: E402
from workbench.settings import Settings  # noqa: E402

EXECUTORS = ("local", "container", "dask", "swarm")


def _stats(latencies: list[float], wall: float) -> tuple[float, float, float]:
    """(p50 [s], p95 [s], runs per minute)."""
    ordered = sorted(latencies)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered), p95, 60.0 * len(ordered) / wall


def bare_papermill(notebook: Path, runs: int, workers: int, folder: Path) -> tuple[list[float], float]:
    """Latency of each run (from the batch's start, as for the executors: all are submitted at once)
    and the wall time of the batch, ``workers`` processes at a time."""
    queue = list(range(runs))
    running: dict[subprocess.Popen[bytes], int] = {}
    latencies: list[float] = []
    t0 = time.monotonic()
    while queue or running:
        while queue and len(running) < workers:
            i = queue.pop(0)
            argv = [sys.executable, "-m", "papermill", str(notebook), str(folder / f"out-{i}.ipynb"),
                    "-p", "label", f"run {i}", "--no-progress-bar", "-k", "python3"]  # fmt: skip
            running[subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)] = (
                time.monotonic()
            )
        for proc in [p for p in running if p.poll() is not None]:
            if proc.returncode != 0:
                raise RuntimeError(f"papermill failed with code {proc.returncode}")
            running.pop(proc)
            latencies.append(time.monotonic() - t0)
        time.sleep(0.02)
    return latencies, time.monotonic() - t0


@contextlib.asynccontextmanager
async def jobs_service(
    settings: Settings, notebooks: Path, tmp: Path, executor: str, job_name: str, workers: int = 1
) -> AsyncIterator[tuple[dict[str, Any], Store, Runner, Any]]:
    """The jobs service's runner on ``executor`` with one job of the tiny notebook, started; stopped
    (and a dask cluster closed) afterwards. Yields the executors, the store, the runner and the job."""
    built = executors.build(settings)
    built[executor].check()
    store = Store(tmp / f"{job_name}.sqlite")
    runner = Runner(
        store,
        tmp / f"runs-{job_name}",
        notebooks,
        executors=built,
        default_executor=executor,
        workers=workers,
    )
    job, _ = job_from_request(
        {"name": job_name, "segment": "swe", "notebook": "tiny.ipynb", "executor": executor},
        notebooks_dir=notebooks,
        data_dir=settings.data_dir,
        default_timeout=600,
        created_by="bench",
    )
    store.add_job(job)
    await runner.start()
    try:
        yield built, store, runner, job
    finally:
        await runner.stop()
        for each in built.values():
            if isinstance(each, DaskExecutor):
                await each.close()
        store.close()


async def on_executor(
    name: str, settings: Settings, notebooks: Path, runs: int, workers: int, tmp: Path
) -> tuple[list[float], float]:
    async with jobs_service(settings, notebooks, tmp, name, f"tiny-{name}", workers) as (
        built,
        store,
        runner,
        job,
    ):
        if name == "dask":  # the cluster starts once, before the batch (as in a running service)
            await built[name].client()
        t0 = time.monotonic()
        queued = {}
        for i in range(runs):
            run = store.add_run(job, {"label": f"run {i}"}, trigger="api", requested_by="bench")
            queued[run.id] = time.monotonic()
            runner.submit(run.id)
        done: dict[int, float] = {}
        while len(done) < runs:
            for run in store.runs(job.name, limit=runs):
                if run.id not in done and run.status not in ACTIVE:
                    if run.status != "succeeded":
                        raise RuntimeError(f"run {run.id} on {name}: {run.status} {run.error}")
                    done[run.id] = time.monotonic()
            await asyncio.sleep(0.05)
        wall = time.monotonic() - t0
        return [done[i] - queued[i] for i in queued], wall


def bare_single(notebook: Path, repeats: int, folder: Path) -> list[float]:
    """Latency of ``repeats`` papermill CLI runs, one after the other."""
    latencies = []
    for i in range(repeats):
        t0 = time.monotonic()
        subprocess.run(
            [sys.executable, "-m", "papermill", str(notebook), str(folder / f"single-{i}.ipynb"),
             "-p", "label", f"run {i}", "--no-progress-bar", "-k", "python3"],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        latencies.append(time.monotonic() - t0)
    return latencies


async def local_single(
    settings: Settings, notebooks: Path, repeats: int, warm: int, tmp: Path
) -> list[float]:
    """Latency of ``repeats`` runs on the local executor, one at a time, on an idle service."""
    settings = dataclasses.replace(settings, jobs_warm_pool=warm)
    latencies = []
    async with jobs_service(settings, notebooks, tmp, "local", f"single-{warm}") as (
        built,
        store,
        runner,
        job,
    ):
        for i in range(repeats):
            if warm and not await built["local"].pool_ready(120):
                raise RuntimeError("the warm pool did not fill within 120 s")
            t0 = time.monotonic()
            run = store.add_run(job, {"label": f"run {i}"}, trigger="api", requested_by="bench")
            runner.submit(run.id)
            while (done := store.run(run.id)) is not None and done.status in ACTIVE:
                await asyncio.sleep(0.01)
            if done is None or done.status != "succeeded":
                raise RuntimeError(f"run {run.id}: {done}")
            latencies.append(time.monotonic() - t0)
            if warm and not (done.provenance or {}).get("warm"):
                raise RuntimeError(f"run {run.id} did not take a warm process")
    return latencies


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--executors", default=",".join(EXECUTORS))
    parser.add_argument("--single", type=int, default=10, help="runs one at a time (0: skip)")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="s2p-bench-jobs-"))
    os.chmod(tmp, 0o711)  # local runs execute as the run account, which must reach its work folder
    try:
        notebooks = tmp / "notebooks"
        notebook = write_tiny(notebooks / "tiny.ipynb")
        settings = Settings.from_env(
            {
                "WORKBENCH_STATE_DIR": str(tmp / "state"),
                "WORKBENCH_JOBS_WORK_DIR": str(tmp / "work"),
                "WORKBENCH_JOBS_NOTEBOOKS_DIR": str(notebooks),
                "WORKBENCH_DASK_WORKERS": str(args.workers),
                **{k: v for k, v in os.environ.items() if k in ("WORKBENCH_IMAGE", "WORKBENCH_DASK_ADDRESS")},
            }
        )
        (tmp / "state").mkdir(mode=0o700)
        (tmp / "papermill").mkdir()
        print(
            f"{args.runs} runs of a trivial notebook, {args.workers} at a time (machine: {os.cpu_count()} cores)"
        )
        lat, wall = bare_papermill(notebook, args.runs, args.workers, tmp / "papermill")
        p50, p95, rpm = _stats(lat, wall)
        print(
            f"{'':<22}{'p50 [s]':>9}{'p95 [s]':>9}{'runs/min':>10}{'p50 / papermill':>17}{'runs/min / papermill':>22}"
        )
        print(f"{'bare papermill CLI':<22}{p50:>9.2f}{p95:>9.2f}{rpm:>10.1f}{1.0:>17.2f}{1.0:>22.2f}")
        base_p50, base_rpm = p50, rpm
        for name in [e for e in args.executors.split(",") if e]:
            try:
                lat, wall = asyncio.run(on_executor(name, settings, notebooks, args.runs, args.workers, tmp))
            except Exception as exc:
                print(f"{'executor ' + name:<22} not measured: {exc}")
                continue
            p50, p95, rpm = _stats(lat, wall)
            print(
                f"{'executor ' + name:<22}{p50:>9.2f}{p95:>9.2f}{rpm:>10.1f}{p50 / base_p50:>17.2f}{rpm / base_rpm:>22.2f}"
            )
        if args.single > 0:
            print(f"\none run at a time on an idle service, {args.single} runs each")
            print(f"{'':<30}{'p50 [s]':>9}{'p95 [s]':>9}{'p50 / papermill':>17}")
            single = bare_single(notebook, args.single, tmp / "papermill")
            base = statistics.median(single)
            rows = [("bare papermill CLI", single)]
            for label, warm in (("local executor, cold", 0), ("local executor, warm pool", 1)):
                rows.append((label, asyncio.run(local_single(settings, notebooks, args.single, warm, tmp))))
            for label, lat in rows:
                p50, p95, _ = _stats(lat, 1.0)
                print(f"{label:<30}{p50:>9.2f}{p95:>9.2f}{p50 / base:>17.2f}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
