"""The production stack, run for real: deploy/swarm/stack.yaml on this engine's single-node swarm.

Images built (cached), ``workbench stack deploy`` (the stack's own CA, Swarm secrets, PostgreSQL,
Keycloak, the hub, the nginx TLS front), a user logs in over HTTPS through the containerised Keycloak
trusting only the stack's CA, starts a lab that runs as a Swarm service; ``workbench stack rm`` then
leaves no container, service or secret behind (and ``--volumes`` no volume). The commands are the ones
``docs/operations.md`` gives.
"""

from __future__ import annotations

import html
import re
import subprocess
import time
import uuid
from pathlib import Path
from urllib.parse import urljoin

import pytest

from tests.e2e.webuser import WebUser
from tests.images.fixtures import need_docker
from tests.support import DATA, free_port, need
from workbench.images import build
from workbench.stack import Ports, deploy, lab_prefix, leftovers, remove

DEPLOY_BOUND_S = 1200.0
"""From ``docker stack deploy`` to the hub answering over HTTPS [s] (Keycloak's first start included)."""

pytestmark = [
    pytest.mark.swarm,
    pytest.mark.docker,
    pytest.mark.slow,
    pytest.mark.integration,
    pytest.mark.timeout(2400),
]


def swarm_active() -> bool:
    proc = subprocess.run(
        ["docker", "info", "--format", "{{.Swarm.LocalNodeState}}"], capture_output=True, text=True
    )
    return proc.stdout.strip() == "active"


def lab_services() -> list[str]:
    out = subprocess.run(
        ["docker", "service", "ls", "--format", "{{.Name}}"], capture_output=True, text=True, check=True
    ).stdout
    return [s for s in out.split() if s.startswith(lab_prefix())]


def test_stack_deploys_serves_a_login_over_https_and_a_swarm_lab_then_leaves_nothing(
    stack_images: dict[str, build.BuildResult], tmp_path: Path
):
    need_docker()
    need(swarm_active(), "the engine in swarm mode (docker swarm init --advertise-addr 127.0.0.1)")
    assert not lab_services(), "another stack's hub has labs on this swarm"
    name = f"s2p-stack-test-{uuid.uuid4().hex[:6]}"
    ports = Ports(*(free_port() for _ in range(7)))
    t0 = time.monotonic()
    try:
        d = deploy(name, tmp_path / "stack", data_dir=DATA, ports=ports, env="ope", wait=DEPLOY_BOUND_S)
        deployed_s = time.monotonic() - t0
        # only the stack's own CA is trusted: the front's certificate is signed by it
        user = WebUser(d.url, "swe-scientist", "dev-swe-scientist")
        user.session.verify = str(d.ca_file)
        user.session.trust_env = False  # REQUESTS_CA_BUNDLE of the machine would replace the stack's CA
        home = user.login()
        assert home.url.startswith(f"{d.url}/hub/")
        # the identity provider is the stack's Keycloak, behind the same front
        issuer = user.session.get(f"{d.sso_url}/realms/s2p/.well-known/openid-configuration", timeout=30)
        assert issuer.json()["issuer"] == f"{d.sso_url}/realms/s2p"
        # the spawn page's form (its _xsrf is in the action's query), first profile of the user's group
        form = user.session.get(f"{d.url}/hub/spawn/swe-scientist", timeout=120)
        assert 'value="swe-standard"' in form.text, form.text[:2000]
        action = html.unescape(re.search(r'<form[^>]*action="([^"]+)"', form.text).group(1))
        spawn = user.session.post(urljoin(form.url, action), data={"profile": "swe-standard"}, timeout=120)
        assert spawn.status_code == 200, spawn.text[:2000]
        user.wait_lab(600)
        services = lab_services()
        assert len(services) == 1 and "swe-2dscientist" in services[0], services  # escaped user name
        tasks = subprocess.run(
            ["docker", "service", "ps", "--format", "{{.CurrentState}}", services[0]],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert tasks.startswith("Running"), tasks
        print(f"stack {name}: deployed and healthy in {deployed_s:.0f} s")
    finally:
        remove(name, volumes=True, log=print)
    left = leftovers(name)
    assert left == {"services": [], "containers": [], "secrets": []}, left
    volumes = subprocess.run(
        ["docker", "volume", "ls", "--format", "{{.Name}}"], capture_output=True, text=True, check=True
    ).stdout.split()
    assert not [v for v in volumes if v.startswith((f"{name}_", lab_prefix()))], volumes
