"""``container``: each run in a container of the lab image — the production shape.

The container of a run (``<instance>-run-<id>``, labelled ``org.s2p.workbench=job-run``) gets:

- the lab image (``WORKBENCH_IMAGE``; its id is the run's provenance), which carries papermill, ipykernel,
  ``s2p`` with its numba kernels compiled, and the catalogs;
- user ``1000:1000`` (jovyan; the service's own user when it is not root: :mod:`workbench.runas`),
  every capability dropped, ``no-new-privileges``, an init process, a
  pids limit and ``WORKBENCH_JOBS_MEMORY`` (swap included);
- mounts: the data folder read-only at ``/data`` and the run's own folder read-write at ``/job``
  (also its ``HOME``), nothing else: no state directory, no Docker socket, no other run's folder;
- an environment of the image's own variables, ``HOME``, and the data and catalog settings of the labs
  (``WORKBENCH_DATA_DIR=/data``): no hub token, OIDC secret or database URL;
- network ``none`` (papermill and the kernel talk over the container's own loopback) unless
  ``WORKBENCH_JOBS_NETWORK=host`` (live data; the run then reaches the host's loopback services).

The run's folder is ``<state>/jobs/work/run-<id>-<random>`` (owned by the run's user, inside the service's
0700 state directory, so no host account reaches it); the container's output is streamed into the
record folder's ``run.log`` by the service. Timeout and cancel kill the container; it is removed when
the run's output is collected, and a restarted service removes what a dead one left.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from workbench.jobs.executors.base import Execution, Executor, ExecutorError, RunSpec, copy_untrusted
from workbench.runas import container_user, hand_over, user_spec

log = logging.getLogger("workbench.jobs")

RUN_FOLDER = "/job"
DATA_FOLDER = "/data"
PIDS_LIMIT = 1024
MAX_LOG_BYTES = 64 << 20
"""The container's output kept in ``run.log`` [bytes]; what comes after is dropped (with a note)."""
LABEL = "org.s2p.workbench"
LABEL_VALUE = "job-run"
STOP_GRACE_S = 3


class ContainerExecutor(Executor):
    """Runs as containers of the lab image; see the module docstring.

    Parameters
    ----------
    image
        The lab image (``WORKBENCH_IMAGE``: a tag or an image id).
    data_dir
        The host's data folder, mounted read-only at ``/data``.
    work_dir
        Parent of the runs' folders on the host (``<state>/jobs/work``).
    state_dir
        The workbench's state directory: it names and labels its containers (``s2p-<6 hex>-run-<id>``,
        as the spawners name their labs).
    data_environment
        Data and catalog settings for the notebook (``WORKBENCH_DATA_DIR`` is set to ``/data``).
    network
        ``none`` or ``host``.
    memory
        Memory limit [bytes].
    client
        Makes the Docker client (default ``docker.from_env``).
    """

    name = "container"

    def __init__(
        self,
        image: str,
        *,
        data_dir: Path,
        work_dir: Path,
        state_dir: Path,
        data_environment: Mapping[str, str] | None = None,
        network: str = "none",
        memory: int = 4 << 30,
        client: Callable[[], Any] | None = None,
    ) -> None:
        self.image = image
        self.data_dir = data_dir
        self.work_dir = work_dir
        self.state_dir = state_dir
        self._prefix: str | None = None
        self.data_environment = {**(data_environment or {}), "WORKBENCH_DATA_DIR": DATA_FOLDER}
        self.network = network
        self.memory = memory
        self._make_client = client
        self._client: Any = None

    @property
    def prefix(self) -> str:
        """``s2p-<6 hex of the state directory>``: this workbench's containers, as the spawners name labs."""
        if self._prefix is None:  # imported on first use: the Docker client is not needed before
            from workbench.spawners.docker import instance_prefix

            self._prefix = instance_prefix(SimpleNamespace(state_dir=self.state_dir))
        return self._prefix

    def client(self) -> Any:
        if self._client is None:
            try:
                import docker

                self._client = (self._make_client or docker.from_env)()
                self._client.ping()
            except Exception as exc:  # docker's errors, a missing socket, a missing package
                self._client = None
                raise ExecutorError(f"the Docker engine does not answer: {exc}") from None
        return self._client

    def environment(self) -> dict[str, str]:
        """What the run's container gets on top of the image's own variables."""
        return {"HOME": RUN_FOLDER, **self.data_environment}

    def provenance(self) -> dict[str, Any]:
        return {
            "executor": self.name,
            "image": self.image,
            "network": self.network,
            "user": user_spec(container_user()),
        }

    # -- one run ---------------------------------------------------------------------------------

    def _start(self, spec: RunSpec) -> Execution:
        import docker.errors

        client = self.client()
        image = lab_image(client, self.image)
        folder = stage_run_folder(spec, self.work_dir, "run")
        name = f"{self.prefix}-run-{spec.run_id}"
        with contextlib.suppress(docker.errors.NotFound):  # a container a crash left under this name
            client.containers.get(name).remove(force=True)
        try:
            container = client.containers.create(
                image.id,
                command=["python", *spec.papermill_args(RUN_FOLDER)],
                name=name,
                user=user_spec(container_user()),
                working_dir=RUN_FOLDER,
                environment=self.environment(),
                labels=run_labels(self.prefix, spec.run_id),
                network_mode=self.network,
                volumes={
                    str(folder): {"bind": RUN_FOLDER, "mode": "rw"},
                    str(self.data_dir): {"bind": DATA_FOLDER, "mode": "ro"},
                },
                cap_drop=["ALL"],
                security_opt=["no-new-privileges"],
                init=True,
                pids_limit=PIDS_LIMIT,
                mem_limit=self.memory,
                memswap_limit=self.memory,
                stop_signal="SIGKILL",
                use_config_proxy=False,
            )
            container.start()
        except docker.errors.APIError as exc:
            shutil.rmtree(folder, ignore_errors=True)
            raise ExecutorError(f"the Docker engine could not start the run's container: {exc}") from None
        provenance = {**self.provenance(), "image_id": image.id, "container": container.id}
        version = (image.labels or {}).get("org.opencontainers.image.version")
        if version:  # the lab image's s2p-workbench version (its build label)
            provenance["s2p_version"] = version
        state: dict[str, Any] = {"container": container}
        state["log_thread"] = threading.Thread(
            target=_stream_log, args=(container, spec.record_dir / "run.log"), daemon=True
        )
        state["log_thread"].start()
        log.info("run %s of job %s started in container %s", spec.run_id, spec.job, container.short_id)
        return Execution(spec, folder, container.id, provenance, state)

    async def start(self, spec: RunSpec) -> Execution:
        try:
            return await asyncio.to_thread(self._start, spec)
        except ExecutorError:
            raise
        except OSError as exc:
            raise ExecutorError(f"cannot prepare the run's folder: {exc}") from None

    async def wait(self, execution: Execution) -> int | None:
        import docker.errors

        container = execution.state["container"]
        try:
            result = await asyncio.to_thread(container.wait)
            await asyncio.to_thread(container.reload)
        except docker.errors.NotFound:
            execution.state["lost_reason"] = "the run's container was removed while it ran"
            return None
        except docker.errors.APIError as exc:
            execution.state["lost_reason"] = f"the Docker engine lost the run's container: {exc}"
            return None
        code = int(result.get("StatusCode", -1))
        run_state = container.attrs.get("State", {})
        if run_state.get("OOMKilled"):
            execution.state["lost_reason"] = (
                f"out of memory: the container's limit is {self.memory / (1 << 30):g} GiB (WORKBENCH_JOBS_MEMORY)"
            )
        elif code == 137 and not execution.state.get("killed"):
            execution.state["lost_reason"] = "the run's container was killed (not by the jobs service)"
        return code

    async def kill(self, execution: Execution) -> None:
        import docker.errors

        execution.state["killed"] = True
        with contextlib.suppress(docker.errors.APIError):
            await asyncio.to_thread(execution.state["container"].kill)

    async def collect(self, execution: Execution) -> None:
        import docker.errors

        def finish() -> None:
            thread = execution.state.get("log_thread")
            if thread is not None:
                thread.join(timeout=30)
            assert execution.workdir is not None
            copy_untrusted(execution.workdir / "output.ipynb", execution.spec.record_dir / "output.ipynb")
            with contextlib.suppress(docker.errors.APIError):
                execution.state["container"].remove(force=True)
            shutil.rmtree(execution.workdir, ignore_errors=True)

        await asyncio.to_thread(finish)

    async def recover(self, refs: Iterable[str]) -> None:
        """At service start: remove this workbench's run containers and run folders (no run is active yet)."""
        import docker.errors

        refs = list(refs)
        if not refs and not self.work_dir.is_dir():
            return  # no container run ever started here: leave the Docker engine alone

        def remove() -> None:
            for folder in self.work_dir.glob("run-*"):
                shutil.rmtree(folder, ignore_errors=True)
            client = self.client()
            found = client.containers.list(all=True, filters={"label": f"{LABEL}.instance={self.prefix}"})
            for c in found:
                with contextlib.suppress(docker.errors.APIError):
                    c.remove(force=True)
                    log.warning("removed container %s of an interrupted run", c.name)

        try:
            await asyncio.to_thread(remove)
        except ExecutorError as exc:
            log.warning("cannot remove the containers of interrupted runs: %s", exc.message)


def lab_image(client: Any, tag: str) -> Any:
    """The lab image ``tag`` on the engine of ``client``; :class:`ExecutorError` saying what to do if not."""
    import docker.errors

    try:
        return client.images.get(tag)
    except docker.errors.ImageNotFound:
        raise ExecutorError(
            f"the lab image {tag} is not on this Docker engine: run `workbench images build`"
        ) from None
    except docker.errors.APIError as exc:
        raise ExecutorError(f"the Docker engine refused to describe {tag}: {exc}") from None


def stage_run_folder(spec: RunSpec, work_dir: Path, prefix: str) -> Path:
    """A new folder of ``work_dir`` holding the run's notebook and parameters, owned by the run's user
    (:func:`workbench.runas.container_user`; the run never sees the record folder)."""
    work_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    folder = Path(tempfile.mkdtemp(prefix=f"{prefix}-{spec.run_id}-", dir=work_dir))
    for name in ("input.ipynb", "parameters.json"):
        shutil.copyfile(spec.record_dir / name, folder / name)
        hand_over(folder / name, container_user())
    hand_over(folder, container_user())
    return folder


def run_labels(prefix: str, run_id: int) -> dict[str, str]:
    """Labels that find a run's container or service again (recovery after a crash)."""
    return {LABEL: LABEL_VALUE, f"{LABEL}.instance": prefix, f"{LABEL}.run": str(run_id)}


def _stream_log(container: Any, path: Path) -> None:
    """Append the container's output to the run's log as it comes, up to :data:`MAX_LOG_BYTES`."""
    written = 0
    try:
        with open(path, "ab") as out:
            for chunk in container.logs(stream=True, follow=True, stdout=True, stderr=True):
                if written >= MAX_LOG_BYTES:
                    continue
                out.write(chunk[: MAX_LOG_BYTES - written])
                out.flush()
                written += len(chunk)
            if written > MAX_LOG_BYTES:
                out.write(b"\n[run.log truncated: the run wrote more than 64 MiB]\n")
    except Exception as exc:  # the container vanished; the outcome says why
        log.debug("log stream of %s ended: %s", container.short_id, exc)
