"""``local``: papermill as a process on the jobs service's machine, as an unprivileged identity of its own.

For development and single-machine installations. When the jobs service runs as root, each run's
papermill and kernel run as ``WORKBENCH_JOBS_RUN_USER`` (a system account ``s2p-jobs`` created on
first use, or a configured ``uid:gid``; no supplementary groups), in a folder of its own under
``WORKBENCH_JOBS_WORK_DIR`` that it owns (0700, umask 077), with an environment of only::

    PATH  HOME=<its folder>  LANG  PYTHONUNBUFFERED  NUMBA_CACHE_DIR=<its folder>/.numba-cache
    WORKBENCH_DATA_DIR and the catalog settings of workbench.hubconfig.lab_environment

so it holds no hub token, OIDC secret or database URL, and the Unix permissions of the state
directory (0700: database, ``secrets/``, users' homes, the runs' records) keep it out. It can read
what any account of the machine can (the installation, the data folder).

Where the service does not run as root it cannot switch identity: runs execute as the service's own
user (same minimal environment, but the service's files are in reach). That is refused with
``WORKBENCH_ENV=pre-ope`` or ``ope`` (:func:`refusal`); use the ``container`` executor there.

The interpreter of the runs is the service's own when the run account can execute it. When it cannot
(the service's Python lives in a private folder, e.g. pyenv under ``/root``), the executor makes a
*run interpreter* in ``<work dir>/python``: a virtual environment of the system's Python of the same
minor version (``/usr/bin/python3.11``) whose site-packages is the service's own, so the runs import
exactly the packages the service has. If neither can run, the run fails ``start_failed`` saying so.

Numba compiles into the run's own folder (numba only uses a cache it can write, and a cache shared by
runs would let one run plant machine code for the next), so numba kernels are compiled per run here;
the lab image of the container executor carries them compiled.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import pwd
import shutil
import signal
import stat
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import psutil

from workbench.jobs.executors.base import Execution, Executor, ExecutorError, RunSpec, copy_untrusted
from workbench.jobs.warm import GO, READY

log = logging.getLogger("workbench.jobs")

KILL_GRACE_S = 3.0
"""Seconds between SIGTERM and SIGKILL when a run is stopped."""

ACCOUNT_COMMENT = "S2P Workbench job runs"
PRODUCTION_ENVS = ("pre-ope", "ope")


def kill_tree(pid: int, grace_s: float = KILL_GRACE_S) -> None:
    """SIGTERM the process group of ``pid`` and every descendant, SIGKILL what is left after ``grace_s``."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        procs = []
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGTERM)
    for p in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            p.terminate()
    _, alive = psutil.wait_procs(procs, timeout=grace_s)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    for p in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            p.kill()


def kill_leftovers(uid: int, folder: Path) -> int:
    """SIGKILL processes of ``uid`` still working in ``folder`` (what a run started outside its tree)."""
    killed = 0
    for p in psutil.process_iter(["uids", "cwd"]):
        try:
            if p.info["uids"] is None or p.info["uids"].real != uid or not p.info["cwd"]:
                continue
            if Path(p.info["cwd"]).is_relative_to(folder):
                p.kill()
                killed += 1
        except psutil.Error:
            continue
    return killed


def refusal(env: str, euid: int) -> str | None:
    """Why the local executor is refused here (``WORKBENCH_ENV``, the service's euid), or None."""
    if euid != 0 and env in PRODUCTION_ENVS:
        return (
            f"WORKBENCH_JOBS_EXECUTOR=local is refused with WORKBENCH_ENV={env}: the jobs service does not "
            "run as root, so runs would execute as its own user, next to its secrets and database; use "
            "WORKBENCH_JOBS_EXECUTOR=container"
        )
    return None


def default_work_dir(state_dir: Path, euid: int) -> Path:
    """Where local runs get their folders when ``WORKBENCH_JOBS_WORK_DIR`` is empty."""
    if euid != 0:
        return state_dir / "jobs" / "work"
    digest = hashlib.sha256(str(state_dir.resolve()).encode()).hexdigest()[:6]
    return Path("/var/lib/s2p-workbench") / f"jobs-{digest}"


def ensure_account(spec: str) -> tuple[int, int, str]:
    """(uid, gid, label) of the run identity ``spec`` (``name`` or ``uid:gid``); a missing name is created.

    Raises
    ------
    ExecutorError
        If it is root, or the account cannot be created.
    """
    if ":" in spec:
        uid_text, _, gid_text = spec.partition(":")
        if not (uid_text.isdigit() and gid_text.isdigit()):
            raise ExecutorError(f"WORKBENCH_JOBS_RUN_USER={spec!r}: an account name or uid:gid (numbers)")
        uid, gid = int(uid_text), int(gid_text)
        label = spec
    else:
        try:
            entry = pwd.getpwnam(spec)
        except KeyError:
            _create_account(spec)
            entry = pwd.getpwnam(spec)
        uid, gid, label = entry.pw_uid, entry.pw_gid, spec
    if uid == 0 or gid == 0:
        raise ExecutorError(f"WORKBENCH_JOBS_RUN_USER={spec!r} is root: give an unprivileged account")
    return uid, gid, label


def _create_account(name: str) -> None:
    useradd = shutil.which("useradd") or "/usr/sbin/useradd"
    argv = [useradd, "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent"]
    argv += ["--shell", "/usr/sbin/nologin", "--comment", ACCOUNT_COMMENT, name]
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    except OSError as exc:
        raise ExecutorError(
            f"cannot create the run account {name!r} ({exc}); create it or set WORKBENCH_JOBS_RUN_USER=uid:gid"
        ) from None
    if proc.returncode != 0:
        with contextlib.suppress(KeyError):  # another service created it at the same moment
            pwd.getpwnam(name)
            return
        raise ExecutorError(
            f"cannot create the run account {name!r}: {proc.stderr.strip()}; create it or set "
            "WORKBENCH_JOBS_RUN_USER=uid:gid"
        )
    log.info("created the system account %s for job runs", name)


def secure_root(path: Path, euid: int) -> None:
    """Create the parent of the runs' folders: owned by the service, 0711 (runs reach their own folder
    by name; nobody lists or replaces the others). An existing one must be ours and not a link.

    Raises
    ------
    ExecutorError
        When the folder is a link, belongs to someone else or is writable by others.
    """
    path.mkdir(parents=True, exist_ok=True, mode=0o711)
    st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != euid or st.st_mode & 0o022:
        raise ExecutorError(
            f"{path} (WORKBENCH_JOBS_WORK_DIR) must be a directory owned by the jobs service's user and "
            "writable by it alone"
        )
    if st.st_mode & 0o777 != 0o711:
        os.chmod(path, 0o711)


WARM_KERNEL = "python3"
"""The kernel the warm pool starts; runs of other kernels start cold."""
WARM_READY_S = 120.0
"""How long a run waits for a warm process that is still starting before it starts cold [s]."""
WARM_EXIT_S = 10.0
"""How long an idle warm process may take to shut its kernel down when the pool stops [s]."""
WARM_BUFFER_LINES = 200
"""Lines a warm process may write before a run takes it (kept for that run's log)."""


class WarmSlot:
    """One process of the warm pool (:mod:`workbench.jobs.warm`): its folder, its output until a run
    takes it (then into that run's log), whether its kernel is up."""

    def __init__(
        self, folder: Path, proc: asyncio.subprocess.Process, ident: tuple[int, int, str] | None
    ) -> None:
        self.folder = folder
        self.proc = proc
        self.ident = ident
        self._ready = asyncio.Event()
        self._early: list[bytes] = []
        self._log: Any = None
        self._pump = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        stream = self.proc.stdout
        assert stream is not None
        while not self._ready.is_set():
            try:
                line = await stream.readline()
            except ValueError:  # a line longer than the stream's buffer: keep what arrived
                line = await stream.read(1 << 16)
            if not line:
                return
            if line.decode(errors="replace").strip() == READY:
                self._ready.set()
            else:
                self._keep(line)
        while chunk := await stream.read(1 << 16):
            self._keep(chunk)

    def _keep(self, data: bytes) -> None:
        if self._log is not None:
            self._log.write(data)
            self._log.flush()
        elif len(self._early) < WARM_BUFFER_LINES:
            self._early.append(data)

    async def ready(self, timeout: float) -> bool:
        """Whether the kernel is up (waiting up to ``timeout`` [s]) and the process alive."""
        ready = asyncio.ensure_future(self._ready.wait())
        done, _ = await asyncio.wait(
            {ready, self._pump}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
        )
        ready.cancel()
        return self._ready.is_set() and self.proc.returncode is None

    def log_to(self, path: Path) -> None:
        """From now on its output goes to the run's log ``path`` (what it wrote before, first)."""
        self._log = path.open("ab")
        self._log.writelines(self._early)
        self._log.flush()
        self._early.clear()

    async def close(self) -> None:
        """Once the process has ended: the rest of its output read, the log closed."""
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._pump), 10)
        if self._log is not None:
            self._log.close()
            self._log = None


class LocalExecutor(Executor):
    """Runs as local processes; see the module docstring.

    Parameters
    ----------
    work_dir
        Parent of the runs' folders (see :func:`default_work_dir`).
    run_user
        ``WORKBENCH_JOBS_RUN_USER``; used only when the service runs as root.
    data_environment
        The ``WORKBENCH_*`` data and catalog settings a notebook needs (``lab_environment``).
    env
        ``WORKBENCH_ENV``, for :func:`refusal`.
    python
        The interpreter that runs papermill and the kernel (default: this one).
    warm
        ``WORKBENCH_JOBS_WARM_POOL``: how many run processes wait ready, papermill imported and a
        ``python3`` kernel started (:mod:`workbench.jobs.warm`); a run takes one instead of starting
        papermill, and a new one is started behind it. 0: every run starts cold.
    """

    name = "local"

    def __init__(
        self,
        work_dir: Path,
        *,
        run_user: str = "s2p-jobs",
        data_environment: Mapping[str, str] | None = None,
        env: str = "dev",
        python: str = sys.executable,
        warm: int = 0,
    ) -> None:
        if warm < 0:
            raise ValueError(f"the warm pool holds 0 or more processes, not {warm}")
        self.work_dir = work_dir
        self.warm = warm
        self._slots: list[WarmSlot] = []
        self._filling: set[asyncio.Future[None]] = set()
        self.run_user = run_user
        self.data_environment = dict(data_environment or {})
        self.deployment = env
        self.python = python
        self.run_python = python
        """The interpreter runs use (see :meth:`_probe`)."""
        self.run_python_version = sys.version.split()[0]
        self._identity: tuple[int, int, str] | None = None
        self._probed = False

    # -- identity --------------------------------------------------------------------------------

    def check(self) -> None:
        problem = refusal(self.deployment, os.geteuid())
        if problem:
            raise ExecutorError(problem, status=400)

    def identity(self) -> tuple[int, int, str] | None:
        """(uid, gid, label) runs execute as, or None: as the service itself (it is not root)."""
        if os.geteuid() != 0:
            return None
        if self._identity is None:
            self._identity = ensure_account(self.run_user)
        return self._identity

    def environment(self, folder: Path, python: str | None = None) -> dict[str, str]:
        """The whole environment of a run in ``folder``: nothing of the service's own."""
        bindir = str(Path(python or self.run_python).parent)
        env = {
            "PATH": f"{bindir}:/usr/local/bin:/usr/bin:/bin",
            "HOME": str(folder),
            "LANG": "C.UTF-8",
            "PYTHONUNBUFFERED": "1",
            "NUMBA_CACHE_DIR": str(folder / ".numba-cache"),
        }
        env.update(self.data_environment)
        return env

    def provenance(self) -> dict[str, Any]:
        ident = self.identity()
        from importlib.metadata import PackageNotFoundError, version

        versions = {}
        for dist in ("s2p-workbench", "papermill", "ipykernel"):
            with contextlib.suppress(PackageNotFoundError):
                versions[dist] = version(dist)
        return {
            "executor": self.name,
            "python": self.run_python,
            "python_version": self.run_python_version,
            "packages": versions,
            "user": ident[2] if ident else f"uid {os.geteuid()} (the jobs service's own)",
        }

    def _probe(self, uid: int, gid: int, label: str) -> None:
        """Once: find an interpreter the run account can start papermill with (see the module docstring)."""
        if self._probed:
            return
        tried = []
        for python in (self.python, self._run_interpreter()):
            if python is None:
                continue
            try:
                probe = subprocess.run(
                    [python, "-c", "import sys, papermill, ipykernel; print(sys.version.split()[0])"],
                    env=self.environment(Path("/nonexistent"), python),
                    cwd="/",
                    user=uid,
                    group=gid,
                    extra_groups=[],
                    capture_output=True,
                    text=True,
                    timeout=120,
                )
            except OSError as exc:  # the interpreter itself is out of the account's reach
                tried.append(f"{python}: {exc.strerror}")
                continue
            if probe.returncode == 0:
                self.run_python, self.run_python_version = python, probe.stdout.strip()
                self._probed = True
                return
            tail = (probe.stderr.strip().splitlines() or ["no output"])[-1]
            tried.append(f"{python}: {tail}")
        raise ExecutorError(
            f"the run account {label} cannot start papermill ({'; '.join(tried)}): the installation must be "
            "readable by other accounts (chmod o+rX on it and every parent folder), or use the container "
            "executor"
        )

    def _run_interpreter(self) -> str | None:
        """A virtual environment of the system's Python over the service's site-packages (or None)."""
        base = Path(f"/usr/bin/python{sys.version_info.major}.{sys.version_info.minor}")
        site_packages = Path(sysconfig.get_paths()["purelib"])
        if not base.is_file() or not site_packages.is_dir():
            return None
        env = self.work_dir / "python"
        lib = env / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}"
        for d in (env, env / "bin", env / "lib", lib):
            d.mkdir(exist_ok=True)
            os.chmod(d, 0o755)
        (env / "pyvenv.cfg").write_text(
            f"home = {base.parent}\ninclude-system-site-packages = false\nversion = {sys.version.split()[0]}\n"
        )
        for link, target in ((env / "bin" / "python3", base), (lib / "site-packages", site_packages)):
            if link.is_symlink() and Path(os.readlink(link)) == target:
                continue
            link.unlink(missing_ok=True)
            link.symlink_to(target)
        return str(env / "bin" / "python3")

    # -- one run ---------------------------------------------------------------------------------

    def _new_folder(self, prefix: str) -> tuple[Path, tuple[int, int, str] | None]:
        """An empty run folder under the work folder, owned by the run's identity (0700)."""
        ident = self.identity()
        euid = os.geteuid()
        if ident is not None:
            secure_root(self.work_dir, euid)
            self._probe(*ident)
        else:
            self.work_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        folder = Path(tempfile.mkdtemp(prefix=prefix, dir=self.work_dir))
        if ident is not None:
            os.chown(folder, ident[0], ident[1])
        return folder, ident

    @staticmethod
    def _hand_in(spec: RunSpec, folder: Path, ident: tuple[int, int, str] | None) -> None:
        """The run's notebook and parameters into its folder, the run's identity's."""
        for name in ("input.ipynb", "parameters.json"):
            # O_EXCL: a file the run's identity planted in its folder is not written through
            fd = os.open(folder / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as out, (spec.record_dir / name).open("rb") as src:
                shutil.copyfileobj(src, out)
            if ident is not None:
                os.chown(folder / name, ident[0], ident[1])

    def _prepare(self, spec: RunSpec) -> tuple[Path, tuple[int, int, str] | None]:
        folder, ident = self._new_folder(f"run-{spec.run_id}-")
        self._hand_in(spec, folder, ident)
        return folder, ident

    async def start(self, spec: RunSpec) -> Execution:
        self.check()
        if self.warm and spec.kernel == WARM_KERNEL:
            execution = await self._start_warm(spec)
            self._fill()
            if execution is not None:
                return execution
        try:
            folder, ident = await asyncio.to_thread(self._prepare, spec)
        except ExecutorError:
            raise
        except (OSError, subprocess.SubprocessError) as exc:
            raise ExecutorError(f"cannot prepare the run's folder: {exc}") from None
        identity: dict[str, Any] = {}
        if ident is not None:
            identity = {"user": ident[0], "group": ident[1], "extra_groups": []}
        # The log is opened by the service in its record folder: the run writes to the descriptor only.
        with open(spec.record_dir / "run.log", "ab") as logf:
            try:
                proc = await asyncio.create_subprocess_exec(
                    self.run_python,
                    *spec.papermill_args(str(folder)),
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=logf,
                    stderr=asyncio.subprocess.STDOUT,
                    cwd=folder,
                    env=self.environment(folder),
                    start_new_session=True,
                    umask=0o077,
                    **identity,
                )
            except OSError as exc:
                raise ExecutorError(f"cannot start papermill: {exc}") from None
        provenance = self.provenance()
        provenance["pid"] = proc.pid
        log.info("run %s of job %s started (pid %s, %s)", spec.run_id, spec.job, proc.pid, provenance["user"])
        state = {"proc": proc, "uid": ident[0] if ident else None}
        return Execution(spec, folder, str(proc.pid), provenance, state)

    async def wait(self, execution: Execution) -> int | None:
        proc: asyncio.subprocess.Process = execution.state["proc"]
        code = await proc.wait()
        slot: WarmSlot | None = execution.state.get("slot")
        if slot is not None:  # the rest of its output into the run's log
            await slot.close()
        if code < 0 and not execution.state.get("killed"):
            execution.state["lost_reason"] = (
                f"papermill was killed by signal {-code} (not by the jobs service)"
            )
        return code

    async def kill(self, execution: Execution) -> None:
        execution.state["killed"] = True
        proc: asyncio.subprocess.Process = execution.state["proc"]
        await asyncio.to_thread(kill_tree, proc.pid)

    async def collect(self, execution: Execution) -> None:
        folder = execution.workdir
        assert folder is not None
        uid = execution.state.get("uid")

        def finish() -> None:
            if uid is not None:
                kill_leftovers(uid, folder)
            copy_untrusted(folder / "output.ipynb", execution.spec.record_dir / "output.ipynb")
            shutil.rmtree(folder, ignore_errors=True)  # fd-based: links in the folder are not followed

        await asyncio.to_thread(finish)

    # -- the warm pool ---------------------------------------------------------------------------

    def warm_up(self) -> None:
        if not self.warm:
            return
        try:
            self.check()
        except ExecutorError:  # runs are refused here: nothing to warm
            return
        self._fill()

    async def pool_ready(self, timeout: float) -> bool:
        """Whether the pool holds :attr:`warm` ready processes, waiting up to ``timeout`` [s] (what an
        idle service has; for benchmarks and tests)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            slots = list(self._slots)
            if len(slots) >= self.warm and all([await slot.ready(0) for slot in slots]):
                return True
            await asyncio.sleep(0.05)
        return False

    def _fill(self) -> None:
        """Start warm processes in the background until the pool holds :attr:`warm`."""
        self._slots = [slot for slot in self._slots if slot.proc.returncode is None]
        for _ in range(self.warm - len(self._slots) - len(self._filling)):
            task = asyncio.ensure_future(self._add_slot())
            self._filling.add(task)
            task.add_done_callback(self._filling.discard)

    async def cool_down(self) -> None:
        """The pool's idle processes told to end (their kernels shut down), killed if they do not."""
        self.warm = 0  # and none started behind them; one still starting ends once it has
        await asyncio.gather(*self._filling, return_exceptions=True)
        slots, self._slots = self._slots, []
        await asyncio.gather(*(self._end_slot(slot) for slot in slots))

    async def _end_slot(self, slot: WarmSlot) -> None:
        if slot.proc.stdin is not None and not slot.proc.stdin.is_closing():
            slot.proc.stdin.close()  # end of input: the process shuts its kernel down and exits
        try:
            await asyncio.wait_for(slot.proc.wait(), WARM_EXIT_S)
        except TimeoutError:
            await asyncio.to_thread(kill_tree, slot.proc.pid)
        await slot.close()
        await asyncio.to_thread(shutil.rmtree, slot.folder, True)

    async def _add_slot(self) -> None:
        try:
            slot = await self._start_slot()
        except (ExecutorError, OSError, subprocess.SubprocessError) as exc:
            log.warning("warm pool: a run process did not start: %s", exc)
            return
        if not self.warm:  # the pool was cooled down while this one started
            await self._end_slot(slot)
            return
        self._slots.append(slot)

    async def _start_slot(self) -> WarmSlot:
        folder, ident = await asyncio.to_thread(self._new_folder, "run-warm-")
        identity: dict[str, Any] = {}
        if ident is not None:
            identity = {"user": ident[0], "group": ident[1], "extra_groups": []}
        proc = await asyncio.create_subprocess_exec(
            self.run_python, "-m", "workbench.jobs.warm", str(folder), WARM_KERNEL,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            cwd=folder, env=self.environment(folder), start_new_session=True, umask=0o077, **identity,
        )  # fmt: skip
        return WarmSlot(folder, proc, ident)

    async def _start_warm(self, spec: RunSpec) -> Execution | None:
        """The run on a process of the pool (waiting for it to be ready if it is still starting), or
        None when the pool has none that gets ready: the run then starts cold."""
        while self._slots:
            slot = self._slots.pop(0)
            if await slot.ready(WARM_READY_S):
                break
            await asyncio.to_thread(kill_tree, slot.proc.pid)
            await slot.close()
            shutil.rmtree(slot.folder, ignore_errors=True)
        else:
            return None
        try:
            await asyncio.to_thread(self._hand_in, spec, slot.folder, slot.ident)
            slot.log_to(spec.record_dir / "run.log")
            assert slot.proc.stdin is not None
            slot.proc.stdin.write(f"{GO}\n".encode())
            await slot.proc.stdin.drain()
            slot.proc.stdin.close()
        except (OSError, ConnectionError) as exc:
            await asyncio.to_thread(kill_tree, slot.proc.pid)
            await slot.close()
            shutil.rmtree(slot.folder, ignore_errors=True)
            log.warning("warm pool: run %s starts cold (%s)", spec.run_id, exc)
            return None
        provenance = {**self.provenance(), "pid": slot.proc.pid, "warm": True}
        log.info(
            "run %s of job %s started on a warm process (pid %s, %s)",
            spec.run_id, spec.job, slot.proc.pid, provenance["user"],
        )  # fmt: skip
        state = {"proc": slot.proc, "uid": slot.ident[0] if slot.ident else None, "slot": slot}
        return Execution(spec, slot.folder, str(slot.proc.pid), provenance, state)

    async def recover(self, refs: Iterable[str]) -> None:
        """At service start: end the process trees of runs a dead service left (if they still are ours)
        and remove the runs' folders (no run is active yet)."""

        def clean() -> None:
            for ref in refs:
                if not ref.isdigit():
                    continue
                try:
                    cmd = " ".join(psutil.Process(int(ref)).cmdline())
                except psutil.Error:
                    continue
                if ("papermill" in cmd or "workbench.jobs.warm" in cmd) and str(self.work_dir) in cmd:
                    kill_tree(int(ref))
            if self.work_dir.is_dir() and not self.work_dir.is_symlink():
                for folder in self.work_dir.glob("run-*"):
                    shutil.rmtree(folder, ignore_errors=True)

        await asyncio.to_thread(clean)
