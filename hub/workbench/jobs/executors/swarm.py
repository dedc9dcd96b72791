"""``swarm``: each run a one-off Docker Swarm service of the lab image, placed by the Swarm scheduler.

The service of a run (``<instance>-run-<id>-<random>``, labelled like the container executor's) has one
replica and restart condition ``none``: Swarm places its task on a node, and nothing restarts it — a
retry is the jobs service's decision, recorded as another attempt. Its container gets the hardening of
:mod:`.container`: the lab image (its id is the run's provenance), the user of
:mod:`workbench.runas` (``1000:1000``, or the hub's own in the stack), every capability dropped,
``no-new-privileges``, an init process, a pids limit, ``WORKBENCH_JOBS_MEMORY``, the data
folder read-only at ``/data`` and the run's own folder at ``/job`` and nothing else, no credential in
its environment, and network ``none`` or ``host`` (``WORKBENCH_JOBS_NETWORK``). One difference: Swarm
services have no ``no-new-privileges`` on Docker Engine 20.10 (API 1.41; it came with API 1.46), so a
setuid program in the image could change user — but gains no capability, since the bounding set is
empty.

The run's folder is a bind mount, so the node that runs the task must see it: on one node (this
machine) that holds; on several, ``WORKBENCH_JOBS_WORK_DIR``'s parent must be a shared filesystem, or
the service must be constrained to the manager (``node.role == manager``, the default here).
Timeout and cancel remove the service (Swarm stops its container); a container killed from outside
fails the task, and the run is ``lost``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from workbench.jobs.executors.base import Execution, Executor, ExecutorError, RunSpec, copy_untrusted
from workbench.jobs.executors.container import (
    DATA_FOLDER,
    LABEL,
    MAX_LOG_BYTES,
    PIDS_LIMIT,
    RUN_FOLDER,
    lab_image,
    run_labels,
    stage_run_folder,
)
from workbench.runas import container_user, user_spec

log = logging.getLogger("workbench.jobs")

POLL_S = 0.5
FINAL_TASK_STATES = ("complete", "failed", "shutdown", "rejected", "orphaned", "remove")


class SwarmExecutor(Executor):
    """Runs as one-off Swarm services of the lab image; see the module docstring.

    Parameters are those of :class:`.container.ContainerExecutor` (``prefix`` names the services; by
    default it is made from ``state_dir``), plus ``constraints`` (Swarm placement constraints, default
    ``node.role == manager``: the node that has the run's folder).
    """

    name = "swarm"

    def __init__(
        self,
        image: str,
        *,
        data_dir: Path,
        work_dir: Path,
        prefix: str | None = None,
        state_dir: Path | None = None,
        data_environment: Mapping[str, str] | None = None,
        network: str = "none",
        memory: int = 4 << 30,
        constraints: tuple[str, ...] = ("node.role == manager",),
        client: Callable[[], Any] | None = None,
    ) -> None:
        self.image = image
        self.data_dir = data_dir
        self.work_dir = work_dir
        self.state_dir = state_dir
        self._prefix = prefix
        self.data_environment = {**(data_environment or {}), "WORKBENCH_DATA_DIR": DATA_FOLDER}
        self.network = network
        self.memory = memory
        self.constraints = list(constraints)
        self._make_client = client
        self._client: Any = None

    @property
    def prefix(self) -> str:
        """This workbench's name for its services (``s2p-<6 hex of the state directory>``)."""
        if self._prefix is None:  # imported on first use, as the container executor does
            from types import SimpleNamespace

            from workbench.spawners.docker import instance_prefix

            self._prefix = instance_prefix(SimpleNamespace(state_dir=self.state_dir))
        return self._prefix

    def client(self) -> Any:
        if self._client is None:
            try:
                import docker

                client = (self._make_client or docker.from_env)()
                swarm = client.info().get("Swarm", {})
                if swarm.get("LocalNodeState") != "active" or not swarm.get("ControlAvailable"):
                    raise ExecutorError(
                        "the Docker engine is not a Swarm manager: run `docker swarm init --advertise-addr "
                        "127.0.0.1` (one node) or point DOCKER_HOST at a manager"
                    )
                self._client = client
            except ExecutorError:
                raise
            except Exception as exc:
                raise ExecutorError(f"the Docker engine does not answer: {exc}") from None
        return self._client

    def check(self) -> None:
        self.client()

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
        from docker.types import ContainerSpec, Mount, Placement, Resources, RestartPolicy, TaskTemplate

        client = self.client()
        image = lab_image(client, self.image)
        folder = stage_run_folder(spec, self.work_dir, "swarm")
        name = f"{self.prefix}-run-{spec.run_id}-{os.urandom(3).hex()}"
        labels = run_labels(self.prefix, spec.run_id)
        container = ContainerSpec(
            image.id,
            command=["python", *spec.papermill_args(RUN_FOLDER)],
            user=user_spec(container_user()),
            workdir=RUN_FOLDER,
            env={"HOME": RUN_FOLDER, **self.data_environment},
            labels=labels,
            mounts=[
                Mount(RUN_FOLDER, str(folder), type="bind", read_only=False),
                Mount(DATA_FOLDER, str(self.data_dir), type="bind", read_only=True),
            ],
            init=True,
            cap_drop=["ALL"],
            stop_signal="SIGKILL",
            stop_grace_period=0,
        )
        resources = Resources(mem_limit=self.memory)
        resources["Limits"]["Pids"] = PIDS_LIMIT
        template = TaskTemplate(
            container,
            resources=resources,
            restart_policy=RestartPolicy(condition="none", max_attempts=0),
            placement=Placement(constraints=self.constraints),
            # "none" is no network a Swarm service can join: without one, the task has only its loopback.
            networks=["host"] if self.network == "host" else None,
        )
        try:
            service = client.api.create_service(template, name=name, labels=labels)
        except docker.errors.APIError as exc:
            shutil.rmtree(folder, ignore_errors=True)
            raise ExecutorError(f"Swarm could not create the run's service: {exc}") from None
        service_id = service["ID"]
        provenance = {**self.provenance(), "image_id": image.id, "service": service_id}
        labels_of_image = image.labels or {}
        if labels_of_image.get("org.opencontainers.image.version"):
            provenance["s2p_version"] = labels_of_image["org.opencontainers.image.version"]
        state: dict[str, Any] = {"service": service_id, "killed": False, "task": None}
        state["log_thread"] = threading.Thread(
            target=_stream_log, args=(client, service_id, spec.record_dir / "run.log", state), daemon=True
        )
        state["log_thread"].start()
        log.info("run %s of job %s started as Swarm service %s", spec.run_id, spec.job, name)
        return Execution(spec, folder, service_id, provenance, state)

    async def start(self, spec: RunSpec) -> Execution:
        try:
            execution = await asyncio.to_thread(self._start, spec)
        except ExecutorError:
            raise
        except OSError as exc:
            raise ExecutorError(f"cannot prepare the run's folder: {exc}") from None
        await self._placed(execution)
        return execution

    async def _placed(self, execution: Execution, bound_s: float = 60.0) -> None:
        """Wait until Swarm has placed the task (its node and container are the attempt's worker)."""
        deadline = time.monotonic() + bound_s
        while time.monotonic() < deadline:
            task = await asyncio.to_thread(self._task, execution)
            status = (task or {}).get("Status", {})
            container = status.get("ContainerStatus", {}).get("ContainerID")
            if container or status.get("State") in FINAL_TASK_STATES:
                execution.provenance["node"] = (task or {}).get("NodeID")
                execution.provenance["container"] = container
                return
            await asyncio.sleep(0.2)

    def _task(self, execution: Execution) -> dict[str, Any] | None:
        import docker.errors

        try:
            tasks = self.client().api.tasks(filters={"service": execution.state["service"]})
        except docker.errors.APIError:
            return None
        if not tasks:
            return None
        task = max(tasks, key=lambda t: t.get("CreatedAt", ""))
        execution.state["task"] = task
        return dict(task)

    async def wait(self, execution: Execution) -> int | None:
        state = execution.state
        while True:
            task = await asyncio.to_thread(self._task, execution)
            if task is None:
                if state["killed"]:
                    return None
                state["lost_reason"] = "the run's Swarm service was removed while it ran"
                return None
            status = task.get("Status", {})
            if status.get("State") in FINAL_TASK_STATES:
                code = status.get("ContainerStatus", {}).get("ExitCode")
                if status.get("State") in ("rejected", "orphaned") or code is None:
                    state["lost_reason"] = (
                        f"Swarm {status.get('State')} the run's task: {status.get('Err', '')}"
                    )
                    return None
                code = int(code)
                if code == 137 and not state["killed"]:
                    state["lost_reason"] = "the run's container was killed (not by the jobs service)"
                return code
            await asyncio.sleep(POLL_S)

    async def kill(self, execution: Execution) -> None:
        import docker.errors

        execution.state["killed"] = True
        with contextlib.suppress(docker.errors.APIError):
            await asyncio.to_thread(self.client().api.remove_service, execution.state["service"])

    async def collect(self, execution: Execution) -> None:
        import docker.errors

        def finish() -> None:
            thread = execution.state.get("log_thread")
            if thread is not None:  # the task has ended: its last lines are in the engine's log
                thread.join(timeout=3)
            assert execution.workdir is not None
            copy_untrusted(execution.workdir / "output.ipynb", execution.spec.record_dir / "output.ipynb")
            with contextlib.suppress(docker.errors.APIError):
                self.client().api.remove_service(execution.state["service"])
            if thread is not None:
                thread.join(timeout=10)
            shutil.rmtree(execution.workdir, ignore_errors=True)

        await asyncio.to_thread(finish)

    async def recover(self, refs: Iterable[str]) -> None:
        """At service start: remove this workbench's run services and their folders."""
        import docker.errors

        refs = list(refs)
        if not refs and not any(self.work_dir.glob("swarm-*")):
            return

        def remove() -> None:
            for folder in self.work_dir.glob("swarm-*"):
                shutil.rmtree(folder, ignore_errors=True)
            api = self.client().api
            for svc in api.services(filters={"label": f"{LABEL}.instance={self.prefix}"}):
                with contextlib.suppress(docker.errors.APIError):
                    api.remove_service(svc["ID"])
                    log.warning("removed Swarm service %s of an interrupted run", svc["Spec"]["Name"])

        try:
            await asyncio.to_thread(remove)
        except ExecutorError as exc:
            log.warning("cannot remove the Swarm services of interrupted runs: %s", exc.message)


def _stream_log(client: Any, service: str, path: Path, state: dict[str, Any]) -> None:
    """Append the service's output to the run's log as it comes, up to :data:`MAX_LOG_BYTES`."""
    written = 0
    try:
        with open(path, "ab") as out:
            for chunk in client.api.service_logs(service, stdout=True, stderr=True, follow=True):
                if written >= MAX_LOG_BYTES:
                    continue
                out.write(chunk[: MAX_LOG_BYTES - written])
                out.flush()
                written += len(chunk)
    except Exception as exc:  # the service was removed; the outcome says why
        log.debug("log stream of service %s ended: %s", service, exc)
