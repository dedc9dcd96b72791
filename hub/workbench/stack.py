"""Deploy and remove the production stack (``deploy/swarm/stack.yaml``) on this engine's swarm.

:func:`deploy` makes what the stack needs and nobody commits, in a folder of its own (default
``<WORKBENCH_STATE_DIR>/stack/<name>``, 0700):

- the stack's own CA (``ca.crt``/``ca.key``) and the TLS front's certificate for ``127.0.0.1`` and
  ``localhost`` signed by it (``front.crt``/``front.key``), made once with ``openssl``;
- the secrets (0600 files, kept between deployments so the volumes stay readable): the PostgreSQL
  password, Keycloak's admin password, the hub's OIDC client secret, the hub's and jobs' database URLs,
  the token Prometheus scrapes the hub and the jobs service with;
- Prometheus' configuration and alert rules in ``prometheus/`` (:mod:`workbench.monitoring`;
  the token is the ``prometheus_token`` secret, which the hub reads as its Prometheus service's);
- the hub's state folder ``state/`` (0700, owned by the hub image's ``workbench`` user, uid 1001),
  mounted into the hub at the same path as on the host, as are the data and the tools' folders: the
  hub hands paths of them to the containers it starts (labs' data, job runs' folders, tools);

then runs ``docker stack deploy`` with the variables of the stack file (ports, data folder, the
docker socket's group, the secrets' folder). With ``wait``, it returns once the hub answers
``/hub/health`` over HTTPS through the front (trusting only the stack's CA).

:func:`remove` runs ``docker stack rm``, removes the labs' services the hub may have left (their names
start with the hub's instance prefix), waits until no container, service or secret of the stack is
left, and with ``volumes`` removes the stack's volumes, the users' home and group volumes and the
content of the state folder.
"""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
import shutil
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from workbench.settings import PROJECT_ROOT

STACK_FILE = PROJECT_ROOT / "deploy" / "swarm" / "stack.yaml"
DEFAULT_APPS_DIR = PROJECT_ROOT / "voila-apps"
ENVIRONMENTS_DIR = PROJECT_ROOT / "deploy" / "environments"
HUB_IMAGE = "s2p-workbench/hub:latest"
HUB_UID = 1001
"""The hub image's ``workbench`` user: owns the state folder."""

STACK_VOLUMES = ("pgdata", "kcdata", "promdata")
PROMETHEUS_TOKEN_SECRET = "/run/secrets/prometheus_token"
"""Where the stack's Prometheus reads the ``prometheus`` hub service's token (a Swarm secret the hub
takes as ``WORKBENCH_PROMETHEUS_TOKEN_FILE``)."""
CERT_DAYS = 825


class StackError(RuntimeError):
    """A step of deploying or removing the stack failed; the message says which and why."""


@dataclass(frozen=True)
class Ports:
    """The stack's loopback ports (all on 127.0.0.1, host networking)."""

    hub: int = 8443
    """HTTPS of the hub (the front)."""
    sso: int = 8444
    """HTTPS of Keycloak (the front)."""
    proxy: int = 8000
    """configurable-http-proxy (plain HTTP, loopback, behind the front)."""
    hub_api: int = 8081
    proxy_api: int = 8001
    keycloak: int = 8080
    """Keycloak's plain HTTP (behind the front)."""
    postgres: int = 5432
    prometheus: int = 9090
    """Prometheus' web UI and API (plain HTTP, loopback)."""

    def __post_init__(self) -> None:
        values = dataclasses.asdict(self)
        bad = {k: v for k, v in values.items() if not 1 <= v <= 65535}
        if bad:
            raise ValueError(f"ports must be 1-65535: {bad}")
        if len(set(values.values())) != len(values):
            raise ValueError(f"each of the stack's services needs a port of its own: {values}")


@dataclass(frozen=True)
class Deployment:
    """What :func:`deploy` made: where users go and what a client must trust."""

    name: str
    folder: Path
    ports: Ports

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.ports.hub}"

    @property
    def sso_url(self) -> str:
        return f"https://127.0.0.1:{self.ports.sso}"

    @property
    def ca_file(self) -> Path:
        return self.folder / "secrets" / "ca.crt"

    @property
    def prometheus_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.prometheus}"

    @property
    def state_dir(self) -> Path:
        """The hub's state folder (the same path inside the hub's container)."""
        return state_folder(self.folder)


def state_folder(folder: Path) -> Path:
    """The hub's state folder of the deployment kept in ``folder``."""
    return folder.resolve() / "state"


def _run(*cmd: str, env: dict[str, str] | None = None, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if check and proc.returncode != 0:
        raise StackError(f"{' '.join(cmd[:4])} failed: {(proc.stderr or proc.stdout).strip()[-2000:]}")
    return proc


def _write_secret(path: Path, value: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(value)


def make_tls(folder: Path) -> None:
    """The stack's CA and the front's certificate (127.0.0.1, localhost) in ``folder``, once.

    Keys are 0600; the CA is valid 10 years, the front's certificate :data:`CERT_DAYS` days.
    """
    ca_key, ca_crt = folder / "ca.key", folder / "ca.crt"
    key, crt = folder / "front.key", folder / "front.crt"
    if crt.exists() and key.exists() and ca_crt.exists():
        return
    old = os.umask(0o077)
    try:
        _run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-nodes", "-keyout", str(ca_key), "-out", str(ca_crt), "-days", "3650",
             "-subj", "/CN=S2P Workbench stack CA",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign")  # fmt: skip
        csr = folder / "front.csr"
        _run("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", str(key), "-out", str(csr), "-subj", "/CN=127.0.0.1")  # fmt: skip
        ext = folder / "front.ext"
        ext.write_text(
            "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n"
            "extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n"
        )
        _run("openssl", "x509", "-req", "-in", str(csr), "-CA", str(ca_crt), "-CAkey", str(ca_key),
             "-CAcreateserial", "-out", str(crt), "-days", str(CERT_DAYS), "-extfile", str(ext))  # fmt: skip
        csr.unlink()
        ext.unlink()
    finally:
        os.umask(old)
    os.chmod(ca_crt, 0o644)
    os.chmod(crt, 0o644)


def make_secrets(folder: Path, ports: Ports) -> None:
    """Generate the stack's secrets in ``folder`` (0600), keeping those that exist."""
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    for name in ("postgres_password", "keycloak_admin_password", "oidc_client_secret"):
        if not (folder / name).exists():
            _write_secret(folder / name, secrets.token_urlsafe(32))
    if not (folder / "prometheus_token").exists():
        _write_secret(folder / "prometheus_token", secrets.token_hex(32))
    password = (folder / "postgres_password").read_text().strip()
    for name, db in (("hub_db_url", "jupyterhub"), ("jobs_db_url", "jobs")):
        _write_secret(folder / name, f"postgresql+psycopg2://{db}:{password}@127.0.0.1:{ports.postgres}/{db}")
    make_tls(folder)


def write_monitoring(
    folder: Path,
    ports: Ports,
    interval_s: int,
    apps_dir: Path | None = None,
    known_groups: tuple[str, ...] | None = None,
) -> Path:
    """Prometheus' configuration and alert rules for the stack in ``folder`` (no secret in them): the
    hub, the jobs service and the gateway of each tool of ``apps_dir`` through the hub's proxy, the
    token from its Swarm secret."""
    from workbench.monitoring import published_tools, write_config

    tools = published_tools(apps_dir, known_groups) if apps_dir is not None else []
    config, _ = write_config(
        folder, f"http://127.0.0.1:{ports.proxy}", PROMETHEUS_TOKEN_SECRET, interval_s=interval_s, tools=tools
    )
    folder.chmod(0o755)  # read by the image's `prometheus` user through a bind mount
    return config


def allowed_groups(env: str) -> tuple[str, ...] | None:
    """``WORKBENCH_ALLOWED_GROUPS`` of ``deploy/environments/<env>.env`` (None: the default), as the
    stack's hub reads it: the tools it publishes are validated against them."""
    from workbench.settings.base import parse_groups

    for line in (ENVIRONMENTS_DIR / f"{env}.env").read_text().splitlines():
        key, _, value = line.strip().partition("=")
        if key == "WORKBENCH_ALLOWED_GROUPS" and value.strip():
            return tuple(parse_groups(value.strip()))
    return None


def docker_gid(socket: Path = Path("/var/run/docker.sock")) -> int:
    """The group of the engine's socket (the hub's container joins it to create the labs)."""
    return socket.stat().st_gid


def _as_root_in_hub_image(folder: Path, script: str) -> None:
    """Run ``script`` (sh) as root in a one-off container of the hub image with ``folder`` at ``/s``:
    what a deploying user who is not root cannot do to files of the hub's uid."""
    _run("docker", "run", "--rm", "--network", "none", "--user", "0", "--entrypoint", "sh",
         "-v", f"{folder}:/s", HUB_IMAGE, "-c", script)  # fmt: skip


def make_state_dir(path: Path) -> None:
    """The hub's state folder: 0700, owned by the hub's uid (:data:`HUB_UID`)."""
    path.mkdir(parents=True, exist_ok=True)
    if path.stat().st_uid == HUB_UID:
        return
    if os.geteuid() == 0:
        os.chown(path, HUB_UID, HUB_UID)
        os.chmod(path, 0o700)
    else:
        _as_root_in_hub_image(path, f"chown {HUB_UID}:{HUB_UID} /s && chmod 700 /s")


def empty_state_dir(path: Path) -> None:
    """Remove everything in the hub's state folder (its files are the hub's uid's)."""
    if not path.is_dir():
        return
    if os.geteuid() == 0:
        for child in path.iterdir():
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()
    else:
        _as_root_in_hub_image(path, "find /s -mindepth 1 -delete")


def stack_environment(
    folder: Path, ports: Ports, data_dir: Path, env: str, apps_dir: Path = DEFAULT_APPS_DIR
) -> dict[str, str]:
    """The variables ``deploy/swarm/stack.yaml`` reads (``docker stack deploy`` substitutes them)."""
    return {
        "WORKBENCH_STACK_ENV_FILE": str(ENVIRONMENTS_DIR / f"{env}.env"),
        "WORKBENCH_STACK_SECRETS": str(folder / "secrets"),
        "WORKBENCH_STACK_STATE_DIR": str(state_folder(folder)),
        "WORKBENCH_STACK_DATA_DIR": str(data_dir.resolve()),
        "WORKBENCH_STACK_APPS_DIR": str(apps_dir.resolve()),
        "WORKBENCH_STACK_DOCKER_GID": str(docker_gid()),
        "WORKBENCH_STACK_HUB_PORT": str(ports.hub),
        "WORKBENCH_STACK_SSO_PORT": str(ports.sso),
        "WORKBENCH_STACK_PROXY_PORT": str(ports.proxy),
        "WORKBENCH_STACK_HUB_API_PORT": str(ports.hub_api),
        "WORKBENCH_STACK_PROXY_API_PORT": str(ports.proxy_api),
        "WORKBENCH_STACK_KC_PORT": str(ports.keycloak),
        "WORKBENCH_STACK_PG_PORT": str(ports.postgres),
        "WORKBENCH_STACK_PROMETHEUS_PORT": str(ports.prometheus),
        "WORKBENCH_STACK_MONITORING_DIR": str(folder.resolve() / "prometheus"),
    }


def deploy(
    name: str,
    folder: Path,
    *,
    data_dir: Path,
    apps_dir: Path = DEFAULT_APPS_DIR,
    ports: Ports = Ports(),
    env: str = "ope",
    stack_file: Path = STACK_FILE,
    scrape_interval: int = 30,
    wait: float = 0.0,
    log=print,
) -> Deployment:
    """Generate the CA, certificate and secrets in ``folder`` and ``docker stack deploy`` the stack.

    Parameters
    ----------
    name
        The stack's name (prefix of its services, volumes and secrets).
    folder
        Where the generated CA, certificate and secrets are kept (``folder/secrets``, 0700).
    data_dir
        The host folder mounted read-only into the hub and the labs.
    apps_dir
        The host folder of the published tools (one folder per tool; default: the project's
        ``voila-apps``), mounted read-only into the hub and the tools' containers.
    ports
        The loopback ports of the stack.
    env
        The environment whose settings the hub takes (``deploy/environments/<env>.env``; ``ope`` by
        default).
    scrape_interval
        Prometheus' scrape and rule evaluation interval [s].
    wait
        When > 0, wait up to this many seconds [s] until the hub answers over HTTPS.
    """
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    make_secrets(folder / "secrets", ports)
    make_state_dir(state_folder(folder))
    write_monitoring(folder / "prometheus", ports, scrape_interval, apps_dir, allowed_groups(env))
    variables = stack_environment(folder, ports, data_dir, env, apps_dir)
    (folder / "stack.env").write_text("".join(f"{k}={v}\n" for k, v in variables.items()))
    log(f"stack {name}: docker stack deploy -c {stack_file} {name}")
    _run(
        "docker", "stack", "deploy", "--compose-file", str(stack_file), name, env={**os.environ, **variables}
    )
    deployment = Deployment(name, folder, ports)
    if wait > 0:
        wait_healthy(deployment, wait, log=log)
    return deployment


def wait_healthy(deployment: Deployment, timeout: float, *, log=print) -> float:
    """Wait until ``/hub/health`` answers 200 through the front, trusting only the stack's CA.

    Returns the seconds [s] waited; raises :class:`StackError` with the services' states on timeout.
    """
    context = ssl.create_default_context(cafile=str(deployment.ca_file))
    t0 = time.monotonic()
    last = ""
    while time.monotonic() - t0 < timeout:
        try:
            with urllib.request.urlopen(f"{deployment.url}/hub/health", context=context, timeout=10) as r:
                if r.status == 200:
                    log(f"stack {deployment.name}: hub healthy after {time.monotonic() - t0:.0f} s")
                    return time.monotonic() - t0
        except (OSError, urllib.error.URLError) as exc:
            last = str(exc)
        time.sleep(2)
    states = _run("docker", "stack", "ps", "--no-trunc", deployment.name, check=False).stdout
    raise StackError(
        f"the hub of stack {deployment.name} did not answer at {deployment.url} within {timeout:.0f} s "
        f"(last: {last}); tasks:\n{states}"
    )


def output_lines(*cmd: str) -> list[str]:
    """The non-empty lines ``cmd`` writes (nothing when it fails)."""
    return [line for line in _run(*cmd, check=False).stdout.splitlines() if line.strip()]


def lab_prefix(folder: Path) -> str:
    """The instance prefix of the hub of the deployment kept in ``folder``: names the containers and
    services it starts (labs, job runs, tools) and the users' volumes."""
    from workbench.spawners.docker import instance_prefix

    return instance_prefix(type("S", (), {"state_dir": state_folder(folder)})())


def hub_volumes(folder: Path) -> list[str]:
    """The volumes the hub of the deployment in ``folder`` made (users' homes, groups' shares)."""
    prefix = lab_prefix(folder)
    return sorted(
        v
        for v in output_lines("docker", "volume", "ls", "--format", "{{.Name}}")
        if v.startswith(prefix + "-")
    )


def leftovers(name: str, folder: Path) -> dict[str, list[str]]:
    """The stack's services, containers and secrets (and what its hub started) that still exist."""
    label = f"label=com.docker.stack.namespace={name}"
    prefix = lab_prefix(folder)
    labs = [
        s for s in output_lines("docker", "service", "ls", "--format", "{{.Name}}") if s.startswith(prefix)
    ]
    return {
        "services": output_lines("docker", "service", "ls", "--filter", label, "--format", "{{.Name}}")
        + labs,
        "containers": output_lines("docker", "ps", "-a", "--filter", label, "--format", "{{.Names}}")
        + [c for c in output_lines("docker", "ps", "-a", "--format", "{{.Names}}") if c.startswith(prefix)],
        "secrets": output_lines("docker", "secret", "ls", "--filter", label, "--format", "{{.Name}}"),
    }


def remove(name: str, folder: Path, *, volumes: bool = False, timeout: float = 180.0, log=print) -> None:
    """``docker stack rm`` and wait until nothing of the stack is left (see the module's doc).

    Parameters
    ----------
    folder
        The deployment's folder (as given to :func:`deploy`): names what its hub started.
    volumes
        Also remove the stack's volumes (database, Keycloak), the users' volumes and the content of
        the hub's state folder.
    timeout
        Seconds [s] to wait for the containers to go.
    """
    log(f"stack {name}: docker stack rm {name}")
    _run("docker", "stack", "rm", name)
    deadline = time.monotonic() + timeout
    prefix = lab_prefix(folder)
    left = leftovers(name, folder)
    while any(left.values()) and time.monotonic() < deadline:
        hub_gone = all(c.startswith(prefix) for c in left["containers"])  # only what the hub started
        if hub_gone or time.monotonic() > deadline - timeout / 2:
            # the hub leaves the labs running when it stops (WORKBENCH_KEEP_LABS): they go here, and
            # so would a run's or a tool's container a killed hub left
            for service in left["services"]:
                _run("docker", "service", "rm", service, check=False)
            for container in left["containers"]:
                if container.startswith(prefix):
                    _run("docker", "rm", "--force", container, check=False)
        time.sleep(2)
        left = leftovers(name, folder)
    if any(left.values()):
        raise StackError(f"stack {name}: still there after {timeout:.0f} s: {json.dumps(left)}")
    if volumes:
        names = [f"{name}_{v}" for v in STACK_VOLUMES] + hub_volumes(folder)
        for volume in names:
            for _ in range(10):  # a container that just exited may hold it a moment longer
                if _run("docker", "volume", "rm", volume, check=False).returncode == 0 or not output_lines(
                    "docker", "volume", "ls", "-q", "--filter", f"name=^{volume}$"
                ):
                    break
                time.sleep(1)
        empty_state_dir(state_folder(folder))
    log(f"stack {name}: removed")
