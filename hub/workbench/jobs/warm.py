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
What the run saves is papermill's import and the kernel's start (about one second and a half here).
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
from pathlib import Path

READY = "s2p-warm: ready"
"""The line the process writes once its kernel is up."""
GO = "go"


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m workbench.jobs.warm FOLDER KERNEL", file=sys.stderr)
        return 2
    folder, kernel = Path(argv[0]), argv[1]
    logging.basicConfig(level=logging.INFO, format="%(message)s")  # papermill's CLI logs the same way
    import papermill
    import yaml
    from jupyter_client.manager import AsyncKernelManager
    from jupyter_client.utils import run_sync

    km = AsyncKernelManager(kernel_name=kernel)
    try:
        run_sync(km.start_kernel)(cwd=str(folder))
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
    sys.exit(main(sys.argv[1:]))
