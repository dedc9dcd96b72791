"""Published tools: first render and widget interaction, pre-heated and cold, 1 and N visitors at once.

A real workbench (``tests/e2e/harness.py``: dev IdP, hub, proxy, one gateway and Voila per tool) is
started on a copy of the shipped tools (``SHIPPED_TOOLS``) in which each tool is published twice:

- ``<tool>``: its ``app.yaml`` as shipped (``kernels.preheat`` kernels that ran the notebook before
  anyone asked: Voila's ``preheat_kernel``/``default_pool_size``); each round waits until the pool is
  full *and* its kernels have finished running the notebook (their CPU time stands still);
- ``<tool>-cold``: the same folder with ``kernels.preheat: 0`` (every page starts a kernel and runs the
  notebook while it is asked for). Its first page is measured apart (``cold-1st``): that kernel fills
  the caches of the Voila's fresh home (numba's compiled s2p kernels, matplotlib's font list) that its
  later kernels read. With N visitors on ``<tool>``, Voila's pool of one serves the first and the
  others get the kernels its refills start (one per page taken, after Voila's 1 s ``fill_delay``),
  which run the notebook while the visitors wait: that is measured as it comes.

Each visitor is a browser-less client of the public URL, with the access the tool asks for: nobody
(public), a user logged in through the IdP's form (``logged-in``: ``neo-analyst``'s segment), or a
member of one of the tool's groups (synthetic users of a realm written for the run, one per visitor).
The hub's OAuth round trip of the tool's gateway is done before the clock starts.

First render (one sample per visitor): from the request of ``/services/<tool>/`` (the gateway's
redirect to Voila's page) until the page is there as a browser shows it:

1. the page's HTML has arrived to its end (a pre-heated page carries its cell outputs; a cold one is
   streamed cell by cell as the kernel runs them, and its end means every cell ran), then
2. the page's script connects the kernel websocket through the gateway (``v1.kernel.websocket``
   framing by default), asks for ``kernel_info``, opens the widget manager's ``jupyter.widget.control``
   comm and asks ``request_states``: the ``update_states`` answer (every widget model, with its
   buffers: the plots) is the end of the render.

Interaction (``--interactions`` samples per visitor, after the render, all visitors at once): a
widget's value is changed as a browser does (``comm_msg`` ``update`` of a Dropdown's ``index``,
alternating between two values), timed until the kernel's ``idle`` status for that message, after its
echo and the updates of the widgets the change redraws. A tool without a widget says so and is
measured for the render only.

Peer, same run: a bare ``python -m voila`` per tool and mode, with the configuration our gateway's
Voila gets (``workbench.apps.voila.voila_config``), reached directly with its token: no hub, proxy,
gateway, OAuth nor message filter, nor sandbox (it runs as this process's user), but a fresh home
with empty caches as the sandbox gives (``NUMBA_CACHE_DIR`` in it). The peer's two Voilas of a tool
share that home, so its cold pages find the caches its pre-heated kernel filled at start: the peer
has no ``cold-1st`` row (to save the time of a second cold first page per tool).

    .venv/bin/python bench/tools.py [--tools geomagnetic-storms,neo-risk-list,conjunction-viewer]
        [--visitors 1,10] [--repeats 1] [--interactions 3] [--modes preheated,cold]
        [--peer-visitors 1] [--framing v1|json] [--json PATH]

Prints per tool, mode and visitors: first render p50/p95/max, interaction p50/p95/max, the peer's
p50/p95 beside them, where a cold render's time goes (to the kernel's start, then cell by cell), and
the load average before and after (other work shares the machine: the figures are upper bounds).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psutil
import requests
import websocket
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.synthetic_users import write_realm  # noqa: E402
from tests.e2e.harness import SHIPPED_TOOLS, Workbench, login_via_idp, start_workbench  # noqa: E402
from workbench.apps.messages import V1_PROTOCOL, KernelMessage, parse, serialize  # noqa: E402
from workbench.apps.policy import PAGE  # noqa: E402
from workbench.apps.spec import load_app  # noqa: E402
from workbench.apps.voila import voila_config  # noqa: E402

DEFAULT_TOOLS = ("geomagnetic-storms", "neo-risk-list", "conjunction-viewer")
COLD = "-cold"
BOUND_S = 300.0
"""Longest a render or an interaction may take before the visit counts as failed [s]."""
WARM_TIMEOUT_S = 240.0
"""Longest wait for a tool's pool of pre-heated kernels to be full and done [s]."""

INTERACTIONS: dict[str, tuple[str, str, tuple[int, int]]] = {
    "geomagnetic-storms": ("storm-choice", "index", (1, 0)),  # a storm / the last 30 days: the Kp plot
    "conjunction-viewer": ("satellite-choice", "index", (1, 0)),  # another satellite: its conjunctions, plot
    "neo-risk-list": ("object-choice", "index", (1, 0)),  # another object: its orbit plot and MOID
}
"""Per tool: the widget changed (its CSS class), the state key and the two values it alternates between.
A tool not listed here has its first Dropdown or slider changed."""

SEGMENT_OF_GROUP = {"swe": "swe", "debris": "debris", "neo": "neo", "operators": "debris"}
KERNEL_ID = re.compile(r'"kernelId"\s*:\s*"([0-9a-f-]{36})"')
CELL_MARK = re.compile(rb'<div cell-index="(\d+)">')
CONFIG_MARK = b'id="jupyter-config-data"'


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f} ({os.cpu_count()} cores)"


# ------------------------------------------------------------------------------------------------
# kernel messages over the page's websocket


def _header(msg_type: str, session: str) -> dict[str, Any]:
    return {
        "msg_id": uuid.uuid4().hex,
        "msg_type": msg_type,
        "session": session,
        "username": "visitor",
        "version": "5.3",
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


class KernelSocket:
    """A page's kernel websocket, in the framing the server chose (v1 binary, or legacy JSON)."""

    def __init__(self, url: str, headers: list[str], framing: str) -> None:
        offered = [V1_PROTOCOL] if framing == "v1" else None
        self.ws = websocket.create_connection(url, header=headers, subprotocols=offered, timeout=BOUND_S)
        self.protocol = self.ws.getsubprotocol() or None
        self.session = uuid.uuid4().hex

    def send(
        self, channel: str, msg_type: str, content: dict[str, Any], metadata: dict[str, Any] | None = None
    ) -> str:
        header = _header(msg_type, self.session)
        framing = "v1" if self.protocol == V1_PROTOCOL else "json"
        frame = serialize(KernelMessage(channel, header, {}, metadata or {}, content, [], framing))
        if isinstance(frame, bytes):
            self.ws.send_binary(frame)
        else:
            self.ws.send(frame)
        return str(header["msg_id"])

    def messages(self, deadline: float) -> Iterator[KernelMessage]:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no answer from the kernel in time")
            self.ws.settimeout(max(0.1, min(left, 5.0)))
            try:
                frame = self.ws.recv()
            except websocket.WebSocketTimeoutException:
                continue
            yield parse(frame, self.protocol)  # legacy: JSON text, or binary with buffers

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.ws.close()


# ------------------------------------------------------------------------------------------------
# one visitor


@dataclass
class Target:
    """Where a tool's page is asked for: through the workbench (``ours``) or a bare Voila (``peer``)."""

    kind: str
    base: str
    """URL of the tool, ending with ``/`` (``…/services/<name>/``)."""
    token: str = ""
    """The bare Voila's token (peer), sent as a header."""

    @property
    def entry(self) -> str:
        # Through the gateway a visitor follows the tool's URL (its redirect to the page); Voila has none.
        return self.base if self.kind == "ours" else self.base + PAGE


@dataclass
class Visit:
    """One visitor's samples [s]."""

    render: float = float("nan")
    first_byte: float = float("nan")
    html: float = float("nan")
    kernel_started: float = float("nan")
    cells: dict[int, float] = field(default_factory=dict)
    interactions: list[float] = field(default_factory=list)
    updates: int = 0
    widget: str = ""
    error: str = ""


class Visitor:
    """A browser-less visitor of one tool, with its own cookies."""

    def __init__(
        self, target: Target, tool: str, framing: str, session: requests.Session | None = None
    ) -> None:
        self.target = target
        self.tool = tool
        self.framing = framing
        self.session = session or requests.Session()
        if target.token:
            self.session.headers["Authorization"] = f"token {target.token}"
        self.kernel_id = ""
        self.socket: KernelSocket | None = None
        self.states: dict[str, Any] = {}

    def prime(self) -> None:
        """Follow the tool's redirects (the hub's OAuth round trip) up to the page, without asking for it."""
        url = self.target.entry
        for _ in range(12):
            r = self.session.get(url, allow_redirects=False, timeout=60)
            if r.status_code not in {301, 302, 303, 307}:
                raise RuntimeError(
                    f"{self.tool}: HTTP {r.status_code} at {urlsplit(url).path} before the page"
                )
            url = requests.compat.urljoin(url, r.headers["Location"])
            if urlsplit(url).path.endswith(PAGE):
                return
        raise RuntimeError(f"{self.tool}: too many redirects before the page")

    def render(self, visit: Visit) -> None:
        t0 = time.monotonic()
        deadline = t0 + BOUND_S
        with self.session.get(self.target.entry, stream=True, timeout=BOUND_S) as r:
            visit.first_byte = time.monotonic() - t0
            if r.status_code != 200 or not urlsplit(r.url).path.endswith(PAGE):
                raise RuntimeError(f"HTTP {r.status_code} at {urlsplit(r.url).path}: {r.text[:300]!r}")
            body = bytearray()
            for chunk in r.iter_content(chunk_size=None):
                start = max(0, len(body) - 64)
                body += chunk
                now = time.monotonic() - t0
                if math.isnan(visit.kernel_started) and CONFIG_MARK in body:
                    visit.kernel_started = now
                for m in CELL_MARK.finditer(bytes(body[start:])):
                    visit.cells.setdefault(int(m.group(1)), now)
        visit.html = time.monotonic() - t0
        m = KERNEL_ID.search(body.decode("utf-8", "replace"))
        if not m:
            raise RuntimeError("the page names no kernel")
        self.kernel_id = m.group(1)
        self._connect()
        self._widget_states(deadline)
        visit.render = time.monotonic() - t0

    def _connect(self) -> None:
        base = self.target.base
        url = "ws" + base[len("http") :] + f"api/kernels/{self.kernel_id}/channels?session_id={uuid.uuid4()}"
        headers = ["Sec-Fetch-Mode: websocket"]
        cookie = "; ".join(f"{c.name}={c.value}" for c in self.session.cookies)
        if cookie:
            headers.append(f"Cookie: {cookie}")
        if self.target.token:
            headers.append(f"Authorization: token {self.target.token}")
        self.socket = KernelSocket(url, headers, self.framing)

    def _widget_states(self, deadline: float) -> None:
        """What the page's widget manager does: kernel info, the control comm, every widget's state."""
        assert self.socket is not None
        info = self.socket.send("shell", "kernel_info_request", {})
        for msg in self.socket.messages(deadline):
            if msg.msg_type == "kernel_info_reply" and msg.parent_header.get("msg_id") == info:
                break
        comm = uuid.uuid4().hex
        self.socket.send(
            "shell",
            "comm_open",
            {"comm_id": comm, "target_name": "jupyter.widget.control", "data": {}},
            {"version": "1.0.0"},
        )
        self.socket.send("shell", "comm_msg", {"comm_id": comm, "data": {"method": "request_states"}})
        for msg in self.socket.messages(deadline):
            data = msg.content.get("data") or {}
            if (
                msg.msg_type == "comm_msg"
                and msg.content.get("comm_id") == comm
                and data.get("method") == "update_states"
            ):
                self.states = dict(data.get("states") or {})
                return

    def widget(self) -> tuple[str, str, tuple[int, int], str] | None:
        """(comm id, state key, two values, description) of the widget changed, None if the page has none."""
        wanted = INTERACTIONS.get(self.tool)
        for comm_id, model in self.states.items():
            state = model.get("state", {})
            classes = state.get("_dom_classes") or []
            if wanted and wanted[0] in classes:
                return comm_id, wanted[1], wanted[2], f"{model.get('model_name')} .{wanted[0]}"
        if wanted:
            return None
        for comm_id, model in self.states.items():  # a tool not in INTERACTIONS: its first choice widget
            state = model.get("state", {})
            if model.get("model_name") == "DropdownModel" and len(state.get("_options_labels") or []) > 1:
                return comm_id, "index", (1, 0), "DropdownModel"
            if model.get("model_name") == "IntSliderModel" and state.get("max", 0) > state.get("min", 0):
                return comm_id, "value", (int(state["min"]) + 1, int(state["min"])), "IntSliderModel"
        return None

    def interact(self, comm_id: str, key: str, value: int) -> tuple[float, int]:
        """Change the widget's state; seconds until the kernel is idle again, and the updates it sent."""
        assert self.socket is not None
        t0 = time.monotonic()
        msg_id = self.socket.send(
            "shell",
            "comm_msg",
            {"comm_id": comm_id, "data": {"method": "update", "state": {key: value}, "buffer_paths": []}},
        )
        updates = 0
        for msg in self.socket.messages(t0 + BOUND_S):
            if msg.parent_header.get("msg_id") != msg_id:
                continue
            if msg.msg_type == "comm_msg":
                updates += 1
            elif msg.msg_type == "status" and msg.content.get("execution_state") == "idle":
                return time.monotonic() - t0, updates
        raise TimeoutError  # unreachable: messages() raises first

    def leave(self) -> None:
        """Close the tab: the socket, then Voila's shutdown call for the page's kernel."""
        if self.socket is not None:
            self.socket.close()
            self.socket = None
        if self.kernel_id:
            with contextlib.suppress(requests.RequestException):
                self.session.post(
                    self.target.base + f"voila/api/shutdown/{self.kernel_id}",
                    headers={"Sec-Fetch-Mode": "cors", "Sec-Fetch-Site": "same-origin"},
                    timeout=60,
                )
            self.kernel_id = ""


def visit(visitor: Visitor, interactions: int, barrier: threading.Barrier | None) -> Visit:
    """Render, then (after every visitor of the round has rendered) interact; the tab stays open."""
    v = Visit()
    try:
        visitor.render(v)
    except Exception as exc:  # the visit failed: recorded with its cause, the round goes on
        v.error = f"render: {type(exc).__name__}: {exc}"[:300]
    if barrier is not None:
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait(BOUND_S)
    if v.error:
        return v
    found = visitor.widget()
    if found is None:
        v.widget = "none"
        return v
    comm_id, key, values, v.widget = found
    current = visitor.states[comm_id]["state"].get(key)
    try:
        for i in range(interactions):
            value = values[0] if (current == values[1]) == (i % 2 == 0) else values[1]
            seconds, updates = visitor.interact(comm_id, key, value)
            v.interactions.append(seconds)
            v.updates = max(v.updates, updates)
    except Exception as exc:
        v.error = f"interaction: {type(exc).__name__}: {exc}"[:300]
    return v


# ------------------------------------------------------------------------------------------------
# kernels pre-heated and done


def _kernels_of(parent: psutil.Process) -> list[psutil.Process]:
    try:
        return [p for p in parent.children(recursive=True) if "ipykernel" in " ".join(p.cmdline())]
    except psutil.Error:
        return []


def wait_warm(
    voila: Callable[[], psutil.Process | None], preheat: int, what: str, quiet_s: float = 1.5
) -> float:
    """Wait until ``preheat`` kernels run under the Voila process and none used CPU for ``quiet_s``.

    Returns the seconds waited. A kernel that ran the notebook idles; one still running it does not
    (under contention it still gets some CPU within the window).
    """
    t0 = time.monotonic()
    deadline = t0 + WARM_TIMEOUT_S
    last: dict[int, float] = {}
    quiet_since: float | None = None
    while time.monotonic() < deadline:
        parent = voila()
        kernels = _kernels_of(parent) if parent is not None else []
        now: dict[int, float] = {}
        for k in kernels:
            with contextlib.suppress(psutil.Error):
                t = k.cpu_times()
                now[k.pid] = t.user + t.system
        busy = len(now) < preheat or any(abs(now[p] - last.get(p, -1.0)) > 0.02 for p in now)
        last = now
        if busy:
            quiet_since = None
        elif quiet_since is None:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since >= quiet_s:
            return time.monotonic() - t0
        time.sleep(0.5)
    raise RuntimeError(
        f"{what}: pool of {preheat} pre-heated kernel(s) not ready after {WARM_TIMEOUT_S:.0f} s"
    )


def voila_of(wb: Workbench, service: str) -> Callable[[], psutil.Process | None]:
    """The Voila process of a tool of the workbench (found again each call: the hub may restart it)."""
    marker = f"/{service}"

    def find() -> psutil.Process | None:
        for p in wb.processes():
            with contextlib.suppress(psutil.Error):
                line = " ".join(p.cmdline())
                if "-m voila" in line and any(a.rstrip("/").endswith(marker) for a in p.cmdline()):
                    return p
        return None

    return find


# ------------------------------------------------------------------------------------------------
# the run


@dataclass
class Row:
    target: str
    tool: str
    mode: str
    visitors: int
    visits: list[Visit] = field(default_factory=list)
    warm_wait: list[float] = field(default_factory=list)

    def renders(self) -> list[float]:
        return [v.render for v in self.visits if not v.error]

    def interactions(self) -> list[float]:
        return [s for v in self.visits for s in v.interactions]

    def errors(self) -> list[str]:
        return [v.error for v in self.visits if v.error]


def make_apps(tools: list[str], into: Path) -> Path:
    """The shipped tools, each as shipped and again as ``<tool>-cold`` with ``kernels.preheat: 0``."""
    apps = into / "voila-apps"
    apps.mkdir(parents=True)
    for tool in tools:
        shutil.copytree(SHIPPED_TOOLS / tool, apps / tool)
        cold = apps / f"{tool}{COLD}"
        shutil.copytree(SHIPPED_TOOLS / tool, cold)
        spec = yaml.safe_load((cold / "app.yaml").read_text())
        spec.setdefault("kernels", {})["preheat"] = 0
        (cold / "app.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    return apps


class PeerVoila:
    """A bare Voila on the tool's folder with the configuration the gateway gives its own."""

    def __init__(self, folder: Path, state: Path, home: Path) -> None:
        spec = load_app(folder)
        self.spec = spec
        self.token = uuid.uuid4().hex
        self.port = _free_port()
        self.prefix = f"/peer/{folder.name}/"
        config_dir = state / f"peer-{folder.name}"
        config_dir.mkdir(parents=True)
        (config_dir / "voila.json").write_text(json.dumps(voila_config(spec, self.token)))
        self.log = open(config_dir / "voila.log", "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "voila",
                str(folder),
                "--no-browser",
                f"--port={self.port}",
                f"--base_url={self.prefix}",
                f"--Voila.config_file_paths={config_dir}",
            ],
            cwd=folder,
            env=self.environment(home),
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @staticmethod
    def environment(home: Path) -> dict[str, str]:
        """This process's environment with a fresh ``home``, as the gateway's sandbox gives its Voila: numba
        and matplotlib start with empty caches there (no ``NUMBA_CACHE_DIR``)."""
        home.mkdir(exist_ok=True)
        drop = (
            "NUMBA_CACHE_DIR",
            "MPLCONFIGDIR",
            "JUPYTER_CONFIG_DIR",
            "JUPYTER_DATA_DIR",
            "JUPYTER_RUNTIME_DIR",
        )
        env = {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("WORKBENCH_")}
        env.update(HOME=str(home), NUMBA_CACHE_DIR=str(home / ".cache" / "numba"), PYTHONUNBUFFERED="1")
        return env

    @property
    def target(self) -> Target:
        return Target("peer", f"http://127.0.0.1:{self.port}{self.prefix}", self.token)

    def wait_listening(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"peer Voila of {self.spec.name} exited with {self.process.returncode}")
            with contextlib.suppress(requests.RequestException):
                requests.get(f"http://127.0.0.1:{self.port}{self.prefix}voila/static/", timeout=5)
                return
            time.sleep(0.3)
        raise RuntimeError(f"peer Voila of {self.spec.name} not listening after {timeout:.0f} s")

    def voila(self) -> psutil.Process | None:
        try:
            return psutil.Process(self.process.pid)
        except psutil.Error:
            return None

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, 9)
                self.process.wait(5)
        self.log.close()


def _free_port() -> int:
    from tests.support import free_port

    return int(free_port())


class Run:
    """The workbench, the peers, the visitors' logins, and the rounds."""

    def __init__(self, args: argparse.Namespace, state: Path) -> None:
        self.args = args
        self.state = state
        self.rows: list[Row] = []
        self.wb: Workbench | None = None
        self.peers: dict[str, PeerVoila] = {}
        self.sessions: dict[str, list[requests.Session]] = {}

    def visitors_for(self, service: str, n: int) -> list[requests.Session]:
        """``n`` browser sessions that may open the tool (logged in as needed), reused across rounds."""
        assert self.wb is not None
        spec = load_app(self.apps / service)
        have = self.sessions.setdefault(service, [])
        missing = n - len(have)
        if missing <= 0:
            return have[:n]
        if spec.access == "public":
            have += [requests.Session() for _ in range(missing)]
            return have[:n]
        segment = SEGMENT_OF_GROUP[spec.groups[0]] if spec.groups else "neo"
        users = [u for u in self.users if u[2] == segment][len(have) : n]
        if len(users) < missing:
            raise RuntimeError(f"{service}: not enough users of segment {segment} in the realm")
        wb = self.wb

        def login(user: tuple[str, str, str]) -> requests.Session:
            result = login_via_idp(wb.url, user[0], user[1])
            if not result.ok:
                raise RuntimeError(f"login of {user[0]}: HTTP {result.response.status_code}")
            return result.session

        with ThreadPoolExecutor(min(missing, 10)) as pool:
            have += list(pool.map(login, users))
        return have[:n]

    def start(self) -> None:
        tools = self.args.tools
        self.apps = make_apps(tools, self.state)
        most = max(self.args.visitors)
        from bench.synthetic_users import synthetic_users

        self.users = synthetic_users(3 * most)
        realm = write_realm(self.state / "realm.json", 3 * most)
        env = {"WORKBENCH_APPS_DIR": str(self.apps), "WORKBENCH_REALM_FILE": str(realm)}
        t0 = time.monotonic()
        self.wb = start_workbench(self.state / "wb", env=env, realm_file=realm)
        print(f"workbench up in {time.monotonic() - t0:.1f} s at {self.wb.url}", flush=True)
        if self.args.peer_visitors:
            for tool in tools:
                for service in (tool, tool + COLD):
                    if self.mode_of(service) in self.args.modes:
                        home = self.state / f"peer-home-{tool}"  # one per tool, as the gateway's
                        self.peers[service] = PeerVoila(self.apps / service, self.state, home)
            for peer in self.peers.values():
                peer.wait_listening()

    def stop(self) -> None:
        for peer in self.peers.values():
            peer.stop()
        if self.wb is not None:
            self.wb.stop()

    @staticmethod
    def mode_of(service: str) -> str:
        return "cold" if service.endswith(COLD) else "preheated"

    def round(
        self,
        row: Row,
        service: str,
        target: Target,
        sessions: list[requests.Session],
        warm: Callable[[], float],
    ) -> None:
        preheat = load_app(self.apps / service).kernels.preheat
        if preheat:
            row.warm_wait.append(warm())
        elif row.visits:
            time.sleep(1.0)  # the previous round's kernels shut down
        visitors = [Visitor(target, row.tool, self.args.framing, s) for s in sessions]
        if target.kind == "ours":
            for v in visitors:
                v.prime()
        barrier = threading.Barrier(len(visitors)) if len(visitors) > 1 else None
        start = threading.Barrier(len(visitors)) if len(visitors) > 1 else None

        def one(v: Visitor) -> Visit:
            if start is not None:
                start.wait(60)
            try:
                return visit(v, self.args.interactions, barrier)
            finally:
                v.leave()

        with ThreadPoolExecutor(len(visitors)) as pool:
            row.visits += list(pool.map(one, visitors))
        time.sleep(0.5)  # the gateway sees the sockets closed before the next round counts visitors

    def measure(self) -> None:
        for tool in self.args.tools:
            for mode in self.args.modes:
                service = tool if mode == "preheated" else tool + COLD
                if mode == "cold":
                    # The first page of a fresh Voila: its kernel also fills the caches every later
                    # kernel of that Voila reads (numba's compiled s2p kernels, matplotlib's fonts).
                    self.level(tool, "cold-1st", service, 1, repeats=1, peer=False)
                for n in self.args.visitors:
                    self.level(tool, mode, service, n, repeats=self.args.repeats)

    def level(self, tool: str, mode: str, service: str, n: int, *, repeats: int, peer: bool = True) -> None:
        """``repeats`` rounds of ``n`` visitors at once on ``service``, ours then (if measured) the peer's."""
        assert self.wb is not None
        preheat = load_app(self.apps / service).kernels.preheat
        targets = [Target("ours", f"{self.wb.url}/services/{service}/")]
        if peer and n in self.args.peer_visitors and service in self.peers:
            targets.append(self.peers[service].target)
        for target in targets:
            row = Row(target.kind, tool, mode, n)
            self.rows.append(row)
            if target.kind == "ours":
                sessions = self.visitors_for(service, n)
                finder = voila_of(self.wb, service)
            else:
                sessions = [requests.Session() for _ in range(n)]
                finder = self.peers[service].voila
            what = f"{target.kind} {service}"
            for _ in range(repeats):
                self.round(
                    row, service, target, sessions, lambda f=finder, w=what, p=preheat: wait_warm(f, p, w)
                )
            print(summary_line(row), flush=True)


# ------------------------------------------------------------------------------------------------
# report


def _stats(values: list[float]) -> str:
    if not values:
        return f"{'-':>6} {'-':>6} {'-':>6}"
    return f"{percentile(values, 0.5):6.2f} {percentile(values, 0.95):6.2f} {max(values):6.2f}"


def summary_line(row: Row) -> str:
    errors = row.errors()
    widget = {v.widget for v in row.visits if v.widget}
    note = " (no widget: render only)" if widget == {"none"} else ""
    fails = f"  {len(errors)} failed: {errors[0]}" if errors else ""
    return (
        f"  [{row.target}] {row.tool} {row.mode} x{row.visitors}: render {_stats(row.renders())} s, "
        f"interaction {_stats(row.interactions())} s{note}{fails}"
    )


def report(rows: list[Row], load_before: str) -> dict[str, Any]:
    ours = [r for r in rows if r.target == "ours"]
    peer = {(r.tool, r.mode, r.visitors): r for r in rows if r.target == "peer"}
    print()
    print("First render: request of /services/<tool>/ -> page HTML complete -> widget states over the")
    print("kernel websocket. Interaction: widget comm_msg -> kernel idle. Seconds, p50/p95/max.")
    print(f"{'':45} {'ours (hub + gateway)':^44}   {'peer (bare voila)':^27}")
    print(
        f"{'tool':20} {'mode':10} {'vis':>3} {'n':>3}  {'render p50':>10} {'p95':>6} {'max':>6}  "
        f"{'inter p50':>9} {'p95':>6} {'max':>6}   {'render p50':>10} {'p95':>6}  {'inter p50':>9} {'p95':>6}"
    )
    out: dict[str, Any] = {"load_before": load_before, "rows": []}
    for r in ours:
        rs, its = r.renders(), r.interactions()
        p = peer.get((r.tool, r.mode, r.visitors))
        no_widget = bool(r.visits) and all(v.widget == "none" for v in r.visits if not v.error)
        inter = (
            f"{'no widget':>23}"
            if no_widget
            else f"{percentile(its, 0.5):9.2f} {percentile(its, 0.95):6.2f} {max(its, default=float('nan')):6.2f}"
        )
        line = (
            f"{r.tool:20} {r.mode:10} {r.visitors:3d} {len(rs):3d}  {percentile(rs, 0.5):10.2f} "
            f"{percentile(rs, 0.95):6.2f} {max(rs, default=float('nan')):6.2f}  {inter}"
        )
        if p is not None:
            prs, pits = p.renders(), p.interactions()
            line += (
                f"   {percentile(prs, 0.5):10.2f} {percentile(prs, 0.95):6.2f}  "
                f"{percentile(pits, 0.5):9.2f} {percentile(pits, 0.95):6.2f}"
            )
        print(line)
        for e in r.errors()[:3]:
            print(f"    failed visit: {e}")
        out["rows"].append(_row_json(r))
        if p is not None:
            out["rows"].append(_row_json(p))
    print()
    print(
        "Where a render's time goes (p50 over the visits, s from the request; per cell: s after the previous):"
    )
    print(
        f"{'':5}{'tool':20} {'mode':10} {'vis':>3}  {'1st byte':>8} {'kernel up':>9} {'last cell':>9} {'HTML end':>8} {'widgets':>8}  per cell"
    )
    for r in rows:
        ok = [v for v in r.visits if not v.error]
        if not ok:
            continue
        med = lambda xs: percentile([x for x in xs if x == x], 0.5)  # noqa: E731 - nan left out
        cells = sorted({c for v in ok for c in v.cells})
        last = med([max(v.cells.values()) for v in ok if v.cells])
        per_cell = []
        prev = [v.kernel_started for v in ok]
        for c in cells:
            at = [v.cells.get(c, float("nan")) for v in ok]
            per_cell.append(f"{c}:{med([a - b for a, b in zip(at, prev, strict=True)]):.2f}")
            prev = at
        print(
            f"{r.target:5}{r.tool:20} {r.mode:10} {r.visitors:3d}  {med([v.first_byte for v in ok]):8.2f} "
            f"{med([v.kernel_started for v in ok]):9.2f} {last:9.2f} {med([v.html for v in ok]):8.2f} "
            f"{med([v.render - v.html for v in ok]):8.2f}  {' '.join(per_cell) if r.mode.startswith('cold') else '-'}"
        )
    slow = []
    for r in ours:
        solo = [
            v for v in r.visits if not v.error and v.cells and r.mode.startswith("cold") and r.visitors == 1
        ]
        if not solo:
            continue
        v = solo[0]
        prev = v.kernel_started
        for c in sorted(v.cells):
            if v.cells[c] - prev >= 0.2:
                slow.append(
                    f"  {r.tool} {r.mode} cell {c} ({v.cells[c] - prev:.2f} s): {cell_summary(r.tool, c)}"
                )
            prev = v.cells[c]
    if slow:
        print("Cells of a cold render (1 visitor, ours) taking 0.2 s or more:")
        print("\n".join(slow))
    widgets = sorted(
        {f"{r.tool}: {v.widget} ({v.updates} widget updates)" for r in ours for v in r.visits if v.widget}
    )
    print()
    print("Widget changed per tool: " + "; ".join(widgets))
    waits = [w for r in rows for w in r.warm_wait]
    if waits:
        print(
            f"Wait for a full, idle pool before a pre-heated round: p50 {percentile(waits, 0.5):.1f} s, max {max(waits):.1f} s"
        )
    after = load()
    print(
        f"Load average before {load_before}, after {after}: other work shares the machine, figures are upper bounds."
    )
    out["load_after"] = after
    return out


def cell_summary(tool: str, index: int) -> str:
    """What cell ``index`` (1-based, as Voila numbers them) of the tool's notebook does, in a few words."""
    cells = json.loads((SHIPPED_TOOLS / tool / "app.ipynb").read_text())["cells"]
    if not 1 <= index <= len(cells):
        return "?"
    lines = "".join(cells[index - 1]["source"]).splitlines()
    imports = [ln.split()[1] for ln in lines if ln.startswith(("import ", "from "))]
    rest = [ln.strip() for ln in lines if ln.strip() and not ln.startswith(("import ", "from ", "#"))]
    head = f"imports {', '.join(imports[:6])}{'…' if len(imports) > 6 else ''}; " if imports else ""
    return (head + " | ".join(rest[:2]))[:150]


def _row_json(r: Row) -> dict[str, Any]:
    return {
        "target": r.target,
        "tool": r.tool,
        "mode": r.mode,
        "visitors": r.visitors,
        "render_s": r.renders(),
        "interaction_s": r.interactions(),
        "errors": r.errors(),
        "visits": [v.__dict__ for v in r.visits],
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tools", default=",".join(DEFAULT_TOOLS), help="shipped tools to measure")
    ap.add_argument("--visitors", default="1,10", help="visitors at once, levels (default 1,10)")
    ap.add_argument("--repeats", type=int, default=1, help="rounds per tool, mode and level (default 1)")
    ap.add_argument("--interactions", type=int, default=3, help="widget changes per visitor (default 3)")
    ap.add_argument("--modes", default="preheated,cold", help="preheated (as shipped), cold (preheat 0)")
    ap.add_argument("--peer-visitors", default="1", help="levels also measured on a bare Voila ('' for none)")
    ap.add_argument(
        "--framing", choices=("v1", "json"), default="v1", help="kernel websocket framing offered"
    )
    ap.add_argument("--json", type=Path, help="write the samples as JSON")
    args = ap.parse_args()
    args.tools = [t for t in args.tools.split(",") if t]
    unknown = [t for t in args.tools if not (SHIPPED_TOOLS / t / "app.yaml").is_file()]
    if unknown:
        ap.error(f"not shipped tools: {', '.join(unknown)}")
    args.visitors = [int(x) for x in args.visitors.split(",") if x]
    args.peer_visitors = [int(x) for x in args.peer_visitors.split(",") if x]
    args.modes = [m for m in args.modes.split(",") if m]
    before = load()
    print(f"load average {before}", flush=True)
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-tools-") as tmp:
        run = Run(args, Path(tmp))
        try:
            run.start()
            run.measure()
        finally:
            run.stop()
    out = report(run.rows, before)
    print(f"total {time.monotonic() - t0:.0f} s")
    if args.json:
        args.json.write_text(json.dumps(out, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
