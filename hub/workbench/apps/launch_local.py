"""A tool's Voila as a child process of its gateway (the local spawner: development, one machine).

When the hub runs as root (tests, CI, a development container), Voila and its kernels run in the
sandbox of :mod:`workbench.apps.sandbox`: under a uid of the tool's own (:func:`tool_uid`), with no
supplementary group, a private temporary home, and a mount namespace in which the state directory
(the hub database, ``secrets/``, the users' homes) is an empty directory nobody may enter. That uid
needs no account; it owns nothing but the tool's temporary home and what its kernels write to
``/tmp``. Other tools run under other uids, so a tool cannot signal or read another's processes.

The uid must be able to read the Python environment, the tool's folder and the data (the sandbox
opens the directories on the way, such as ``/root`` for a Python installed under it, but not a file
without ``o+r``). When it cannot, or when the hub does not run as root (a developer's own account,
which cannot switch users), the tool runs as the hub's user and the gateway logs why: development
mode then isolates nothing, as ``docs/security.md`` says.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import pwd
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Mapping
from pathlib import Path

import psutil

from workbench.apps import sandbox
from workbench.apps.handover import Launch
from workbench.apps.spec import AppSpec
from workbench.apps.voila import STOP_TIMEOUT, VoilaServer, die_with_parent

log = logging.getLogger("workbench.apps.gateway")

UID_SPAN = 1 << 24
"""Width of the range the tools' uids are drawn from (above WORKBENCH_APPS_UID_BASE)."""

INHERITED = ("PATH", "LANG", "LC_ALL", "TZ", "VIRTUAL_ENV", "PYTHONPATH")
"""Variables of the gateway's own environment that Voila keeps (none of the hub's credentials)."""


def numba_cache_dir() -> Path:
    """The environment's numba cache, filled by ``make install`` (the local labs' too)."""
    from workbench.spawners.local import NUMBA_CACHE_DIR

    return NUMBA_CACHE_DIR


def private_numba_cache(home: Path, uid: int, source: Path) -> Path | None:
    """A copy of the warmed numba cache ``source`` in a sandboxed tool's ``home``, owned by its ``uid``.

    A tool's kernels then load the s2p kernels' machine code instead of compiling it on the first page
    (10-30 s of CPU a tool before this). A copy, not the shared folder: a tool's kernels may write to
    their cache, and nothing one tool writes may be loaded by another tool or a lab. About 15 MB.
    """
    if not source.is_dir():
        return None
    target = home / ".numba-cache"
    shutil.copytree(source, target, symlinks=False, ignore=shutil.ignore_patterns("*.lock"))
    for root, _dirs, files in os.walk(target):
        os.chown(root, uid, uid)
        for name in files:
            os.chown(os.path.join(root, name), uid, uid)
    return target


def tool_uid(base: int, state_dir: Path | str, name: str) -> int:
    """The uid of a tool's Voila and kernels: fixed for one workbench (state directory) and tool.

    Two workbenches on one machine, or two tools of one workbench, get different uids (barring a
    collision in a range of :data:`UID_SPAN`), so neither can signal or read the other's processes.
    """
    digest = hashlib.sha256(f"{Path(state_dir).resolve()}\0{name}".encode()).digest()
    return base + int.from_bytes(digest[:8], "big") % UID_SPAN


def _package_dir(name: str) -> Path | None:
    found = importlib.util.find_spec(name)
    if found is None or not found.submodule_search_locations:
        return None
    return Path(next(iter(found.submodule_search_locations)))


def needed_paths(spec: AppSpec, data_dir: str) -> list[Path]:
    """What the tool's Voila and kernels read: Python, its packages, the tool's folder, the data."""
    paths = [Path(sys.executable), Path(sys.prefix) / "share" / "jupyter"]
    paths += [Path(sysconfig.get_paths()[k]) for k in ("stdlib", "purelib", "platlib")]
    paths += [p for p in (_package_dir("voila"), _package_dir("s2p")) if p is not None]
    paths += [spec.directory, spec.notebook]
    if data_dir:
        paths.append(Path(data_dir))
    return paths


def _inside(path: Path, directory: Path) -> bool:
    path, directory = path.resolve(), directory.resolve()
    return path == directory or directory in path.parents


class LocalVoila(VoilaServer):
    """Voila as a child process; in the sandbox, under the tool's own uid, when the hub runs as root."""

    def __init__(self, spec: AppSpec, prefix: str, launch: Launch, inherited: Mapping[str, str]) -> None:
        super().__init__(spec, prefix, launch)
        self.inherited = {k: v for k, v in inherited.items() if k in INHERITED}
        self.process: subprocess.Popen[bytes] | None = None
        self.uid: int | None = None
        self._home: Path | None = None
        self._numba_cache: Path | None = None

    @property
    def where(self) -> str:
        return f"uid {self.uid}" if self.uid is not None else f"the hub's user (uid {os.geteuid()})"

    def isolation(self) -> tuple[int | None, str]:
        """The uid to run as, or None and why the tool runs as the hub's user."""
        uid = self.launch.local_uid
        if uid is None:
            return None, "no uid was configured for the tool"
        if os.geteuid() != 0:
            return None, "the hub does not run as root, so it cannot switch users"
        if not sys.platform.startswith("linux"):
            return None, "the sandbox needs Linux (mount namespaces)"
        try:
            account: str | None = pwd.getpwuid(uid).pw_name
        except KeyError:
            account = None
        if account is not None:
            return None, f"uid {uid} is the account {account!r}; choose another WORKBENCH_APPS_UID_BASE"
        unreadable = sandbox.plan(uid, needed_paths(self.spec, self.launch.data_dir)).unreadable
        if unreadable is not None:
            return None, f"uid {uid} cannot read {unreadable} (give it o+r, and o+x to a directory)"
        return uid, ""

    def hidden(self) -> list[Path]:
        """The directories to hide (the state directory), unless the tool needs something inside."""
        needed = needed_paths(self.spec, self.launch.data_dir)
        out = []
        for raw in self.launch.hidden:
            d = Path(raw)
            clash = [p for p in needed if p.exists() and _inside(p, d)]
            if clash:
                log.warning(
                    "tool %s: %s is not hidden from the tool: it holds %s", self.spec.name, d, clash[0]
                )
            else:
                out.append(d)
        return out

    def command(self, config_dir: Path) -> list[str]:
        """Voila's command; as root, behind the sandbox that drops to the tool's uid."""
        voila = [sys.executable, "-m", "voila", *self.voila_args(str(self.spec.directory), str(config_dir))]
        if self.uid is None:
            return voila
        wrap = [sys.executable, "-m", "workbench.apps.sandbox", "--uid", str(self.uid)]
        wrap += ["--cwd", str(self.spec.directory)]
        for d in self.hidden():
            wrap += ["--hide", str(d)]
        for p in needed_paths(self.spec, self.launch.data_dir):
            wrap += ["--reach", str(p)]
        return [*wrap, "--", *voila]

    def environment(self) -> dict[str, str]:
        """Voila's environment: a few inherited variables and the tool's settings; no hub credential."""
        env = {**self.inherited, "PYTHONUNBUFFERED": "1", **self.launch.environment}
        if self._home is not None:
            user = f"tool-{self.spec.name}"
            env.update(HOME=str(self._home), USER=user, LOGNAME=user)
            if self._numba_cache is not None:
                env["NUMBA_CACHE_DIR"] = str(self._numba_cache)
        elif numba_cache_dir().is_dir():  # the hub's own user, as a local lab: the environment's cache
            env["NUMBA_CACHE_DIR"] = str(numba_cache_dir())
        return env

    async def start(self) -> None:
        # On the event loop's thread: a child started with a preexec_fn from another thread may hang.
        self.uid, why = self.isolation()
        if self.uid is None:
            level = logging.WARNING if os.geteuid() == 0 else logging.INFO
            log.log(level, "tool %s: Voila and its kernels run as the hub's user: %s", self.spec.name, why)
        else:
            self._home = Path(tempfile.mkdtemp(prefix=f"voila-home-{self.spec.name}-"))
            os.chown(self._home, self.uid, self.uid)
            self._numba_cache = private_numba_cache(self._home, self.uid, numba_cache_dir())
            log.info("tool %s: Voila and its kernels run as uid %d in a sandbox", self.spec.name, self.uid)
        config = self.write_config(None if self.uid is None else (self.uid, self.uid), owner_dir=True)
        self.process = subprocess.Popen(
            self.command(config.parent),
            cwd=self.spec.directory,
            env=self.environment(),
            stdin=subprocess.DEVNULL,
            preexec_fn=die_with_parent,
        )

    def exit_code(self) -> int | None:
        return self.process.poll() if self.process is not None else None

    def stop(self) -> None:
        proc = self.process
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        if self.uid is not None:
            self._end_leftovers(self.uid)
        self.remove_config()
        if self._home is not None:
            shutil.rmtree(self._home, ignore_errors=True)
            self._home = None
            self._numba_cache = None

    @staticmethod
    def _end_leftovers(uid: int) -> None:
        """Kill what still runs under the tool's uid (kernels of a Voila that was killed)."""
        for p in psutil.process_iter(["uids"]):
            try:
                if p.info["uids"] is not None and p.info["uids"].real == uid:
                    p.kill()
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
