"""Published tools in containers (``WORKBENCH_SPAWNER=docker``, the production shape), with the
gateway's kernel message filter switched **off** (``WORKBENCH_APPS_KERNEL_FILTER=false``): the layers
behind it must hold on their own.

One workbench for the module, with the lab image built from this checkout (the session's
``lab_image``), two test-only tools and the shipped ``geomagnetic-storms``:

- each tool's Voila runs in a container of the lab image as jovyan (1000:1000: the hub here is root), every capability dropped,
  ``no-new-privileges``, its folder and the data read-only, no state directory, no Docker socket, no
  hub credential; nothing of the tool runs on the hub's side but its gateway;
- a visitor's non-widget messages now reach Voila, whose own allowlist drops them: no code runs;
- a tool that evaluates its visitor's input (the layer failing) runs code in the container, and that
  code finds neither the hub's secrets nor its database;
- pre-heated kernels and a shipped tool reading the data work in the container; the hub's stop
  removes the containers.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
import websocket

from tests.e2e.containers import docker_names
from tests.e2e.harness import Workbench, start_workbench
from tests.images.fixtures import need_docker
from tests.security import attacks
from tests.security.tools import write_tools
from tests.security.visitor import KernelSocket, PhoneHome, page_text, render
from tests.support import ROOT, need_executable
from workbench.images.build import BuildResult
from workbench.spawners.docker import instance_prefix

pytestmark = [pytest.mark.docker, pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(3600)]

TOOLS = ("probe-widgets", "probe-eval")
SHIPPED = "geomagnetic-storms"


@pytest.fixture(scope="module")
def wb(lab_image: BuildResult, open_root: Path) -> Iterator[Workbench]:
    need_docker()
    need_executable("node")
    apps = write_tools(open_root / "container-apps", list(TOOLS))
    shutil.copytree(ROOT / "voila-apps" / SHIPPED, apps / SHIPPED)
    state = open_root / "container-state"
    prefix = instance_prefix(SimpleNamespace(state_dir=state))
    env = {
        "WORKBENCH_SPAWNER": "docker",
        # By id: another build may move the tag while this module runs.
        "WORKBENCH_IMAGE": lab_image.image_id,
        "WORKBENCH_APPS_DIR": str(apps),
        "WORKBENCH_APPS_KERNEL_FILTER": "false",
        "WORKBENCH_APPS_MEMORY": "3G",
    }
    workbench = start_workbench(state, env)
    workbench.prefix = prefix  # type: ignore[attr-defined]
    try:
        yield workbench
    finally:
        workbench.stop()
        left = docker_names("container", f"{prefix}-tool-")
        for name in left:  # not ours to leave behind, whatever the assertion says
            subprocess.run(["docker", "rm", "-f", name], capture_output=True)
        assert left == [], "tool containers left after the hub stopped"


def inspect(wb: Workbench, tool: str) -> dict:
    name = f"{wb.prefix}-tool-{tool}"  # type: ignore[attr-defined]
    out = subprocess.run(["docker", "inspect", name], capture_output=True, text=True, check=True).stdout
    return dict(json.loads(out)[0])


def hub_log(wb: Workbench) -> str:
    return (wb.state_dir / "logs" / "hub.log").read_text(errors="replace")


def evaluate(ks: KernelSocket, ids: dict[str, str], expression: str) -> str:
    ks.set_widget(ids["expression"], value=f"{expression}  # {uuid.uuid4().hex}")
    return str(ks.widget_value(ids["result"])).split(": ", 1)[1]


def test_each_tool_runs_in_an_unprivileged_container_with_only_its_folder_and_the_data(wb: Workbench) -> None:
    for tool in (*TOOLS, SHIPPED):
        render(wb.url, tool)  # the tool is up
        info = inspect(wb, tool)
        host, config = info["HostConfig"], info["Config"]
        assert config["Image"] == wb.env["WORKBENCH_IMAGE"] and config["User"] == "1000:1000"
        assert host["CapDrop"] == ["ALL"] and not host.get("CapAdd")
        assert host["SecurityOpt"] == ["no-new-privileges"] and host["Privileged"] is False
        assert host["NetworkMode"] == "host" and host["Init"] is True and host["PidsLimit"] > 0
        assert host["Memory"] == host["MemorySwap"] == 3 << 30
        mounts = {m["Destination"]: m for m in info["Mounts"]}
        assert set(mounts) == {"/srv/tool", "/data", "/etc/workbench-voila/voila.json"}
        assert not any(m["RW"] for m in mounts.values())
        assert mounts["/srv/tool"]["Source"].endswith(f"/{tool}")
        # Of the state directory only the tool's own Voila configuration, one file written for it (the
        # engine must find it on the host, so it lies in the state directory the stack shares).
        config_file = Path(mounts["/etc/workbench-voila/voila.json"]["Source"])
        assert (
            config_file.parent.parent == wb.state_dir / "apps" / "config" and config_file.name == "voila.json"
        )
        assert mounts["/etc/workbench-voila/voila.json"]["Type"] == "bind"
        others = " ".join(m["Source"] for d, m in mounts.items() if d != "/etc/workbench-voila/voila.json")
        assert str(wb.state_dir) not in others and "docker.sock" not in others + str(config_file)
        env = dict(e.split("=", 1) for e in config["Env"])
        assert env["WORKBENCH_DATA_DIR"] == "/data"
        assert not [
            k for k in env if any(w in k for w in ("JUPYTERHUB", "TOKEN", "SECRET", "DB_URL", "OIDC"))
        ]
    # On the hub's side only the gateways run: no Voila, no kernel.
    lines = [" ".join(p.cmdline()) for p in wb.processes() if p.is_running()]
    assert sum("workbench.apps.gateway" in line for line in lines) == 3
    assert not [line for line in lines if "-m voila" in line or "ipykernel" in line]


def test_with_the_filter_off_voila_still_runs_no_visitor_code(wb: Workbench) -> None:
    phone = PhoneHome()
    marker = Path("/tmp") / f"attack-{uuid.uuid4().hex}"
    offset = len(hub_log(wb))
    try:
        page = render(wb.url, "probe-widgets")
        ks = KernelSocket.open(wb.url, page)
        try:
            sent = attacks.launch(ks, phone, marker, malformed=False)
            # comm_open is on Voila's list: the kernel answers it (busy, idle; a comm_close for the
            # unknown target) but runs nothing of the visitor's.
            silent = {label: i for label, i in sent.items() if not label.startswith("comm_open")}
            attacks.assert_nothing_ran(ks, silent, phone, marker)
            ks.set_widget(page.probe["level"], index=0)
            assert ks.widget_value(page.probe["chosen"]) == "chosen G1"
            # Without the gateway's filter a frame that is no kernel message reaches Voila, which
            # closes the socket: the visitor's answer, and nothing runs.
            attacks.send_malformed(ks)
            with pytest.raises(websocket.WebSocketConnectionClosedException):
                ks.collect(attacks.QUIET_S)
        finally:
            ks.close()
    finally:
        phone.close()
    log = hub_log(wb)[offset:]
    assert "dropped a visitor's kernel message" not in log  # the gateway passed everything on
    for kind in ("execute_request", "inspect_request", "complete_request", "history_request", "input_reply"):
        assert f'Received message of type "{kind}", which is not allowed' in log, kind


def test_a_tools_kernel_running_visitor_code_finds_no_secret(wb: Workbench) -> None:
    state = wb.state_dir
    assert (state / "secrets" / "admin_api_token").exists() and (state / "jupyterhub.sqlite").exists()
    phone = PhoneHome()
    page = render(wb.url, "probe-eval")
    ks = KernelSocket.open(wb.url, page)
    try:
        ask = lambda expression: evaluate(ks, page.probe, expression)  # noqa: E731
        # The visitor's code does run (the layer that failed): it reaches the listener on loopback.
        assert ask(phone.code("here")) == "None"
        for path in (
            state / "secrets" / "admin_api_token",
            state / "secrets" / "cookie_secret",
            state / "jupyterhub.sqlite",
            "/var/run/docker.sock",
            "/run/docker.sock",
        ):
            assert ask(f"open({str(path)!r}, 'rb').read()").startswith("FileNotFoundError"), path
        assert ask("__import__('os').getuid(), __import__('os').getgid()") == "(1000, 1000)"
        status = "{l.split(':')[0]: l.split(':')[1].strip() for l in open('/proc/self/status')}"
        assert ask(f"{status}['CapEff'], {status}['NoNewPrivs']") == "('0000000000000000', '1')"
        leaked = ask(
            "sorted(k for k in __import__('os').environ if any(w in k for w in ('JUPYTERHUB', 'TOKEN', 'SECRET', 'DB_URL', 'OIDC')))"
        )
        assert leaked == "[]", leaked
        # Its own folder and the data cannot be changed (root's files, on read-only mounts).
        for path in ("/srv/tool/app.yaml", "/srv/tool/planted.py", "/data/planted"):
            answer = ask(f"open({path!r}, 'a')")
            assert answer.startswith(("PermissionError", "OSError: [Errno 30] Read-only file system")), answer
        assert ask("len(__import__('os').listdir('/data')) > 0") == "True"
    finally:
        ks.close()
        phone.close()
    assert phone.calls == [b"here"]


def test_preheated_kernels_and_a_shipped_tool_work_in_containers(wb: Workbench) -> None:
    first, second = render(wb.url, "probe-widgets"), render(wb.url, "probe-widgets")
    assert first.kernel_id != second.kernel_id and first.probe["probe"] == second.probe["probe"] == "widgets"
    shipped = render(wb.url, SHIPPED)
    text = page_text(shipped.html)
    assert "There was an error when executing cell" not in text and "Traceback" not in text
    assert "cell-output" in shipped.html or "jp-OutputArea" in shipped.html
    assert "Voila and its kernels run in container" in hub_log(wb)
    assert docker_names("container", f"{wb.prefix}-tool-")  # type: ignore[attr-defined]
