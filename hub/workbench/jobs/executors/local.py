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
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import psutil

from workbench.jobs.executors.base import Execution, Executor, ExecutorError, RunSpec, copy_untrusted

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
    ) -> None:
        self.work_dir = work_dir
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

    def _prepare(self, spec: RunSpec) -> tuple[Path, tuple[int, int, str] | None]:
        ident = self.identity()
        euid = os.geteuid()
        if ident is not None:
            secure_root(self.work_dir, euid)
            self._probe(*ident)
        else:
            self.work_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        folder = Path(tempfile.mkdtemp(prefix=f"run-{spec.run_id}-", dir=self.work_dir))
        for name in ("input.ipynb", "parameters.json"):
            shutil.copyfile(spec.record_dir / name, folder / name)
        if ident is not None:
            uid, gid, _ = ident
            for name in ("input.ipynb", "parameters.json"):
                os.chown(folder / name, uid, gid)
            os.chown(folder, uid, gid)  # last: until now only the service could write in it
        return folder, ident

    async def start(self, spec: RunSpec) -> Execution:
        self.check()
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
                if "papermill" in cmd and str(self.work_dir) in cmd:
                    kill_tree(int(ref))
            if self.work_dir.is_dir() and not self.work_dir.is_symlink():
                for folder in self.work_dir.glob("run-*"):
                    shutil.rmtree(folder, ignore_errors=True)

        await asyncio.to_thread(clean)
