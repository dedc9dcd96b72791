"""workbench.process: children stopped with their whole group, orphans found through the subreaper."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil

from workbench.process import ManagedProcess, stop_group

# A parent that starts a grandchild in its own group, writes the grandchild's pid, then waits.
PARENT = textwrap.dedent(
    """
    import subprocess, sys, time
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    open(sys.argv[1], "w").write(str(child.pid))
    time.sleep(600)
    """
)


def _wait_pid_file(path: Path, timeout: float = 20.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().strip():
            return int(path.read_text())
        time.sleep(0.05)
    raise AssertionError(f"{path} not written")


def _gone(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.05)
    return False


def test_stop_ends_the_child_and_its_group(tmp_path: Path) -> None:
    pid_file = tmp_path / "grandchild.pid"
    proc = ManagedProcess(
        "parent", [sys.executable, "-c", PARENT, str(pid_file)], log_file=tmp_path / "logs" / "parent.log"
    ).start()
    grandchild = _wait_pid_file(pid_file)
    assert proc.pid is not None and os.getpgid(proc.pid) == proc.pid  # leads its own group
    assert os.getpgid(grandchild) == proc.pid
    t0 = time.monotonic()
    code = proc.stop(timeout=10)
    assert code is not None and code != 0  # ended by a signal
    assert time.monotonic() - t0 < 5  # SIGTERM sufficed, no wait for the SIGKILL
    assert _gone(grandchild)
    assert (tmp_path / "logs" / "parent.log").exists()


def test_sigterm_ignored_is_followed_by_sigkill(tmp_path: Path) -> None:
    stubborn = "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nprint('ready', flush=True)\ntime.sleep(600)"
    proc = subprocess.Popen([sys.executable, "-c", stubborn], stdout=subprocess.PIPE, start_new_session=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready"
    t0 = time.monotonic()
    code = stop_group(proc.pid, timeout=1.0, popen=proc)
    assert code == -9
    assert 1.0 <= time.monotonic() - t0 < 6


# Starts a grandchild in a new session, prints its pid and exits: the grandchild is orphaned.
MIDDLE = """
import subprocess, sys
p = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"], start_new_session=True)
print(p.pid, flush=True)
"""

# Plays `workbench up`: subreaper, a child that dies leaving an orphan, then the final sweep.
REAPER = """
import subprocess, sys, time
from workbench.process import become_subreaper, stop_descendants
assert become_subreaper()
middle = subprocess.Popen([sys.executable, "-c", sys.argv[1]], stdout=subprocess.PIPE, text=True)
orphan = int(middle.stdout.readline())
middle.wait()
time.sleep(0.3)
print("orphan", orphan, flush=True)
print("stopped", stop_descendants(timeout=5), flush=True)
"""


def test_subreaper_collects_orphans_of_a_dead_child() -> None:
    """As in `workbench up`: a hub killed outright leaves servers that must still be stopped."""
    out = subprocess.run([sys.executable, "-c", REAPER, MIDDLE], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    lines = dict(line.split(" ", 1) for line in out.stdout.splitlines())
    orphan = int(lines["orphan"])
    assert str(orphan) in lines["stopped"]
    assert _gone(orphan)
