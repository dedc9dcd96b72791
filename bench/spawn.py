"""Spawn time: login → lab ready, for the local, Docker and Swarm spawners, several users at once.

For each spawner a real workbench is started (dev IdP, hub, proxy; ``tests/e2e/harness.py``), then
for each round every demo user at the same time: logs in through the IdP's redirect flow, submits
the spawn form with their first profile, and polls ``/user/<name>/lab`` (following the server's
OAuth redirects) until JupyterLab's page is served. The time from the first request of the login
to that page is one sample. Servers are stopped between rounds; the image is warm (built before).

    .venv/bin/python bench/spawn.py [--spawners local,docker,swarm] [--rounds 2]

Prints p50/p95/max per spawner. There is no peer to compare with: the goal is that users never wait.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.e2e.harness import SHIPPED_TOOLS, Workbench, login_via_idp, start_workbench  # noqa: E402

USERS = [
    ("swe-scientist", "dev-swe-scientist"),
    ("debris-analyst", "dev-debris-analyst"),
    ("neo-analyst", "dev-neo-analyst"),
    ("operator", "dev-operator"),
    ("admin", "dev-admin"),
]
READY_TIMEOUT_S = 240.0


def login_to_lab(wb: Workbench, username: str, password: str) -> float:
    """Seconds from the login's first request to JupyterLab's page for ``username``."""
    t0 = time.perf_counter()
    login = login_via_idp(wb.url, username, password)
    if not login.ok:
        raise RuntimeError(f"{username}: login failed ({login.response.status_code})")
    s = login.session
    form = s.get(f"{wb.url}/hub/spawn/{username}", timeout=60)
    data = {"_xsrf": _xsrf(form.text) or s.cookies.get("_xsrf", "")}
    first = re.search(r'name="profile" value="([^"]+)"', form.text)
    if first:
        data["profile"] = first.group(1)
    if "/user/" not in form.url:  # a form was shown (no form: the spawn already started)
        s.post(f"{wb.url}/hub/spawn/{username}", data=data, timeout=READY_TIMEOUT_S)
    deadline = t0 + READY_TIMEOUT_S
    while time.perf_counter() < deadline:
        r = s.get(f"{wb.url}/user/{username}/lab", timeout=60)
        if r.status_code == 200 and "/user/" in r.url and "JupyterLab" in r.text:
            return time.perf_counter() - t0
        time.sleep(0.2)
    raise RuntimeError(f"{username}: lab not ready after {READY_TIMEOUT_S:.0f} s\n{wb.log_tail()}")


def _xsrf(html: str) -> str:
    m = re.search(r'name="_xsrf"\s+value="([^"]+)"', html)
    return m.group(1) if m else ""


def measure(spawner: str, rounds: int, image: str | None, users: list[tuple[str, str]]) -> list[float]:
    env = {"WORKBENCH_SPAWNER": spawner, "WORKBENCH_APPS_DIR": str(SHIPPED_TOOLS)}  # as deployed: tools run
    if image:
        env["WORKBENCH_IMAGE"] = image
    samples: list[float] = []
    with tempfile.TemporaryDirectory(prefix=f"bench-spawn-{spawner}-") as tmp:
        wb = start_workbench(Path(tmp), env=env)
        try:
            for _ in range(rounds):
                with ThreadPoolExecutor(len(users)) as pool:
                    samples += list(pool.map(lambda up: login_to_lab(wb, *up), users))
                for name, _pw in users:
                    wb.stop_server(name)
        finally:
            wb.stop()
            if spawner != "local":
                from tests.e2e.containers import remove_instance_objects
                from workbench.spawners.docker import instance_prefix

                remove_instance_objects(instance_prefix(argparse.Namespace(state_dir=Path(tmp))))
    return samples


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--spawners", default="local,docker,swarm")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--users", type=int, default=len(USERS), help=f"users at once (1-{len(USERS)})")
    ap.add_argument("--image", default=None, help="lab image (default: WORKBENCH_IMAGE's default)")
    args = ap.parse_args()
    results: dict[str, list[float]] = {}
    users = USERS[: max(1, min(args.users, len(USERS)))]
    for spawner in args.spawners.split(","):
        left_swarm = False
        if spawner == "swarm":
            from workbench.spawners import swarm

            left_swarm = swarm.ensure_single_node_swarm()
        try:
            results[spawner] = measure(spawner, args.rounds, args.image, users)
        finally:
            if left_swarm:
                swarm.leave_swarm()
        s = results[spawner]
        print(
            f"{spawner:<7} login -> lab ready, {len(users)} users at once x {args.rounds} rounds: "
            f"p50 {statistics.median(s):.1f} s  p95 {percentile(s, 0.95):.1f} s  max {max(s):.1f} s  (n={len(s)})",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
