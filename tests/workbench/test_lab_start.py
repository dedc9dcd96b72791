"""A lab's start leaves out the work it never needs: no Node.js call, no RFC 3987 grammar, no back-off."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from workbench.labstart import SLOW_IMPORTS, check_environment
from workbench.spawners import ready
from workbench.spawners.local import LAB_CONFIG_DIR

# What a lab's server process does before it imports JupyterLab: read its config files (the lab's
# jupyter_server_config.py, as Jupyter Server does), then import the extension.
LOAD_CONFIG_THEN_LAB = """
import sys
from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader
if sys.argv[1] == "config":
    PyFileConfigLoader("jupyter_server_config.py", path=sys.argv[2]).load_config()
import jupyterlab.labapp
"""


def fake_node(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """An environment whose ``node`` only records that it was called."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "node-calls"
    node = bin_dir / "node"
    node.write_text(f'#!/bin/sh\necho "$@" >> {calls}\n')
    node.chmod(0o755)
    env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return env, calls


@pytest.mark.parametrize("with_config", [True, False])
def test_the_labs_config_keeps_jupyterlab_from_asking_node_for_yarns_registry(
    tmp_path: Path, with_config: bool
) -> None:
    env, calls = fake_node(tmp_path)
    how = "config" if with_config else "bare"
    subprocess.run(
        [sys.executable, "-c", LOAD_CONFIG_THEN_LAB, how, str(LAB_CONFIG_DIR)],
        env=env,
        check=True,
        timeout=120,
    )
    if with_config:
        assert not calls.exists(), calls.read_text()
    else:  # the same import without the lab's config starts Node: what the config saves at every start
        assert "config" in calls.read_text()


def test_the_environment_has_none_of_the_slow_imports() -> None:
    assert check_environment() == [], (
        f"importable here: {check_environment()}; `make install` takes them out "
        f"(pip uninstall {' '.join(n.replace('_', '-') for n in SLOW_IMPORTS)})"
    )
    code = "import sys, jupyterhub.singleuser, papermill, voila.app; print(sorted(set(sys.modules) & set(sys.argv[1:])))"
    out = subprocess.run(
        [sys.executable, "-c", code, *SLOW_IMPORTS], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


def test_until_listening_sees_the_port_as_soon_as_it_listens() -> None:
    async def scenario() -> tuple[bool, float]:
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]

            async def listen_later() -> None:
                await asyncio.sleep(0.3)
                s.listen()

            async def running() -> bool:
                return True

            task = asyncio.create_task(listen_later())
            t0 = time.monotonic()
            seen = await ready.until_listening("127.0.0.1", port, running=running, timeout=10)
            await task
            return seen, time.monotonic() - t0

    seen, waited = asyncio.run(scenario())
    assert seen
    assert 0.3 <= waited < 0.3 + 0.25  # the hub's back-off could have added up to 0.4 s here


def test_until_listening_gives_up_on_a_lab_that_stopped_or_never_listens() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
        port = s.getsockname()[1]

        async def stopped() -> bool:
            return False

        async def alive() -> bool:
            return True

        t0 = time.monotonic()
        assert asyncio.run(ready.until_listening("127.0.0.1", port, running=stopped, timeout=30)) is False
        assert time.monotonic() - t0 < ready.CHECK_RUNNING_EVERY_S + 1.0
        t0 = time.monotonic()
        assert asyncio.run(ready.until_listening("127.0.0.1", port, running=alive, timeout=0.3)) is False
        assert 0.3 <= time.monotonic() - t0 < 1.3
