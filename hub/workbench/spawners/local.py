"""The embedded default spawner: one local JupyterLab process per user.

Each user's server runs ``jupyterhub-singleuser`` from the hub's own environment (so ``s2p`` and the
sample data are there) as the hub's system user, in the user's own directory
``<state>/users/<name>``, listening on a free port of 127.0.0.1.

It is the development and single-machine mode: users are separated by directory, not by the kernel.
Isolation between users is what the ``docker`` and ``swarm`` spawners add.

A new user's directory starts with a copy of the project's example notebooks (``examples/``), so the
first JupyterLab a newcomer sees has something to open; the lab is configured for an offline
deployment (no "Jupyter news" prompt, no update check: :data:`LAB_CONFIG_DIR`).
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Any

import psutil
from jupyterhub.spawner import LocalProcessSpawner
from traitlets import Unicode, default

from workbench.settings import PROJECT_ROOT, Settings
from workbench.spawners.ready import until_listening

EXAMPLES_DIR = PROJECT_ROOT / "notebooks" / "examples"
"""Notebooks copied into every new user's directory as ``examples/``."""

NUMBA_CACHE_DIR = Path(sys.prefix) / "numba-cache"
"""The environment's numba cache, filled by ``make install`` (``python -m s2p.warmup``): a new lab loads
the s2p kernels' machine code from it instead of compiling them on its user's first call."""

LAB_CONFIG_DIR = Path(__file__).resolve().parent.parent / "labconfig"
"""A Jupyter config directory added to the labs' ``JUPYTER_CONFIG_PATH``: its
``labconfig/page_config.json`` disables JupyterLab's announcements plugin (it asks to fetch news from
the internet and checks PyPI for updates, neither of which a workbench user can act on)."""


def seed_home(home: Path, examples: Path = EXAMPLES_DIR) -> bool:
    """Create a user's directory; a new one gets its own copy of ``examples`` as ``examples/``.

    An existing directory is left exactly as its user left it (a deleted ``examples/`` stays deleted).

    Returns
    -------
    bool
        Whether the directory was created now.
    """
    if home.exists():
        return False
    home.mkdir(parents=True, mode=0o750)
    if examples.is_dir():
        # A copy rather than a link: the user runs and edits their own notebooks, and nothing they
        # do reaches the project's originals (labs of the local spawner run as the hub's user).
        shutil.copytree(examples, home / "examples", ignore=shutil.ignore_patterns(".*", "__pycache__"))
    return True


def singleuser_command() -> str:
    """``jupyterhub-singleuser`` of the environment the hub runs in."""
    return str(Path(sys.executable).parent / "jupyterhub-singleuser")


class WorkbenchLocalSpawner(LocalProcessSpawner):
    """LocalProcessSpawner that needs no system account per user.

    JupyterHub's own class switches to a system user of the same name (``pwd`` look-up, ``setuid``);
    the workbench's users live in the IdP only, so the server runs as the hub's user, with ``HOME``
    set to the user's directory. As root, JupyterLab refuses to start without ``--allow-root``.
    """

    users_dir = Unicode(
        config=True,
        help="Parent of the users' directories; each user's server runs in <users_dir>/<name>.",
    )

    @default("cmd")
    def _default_cmd(self) -> list[str]:
        return [singleuser_command()]

    @default("popen_kwargs")
    def _default_popen_kwargs(self) -> dict[str, Any]:
        return {"cwd": str(self.home_dir)}

    @property
    def home_dir(self) -> Path:
        return Path(self.users_dir) / self.user.name

    def make_preexec_fn(self, name: str) -> Any:
        # No setuid: the server runs as the hub's user (see the class docstring).
        return None

    def user_env(self, env: dict[str, str]) -> dict[str, str]:
        env["USER"] = self.user.name
        env["HOME"] = str(self.home_dir)
        env["SHELL"] = "/bin/bash"
        env.setdefault("NUMBA_CACHE_DIR", str(NUMBA_CACHE_DIR))
        # JupyterLab merges the labconfig/page_config.json of every directory on this path.
        inherited = [p for p in env.get("JUPYTER_CONFIG_PATH", "").split(os.pathsep) if p]
        config_path = [str(LAB_CONFIG_DIR), *inherited]
        env["JUPYTER_CONFIG_PATH"] = os.pathsep.join(config_path)
        return env

    def get_args(self) -> list[str]:
        args: list[str] = super().get_args()
        if os.geteuid() == 0:
            args.append("--allow-root")
        return args

    async def move_certs(self, paths: dict[str, str]) -> dict[str, str]:
        # Internal SSL certificates stay where the hub wrote them: same system user.
        return paths

    async def start(self) -> Any:
        users = Path(self.users_dir).resolve()
        if self.home_dir.resolve().parent != users:
            # The authenticator's username pattern already forbids this; keep the invariant here too.
            raise ValueError(f"user name {self.user.name!r} does not map to a directory in {users}")
        seed_home(self.home_dir)
        self.notebook_dir = str(self.home_dir)
        ip, port = await super().start()
        await until_listening(ip, port, running=self._process_running, timeout=self.http_timeout)
        return ip, port

    async def _process_running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    async def _signal(self, sig: int) -> bool:
        """Signal the server's whole process group (it leads one: ``start_new_session``)."""
        if sig == 0:
            # After a hub restart the server is not our child: it may sit as a zombie of `workbench up`
            # for a moment after it exited, and a zombie is no running server.
            try:
                if psutil.Process(self.pid).status() == psutil.STATUS_ZOMBIE:
                    return False
            except psutil.NoSuchProcess:
                return False
            except psutil.Error:
                pass
            return bool(await super()._signal(sig))
        try:
            os.killpg(self.pid, sig)
        except ProcessLookupError:
            return False
        except PermissionError:
            return bool(await super()._signal(sig))
        return True


def configure(c: Any, settings: Settings) -> None:
    """Use :class:`WorkbenchLocalSpawner` with the users' directories under the state directory."""
    c.JupyterHub.spawner_class = WorkbenchLocalSpawner
    c.WorkbenchLocalSpawner.users_dir = str(settings.users_dir)
    c.WorkbenchLocalSpawner.ip = "127.0.0.1"
    c.WorkbenchLocalSpawner.port = 0  # a free port for every start
    # A lab shuts its kernels down on SIGINT; don't let a stuck one hold the stop for long.
    c.WorkbenchLocalSpawner.interrupt_timeout = 5
    c.WorkbenchLocalSpawner.term_timeout = 5
    c.WorkbenchLocalSpawner.default_url = "/lab"
    # The home page points newcomers at the examples/ that seed_home gives them.
    c.JupyterHub.template_vars.update({"workbench_examples": EXAMPLES_DIR.is_dir()})
