"""The production stack, run for real: deploy/swarm/stack.yaml on this engine's single-node swarm.

Images built (cached), ``workbench stack deploy`` (the stack's own CA, Swarm secrets, PostgreSQL,
Keycloak, the hub, the nginx TLS front, Prometheus), a user logs in over HTTPS through the
containerised Keycloak trusting only the stack's CA, starts a lab that runs as a Swarm service, runs the
``swe`` production job an operator created (a one-off Swarm service of the lab image started by the
containerised hub), sees Prometheus scrape every target and raise ProductionRunFailed for a failed
run, and opens a published tool (its Voila in a container); the lab and the session are kept while the hub's
container is replaced (``docker service update --force``), and the hub's containers log JSON lines of
the one schema; a backup of the stack (``workbench stack backup``), removed with its volumes and
restored onto the empty deployment, brings back users, groups, jobs, runs and homes; ``workbench stack
rm`` then leaves no container, service or secret behind (and ``--volumes`` no volume). The commands are
the ones ``docs/operations.md`` gives.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import time
import uuid
from pathlib import Path
from urllib.parse import urljoin

import pytest
import requests

from tests.e2e.webuser import WebUser, describe
from tests.support import DATA, ROOT, free_port
from workbench.images import build
from workbench.logs import SCHEMA
from workbench.stack import Deployment, Ports, deploy, lab_prefix, leftovers, remove
from workbench.stackbackup import backup as stack_backup
from workbench.stackbackup import restore as stack_restore

DEPLOY_BOUND_S = 1200.0
"""From ``docker stack deploy`` to the hub answering over HTTPS [s] (Keycloak's first start included)."""
HUB_RESTART_BOUND_S = 300.0
"""From ``docker service update --force`` of the hub to its new container answering [s]."""
RUN_BOUND_S = 600.0
"""A run of the swe production job, from its request to its end [s] (a container start included)."""
PROMETHEUS_BOUND_S = 120.0
"""From a change (a target up, a failed run) to Prometheus showing it [s] (2 s scrape interval)."""
STACK_SERVICES = ("postgres", "keycloak", "hub", "front", "prometheus")
TOOL = "geomagnetic-storms"
"""The published tool the test opens (public: shown before any login too)."""

pytestmark = [
    pytest.mark.swarm,
    pytest.mark.docker,
    pytest.mark.slow,
    pytest.mark.integration,
    pytest.mark.timeout(2400),
]


def lab_services(folder: Path) -> list[str]:
    out = subprocess.run(
        ["docker", "service", "ls", "--format", "{{.Name}}"], capture_output=True, text=True, check=True
    ).stdout
    return [s for s in out.split() if s.startswith(lab_prefix(folder))]


def _running_tasks(service: str) -> list[str]:
    """The IDs of ``service``'s tasks that run."""
    out = subprocess.run(
        ["docker", "service", "ps", "-q", "--filter", "desired-state=running", service],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return sorted(out.split())


def _containers(service: str, *, everyone: bool = False) -> set[str]:
    """The running containers of ``service`` (``everyone``: the stopped ones too)."""
    out = subprocess.run(
        ["docker", "ps", *(["-a"] if everyone else []), "-q", "--filter", f"label=com.docker.swarm.service.name={service}"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return set(out.split())


def _in_schema(line: str) -> bool:
    try:
        entry = json.loads(line)
    except ValueError:
        return False
    return isinstance(entry, dict) and tuple(entry) == SCHEMA


def _service_logs(service: str) -> list[str]:
    """The lines every container of ``service`` wrote (``docker logs`` of each: ``docker service logs``
    can hang once a task's container is gone)."""
    lines = []
    for container in _containers(service, everyone=True):
        out = subprocess.run(["docker", "logs", container], capture_output=True, text=True, check=True,
                             timeout=60)  # fmt: skip
        lines += [line for line in (out.stdout + out.stderr).splitlines() if line.strip()]
    return lines


def _wait_for_new_hub(url: str, ca_file: str, service: str, old: set[str], bound: float) -> None:
    """Until a container of ``service`` other than ``old`` runs and the hub answers through the front."""
    deadline = time.monotonic() + bound
    last = ""
    while time.monotonic() < deadline:
        if _containers(service) - old:
            try:
                r = requests.get(f"{url}/hub/api/", verify=ca_file, timeout=10)
                if r.status_code == 200:
                    return
                last = f"HTTP {r.status_code}"
            except requests.RequestException as exc:
                last = str(exc)
        time.sleep(1)
    raise AssertionError(f"the hub of {service} did not answer again within {bound:.0f} s (last: {last})")


class JobsAPI:
    """The jobs service's API through the stack's front, as one user (a token of theirs)."""

    def __init__(self, d: Deployment, user: WebUser) -> None:
        self.base = f"{d.url}/services/jobs/api/v1"
        self.ca = str(d.ca_file)
        token, _ = user.new_token("stack e2e jobs", expires_in=int(RUN_BOUND_S) * 3)
        self.headers = {"Authorization": f"token {token}"}

    def call(self, method: str, path: str, body: dict | None = None) -> requests.Response:
        return requests.request(method, f"{self.base}/{path}", json=body, headers=self.headers,
                                verify=self.ca, timeout=60)  # fmt: skip

    def run(self, job: str, parameters: dict) -> dict:
        """Run ``job`` with ``parameters`` and wait for its end; the run with its scraps."""
        r = self.call("POST", f"jobs/{job}/runs", {"parameters": parameters})
        assert r.status_code == 201, r.text
        run_id = r.json()["id"]
        deadline = time.monotonic() + RUN_BOUND_S
        while (run := self.call("GET", f"runs/{run_id}").json())["status"] in {"queued", "running"}:
            assert time.monotonic() < deadline, run
            time.sleep(1)
        return {**run, "scraps": self.call("GET", f"runs/{run_id}/scraps").json()["scraps"]}


def _prometheus(d: Deployment, path: str) -> dict:
    r = requests.get(f"{d.prometheus_url}/api/v1/{path}", timeout=30)
    r.raise_for_status()
    return r.json()["data"]


def _until(what: str, check, bound: float):
    """``check()`` until it is truthy (connection errors count as not yet); fail after ``bound`` [s]."""
    deadline = time.monotonic() + bound
    while True:
        try:
            value = check()
        except requests.RequestException:
            value = None
        if value:
            return value
        assert time.monotonic() < deadline, f"{what} within {bound:.0f} s"
        time.sleep(1)


def _login(d: Deployment, username: str, password: str) -> WebUser:
    """A user logged in through the front and the stack's Keycloak, trusting only the stack's CA."""
    user = WebUser(d.url, username, password)
    user.session.verify = str(d.ca_file)
    user.session.trust_env = False  # REQUESTS_CA_BUNDLE of the machine would replace the stack's CA
    home = user.login()
    assert home.url.startswith(f"{d.url}/hub/"), describe(home)
    return user


def _start_swe_lab(d: Deployment, user: WebUser) -> None:
    """The spawn page's form (its _xsrf is in the action's query), the swe group's first profile."""
    form = user.session.get(f"{d.url}/hub/spawn/{user.username}", timeout=120)
    assert 'value="swe-standard"' in form.text, form.text[:2000]  # offered by the user's Keycloak group
    action = html.unescape(re.search(r'<form[^>]*action="([^"]+)"', form.text).group(1))
    spawn = user.session.post(urljoin(form.url, action), data={"profile": "swe-standard"}, timeout=120)
    assert spawn.status_code == 200, spawn.text[:2000]
    user.wait_lab(600)


def _volumes() -> list[str]:
    return subprocess.run(
        ["docker", "volume", "ls", "--format", "{{.Name}}"], capture_output=True, text=True, check=True
    ).stdout.split()


def test_stack_deploys_serves_a_login_over_https_and_a_swarm_lab_then_leaves_nothing(
    stack_images: dict[str, build.BuildResult], single_node_swarm: None, tmp_path: Path
):
    name = f"s2p-stack-test-{uuid.uuid4().hex[:6]}"
    folder = tmp_path / "stack"
    ports = Ports(*(free_port() for _ in range(8)))
    apps = tmp_path / "apps"  # one published tool: each tool's kernel is pre-heated at the hub's start
    shutil.copytree(ROOT / "voila-apps" / TOOL, apps / TOOL)
    t0 = time.monotonic()
    try:
        d = deploy(name, folder, data_dir=DATA, apps_dir=apps, ports=ports, env="ope", scrape_interval=2,
                   wait=DEPLOY_BOUND_S)  # fmt: skip
        deployed_s = time.monotonic() - t0
        # only the stack's own CA is trusted: the front's certificate is signed by it
        user = _login(d, "swe-scientist", "dev-swe-scientist")
        # the identity provider is the stack's Keycloak, behind the same front
        issuer = user.session.get(f"{d.sso_url}/realms/s2p/.well-known/openid-configuration", timeout=30)
        assert issuer.json()["issuer"] == f"{d.sso_url}/realms/s2p"
        _start_swe_lab(d, user)
        services = lab_services(folder)
        assert len(services) == 1 and "swe-2dscientist" in services[0], services  # escaped user name
        tasks = subprocess.run(
            ["docker", "service", "ps", "--format", "{{.CurrentState}}", services[0]],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert tasks.startswith("Running"), tasks
        print(f"stack {name}: deployed and healthy in {deployed_s:.0f} s")

        # A production run: created by an operator, started by a member of the segment, run by the
        # containerised hub's jobs service as a one-off Swarm service of the lab image (as the hub's uid).
        operator = WebUser(d.url, "operator", "dev-operator")
        operator.session.verify = str(d.ca_file)
        operator.session.trust_env = False
        operator.login()
        t2 = time.monotonic()
        operator_api, scientist_api = JobsAPI(d, operator), JobsAPI(d, user)
        job = {"name": "swe-storms", "segment": "swe", "notebook": "jobs/swe_storms.ipynb"}
        r = operator_api.call("POST", "jobs", job)
        assert r.status_code == 201, r.text
        r = scientist_api.call("POST", "jobs", {**job, "name": "not-mine"})
        assert r.status_code == 403, r.text  # creating jobs is the operators'
        run = scientist_api.run("swe-storms", {"start": "2015-03-15", "stop": "2015-03-24"})
        assert run["status"] == "succeeded", run
        assert run["provenance"]["executor"] == "swarm" and run["provenance"]["network"] == "none", run
        # the St. Patrick's Day storm of 2015: Kp 8- (G4) on 17 March, from the data folder on the host
        assert run["scraps"]["max_g_scale"] == 4 and run["scraps"]["n_storms"] >= 1, run["scraps"]
        print(f"stack {name}: production run done in {time.monotonic() - t2:.0f} s")

        # Prometheus: every target up with the token of its secret; a failed run raises its alert.
        def all_up() -> list[dict] | None:
            targets = _prometheus(d, "targets")["activeTargets"]
            return targets if targets and all(t["health"] == "up" for t in targets) else None

        targets = _until("every Prometheus target up", all_up, PROMETHEUS_BOUND_S)
        assert {t["labels"]["job"] for t in targets} == {"hub", "jobs", f"tool:{TOOL}"}, targets
        failed = scientist_api.run("swe-storms", {"start": "2030-01-01", "stop": "2030-01-05"})
        assert failed["status"] == "failed", failed  # no Kp data for those days

        def firing() -> list[dict]:
            return [a for a in _prometheus(d, "alerts")["alerts"]
                    if a["labels"]["alertname"] == "ProductionRunFailed" and a["state"] == "firing"]  # fmt: skip

        (alert,) = _until("ProductionRunFailed firing", firing, PROMETHEUS_BOUND_S)
        assert alert["labels"]["workbench_job"] == "swe-storms", alert

        # A published tool: its Voila and kernels in a container the hub's gateway started.
        t3 = time.monotonic()
        page = user.session.get(f"{d.url}/services/{TOOL}/", timeout=300)
        assert page.status_code == 200, describe(page)
        assert "Predicted by CelesTrak (not observed)" in page.text and "storms" in page.text
        tool_containers = subprocess.run(
            ["docker", "ps", "--filter", f"name=^{lab_prefix(folder)}-tool-{TOOL}$", "--format", "{{.Names}}"],
            capture_output=True, text=True, check=True,
        ).stdout.split()  # fmt: skip
        assert tool_containers, "the tool's Voila is not in a container of its own"
        print(f"stack {name}: tool page rendered in {time.monotonic() - t3:.1f} s")

        # The hub's container restarted mid-session: the lab keeps running, the session goes on.
        before = user.run(
            "x = 6 * 7\nprint(x)\n_ = open('/home/jovyan/kept.txt', 'w').write('kept by the backup')"
        )
        assert before.strip() == "42", before
        lab_task = _running_tasks(services[0])
        old_hub = _containers(f"{name}_hub")
        t1 = time.monotonic()
        subprocess.run(["docker", "service", "update", "--force", "--detach", f"{name}_hub"], check=True,
                       capture_output=True, text=True)  # fmt: skip
        _wait_for_new_hub(d.url, str(d.ca_file), f"{name}_hub", old_hub, HUB_RESTART_BOUND_S)
        restarted_s = time.monotonic() - t1
        assert _running_tasks(services[0]) == lab_task  # the same task: never stopped
        home = user.session.get(f"{d.url}/hub/home", timeout=60)  # no new login
        assert home.status_code == 200 and home.url == f"{d.url}/hub/home", describe(home)
        user.wait_lab(120)  # the new proxy routes to it again; the lab's own login still holds
        again = user.run("print(6 * 7)")
        assert again.strip() == "42", again
        print(f"stack {name}: hub container replaced and serving again in {restarted_s:.0f} s")

        # Every line every service wrote (both hub containers) is one JSON object of the log schema.
        logs = {service: _service_logs(f"{name}_{service}") for service in STACK_SERVICES}
        for service, lines in logs.items():
            bad = [line for line in lines if not _in_schema(line)]
            assert lines and not bad, (service, bad[:3])
        entries = [json.loads(line) for line in logs["hub"]]
        assert {"workbench", "hub", "proxy", "jobs", f"tool:{TOOL}"} <= {e["service"] for e in entries}
        assert any(e["user"] == "swe-scientist" and e["service"] == "hub" for e in entries)

        # Backup taken, the stack removed with its volumes, restored onto the empty deployment and
        # deployed again: users, groups, jobs, runs and homes are back.
        archive = tmp_path / "stack-backup.tar.gz"
        summary = stack_backup(name, folder, archive, say=print)
        assert "home-swe-2dscientist" in summary.volumes, summary
        remove(name, folder, volumes=True, log=print)
        assert not [v for v in _volumes() if v.startswith((f"{name}_", lab_prefix(folder)))]
        assert not any(d.state_dir.iterdir())
        t4 = time.monotonic()
        stack_restore(name, folder, archive, say=print)
        d = deploy(name, folder, data_dir=DATA, apps_dir=apps, ports=ports, env="ope", scrape_interval=2,
                   wait=DEPLOY_BOUND_S)  # fmt: skip
        print(f"stack {name}: restored and deployed again in {time.monotonic() - t4:.0f} s")
        user = _login(d, "swe-scientist", "dev-swe-scientist")  # Keycloak's users and groups are back
        _start_swe_lab(d, user)  # the swe group's profile is offered
        assert user.run("print(open('/home/jovyan/kept.txt').read())").strip() == "kept by the backup"
        scientist_api = JobsAPI(d, user)
        runs = scientist_api.call("GET", "jobs/swe-storms/runs").json()["runs"]
        assert sorted(r["status"] for r in runs) == ["failed", "succeeded"], runs
        good = next(r for r in runs if r["status"] == "succeeded")
        scraps = scientist_api.call("GET", f"runs/{good['id']}/scraps").json()["scraps"]
        assert scraps["max_g_scale"] == 4, scraps  # the run's outputs came back with the state folder
        r = scientist_api.call("POST", "jobs", {**job, "name": "still-not-mine"})
        assert r.status_code == 403, r.text  # and the groups still decide
    finally:
        remove(name, folder, volumes=True, log=print)
    left = leftovers(name, folder)
    assert left == {"services": [], "containers": [], "secrets": []}, left
    volumes = _volumes()
    assert not [v for v in volumes if v.startswith((f"{name}_", lab_prefix(folder)))], volumes
    assert not any((folder / "state").iterdir())  # the hub's state went with --volumes
