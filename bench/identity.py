"""Identity: Keycloak's start-up, and one full login against each identity provider.

Start-up of the real Keycloak (the pinned version, from the Maven download in the cache):

- cold, once per machine: unpack + augmentation (``kc.sh build``), then the template database
  (``kc.sh bootstrap-admin user``: schema, master realm, admin);
- ours, per test session or ``keycloak-local`` start: ``start --optimized`` from the template copy with
  the realm imported, C1 JIT (:class:`workbench.keycloak.KeycloakServer`); and its warm restart;
- peers, same run: the same optimized start with the JVM's default JIT, and the documented
  ``kc.sh start-dev --import-realm`` on a fresh unpacked distribution (augments and initialises the
  database at every start).

Login: a real workbench per IdP (dev IdP started by ``workbench up``; the Keycloak above as an external
issuer), then ``--logins`` times a fresh HTTP client does the whole redirect flow of
``tests/e2e/harness.py``: ``/hub/login`` → IdP form → submit → code exchange and userinfo by the hub →
``/hub/home``. The first login after the IdP started is reported apart (JIT warm-up).

    .venv/bin/python bench/identity.py [--logins 10] [--skip-cold]

The dev IdP is our own and Keycloak is the peer: the dev IdP must stay fast enough that ``make up`` and
the tests never wait for it, and the numbers show what the real one costs in CI.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.e2e.harness import free_ports, login_via_idp, start_workbench  # noqa: E402
from workbench.keycloak import KeycloakServer, augment, fetch, prepare, unpack  # noqa: E402
from workbench.keycloak.distribution import Distribution, make_template  # noqa: E402
from workbench.settings import Settings  # noqa: E402

REALM_FILE = ROOT / "deploy" / "keycloak" / "realm-s2p.json"
USERS = [("swe-scientist", "dev-swe-scientist"), ("operator", "dev-operator"), ("admin", "dev-admin")]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 900.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"Keycloak exited with {proc.returncode}")
        try:
            if requests.get(url, timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{url} not ready within {timeout:.0f} s")


def cold(dist: Distribution, cache: Path, work: Path) -> dict[str, float]:
    """Seconds of the once-per-machine steps and of the start-dev peer, each on a fresh unpacked copy."""
    zip_file = fetch(cache)
    out: dict[str, float] = {}
    home = work / "augment"
    unpack(zip_file, home)
    t0 = time.perf_counter()
    augment(home, java_home=dist.java_home)
    out["augment (kc.sh build)"] = time.perf_counter() - t0

    template = Distribution(dist.version, home, work / "template", dist.java_home)
    t0 = time.perf_counter()
    make_template(template, log=lambda _: None)
    out["template database (bootstrap-admin)"] = time.perf_counter() - t0

    dev = work / "start-dev"
    unpack(zip_file, dev)
    (dev / "data" / "import").mkdir(parents=True)
    shutil.copyfile(REALM_FILE, dev / "data" / "import" / REALM_FILE.name)
    port = _free_port()
    env = dict(os.environ, WORKBENCH_OIDC_CLIENT_SECRET="bench-" + "s" * 24)
    if dist.java_home is not None:
        env["JAVA_HOME"] = str(dist.java_home)
    t0 = time.perf_counter()
    with open(work / "start-dev.log", "wb") as log:
        proc = subprocess.Popen(
            [
                str(dev / "bin" / "kc.sh"),
                "start-dev",
                "--import-realm",
                "--http-host=127.0.0.1",
                f"--http-port={port}",
                "--cache=local",
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            _wait_ready(f"http://127.0.0.1:{port}/realms/s2p/.well-known/openid-configuration", proc)
            out["peer: kc.sh start-dev --import-realm, fresh"] = time.perf_counter() - t0
        finally:
            os.killpg(proc.pid, 15)
            proc.wait(60)
    return out


def optimized(dist: Distribution, work: Path) -> tuple[dict[str, float], KeycloakServer]:
    """Our start (fresh, then warm restart) and the default-JIT peer; returns a running server."""
    out: dict[str, float] = {}
    env = {"WORKBENCH_OIDC_CLIENT_SECRET": "bench-" + "s" * 24}
    # The same start without our JVM option (C1 only).
    peer = KeycloakServer(_WithoutC1(dist), work / "default-jit", realm_files=[REALM_FILE], env=env)
    peer.start()
    out["peer: same start, default JIT (C2)"] = peer.start_seconds or 0.0
    peer.stop()

    ours = KeycloakServer(dist, work / "ours", realm_files=[REALM_FILE], env=env)
    ours.start()
    out["ours: start --optimized, template + import, C1"] = ours.start_seconds or 0.0
    ours.stop()
    ours.start()
    out["ours: restart (database kept)"] = ours.start_seconds or 0.0
    return out, ours


class _WithoutC1(Distribution):
    def __init__(self, dist: Distribution) -> None:
        super().__init__(dist.version, dist.home, dist.template, dist.java_home)

    def java_env(self, base: object = None) -> dict[str, str]:  # type: ignore[override]
        env = super().java_env()
        env.pop("JAVA_OPTS_APPEND", None)
        return env


def logins(wb_url: str, n: int) -> list[float]:
    """Seconds of ``n`` full logins, each from a fresh client (no SSO), cycling over the demo users."""
    samples = []
    for i in range(n):
        user, password = USERS[i % len(USERS)]
        t0 = time.perf_counter()
        login = login_via_idp(wb_url, user, password)
        samples.append(time.perf_counter() - t0)
        if not login.ok:
            raise RuntimeError(f"login of {user} failed: {login.response.status_code} {login.response.url}")
    return samples


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--logins", type=int, default=10, help="logins per IdP (default 10)")
    parser.add_argument("--skip-cold", action="store_true", help="skip augmentation and the start-dev peer")
    args = parser.parse_args()

    settings = Settings.from_env({k: v for k, v in os.environ.items() if k.startswith("WORKBENCH_KEYCLOAK_")})
    dist = prepare(settings.keycloak_cache, java_home=settings.keycloak_java_home)
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; Keycloak {dist.version}")
    java = subprocess.run(
        [str(dist.java_home / "bin" / "java") if dist.java_home else "java", "-version"],
        capture_output=True,
        text=True,
    ).stderr.splitlines()[0]
    print(f"java: {java}")
    with tempfile.TemporaryDirectory(prefix="bench-identity-") as tmp:
        work = Path(tmp)
        print("\n== Keycloak start-up [s]")
        if not args.skip_cold:
            for what, seconds in cold(dist, settings.keycloak_cache, work).items():
                print(f"  {what:<50} {seconds:7.1f}")
        startup, server = optimized(dist, work)
        for what, seconds in startup.items():
            print(f"  {what:<50} {seconds:7.1f}")
        try:
            print(f"\n== one full login, hub → IdP form → hub home [s], {args.logins} per IdP")
            results = {}
            ports = free_ports()
            t0 = time.perf_counter()
            dev = start_workbench(work / "wb-dev", ports=ports)
            print(f"  (dev IdP workbench up in {time.perf_counter() - t0:.1f} s, dev IdP included)")
            try:
                results["dev IdP (ours)"] = logins(dev.url, args.logins + 1)
            finally:
                dev.stop()
            ports = free_ports()
            server.admin().set_client_urls("workbench", f"http://127.0.0.1:{ports.hub}")
            env = {
                "WORKBENCH_AUTH": "keycloak",
                "WORKBENCH_OIDC_ISSUER": server.issuer(),
                "WORKBENCH_OIDC_CLIENT_SECRET": "bench-" + "s" * 24,
            }
            kc = start_workbench(work / "wb-kc", env, ports=ports)
            try:
                results[f"Keycloak {dist.version} (peer)"] = logins(kc.url, args.logins + 1)
            finally:
                kc.stop()
        finally:
            server.stop()
        medians = {}
        for name, samples in results.items():
            first, rest = samples[0], samples[1:]
            medians[name] = statistics.median(rest)
            print(
                f"  {name:<28} first {first:5.2f}   median {medians[name]:5.2f}   max {max(rest):5.2f}"
                f"   (n={len(rest)})"
            )
        ours, peer = medians.values()
        print(f"  ratio Keycloak / dev IdP (median): {peer / ours:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
