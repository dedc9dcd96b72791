"""Helpers shared by the Docker and Swarm end-to-end tests (built on :mod:`tests.e2e.harness`).

A user picks a profile the way a browser does (the hub's spawn form, with its XSRF token), or a
client asks for one through the REST API; both go through the same server-side check.
"""

from __future__ import annotations

import re
import subprocess
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import requests

from tests.e2e.harness import SPAWN_TIMEOUT, HarnessError, Login, Workbench

SGP4_MATCH_KM = 1e-6
"""s2p's SGP4 in the container vs python-sgp4 (Vallado's code) on the host [km]; 1 mm."""

ISS = 25544
TLE_FILE = "space_debris/tle/celestrak_stations_2026-05-30.tle"
EPOCHS = ["2026-05-30T12:00:00", "2026-05-30T12:10:00", "2026-05-30T12:20:00"]

# The cell a user runs: a catalog entry read inside the container, then SGP4 on it.
SGP4_CELL = f"""
import json, numpy as np, s2p
from s2p import debris
tles = s2p.catalog().debris.tle_stations.read()
iss = tles[tles.norad_id == {ISS}]
times = np.array({EPOCHS!r}, dtype="datetime64[ns]")
r, v, err = debris.sgp4(iss, times)
print(json.dumps({{"n": len(tles), "r": r[0].tolist(), "err": err.tolist()}}))
"""


def reference_positions_km(data_dir: str) -> np.ndarray:
    """The ISS at :data:`EPOCHS` from python-sgp4 on the host: (3, 3) TEME [km]."""
    from sgp4.api import Satrec, jday

    lines = Path(data_dir, TLE_FILE).read_text().splitlines()
    i = next(k for k, line in enumerate(lines) if line.startswith(f"1 {ISS}"))
    sat = Satrec.twoline2rv(lines[i], lines[i + 1])
    out = []
    for epoch in EPOCHS:
        t = datetime.fromisoformat(epoch)
        jd, fr = jday(t.year, t.month, t.day, t.hour, t.minute, t.second)
        err, r, _ = sat.sgp4(jd, fr)
        assert err == 0
        out.append(r)
    return np.array(out)


def xsrf_of(session: requests.Session, html: str) -> str:
    """The ``_xsrf`` token of a hub page (hidden input, else the cookie)."""
    m = re.search(r'name="_xsrf"\s+value="([^"]+)"', html)
    if m:
        return m.group(1)
    return str(session.cookies.get("_xsrf", ""))


def spawn_form(wb: Workbench, login: Login, user: str) -> str:
    """The spawn form the hub shows ``user`` (HTML)."""
    r = login.session.get(f"{wb.url}/hub/spawn/{user}", timeout=60)
    assert r.status_code == 200, r.text[:500]
    return r.text


def post_spawn_form(wb: Workbench, login: Login, user: str, profile: str) -> requests.Response:
    """Submit the spawn form with ``profile`` as the browser does (no redirects followed)."""
    html = spawn_form(wb, login, user)
    data = {"profile": profile, "_xsrf": xsrf_of(login.session, html)}
    return login.session.post(
        f"{wb.url}/hub/spawn/{user}", data=data, allow_redirects=False, timeout=SPAWN_TIMEOUT
    )


def api_spawn(wb: Workbench, user: str, profile: str) -> requests.Response:
    """Ask the hub REST API to start ``user``'s server with ``profile``."""
    return wb.api("POST", f"/users/{user}/server", json={"profile": profile})


def wait_ready(wb: Workbench, user: str, timeout: float = SPAWN_TIMEOUT) -> str:
    """Wait until ``user``'s default server is ready; return its URL."""
    posted = time.monotonic()
    while time.monotonic() < posted + timeout:
        server = wb.user(user).get("servers", {}).get("")
        if server and server.get("ready"):
            return f"{wb.url}{server['url']}".rstrip("/")
        if not server and time.monotonic() > posted + 15:
            raise HarnessError(f"{user}'s server is gone (spawn failed)\n{wb.log_tail()}")
        time.sleep(0.5)
    raise HarnessError(f"{user}'s server not ready after {timeout:.0f} s\n{wb.log_tail()}")


def wait_gone(wb: Workbench, user: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while wb.user(user).get("servers") and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not wb.user(user).get("servers"), f"{user}'s server still listed"


def docker_names(kind: str, prefix: str) -> list[str]:
    """Names of containers (``ps -a``), services or volumes whose name starts with ``prefix``."""
    cmd = {
        "container": ["docker", "ps", "-a", "--format", "{{.Names}}"],
        "service": ["docker", "service", "ls", "--format", "{{.Name}}"],
        "volume": ["docker", "volume", "ls", "--format", "{{.Name}}"],
    }[kind]
    out = subprocess.run(cmd, capture_output=True, text=True).stdout.split()
    return [n for n in out if n.startswith(prefix)]


def remove_instance_objects(prefix: str) -> None:
    """Remove the services, containers and volumes of one test workbench (by name prefix)."""
    for name in docker_names("service", prefix):
        subprocess.run(["docker", "service", "rm", name], capture_output=True)
    for name in docker_names("container", prefix):
        subprocess.run(["docker", "rm", "-f", name], capture_output=True)
    deadline = time.monotonic() + 30
    while docker_names("volume", prefix) and time.monotonic() < deadline:
        for name in docker_names("volume", prefix):
            subprocess.run(["docker", "volume", "rm", name], capture_output=True)
        time.sleep(0.5)


def run_until_kernel_dies(server_url: str, token: str, code: str, *, timeout: float = 90.0) -> str:
    """Run ``code`` in a new kernel; return ``"died"`` if the kernel is killed, else its output.

    Unlike a plain execute-and-wait, this notices a kernel that dies mid-cell (the server then
    reports ``restarting``/``dead``) and never blocks past ``timeout``: the server's websocket pings
    would otherwise keep a blocking receive alive forever.
    """
    import json as _json
    import uuid

    import websocket

    headers = {"Authorization": f"token {token}"}
    base = server_url.rstrip("/")
    r = requests.post(f"{base}/api/kernels", json={"name": "python3"}, headers=headers, timeout=60)
    assert r.status_code == 201, r.text[:300]
    kernel_id = r.json()["id"]
    ws_url = "ws" + base[len("http") :] + f"/api/kernels/{kernel_id}/channels"
    ws = websocket.create_connection(ws_url, header=[f"Authorization: token {token}"], timeout=5)
    msg_id = uuid.uuid4().hex
    header = {
        "msg_id": msg_id,
        "username": "test",
        "session": uuid.uuid4().hex,
        "msg_type": "execute_request",
        "version": "5.3",
    }
    content = {
        "code": code,
        "silent": False,
        "store_history": False,
        "user_expressions": {},
        "allow_stdin": False,
    }
    ws.send(
        _json.dumps(
            {"header": header, "parent_header": {}, "metadata": {}, "channel": "shell", "content": content}
        )
    )
    out: list[str] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            try:
                opcode, frame = ws.recv_data_frame(control_frame=True)
            except websocket.WebSocketTimeoutException:
                continue
            except (websocket.WebSocketConnectionClosedException, ConnectionError):
                return "died"
            if opcode != websocket.ABNF.OPCODE_TEXT:
                continue  # ping/pong
            msg = _json.loads(frame.data)
            kind, body = msg.get("msg_type"), msg.get("content", {})
            if kind == "status" and body.get("execution_state") in {"restarting", "dead"}:
                return "died"
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            if kind == "stream":
                out.append(body["text"])
            elif kind == "status" and body.get("execution_state") == "idle":
                return "".join(out)
        raise HarnessError(f"kernel {kernel_id} neither finished nor died within {timeout:.0f} s")
    finally:
        ws.close()
        requests.delete(f"{base}/api/kernels/{kernel_id}", headers=headers, timeout=30)
