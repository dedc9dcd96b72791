"""A warm run process of the ``local`` executor: papermill imported and the kernel started before the run.

``python -m workbench.jobs.warm FOLDER KERNEL`` is started by the executor as the run's identity, in
the run's future folder, with the run's environment (:meth:`LocalExecutor.environment`). It imports
papermill, starts the kernel ``KERNEL`` with FOLDER as its working directory, writes :data:`READY` on
its output and waits on its standard input:

- ``go``: the executor has put ``input.ipynb`` and ``parameters.json`` into FOLDER; the process runs
  them exactly as ``python -m papermill FOLDER/input.ipynb FOLDER/output.ipynb -f FOLDER/parameters.json
  -k KERNEL --cwd FOLDER --log-output --request-save-on-cell-execute`` would (same output, same exit
  status: 0, or 1 with the traceback when a cell failed), on the kernel it started, then exits;
- end of input (the service stops, or the slot is not needed): the kernel is shut down and the process
  exits 0.

Each process serves one run and exits: nothing of one run is left for the next, as with a cold start.
What the run saves is papermill's import, the kernel's start and the client's first handshake with it
(jupyter_client waits for 0.2 s of silence on IOPub each time a client connects: :class:`ReadiedClient`
pays that before the run). The process ends with ``os._exit`` once its output is flushed: the run's
files are written and its kernel is shut down, so tearing down the interpreter's modules would only
add to the run's wait.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import traceback
from pathlib import Path
from typing import Any

from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.client import KernelClient
from jupyter_client.manager import AsyncKernelManager

READY = "s2p-warm: ready"
"""The line the process writes once its kernel is up."""
GO = "go"

READY_TIMEOUT_S = 60.0
"""How long the kernel may take to answer its first ``kernel_info`` request [s]."""


class ReadiedClient(AsyncKernelClient):
    """A kernel client that is connected and has heard the kernel before the run asks for it.

    nbclient starts the channels and waits for the kernel on the client it gets from the manager; for
    this client both were done during the warm-up, so they are not done twice.
    """

    _readied = False

    def start_channels(self, *args: Any, **kwargs: Any) -> None:
        if not self.channels_running:
            super().start_channels(*args, **kwargs)

    async def wait_for_ready(self, timeout: float | None = None) -> None:  # type: ignore[override]
        if not self._readied:
            await KernelClient._async_wait_for_ready(self, timeout)
            self._readied = True


class WarmKernelManager(AsyncKernelManager):
    """Hands out, once, the client made ready during the warm-up; new clients after that."""

    _ready_client: ReadiedClient | None = None

    async def make_client_ready(self) -> None:
        client = ReadiedClient(parent=self, **self.get_connection_info(session=True))
        client.start_channels()
        await client.wait_for_ready(timeout=READY_TIMEOUT_S)
        self._ready_client = client

    def client(self, **kwargs: Any) -> Any:
        if self._ready_client is not None and not kwargs:
            client, self._ready_client = self._ready_client, None
            return client
        return super().client(**kwargs)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m workbench.jobs.warm FOLDER KERNEL", file=sys.stderr)
        return 2
    folder, kernel = Path(argv[0]), argv[1]
    logging.basicConfig(level=logging.INFO, format="%(message)s")  # papermill's CLI logs the same way
    import papermill
    import yaml
    from jupyter_client.utils import run_sync

    km = WarmKernelManager(kernel_name=kernel)
    try:
        run_sync(km.start_kernel)(cwd=str(folder))
        run_sync(km.make_client_ready)()
    except Exception as exc:
        print(f"s2p-warm: the kernel {kernel!r} did not start: {exc}", flush=True)
        return 3
    try:
        print(READY, flush=True)
        order = sys.stdin.readline().strip()
        if order != GO:
            return 0
        parameters = yaml.safe_load((folder / "parameters.json").read_text()) or {}
        try:
            papermill.execute_notebook(
                str(folder / "input.ipynb"),
                str(folder / "output.ipynb"),
                parameters=parameters,
                kernel_name=kernel,
                cwd=str(folder),
                log_output=True,
                progress_bar=False,
                request_save_on_cell_execute=True,
                km=km,
            )
        except Exception:  # as the CLI: the traceback in the log, status 1
            traceback.print_exc()
            return 1
        return 0
    finally:
        try:
            run_sync(km.shutdown_kernel)(now=True)
        except Exception as exc:  # already gone
            print(f"s2p-warm: kernel shutdown: {json.dumps(str(exc))}", file=sys.stderr)


if __name__ == "__main__":
    status = main(sys.argv[1:])
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
