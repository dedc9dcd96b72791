"""The jobs service: a Tornado application the hub starts as the managed service ``jobs``.

It is reached through the proxy at ``/services/jobs/``; its REST API lives under ``api/v1/`` (see
:mod:`workbench.jobs.api` and :mod:`workbench.jobs.openapi`). This module is the entry point: it builds
the state (:mod:`workbench.jobs.factory`), recovers what a crash left, serves the API and runs the
scheduler (:mod:`workbench.jobs.scheduler`), the notification outbox (:mod:`workbench.jobs.outbox`)
and retention (:mod:`workbench.jobs.retention`) until the hub stops it.

Run it with ``python -m workbench.jobs.service`` (the hub does, with ``JUPYTERHUB_*`` variables set).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

from tornado.ioloop import PeriodicCallback

from workbench import logs
from workbench.jobs.api import make_app
from workbench.jobs.factory import build_state, recover
from workbench.jobs.retention import PERIOD_S as RETENTION_PERIOD_S
from workbench.jobs.retention import apply_retention
from workbench.jobs.scheduler import PERIOD_S, scheduler_tick
from workbench.process import die_with_parent
from workbench.settings import Settings

log = logging.getLogger("workbench.jobs")

SERVICE_NAME = "jobs"
EXECUTOR_THREADS = 64
"""Threads of the loop's default executor (I/O-bound work: waits on containers, files, name lookups)."""


async def serve(settings: Settings) -> None:
    """Run the service until SIGTERM or SIGINT (the hub stops its managed services with SIGTERM)."""
    from jupyterhub.services.auth import HubOAuth

    # The runs' blocking work (a container's wait, reports, run folders) and every name lookup of the
    # HTTP clients (the hub's address included) share the loop's default executor. Python's default
    # (cores + 4 threads: 6 here) let a busy machine queue the hub's address behind reports for 20 s:
    # the HTTP 500s of 30 synthetic users (docs/reliability.md).
    asyncio.get_running_loop().set_default_executor(
        ThreadPoolExecutor(max_workers=EXECUTOR_THREADS, thread_name_prefix="jobs")
    )
    state = build_state(settings)
    state.hub_auth = HubOAuth(api_token=state.api_token, cache_max_age=60)
    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", f"/services/{SERVICE_NAME}/")
    url = urlsplit(os.environ.get("JUPYTERHUB_SERVICE_URL", f"http://127.0.0.1:{settings.jobs_port}"))
    app = make_app(state, prefix)
    await recover(state)
    await state.runner.start()
    await state.notifier.start()
    server = app.listen(url.port or 80, address=url.hostname or "127.0.0.1")

    def tick() -> None:
        scheduler_tick(state)

    def retain() -> None:
        apply_retention(state.store, state.runner.run_dir, state.retention)

    ticker = PeriodicCallback(tick, PERIOD_S * 1000)
    ticker.start()
    retain()
    retainer = PeriodicCallback(retain, RETENTION_PERIOD_S * 1000)
    retainer.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    log.info("jobs service on %s%s (notebooks: %s)", url.geturl(), prefix, settings.jobs_notebooks_dir)
    await stop.wait()
    log.info("jobs service stopping")
    ticker.stop()
    retainer.stop()
    server.stop()
    await state.runner.stop()
    with contextlib.suppress(TimeoutError):  # the runs the stop failed are told now, if that is quick
        await asyncio.wait_for(state.notifier.deliver_due(), timeout=5.0)
    await state.notifier.stop()
    state.store.close()


def main(argv: list[str] | None = None, run: Callable[..., Any] = asyncio.run) -> int:
    # A hub that is killed takes its jobs service with it: the next hub starts its own, and two
    # services must never schedule and recover the same runs.
    die_with_parent()
    settings = Settings.from_env()
    logs.configure(
        "jobs",
        settings.log_format,
        settings.log_level,
        text_format="[%(levelname).1s %(asctime)s %(name)s] %(message)s",
    )
    run(serve(settings))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
