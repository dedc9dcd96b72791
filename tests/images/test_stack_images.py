"""The production stack's images: built on the local base, rebuilt from the cache, each starts and answers.

Every container runs on the host network bound to 127.0.0.1 on free ports, with a name of this test
(removed at the end).
"""

from __future__ import annotations

import http.server
import json
import re
import ssl
import subprocess
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.images.fixtures import service_build_dirs
from tests.images.test_build import uncached_instructions
from tests.support import free_port
from workbench.images import build, services
from workbench.logs import SCHEMA
from workbench.stack import make_tls

REBUILD_BUDGET_S = 60.0
"""A rebuild of one stack image with nothing changed must take less than this [s]."""

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.integration, pytest.mark.timeout(3600)]


class Containers:
    """Containers of one test, named ``s2p-stack-test-<hex>-<n>``, removed by :meth:`close`."""

    def __init__(self) -> None:
        self.prefix = f"s2p-stack-test-{uuid.uuid4().hex[:8]}"
        self.names: list[str] = []

    def run(self, image: str, *args: str, env: dict[str, str], volumes: dict[str, str] | None = None) -> str:
        name = f"{self.prefix}-{len(self.names)}"
        cmd = ["docker", "run", "-d", "--name", name, "--network", "host"]
        for k, v in env.items():
            cmd += ["-e", f"{k}={v}"]
        for host, inside in (volumes or {}).items():
            cmd += ["-v", f"{host}:{inside}:ro"]
        subprocess.run([*cmd, image, *args], check=True, capture_output=True, text=True)
        self.names.append(name)
        return name

    def logs(self, name: str) -> str:
        proc = subprocess.run(["docker", "logs", "--tail", "40", name], capture_output=True, text=True)
        return proc.stdout + proc.stderr

    def user(self, name: str) -> str:
        return subprocess.run(
            ["docker", "exec", name, "id", "-un"], capture_output=True, text=True, check=True
        ).stdout.strip()

    def close(self) -> None:
        for name in self.names:
            subprocess.run(["docker", "rm", "-f", "-v", name], capture_output=True)


@pytest.fixture
def containers() -> Iterator[Containers]:
    c = Containers()
    yield c
    c.close()


def wait_for(what: str, probe, timeout: float, logs) -> object:
    """Call ``probe`` until it returns a truthy value; fail with the container's logs after ``timeout`` [s]."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            value = probe()
            if value:
                return value
        except Exception as exc:  # not up yet
            last = exc
        time.sleep(1)
    pytest.fail(f"{what} did not answer within {timeout:.0f} s (last: {last}):\n{logs()}")


def secret_file(folder: Path, name: str, value: str) -> Path:
    path = folder / name
    path.write_text(value)
    path.chmod(0o644)  # read by the image's unprivileged user through a bind mount
    return path


def test_stack_images_build_on_the_local_base_and_rebuild_from_the_cache(
    stack_images: dict[str, build.BuildResult], clean_clone: Path
):
    for name, first in stack_images.items():
        labels = build.image_labels(first.image)
        assert labels["org.opencontainers.image.version"], name
        again = services.build_service_image(name, log=lambda line: None, **service_build_dirs(clean_clone))
        assert again.image_id == first.image_id, f"{name}: a rebuild with nothing changed made a new image"
        assert again.seconds < REBUILD_BUDGET_S, f"{name}: rebuild took {again.seconds:.0f} s"
        executed = uncached_instructions(again.log)
        assert set(executed) <= {"FROM", "ARG"}, (name, executed)


def test_postgres_image_initialises_its_databases_and_answers_as_postgres(
    stack_images: dict[str, build.BuildResult], containers: Containers, tmp_path: Path
):
    import psycopg2

    port = free_port()
    pw = secret_file(tmp_path, "pw", "a-test-password-0123456789")
    name = containers.run(
        services.tag("postgres"),
        env={"POSTGRES_PORT": str(port), "POSTGRES_PASSWORD_FILE": "/run/secrets/pw"},
        volumes={str(pw): "/run/secrets/pw"},
    )

    def probe() -> str:
        conn = psycopg2.connect(
            host="127.0.0.1",
            port=port,
            user="jobs",
            dbname="jobs",
            password=pw.read_text(),
            connect_timeout=3,
        )
        with conn, conn.cursor() as cur:
            cur.execute("select current_user, current_database()")
            row = cur.fetchone()
        conn.close()
        return f"{row[0]}@{row[1]}"

    assert wait_for("postgres", probe, 120, lambda: containers.logs(name)) == "jobs@jobs"
    assert containers.user(name) == "postgres"


class _Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps({"path": self.path, "proto": self.headers.get("X-Forwarded-Proto")}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_front_image_terminates_tls_with_the_stacks_ca_and_logs_json(
    stack_images: dict[str, build.BuildResult], containers: Containers, tmp_path: Path
):
    make_tls(tmp_path)
    (tmp_path / "front.key").chmod(0o644)
    backend = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    threading.Thread(target=backend.serve_forever, daemon=True).start()
    tls_port, sso_port = free_port(), free_port()
    try:
        name = containers.run(
            services.tag("front"),
            env={
                "WORKBENCH_FRONT_HUB_PORT": str(tls_port),
                "WORKBENCH_FRONT_SSO_PORT": str(sso_port),
                "WORKBENCH_HUB_PORT": str(backend.server_address[1]),
                "KC_HTTP_PORT": str(backend.server_address[1]),
            },
            volumes={
                str(tmp_path / "front.crt"): "/run/secrets/front_cert",
                str(tmp_path / "front.key"): "/run/secrets/front_key",
            },
        )
        context = ssl.create_default_context(cafile=str(tmp_path / "ca.crt"))

        def probe() -> dict:
            with urllib.request.urlopen(
                f"https://127.0.0.1:{tls_port}/hub/x", context=context, timeout=5
            ) as r:
                return json.load(r)

        answer = wait_for("front", probe, 60, lambda: containers.logs(name))
        assert answer == {"path": "/hub/x", "proto": "https"}
        with pytest.raises(urllib.error.URLError):  # a client without the stack's CA refuses it
            urllib.request.urlopen(f"https://127.0.0.1:{tls_port}/", timeout=5)
        assert containers.user(name) == "www-data"
        entries = [json.loads(line) for line in containers.logs(name).splitlines()]  # every line JSON
        (access,) = [e for e in entries if e["message"].startswith("GET /hub/x 200 ")]
        assert tuple(access) == SCHEMA and access["user"] is None and access["request_id"]
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", access["time"])
    finally:
        backend.shutdown()


def test_keycloak_image_imports_the_realm_into_postgres_and_serves_it(
    stack_images: dict[str, build.BuildResult], containers: Containers, tmp_path: Path
):
    pg_port, kc_port = free_port(), free_port()
    pw = secret_file(tmp_path, "pw", "a-test-password-0123456789")
    admin = secret_file(tmp_path, "admin", "an-admin-password-0123456789")
    client = secret_file(tmp_path, "client", "a-client-secret-0123456789abcdef")
    pg = containers.run(
        services.tag("postgres"),
        env={"POSTGRES_PORT": str(pg_port), "POSTGRES_PASSWORD_FILE": "/run/secrets/pw"},
        volumes={str(pw): "/run/secrets/pw"},
    )
    wait_for("postgres", lambda: "ready to accept" in containers.logs(pg), 120, lambda: containers.logs(pg))
    kc = containers.run(
        services.tag("keycloak"),
        env={
            "KC_HOSTNAME": f"http://127.0.0.1:{kc_port}",
            "KC_HTTP_PORT": str(kc_port),
            "KC_DB_URL": f"jdbc:postgresql://127.0.0.1:{pg_port}/keycloak",
            "KC_DB_PASSWORD_FILE": "/run/secrets/pw",
            "KC_ADMIN_PASSWORD_FILE": "/run/secrets/admin",
            "KC_CLIENT_SECRET_FILE": "/run/secrets/client",
            "WORKBENCH_PUBLIC_URL": "https://127.0.0.1:8443",
        },
        volumes={
            str(pw): "/run/secrets/pw",
            str(admin): "/run/secrets/admin",
            str(client): "/run/secrets/client",
        },
    )
    url = f"http://127.0.0.1:{kc_port}/realms/s2p/.well-known/openid-configuration"

    def probe() -> dict:
        with urllib.request.urlopen(url, timeout=5) as r:
            return json.load(r)

    discovery = wait_for("keycloak", probe, 300, lambda: containers.logs(kc))
    assert discovery["issuer"] == f"http://127.0.0.1:{kc_port}/realms/s2p"

    # the hub's client takes the secret of the file: with it, a client-credentials grant is refused only
    # because the client has no service account; with another secret, for the credentials
    def grant(secret: str) -> str:
        data = f"grant_type=client_credentials&client_id=workbench&client_secret={secret}".encode()
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(urllib.request.Request(discovery["token_endpoint"], data=data), timeout=30)
        return str(json.load(err.value)["error_description"])

    assert "service account" in grant(client.read_text())
    assert "Invalid client" in grant("not-the-secret")
    assert containers.user(kc) == "keycloak"
    assert any(line.startswith("{") for line in containers.logs(kc).splitlines())  # JSON logs


def test_hub_image_runs_the_workbench_with_its_proxy(
    stack_images: dict[str, build.BuildResult], containers: Containers
):
    out = subprocess.run(
        ["docker", "run", "--rm", "--network", "none", services.tag("hub"), "sh", "-c",
         "id -un; node --version; workbench --help; "
         "python -c 'import workbench, oauthenticator, dockerspawner, psycopg2; print(workbench.__file__)'; "
         "ls /srv/workbench/node_modules/.bin/configurable-http-proxy"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "workbench"
    assert lines[1].startswith("v20.")
    assert "stack" in out.stdout and "/srv/workbench/hub/workbench/__init__.py" in out.stdout
    port, api, proxy_api, idp = free_port(), free_port(), free_port(), free_port()
    name = containers.run(
        services.tag("hub"),
        env={
            "WORKBENCH_HUB_PORT": str(port),
            "WORKBENCH_HUB_API_PORT": str(api),
            "WORKBENCH_PROXY_API_PORT": str(proxy_api),
            "WORKBENCH_IDP_PORT": str(idp),
        },
    )

    def probe() -> bool:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/hub/health", timeout=5) as r:
            return r.status == 200

    wait_for("hub", probe, 240, lambda: containers.logs(name))


class _Metrics(http.server.BaseHTTPRequestHandler):
    """The hub's and the jobs service's metrics endpoints, as Prometheus sees them: a bearer token
    required, one production job whose last run failed."""

    token = ""

    def do_GET(self) -> None:
        if self.headers.get("Authorization") != f"Bearer {self.token}":
            self.send_response(403)
            self.end_headers()
            return
        if self.path == "/hub/metrics":
            body = "# TYPE jupyterhub_total_users gauge\njupyterhub_total_users 3\n"
        elif self.path == "/services/jobs/metrics":
            body = '# TYPE workbench_jobs_last_run_failed gauge\nworkbench_jobs_last_run_failed{job="swe-daily"} 1\n'
        else:
            self.send_response(404)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args: object) -> None:
        pass


def test_prometheus_image_scrapes_with_the_secret_token_and_fires_the_workbench_alerts(
    stack_images: dict[str, build.BuildResult], containers: Containers, tmp_path: Path
):
    from workbench.monitoring import write_config
    from workbench.stack import PROMETHEUS_TOKEN_SECRET

    token = "a-prometheus-token-0123456789abcdef"
    handler = type("Metrics", (_Metrics,), {"token": token})
    backend = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=backend.serve_forever, daemon=True).start()
    config = tmp_path / "prometheus"
    write_config(
        config, f"http://127.0.0.1:{backend.server_address[1]}", PROMETHEUS_TOKEN_SECRET, interval_s=1
    )
    config.chmod(0o755)
    port = free_port()
    try:
        name = containers.run(
            services.tag("prometheus"),
            env={"PROMETHEUS_PORT": str(port)},
            volumes={
                str(config): "/etc/s2p-prometheus",
                str(secret_file(tmp_path, "token", token)): PROMETHEUS_TOKEN_SECRET,
            },
        )
        api = f"http://127.0.0.1:{port}/api/v1"

        def get(path: str) -> dict:
            with urllib.request.urlopen(f"{api}/{path}", timeout=5) as r:
                return json.load(r)["data"]

        def all_up() -> list | None:
            targets = get("targets")["activeTargets"]
            return targets if len(targets) == 2 and all(t["health"] == "up" for t in targets) else None

        targets = wait_for("prometheus targets", all_up, 120, lambda: containers.logs(name))
        assert {t["labels"]["job"] for t in targets} == {"hub", "jobs"}

        def firing() -> list:
            return [a for a in get("alerts")["alerts"] if a["state"] == "firing"]

        alerts = wait_for("the alert", firing, 120, lambda: containers.logs(name))
        assert [(a["labels"]["alertname"], a["labels"].get("workbench_job")) for a in alerts] == [
            ("ProductionRunFailed", "swe-daily")
        ]
        assert containers.user(name) == "prometheus"
        assert any(line.startswith("{") for line in containers.logs(name).splitlines())  # JSON logs
    finally:
        backend.shutdown()
