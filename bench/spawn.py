"""Lab start: login → JupyterLab usable, for the local, Docker and Swarm spawners, 1, 5 and 20 users at once.

For each spawner a real workbench is started (dev IdP with synthetic users, hub, proxy, jobs, tools;
``tests/e2e/harness.py``). For each level, every user of the level at the same moment does what a
browser does:

1. **login** — ``/hub/login`` through the IdP's form back to the hub's home;
2. **spawn** — ``/hub/spawn/<user>`` (the spawn form with the user's first profile when there is one),
   then the spawn-pending page's event stream until the hub says the server is ready;
3. **lab** — ``/user/<user>/lab`` through the lab's OAuth handshake with the hub, then
   ``/user/<user>/api/status`` answering through the proxy: the lab is usable.

One sample is the time from the login's first request to the status answer, with the three phases
beside it. Servers are stopped between rounds; the image is warm (built before).

    .venv/bin/python bench/spawn.py [--spawners local,docker] [--levels 1,5,20] [--rounds 5,2,1]

Prints p50/p95/max per spawner and level, and where the time goes (median of each phase; for local
labs also the CPU time the lab's server used until it answered, the floor of a start on an idle core,
of which the Python imports of Jupyter Server, JupyterLab and the hub's single-user mixin are most). There is
no peer: the target is that users never wait (issue 17: p95 ≤ 3 s local, ≤ 6 s Docker for one user).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from synthetic_users import synthetic_users, write_realm  # noqa: E402

from tests.e2e.harness import SHIPPED_TOOLS, Workbench, login_via_idp, start_workbench  # noqa: E402

READY_TIMEOUT_S = 300.0


@dataclass
class Sample:
    """One user's lab start [s]: the whole wait and its three phases, and the lab's CPU time so far."""

    total: float
    login: float
    spawn: float
    lab: float
    server_cpu: float | None = None
    relaunches: int = 0


def lab_cpu_seconds(username: str) -> float | None:
    """CPU time [s] the user's local lab process has used (None when it is not a local process here)."""
    import psutil

    for proc in psutil.process_iter(["cmdline", "cwd"]):
        try:
            cmdline = " ".join(proc.info["cmdline"] or [])
            if "jupyterhub-singleuser" in cmdline and Path(proc.info["cwd"] or "/").name == username:
                t = proc.cpu_times()
                return float(t.user + t.system)
        except (psutil.Error, OSError):
            continue
    return None


def _xsrf(html: str) -> str:
    m = re.search(r'name="_xsrf"\s+value="([^"]+)"', html)
    return m.group(1) if m else ""


def wait_ready_event(s, page_url: str, html: str, username: str) -> None:  # type: ignore[no-untyped-def]
    """Follow the spawn-pending page's event stream (as its EventSource does) until ``ready``."""
    m = re.search(r'new EventSource\("([^"]+)"\)', html)
    if not m:  # not pending any more: ready (the lab answers next) or failed (the page says why)
        text = re.sub(r"<[^>]+>", " ", re.sub(r"(?s)<(script|style)\b.*?</\1>", " ", html))
        raise RuntimeError(f"{username}: no progress stream on {page_url}: {' '.join(text.split())[:600]}")
    r = s.get(urljoin(page_url, m.group(1).replace("&amp;", "&")), stream=True, timeout=READY_TIMEOUT_S)
    if r.status_code != 200:
        raise RuntimeError(f"{username}: progress stream HTTP {r.status_code}")
    with r:
        for raw in r.iter_lines():
            line = raw.decode() if isinstance(raw, bytes) else raw
            if not line.startswith("data:"):
                continue
            event = json.loads(line[5:])
            if event.get("ready"):
                return
            if event.get("failed"):
                raise RuntimeError(f"{username}: spawn failed: {event.get('message')}")
    raise RuntimeError(f"{username}: progress stream ended before the server was ready")


def login_to_lab(wb: Workbench, username: str, password: str) -> Sample:
    """Login → lab usable for ``username``, as a browser does it."""
    t0 = time.perf_counter()
    login = login_via_idp(wb.url, username, password)
    if not login.ok:
        raise RuntimeError(f"{username}: login failed ({login.response.status_code})")
    s = login.session
    t_login = time.perf_counter()
    page = s.get(f"{wb.url}/hub/spawn/{username}", timeout=READY_TIMEOUT_S)
    profile = re.search(r'name="profile" value="([^"]+)"', page.text)
    if profile and "/hub/spawn/" in page.url:  # the form: submit the first profile
        data = {"_xsrf": _xsrf(page.text) or s.cookies.get("_xsrf", ""), "profile": profile.group(1)}
        page = s.post(f"{wb.url}/hub/spawn/{username}", data=data, timeout=READY_TIMEOUT_S)
    relaunches = 0
    # JupyterHub shows the spawn-pending page after 1 s; when the pre-spawn refresh of the user's tokens
    # took longer (a busy IdP), the spawn has not begun yet and the page says "Server not running" with
    # a "Launch Server" button. The user presses it, as this does: the hub then sends them to the pending
    # spawn. Counted, because the user saw it.
    while "/spawn-pending/" in page.url and "Server not running" in page.text and relaunches < 5:
        relaunches += 1
        time.sleep(0.5)
        page = s.get(f"{wb.url}/hub/spawn/{username}", timeout=READY_TIMEOUT_S)
    if "/spawn-pending/" in page.url:
        wait_ready_event(s, page.url, page.text, username)
    t_spawn = time.perf_counter()
    deadline = t0 + READY_TIMEOUT_S
    while time.perf_counter() < deadline:
        lab = s.get(f"{wb.url}/user/{username}/lab", timeout=60)  # OAuth handshake with the hub
        if lab.status_code == 200 and f"/user/{username}/" in lab.url:
            status = s.get(f"{wb.url}/user/{username}/api/status", timeout=60)
            if status.status_code == 200 and "started" in status.json():
                t_end = time.perf_counter()
                cpu = lab_cpu_seconds(username)
                return Sample(t_end - t0, t_login - t0, t_spawn - t_login, t_end - t_spawn, cpu, relaunches)
        time.sleep(0.05)
    raise RuntimeError(f"{username}: lab not usable after {READY_TIMEOUT_S:.0f} s\n{wb.log_tail()}")


def settle(bound_s: float = 120.0, idle_percent: float = 25.0) -> None:
    """Wait until the machine is idle (the tools' pre-heated kernels have run their notebooks, the last
    round's servers are gone), as a deployment that has been up for a while is; at most ``bound_s``."""
    import psutil

    deadline = time.monotonic() + bound_s
    while time.monotonic() < deadline and psutil.cpu_percent(interval=1.0) > idle_percent:
        pass


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def measure(spawner: str, levels: list[int], rounds: list[int], image: str | None) -> dict[int, list[Sample]]:
    """Samples per level, from one workbench with ``spawner``."""
    results: dict[int, list[Sample]] = {}
    users = [(name, password) for name, password, _segment in synthetic_users(max(levels))]
    with tempfile.TemporaryDirectory(prefix=f"bench-spawn-{spawner}-") as tmp:
        realm = write_realm(Path(tmp) / "realm.json", max(levels))
        env = {
            "WORKBENCH_SPAWNER": spawner,
            "WORKBENCH_APPS_DIR": str(SHIPPED_TOOLS),
        }  # tools run, as deployed
        if image:
            env["WORKBENCH_IMAGE"] = image
        wb = start_workbench(Path(tmp) / "state", env=env, realm_file=realm)
        try:
            for level, n_rounds in zip(levels, rounds, strict=True):
                samples: list[Sample] = []
                for _ in range(n_rounds):
                    settle()
                    group = users[:level]
                    with ThreadPoolExecutor(level) as pool:
                        samples += list(pool.map(lambda up: login_to_lab(wb, *up), group))
                    for name, _pw in group:
                        wb.stop_server(name)
                results[level] = samples
                report(spawner, level, n_rounds, samples)
        finally:
            wb.stop()
            if spawner != "local":
                from tests.e2e.containers import remove_instance_objects
                from workbench.spawners.docker import instance_prefix

                remove_instance_objects(instance_prefix(argparse.Namespace(state_dir=Path(tmp) / "state")))
    return results


def report(spawner: str, level: int, n_rounds: int, samples: list[Sample]) -> None:
    total = [x.total for x in samples]
    phases = "  ".join(
        f"{name} {statistics.median(getattr(x, name) for x in samples):.2f}"
        for name in ("login", "spawn", "lab")
    )
    print(
        f"{spawner:<7} {level:>3} at once x {n_rounds} rounds (n={len(total):>3}): "
        f"p50 {statistics.median(total):5.2f} s  p95 {percentile(total, 0.95):5.2f} s  max {max(total):5.2f} s"
        f"   median phases [s]: {phases}",
        flush=True,
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--spawners", default="local,docker", help="comma-separated: local, docker, swarm")
    ap.add_argument("--levels", default="1,5,20", help="users at once, comma-separated")
    ap.add_argument("--rounds", default="5,2,1", help="rounds per level, comma-separated")
    ap.add_argument("--image", default=None, help="lab image (default: WORKBENCH_IMAGE's default)")
    args = ap.parse_args()
    levels = [int(x) for x in args.levels.split(",")]
    rounds = [int(x) for x in args.rounds.split(",")]
    if len(rounds) != len(levels) or min(levels) < 1 or min(rounds) < 1:
        ap.error("--levels and --rounds: as many positive numbers in each")
    load = os.getloadavg()[0]
    print(
        f"# lab start, login -> JupyterLab usable; {os.cpu_count()} cpus, load average {load:.2f}", flush=True
    )
    for spawner in args.spawners.split(","):
        left_swarm = False
        if spawner == "swarm":
            from workbench.spawners import swarm

            left_swarm = swarm.ensure_single_node_swarm()
        try:
            measure(spawner, levels, rounds, args.image)
        finally:
            if left_swarm:
                swarm.leave_swarm()
    print(f"# load average at the end {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
