"""Who containers of user-driven code run as (:mod:`workbench.runas`): jovyan for a hub that is root,
the hub's own user (and its own group) for one that is not, as in the stack's hub container."""

from __future__ import annotations

import os
import pwd
import shutil
import tempfile
from pathlib import Path

import pytest

from tests.support import need
from workbench.runas import JOVYAN, container_user, hand_over, user_spec


def _in_child_as(uid: int, gid: int, work) -> int:
    """Run ``work()`` in a child process that dropped to ``uid``:``gid``; its exit code."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 1
        try:
            os.setgroups([gid])
            os.setgid(gid)
            os.setuid(uid)
            code = 0 if work() else 3
        finally:
            os._exit(code)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


def test_a_root_hub_runs_them_as_jovyan_and_hands_files_over(tmp_path: Path) -> None:
    need(os.geteuid() == 0, "root (the hub of this case runs as root)")
    assert container_user() == JOVYAN and user_spec(JOVYAN) == "1000:1000"
    f = tmp_path / "voila.json"
    f.write_text("{}")
    hand_over(f, container_user())
    assert (f.stat().st_uid, f.stat().st_gid) == JOVYAN


@pytest.fixture
def open_folder():
    """A folder another user can reach (pytest's own are 0700 and root's)."""
    folder = Path(tempfile.mkdtemp(prefix="runas-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder)


def test_a_hub_that_is_not_root_runs_them_as_itself_with_its_own_group(open_folder: Path) -> None:
    need(os.geteuid() == 0, "root (to become another user for the test)")
    nobody = pwd.getpwnam("nobody")
    other_gid = 4242  # the process's group is not the user's own: the stack's hub runs as 1001:<docker gid>
    folder = open_folder / "run"
    folder.mkdir()
    os.chown(folder, nobody.pw_uid, other_gid)
    (folder / "input.ipynb").write_text("{}")
    os.chown(folder / "input.ipynb", nobody.pw_uid, other_gid)

    def check() -> bool:
        user = container_user()
        hand_over(folder / "input.ipynb", user)  # no chown: it is ours already (it would fail)
        st = (folder / "input.ipynb").stat()
        return user == (nobody.pw_uid, nobody.pw_gid) and (st.st_uid, st.st_gid) == (nobody.pw_uid, other_gid)

    assert _in_child_as(nobody.pw_uid, other_gid, check) == 0
