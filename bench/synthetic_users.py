"""Synthetic users: N scientists at once through the real workbench, with a report per step.

Each user is a :class:`bench.scientist.Scientist` (a browser-less client through the public URL):
log in through the IdP's form, start a lab, run a cell that reads two catalog entries and calls two
s2p kernels, save a notebook, open their segment's published tool, submit a run of their segment's
job and fetch its report, stop the lab, log out. Users start spread over ``--ramp`` seconds and
repeat the scenario until ``--duration`` seconds have passed since their start (at least once).

Two ways to run it:

1. It starts its own workbench (dev IdP, hub, proxy, jobs, tools) in a temporary state directory,
   with a realm holding the synthetic users (``synth-001`` … in the groups swe, debris, neo in turn)::

       .venv/bin/python bench/synthetic_users.py --users 30 [--spawner docker] [--ramp 30] [--duration 0]

2. Against a running workbench (``make up``) whose IdP knows the synthetic users::

       .venv/bin/python bench/synthetic_users.py --write-realm /tmp/synth-realm.json --users 50
       WORKBENCH_REALM_FILE=/tmp/synth-realm.json make up          # in another terminal
       .venv/bin/python bench/synthetic_users.py --url http://127.0.0.1:8000 --users 30

``--users 10,20,30,40`` runs the levels one after the other on the same workbench (labs are stopped
between them) and stops at the first level with a failure unless ``--keep-going``: the last level
without failures is the figure, the first failing level and its causes are the limit.

Prints, per level: users, scenarios completed, p50/p95/max per step [s], the most users with a lab
at once, every failure with its user, step, time and cause, and the machine's load average.
``--json PATH`` writes the same as JSON. There is no peer: the figure is the users held.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.scientist import Scientist, Timings, ensure_jobs  # noqa: E402

SEGMENTS = ("swe", "debris", "neo")
REALM = ROOT / "deploy" / "keycloak" / "realm-s2p.json"
OPERATOR = ("operator", "dev-operator")


def synthetic_users(n: int) -> list[tuple[str, str, str]]:
    """(username, password, segment) of ``n`` synthetic users, segments in turn."""
    return [(f"synth-{i:03d}", f"dev-synth-{i:03d}", SEGMENTS[(i - 1) % 3]) for i in range(1, n + 1)]


def write_realm(path: Path, n: int, base: Path = REALM) -> Path:
    """The project's realm plus ``n`` synthetic users (dev passwords), written to ``path``."""
    realm = json.loads(base.read_text())
    known = {u["username"] for u in realm["users"]}
    for name, password, segment in synthetic_users(n):
        if name in known:
            continue
        realm["users"].append(
            {
                "username": name,
                "email": f"{name}@s2p.example.org",
                "emailVerified": True,
                "firstName": "Synthetic",
                "lastName": name,
                "enabled": True,
                "credentials": [{"type": "password", "value": password, "temporary": False}],
                "realmRoles": ["default-roles-s2p"],
                "groups": [f"/{segment}"],
            }
        )
    path.write_text(json.dumps(realm, indent=1))
    return path


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


class CountedScientist(Scientist):
    """A scientist whose lab is counted in the level's labs at once."""

    def __init__(self, level: Level, *args: Any) -> None:
        super().__init__(*args)
        self.level = level
        self.has_lab = False

    def start_lab(self, bound: float = 300.0) -> None:
        super().start_lab(bound)
        with self.level.lock:
            self.has_lab = True
            self.level.labs += 1
            self.level.most_labs = max(self.level.most_labs, self.level.labs)

    def stop_lab(self, bound: float = 300.0) -> None:
        super().stop_lab(bound)
        with self.level.lock:
            if self.has_lab:
                self.has_lab = False
                self.level.labs -= 1


class Level:
    """One run of ``n`` users: their timings, and how many had a lab at the same moment."""

    def __init__(self, url: str, n: int, ramp: float, duration: float) -> None:
        self.url, self.n, self.ramp, self.duration = url, n, ramp, duration
        self.timings = Timings()
        self.lock = threading.Lock()
        self.labs = 0
        self.most_labs = 0
        self.load_before = os.getloadavg()
        self.load_max = self.load_before[0]

    def _user(self, index: int, name: str, password: str, segment: str, t0: float) -> None:
        time.sleep(max(0.0, t0 + index * self.ramp / max(1, self.n) - time.monotonic()))
        started = time.monotonic()
        mine = Timings()
        user = CountedScientist(self, self.url, name, password, segment)
        while True:
            if not user.day(mine, t0=t0):
                break
            if time.monotonic() - started >= self.duration:
                break
        with self.lock:
            for step, values in mine.samples.items():
                self.timings.samples.setdefault(step, []).extend(values)
            self.timings.failures.extend(mine.failures)
            self.timings.completed += mine.completed

    def _watch_load(self, stop: threading.Event) -> None:
        while not stop.wait(5.0):
            self.load_max = max(self.load_max, os.getloadavg()[0])

    def run(self, users: list[tuple[str, str, str]]) -> float:
        """Run every user's scenarios; return the wall time [s]."""
        t0 = time.monotonic()
        stop = threading.Event()
        watcher = threading.Thread(target=self._watch_load, args=(stop,), daemon=True)
        watcher.start()
        with ThreadPoolExecutor(len(users)) as pool:
            futures = {
                pool.submit(self._user, i, name, password, segment, t0): name
                for i, (name, password, segment) in enumerate(users)
            }
        stop.set()
        for future, name in futures.items():
            exc = future.exception()
            if exc is not None:  # a user that died outside a step is a failure too, never lost silently
                self.timings.failures.append(
                    {
                        "user": name,
                        "step": "(outside a step)",
                        "cause": f"{type(exc).__name__}: {exc}"[:500],
                        "at_s": round(time.monotonic() - t0, 1),
                    }
                )
        self.wall = time.monotonic() - t0
        return self.wall

    def report(self) -> dict[str, Any]:
        steps = {
            step: {
                "n": len(v),
                "p50_s": round(statistics.median(v), 2),
                "p95_s": round(percentile(v, 0.95), 2),
                "max_s": round(max(v), 2),
            }
            for step, v in self.timings.samples.items()
        }
        return {
            "users": self.n,
            "ramp_s": self.ramp,
            "duration_s": self.duration,
            "scenarios_completed": self.timings.completed,
            "failures": self.timings.failures,
            "most_labs_at_once": self.most_labs,
            "wall_s": round(self.wall, 1),
            "load_before": [round(x, 2) for x in self.load_before],
            "load_max_1min": round(self.load_max, 2),
            "steps": steps,
        }


def print_report(r: dict[str, Any], label: str) -> None:
    ok = "zero failures" if not r["failures"] else f"{len(r['failures'])} FAILURES"
    print(
        f"\n== {label}: {r['users']} users, ramp {r['ramp_s']:.0f} s, duration {r['duration_s']:.0f} s: "
        f"{r['scenarios_completed']} scenarios completed, {ok}; most labs at once {r['most_labs_at_once']}; "
        f"wall {r['wall_s']:.0f} s; load average before {r['load_before'][0]:.1f}, max {r['load_max_1min']:.1f}"
    )
    print(f"   {'step':<14}{'n':>5}{'p50 [s]':>10}{'p95 [s]':>10}{'max [s]':>10}")
    for step, s in r["steps"].items():
        print(f"   {step:<14}{s['n']:>5}{s['p50_s']:>10.2f}{s['p95_s']:>10.2f}{s['max_s']:>10.2f}")
    for f in r["failures"]:
        print(f"   FAILED {f['user']} at {f['at_s']:.0f} s in {f['step']}: {f['cause']}")
    sys.stdout.flush()


def run_levels(url: str, levels: list[int], args: argparse.Namespace) -> list[dict[str, Any]]:
    ensure_jobs(url, *OPERATOR)
    reports = []
    for n in levels:
        level = Level(url, n, args.ramp, args.duration)
        level.run(synthetic_users(n))
        r = level.report()
        r["spawner"] = args.spawner if not args.url else "external"
        print_report(r, f"{r['spawner']} spawner")
        reports.append(r)
        if r["failures"] and not args.keep_going:
            break
    return reports


def own_workbench(levels: list[int], args: argparse.Namespace) -> list[dict[str, Any]]:
    """Start a workbench with the synthetic realm, run the levels, stop it."""
    from tests.e2e.harness import SHIPPED_TOOLS, start_workbench

    with tempfile.TemporaryDirectory(prefix=f"bench-synthetic-{args.spawner}-") as tmp:
        state = Path(tmp)
        realm = write_realm(state / "realm.json", max(levels))
        env = {
            "WORKBENCH_SPAWNER": args.spawner,
            "WORKBENCH_REALM_FILE": str(realm),
            "WORKBENCH_APPS_DIR": str(SHIPPED_TOOLS),  # the scientists open a published tool
        }
        env.update(dict(kv.split("=", 1) for kv in args.setting))
        wb = start_workbench(state / "state", env=env, realm_file=realm)
        reports: list[dict[str, Any]] = []
        try:
            reports = run_levels(wb.url, levels, args)
            return reports
        finally:
            wb.stop()
            if not reports or any(r["failures"] for r in reports):  # the causes outlive the temporary state
                kept = Path(tempfile.mkdtemp(prefix=f"bench-synthetic-{args.spawner}-logs-"))
                shutil.copytree(state / "state" / "logs", kept / "logs", dirs_exist_ok=True)
                print(f"failures: the workbench's logs are kept in {kept}/logs", flush=True)
            if args.spawner != "local":
                from tests.e2e.containers import remove_instance_objects
                from workbench.spawners.docker import instance_prefix

                remove_instance_objects(instance_prefix(argparse.Namespace(state_dir=state / "state")))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--users", default="30", help="users at once; a comma list runs levels in turn")
    ap.add_argument("--ramp", type=float, default=0.0, help="seconds over which the users start [s]")
    ap.add_argument(
        "--duration", type=float, default=0.0, help="each user repeats the scenario this long [s]"
    )
    ap.add_argument("--spawner", choices=("local", "docker"), default="local", help="own workbench's spawner")
    ap.add_argument("--url", help="use the workbench at this URL instead of starting one")
    ap.add_argument(
        "--setting",
        action="append",
        default=[],
        metavar="WORKBENCH_X=V",
        help="a setting of the workbench it starts (repeatable)",
    )
    ap.add_argument("--keep-going", action="store_true", help="run every level even after a failure")
    ap.add_argument("--write-realm", type=Path, help="write the realm with the synthetic users and exit")
    ap.add_argument("--json", type=Path, help="also write the report as JSON")
    args = ap.parse_args()
    levels = [int(x) for x in args.users.split(",")]
    if args.write_realm:
        write_realm(args.write_realm, max(levels))
        print(f"{args.write_realm}: the project's realm plus {max(levels)} synthetic users")
        return 0
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}", flush=True)
    reports = run_levels(args.url, levels, args) if args.url else own_workbench(levels, args)
    if args.json:
        args.json.write_text(json.dumps(reports, indent=1))
    return 0 if all(not r["failures"] for r in reports[:1]) else 1


if __name__ == "__main__":
    sys.exit(main())
