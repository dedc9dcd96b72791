"""The local tools' sandbox, run for real (as root on Linux: what the hub does for local tools)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.support import need

PROBE = """
import json, os
def read(p):
    try:
        with open(p) as f:
            return f.read()
    except OSError as e:
        return type(e).__name__
def listing(p):
    try:
        return sorted(os.listdir(p))
    except OSError as e:
        return type(e).__name__
status = dict(l.split(":", 1) for l in open("/proc/self/status").read().splitlines())
print(json.dumps({
    "ids": [os.getuid(), os.geteuid(), os.getgid(), os.getgroups()],
    "cwd": os.getcwd(),
    "secret": read(os.environ["SECRET"]),
    "state": listing(os.environ["STATE"]),
    "tool": read(os.environ["TOOL"]),
    "closed": listing(os.environ["CLOSED"]),
    "private": read(os.environ["PRIVATE"]),
    "no_new_privs": status["NoNewPrivs"].strip(),
    "cap_eff": status["CapEff"].strip(),
}))
"""


def test_sandbox_drops_to_the_uid_hides_the_state_and_opens_only_the_way(tmp_path: Path) -> None:
    need(os.geteuid() == 0 and sys.platform.startswith("linux"), "root on Linux (tests and CI run as root)")
    uid = 1_900_000_011
    state = tmp_path / "state"
    (state / "secrets").mkdir(parents=True)
    secret = state / "secrets" / "admin_api_token"
    secret.write_text("hub-secret")
    os.chmod(state, 0o755)  # even carelessly open, the state directory is hidden
    os.chmod(secret, 0o644)
    closed = tmp_path / "closed"
    tool = closed / "tool"
    tool.mkdir(parents=True)
    (tool / "app.yaml").write_text("title: x\n")
    (closed / "private.txt").write_text("root's")
    os.chmod(tmp_path, 0o755)
    os.chmod(closed, 0o700)
    os.chmod(tool, 0o755)
    env = {
        "SECRET": str(secret),
        "STATE": str(state),
        "TOOL": str(tool / "app.yaml"),
        "CLOSED": str(closed),
        "PRIVATE": str(closed / "private.txt"),
        "PATH": os.environ.get("PATH", ""),
    }
    python = str(Path(sys.executable).resolve())
    reach = [python, *{p for p in sys.path if p and Path(p).exists()}, str(tool)]
    command = [sys.executable, "-m", "workbench.apps.sandbox", "--uid", str(uid), "--cwd", str(tool)]
    command += ["--hide", str(state)]
    for p in reach:
        command += ["--reach", p]
    out = subprocess.run(
        [*command, "--", python, "-I", "-c", PROBE], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    seen = json.loads(out.stdout)
    assert seen["ids"] == [uid, uid, uid, []]
    assert seen["cwd"] == str(tool)
    assert seen["secret"] == "PermissionError" and seen["state"] == "PermissionError"
    assert seen["tool"] == "title: x\n"
    assert seen["closed"] == ["tool"]  # the way to the tool, nothing else of the closed folder
    assert seen["private"] == "FileNotFoundError"
    assert seen["no_new_privs"] == "1" and int(seen["cap_eff"], 16) == 0
    # Nothing of the sandbox's mounts is seen outside it.
    assert secret.read_text() == "hub-secret" and sorted(os.listdir(closed)) == ["private.txt", "tool"]
    assert str(state) not in Path("/proc/self/mountinfo").read_text()


def test_sandbox_refuses_root_and_a_missing_command() -> None:
    for args in (["--uid", "0", "--cwd", "/", "--", "true"], ["--uid", "5", "--cwd", "/"]):
        out = subprocess.run(
            [sys.executable, "-m", "workbench.apps.sandbox", *args],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert out.returncode == 2 and "error" in out.stderr
