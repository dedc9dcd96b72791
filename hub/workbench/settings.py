"""Every setting of the workbench, in one place, read from ``WORKBENCH_*`` environment variables.

The table below *is* the documentation: each field names its variable, its default and its help text,
and ``workbench settings`` prints them (``--markdown`` renders ``docs/settings.md``). Business code takes a
:class:`Settings` object and never reads ``os.environ`` itself.

To add a setting, add one field to :class:`Settings` with :func:`setting`::

    jobs_workers: int = setting("WORKBENCH_JOBS_WORKERS", default=2, parse=parse_int,
                                help="Notebook runs executed at the same time.")

Defaults that depend on other settings (``WORKBENCH_DB_URL`` lives in the state directory) are
computed by ``derive=`` from the values parsed before them, in table order.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

PROJECT_ROOT = Path(__file__).resolve().parents[2]
"""The checkout the ``workbench`` package was installed from (editable install)."""

ENVIRONMENTS = ("dev", "ire", "pre-ope", "ope")
AUTH_MODES = ("dev-idp", "keycloak", "keycloak-local")
LOCAL_IDPS = ("dev-idp", "keycloak-local")
"""Auth modes in which `workbench up` starts the IdP itself on WORKBENCH_IDP_PORT."""
SPAWNERS = ("local", "docker", "swarm")
JOB_EXECUTORS = ("local", "container", "dask", "swarm")
"""Where a job's run may execute (:mod:`workbench.jobs.executors`); a job names one, or takes the default."""
JOB_NETWORKS = ("none", "host")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
SEGMENT_GROUPS = ("swe", "debris", "neo", "operators", "admins")

# Client secrets that are known from development set-ups and must never reach production.
DEV_SECRETS = frozenset(
    {"", "workbench", "secret", "changeme", "change-me", "dev", "password", "${WORKBENCH_OIDC_CLIENT_SECRET}"}
)


class SettingsError(ValueError):
    """A setting has an invalid value, or the combination of settings is refused.

    The message names the variable, the value found and what is allowed.
    """


# --------------------------------------------------------------------------------------------------
# parsers: each takes the raw string and returns the typed value or raises ValueError with the reason


def parse_str(raw: str) -> str:
    return raw.strip()


def parse_int(raw: str) -> int:
    try:
        return int(raw.strip())
    except ValueError:
        raise ValueError("expected an integer") from None


def parse_port(raw: str) -> int:
    port = parse_int(raw)
    if not 0 < port < 65536:
        raise ValueError("expected a TCP port between 1 and 65535")
    return port


def parse_bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError("expected one of: true, false, 1, 0, yes, no")


def parse_path(raw: str) -> Path:
    if not raw.strip():
        raise ValueError("expected a path")
    return Path(raw.strip()).expanduser().resolve()


def parse_groups(raw: str) -> tuple[str, ...]:
    """Comma- or space-separated group names; a leading '/' (Keycloak's group path) is dropped."""
    names = [g.strip().lstrip("/") for g in raw.replace(",", " ").split()]
    return tuple(dict.fromkeys(n for n in names if n))


def parse_float(raw: str) -> float:
    try:
        return float(raw.strip())
    except ValueError:
        raise ValueError("expected a number") from None


def parse_pairs(raw: str) -> tuple[tuple[str, str], ...]:
    """Space-separated ``KEY=VALUE`` items (a value may hold ``=`` but no space)."""
    out = []
    for item in raw.split():
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            raise ValueError(f"{item!r} is not KEY=VALUE")
        out.append((key, value))
    return tuple(out)


def parse_url(raw: str) -> str:
    value = raw.strip().rstrip("/")
    if not value:
        return ""
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValueError("expected an http:// or https:// URL")
    return value


def parse_size(raw: str) -> int:
    """Bytes of a Docker-style size: ``512m``, ``4g``, ``1.5G``, ``1073741824``."""
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
    text = raw.strip().lower().removesuffix("b").removesuffix("i")
    try:
        value = float(text[:-1]) * units[text[-1]] if text and text[-1] in units else float(text)
    except ValueError:
        raise ValueError("expected a size such as 512m, 4g or a number of bytes") from None
    if value < 1 << 20:
        raise ValueError("expected at least 1m")
    return int(value)


def parse_docker_size(raw: str) -> str:
    """A Docker-style size or 0 (no limit) (``512M``, ``4G``, ``1.5g``, bytes), checked and kept as written."""
    value = raw.strip()
    text = value.lower().removesuffix("b").removesuffix("i")
    number = text[:-1] if text and text[-1] in "kmgt" else text
    try:
        ok = float(number) >= 0
    except ValueError:
        ok = False
    if not ok:
        raise ValueError("expected a size such as 512M, 4G or a number of bytes")
    return value


def parse_ip(raw: str) -> str:
    value = raw.strip()
    try:
        ipaddress.ip_address(value)
    except ValueError:
        raise ValueError("expected an IP address such as 127.0.0.1 or 0.0.0.0") from None
    return value


# --------------------------------------------------------------------------------------------------
# the declarative table


@dataclass(frozen=True)
class Spec:
    """How one setting is read: variable, default, parser, allowed values, help text."""

    env: str
    help: str
    default: Any = None
    derive: Callable[[Mapping[str, Any]], Any] | None = None
    parse: Callable[[str], Any] = parse_str
    choices: tuple[str, ...] | None = None
    secret: bool = False

    def describe_default(self) -> str:
        if self.derive is not None:
            return (self.derive.__doc__ or "computed").strip()
        if isinstance(self.default, tuple):
            return _show_tuple(self.default)
        if self.default == "":
            return "(empty)"
        return str(self.default)


def setting(
    env: str,
    *,
    help: str,
    default: Any = None,
    derive: Callable[[Mapping[str, Any]], Any] | None = None,
    parse: Callable[[str], Any] = parse_str,
    choices: tuple[str, ...] | None = None,
    secret: bool = False,
) -> Any:
    """Declare one field of :class:`Settings` (a dataclass field carrying its :class:`Spec`)."""
    if secret:
        help += (
            f" Or {env}_FILE: a file holding the value (e.g. a Swarm secret in /run/secrets), read when "
            f"{env} is unset."
        )
    spec = Spec(env, " ".join(help.split()), default, derive, parse, choices, secret)
    return dataclasses.field(metadata={"spec": spec})


def _is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _realm_name(realm_file: Path) -> str:
    try:
        return str(json.loads(realm_file.read_text())["realm"])
    except (OSError, ValueError, KeyError, TypeError):
        return "s2p"


def _default_issuer(v: Mapping[str, Any]) -> str:
    """dev-idp, keycloak-local: http://127.0.0.1:<WORKBENCH_IDP_PORT>/realms/<realm of WORKBENCH_REALM_FILE>; keycloak: required"""
    if v["auth"] in LOCAL_IDPS:
        return f"http://127.0.0.1:{v['idp_port']}/realms/{_realm_name(v['realm_file'])}"
    return ""


def _default_keycloak_cache(v: Mapping[str, Any]) -> Path:
    """$XDG_CACHE_HOME/s2p-workbench/keycloak, else ~/.cache/s2p-workbench/keycloak"""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser().resolve() / "s2p-workbench" / "keycloak"


def _java_on_path(v: Mapping[str, Any]) -> None:
    """(empty: the java on PATH)"""
    return None


def _default_public_url(v: Mapping[str, Any]) -> str:
    """http://<WORKBENCH_HUB_IP>:<WORKBENCH_HUB_PORT> (127.0.0.1 when bound to all addresses)"""
    host = v["hub_ip"]
    if host in {"0.0.0.0", "::"}:
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{v['hub_port']}"


def _default_jobs_executor(v: Mapping[str, Any]) -> str:
    """container with WORKBENCH_SPAWNER=docker or swarm, else local"""
    return "container" if v["spawner"] in {"docker", "swarm"} else "local"


def _default_jobs_network(v: Mapping[str, Any]) -> str:
    """host with WORKBENCH_DATA_LIVE, else none"""
    return "host" if v["data_live"] else "none"


def _default_jobs_memory(v: Mapping[str, Any]) -> int:
    """4g"""
    return 4 << 30


def _default_db_url(v: Mapping[str, Any]) -> str:
    """sqlite:///<WORKBENCH_STATE_DIR>/jupyterhub.sqlite"""
    return f"sqlite:///{v['state_dir'] / 'jupyterhub.sqlite'}"


def _default_jobs_db_url(v: Mapping[str, Any]) -> str:
    """sqlite:///<WORKBENCH_STATE_DIR>/jobs/jobs.sqlite"""
    return f"sqlite:///{v['state_dir'] / 'jobs' / 'jobs.sqlite'}"


@dataclass(frozen=True)
class Settings:
    """The workbench configuration. Build it with :meth:`Settings.from_env`."""

    env: str = setting(
        "WORKBENCH_ENV",
        default="dev",
        choices=ENVIRONMENTS,
        help="Deployment environment. `ope` (operations) refuses the dev IdP, plain HTTP on a public address, "
        "development secrets, and settings that give users the hub's OS identity or files (the local "
        "spawner, the tools' kernel filter off, a data folder holding the state directory).",
    )
    log_level: str = setting(
        "WORKBENCH_LOG_LEVEL",
        default="INFO",
        parse=lambda raw: raw.strip().upper(),
        choices=LOG_LEVELS,
        help="Log level of the hub and of the workbench's own processes.",
    )
    state_dir: Path = setting(
        "WORKBENCH_STATE_DIR",
        default=PROJECT_ROOT / ".state",
        parse=parse_path,
        help="Where the hub keeps its database, generated secrets, logs and the users' directories "
        "(created on first use, never committed).",
    )
    data_dir: Path = setting(
        "WORKBENCH_DATA_DIR",
        default=PROJECT_ROOT / "data",
        parse=parse_path,
        help="The sample and reference data the labs and the catalogs read.",
    )
    data_live: bool = setting(
        "WORKBENCH_DATA_LIVE",
        default=False,
        parse=parse_bool,
        help="Catalog entries read from their providers' URLs (through a local cache) instead of the "
        "shipped files. Passed to every lab.",
    )
    data_base_url: str = setting(
        "WORKBENCH_DATA_BASE_URL",
        default="",
        help="Mirror that replaces the providers' hosts for live reads and `workbench data fetch` "
        "(e.g. an institute's proxy of the public archives). Passed to every lab.",
    )
    data_cache: str = setting(
        "WORKBENCH_DATA_CACHE",
        default="",
        help="Folder of the cache of live reads (default: $XDG_CACHE_HOME/s2p, else ~/.cache/s2p).",
    )
    apps_dir: Path = setting(
        "WORKBENCH_APPS_DIR",
        default=PROJECT_ROOT / "voila-apps",
        parse=parse_path,
        help="Folder of the published Voila tools (one folder per tool: app.ipynb + app.yaml), each "
        "served by the hub at /services/<folder>/ with the access policy of its app.yaml.",
    )
    apps_kernel_filter: bool = setting(
        "WORKBENCH_APPS_KERNEL_FILTER",
        default=True,
        parse=parse_bool,
        help="Whether each tool's gateway passes only the widget messages of a tool's page to its kernels "
        "(kernel info, comms) and drops everything else a visitor sends (execute, inspect, complete…). "
        "Turn it off only to test the layers behind it; `ope` refuses false.",
    )
    apps_uid_base: int = setting(
        "WORKBENCH_APPS_UID_BASE",
        default=1_900_000_000,
        parse=parse_int,
        help="Local spawner with the hub running as root: each tool's Voila and kernels run as a uid of "
        "their own in [base, base + 2^24), chosen from the state directory and the tool's name; no account "
        "is needed (a uid that has one is not used).",
    )
    apps_memory: str = setting(
        "WORKBENCH_APPS_MEMORY",
        default="4G",
        parse=parse_docker_size,
        help="Docker and Swarm spawners: memory limit of each tool's container (its Voila and every "
        "visitor's kernel together); 0 for none.",
    )
    catalog: str = setting(
        "WORKBENCH_CATALOG",
        default="",
        help="Root Intake catalog to open in `s2p.catalog()` (default: the project's catalogs/s2p.yaml).",
    )
    catalog_federation: str = setting(
        "WORKBENCH_CATALOG_FEDERATION",
        default="",
        help="Comma-separated name=URL of other expert centres' catalogs to include under the root "
        "catalog. Passed to every lab.",
    )
    db_url: str = setting(
        "WORKBENCH_DB_URL",
        derive=_default_db_url,
        secret=True,
        help="SQLAlchemy URL of the hub database (SQLite embedded default; "
        "postgresql://user:password@host/db in operations). Upgraded automatically on start.",
    )
    auth: str = setting(
        "WORKBENCH_AUTH",
        default="dev-idp",
        choices=AUTH_MODES,
        help="Identity provider: `dev-idp` starts the bundled Keycloak-shaped IdP with the realm file; "
        "`keycloak-local` starts a real Keycloak (fetched with Maven into WORKBENCH_KEYCLOAK_CACHE) with the "
        "realm file imported; `keycloak` uses the issuer given by WORKBENCH_OIDC_ISSUER.",
    )
    realm_file: Path = setting(
        "WORKBENCH_REALM_FILE",
        default=PROJECT_ROOT / "deploy" / "keycloak" / "realm-s2p.json",
        parse=parse_path,
        help="Keycloak realm export read by the dev IdP (users, groups, clients), imported by the local "
        "Keycloak (keycloak-local), and read by `workbench up` for the demo logins it prints.",
    )
    idp_port: int = setting(
        "WORKBENCH_IDP_PORT",
        default=8080,
        parse=parse_port,
        help="Port on 127.0.0.1 of the IdP `workbench up` starts: the dev IdP (dev-idp) or the local "
        "Keycloak (keycloak-local).",
    )
    oidc_issuer: str = setting(
        "WORKBENCH_OIDC_ISSUER",
        derive=_default_issuer,
        parse=parse_url,
        help="OpenID Connect issuer URL, e.g. https://sso.example.org/realms/s2p; the endpoints are "
        "discovered from <issuer>/.well-known/openid-configuration when the hub starts.",
    )
    oidc_client_id: str = setting(
        "WORKBENCH_OIDC_CLIENT_ID",
        default="workbench",
        help="OIDC client id of the hub (a confidential client in the realm).",
    )
    oidc_client_secret: str = setting(
        "WORKBENCH_OIDC_CLIENT_SECRET",
        default="",
        secret=True,
        help="OIDC client secret. Empty with dev-idp or keycloak-local: a random one is generated in the state "
        "directory and handed to the IdP `workbench up` starts. Required with keycloak.",
    )
    allowed_groups: tuple[str, ...] = setting(
        "WORKBENCH_ALLOWED_GROUPS",
        default=SEGMENT_GROUPS,
        parse=parse_groups,
        help="IdP groups whose members may use the hub (comma-separated); others get a refusal page.",
    )
    admin_groups: tuple[str, ...] = setting(
        "WORKBENCH_ADMIN_GROUPS",
        default=("admins",),
        parse=parse_groups,
        help="IdP groups whose members are hub admins (comma-separated).",
    )
    auth_refresh_age: int = setting(
        "WORKBENCH_AUTH_REFRESH_AGE",
        default=300,
        parse=parse_int,
        help="Seconds after which the hub refreshes a user's tokens and groups from the IdP "
        "(also before every spawn); a group removed in the IdP takes effect then. 0 disables the periodic refresh.",
    )
    access_contact: str = setting(
        "WORKBENCH_ACCESS_CONTACT",
        default="your segment's workbench administrator",
        help="Who to ask for access, shown on the refusal page to users in no allowed group.",
    )
    # -- the real Keycloak run locally (keycloak-local, tests, `workbench keycloak`) -----------------
    keycloak_cache: Path = setting(
        "WORKBENCH_KEYCLOAK_CACHE",
        derive=_default_keycloak_cache,
        parse=parse_path,
        help="Folder outside the repository where `workbench keycloak fetch` keeps the Keycloak "
        "distribution downloaded with Maven, augmented once, and its template database.",
    )
    keycloak_java_home: Path | None = setting(
        "WORKBENCH_KEYCLOAK_JAVA_HOME",
        derive=_java_on_path,
        parse=parse_path,
        help="JDK (17 or later) that builds and runs the local Keycloak, e.g. "
        "/usr/lib/jvm/temurin-25-jdk-amd64; empty: the `java` on PATH.",
    )
    hub_ip: str = setting(
        "WORKBENCH_HUB_IP",
        default="127.0.0.1",
        parse=parse_ip,
        help="Address the public proxy binds (0.0.0.0 for all interfaces; then put TLS in front).",
    )
    hub_port: int = setting(
        "WORKBENCH_HUB_PORT",
        default=8000,
        parse=parse_port,
        help="Public port of the workbench (the proxy).",
    )
    hub_api_port: int = setting(
        "WORKBENCH_HUB_API_PORT",
        default=8081,
        parse=parse_port,
        help="Port of the hub's internal API on 127.0.0.1 (proxy and servers talk to it).",
    )
    proxy_api_port: int = setting(
        "WORKBENCH_PROXY_API_PORT",
        default=8001,
        parse=parse_port,
        help="Port of the proxy's control API on 127.0.0.1.",
    )
    public_url: str = setting(
        "WORKBENCH_PUBLIC_URL",
        derive=_default_public_url,
        parse=parse_url,
        help="URL users reach the workbench at (https://… in operations); the OIDC callback is "
        "<public url>/hub/oauth_callback.",
    )
    spawner: str = setting(
        "WORKBENCH_SPAWNER",
        default="local",
        choices=SPAWNERS,
        help="Where each user's JupyterLab runs: `local` process, `docker` container, or `swarm` service.",
    )
    image: str = setting(
        "WORKBENCH_IMAGE",
        default="s2p-workbench/lab:latest",
        help="Lab image for the docker and swarm spawners.",
    )
    spawn_timeout: int = setting(
        "WORKBENCH_SPAWN_TIMEOUT",
        default=180,
        parse=parse_int,
        help="Seconds a user's server may take to start before the spawn is declared failed.",
    )
    jobs_port: int = setting(
        "WORKBENCH_JOBS_PORT",
        default=0,
        parse=parse_int,
        help="Port of the jobs service on 127.0.0.1 (reached through the proxy at /services/jobs/); "
        "0 picks a free port when the hub starts.",
    )
    jobs_workers: int = setting(
        "WORKBENCH_JOBS_WORKERS",
        default=2,
        parse=parse_int,
        help="Notebook runs of the jobs service executed at the same time; others wait in its queue.",
    )
    jobs_timeout: int = setting(
        "WORKBENCH_JOBS_TIMEOUT",
        default=3600,
        parse=parse_int,
        help="Default timeout of a job's run in seconds (a job may set its own); the run is then killed "
        "and recorded `timed_out`.",
    )
    jobs_notebooks_dir: Path = setting(
        "WORKBENCH_JOBS_NOTEBOOKS_DIR",
        default=PROJECT_ROOT / "notebooks",
        parse=parse_path,
        help="Folder the jobs' notebooks are taken from (a job names a path relative to it).",
    )
    jobs_operator_groups: tuple[str, ...] = setting(
        "WORKBENCH_JOBS_OPERATOR_GROUPS",
        default=("operators", "admins"),
        parse=parse_groups,
        help="Groups whose members may create, delete and cancel jobs of every segment; members of a "
        "segment group (swe, debris, neo) see and run that segment's jobs.",
    )
    dask_address: str = setting(
        "WORKBENCH_DASK_ADDRESS",
        default="",
        help="Scheduler of the dask cluster the `dask` executor runs jobs on (e.g. tcp://scheduler:8786; its "
        "workers need papermill and a python3 kernel). Empty: a LocalCluster of WORKBENCH_DASK_WORKERS "
        "processes on 127.0.0.1, started with the first dask run.",
    )
    dask_workers: int = setting(
        "WORKBENCH_DASK_WORKERS",
        default=2,
        parse=parse_int,
        help="Worker processes of the local dask cluster (one run each at a time).",
    )
    jobs_db_url: str = setting(
        "WORKBENCH_JOBS_DB_URL",
        derive=_default_jobs_db_url,
        secret=True,
        help="SQLAlchemy URL of the jobs service's store of jobs, runs and notifications (SQLite embedded "
        "default; postgresql://user:password@host/db in operations). Upgraded automatically on start.",
    )
    jobs_keep_runs: int = setting(
        "WORKBENCH_JOBS_KEEP_RUNS",
        default=0,
        parse=parse_int,
        help="Retention default: finished runs kept per job, newest first (0: no limit by number). A run "
        "is deleted, folder included, when neither this nor WORKBENCH_JOBS_KEEP_DAYS keeps it; a job's "
        "last successful run is always kept. A job's own `retention` overrides both.",
    )
    jobs_keep_days: float = setting(
        "WORKBENCH_JOBS_KEEP_DAYS",
        default=0.0,
        parse=parse_float,
        help="Retention default: days a finished run is kept (0: no limit by age).",
    )
    jobs_notify_on: tuple[str, ...] = setting(
        "WORKBENCH_JOBS_NOTIFY_ON",
        default=("failure",),
        parse=parse_groups,
        help="Events notified for jobs that set no `notify`: failure, success, recovery (comma-separated).",
    )
    jobs_notify_webhooks: tuple[tuple[str, str], ...] = setting(
        "WORKBENCH_JOBS_NOTIFY_WEBHOOKS",
        default=(),
        parse=parse_pairs,
        help="Webhooks notified by default, per segment: space-separated SEGMENT=URL (`*=URL`: every "
        "segment). A job's own `notify` targets replace its segment's.",
    )
    jobs_notify_emails: tuple[tuple[str, str], ...] = setting(
        "WORKBENCH_JOBS_NOTIFY_EMAILS",
        default=(),
        parse=parse_pairs,
        help="E-mail addresses notified by default, per segment: space-separated SEGMENT=ADDRESS "
        "(`*=ADDRESS`: every segment).",
    )
    jobs_webhook_secret: str = setting(
        "WORKBENCH_JOBS_WEBHOOK_SECRET",
        default="",
        secret=True,
        help="HMAC key signing the jobs' webhooks (a job may set its own). Empty: generated once in "
        "<state>/secrets/jobs_webhook_secret (0600); give receivers that file's content.",
    )
    smtp_host: str = setting(
        "WORKBENCH_SMTP_HOST",
        default="",
        help="SMTP server that sends the workbench's e-mails (job notifications); empty: no e-mail.",
    )
    smtp_port: int = setting(
        "WORKBENCH_SMTP_PORT", default=25, parse=parse_port, help="Port of the SMTP server."
    )
    smtp_starttls: bool = setting(
        "WORKBENCH_SMTP_STARTTLS",
        default=False,
        parse=parse_bool,
        help="Upgrade the SMTP connection with STARTTLS, verifying the server's certificate.",
    )
    smtp_ca_file: str = setting(
        "WORKBENCH_SMTP_CA_FILE",
        default="",
        help="PEM file of the CA of the SMTP server's certificate (default: the system's CAs).",
    )
    smtp_user: str = setting("WORKBENCH_SMTP_USER", default="", help="SMTP login (empty: none).")
    smtp_password: str = setting(
        "WORKBENCH_SMTP_PASSWORD", default="", secret=True, help="SMTP password of WORKBENCH_SMTP_USER."
    )
    smtp_from: str = setting(
        "WORKBENCH_SMTP_FROM",
        default="workbench@localhost",
        help="Sender address of the workbench's e-mails.",
    )
    jobs_executor: str = setting(
        "WORKBENCH_JOBS_EXECUTOR",
        derive=_default_jobs_executor,
        choices=JOB_EXECUTORS,
        help="Where a job's runs execute unless the job names its own `executor`: `container` (each run "
        "in a container of the lab image as jovyan, no credentials, read-only data; the production shape) "
        "or `local` (a papermill process on the jobs service's machine, as WORKBENCH_JOBS_RUN_USER when "
        "the service runs as root; refused with WORKBENCH_ENV=pre-ope or ope when it does not), `dask` (a "
        "task on the dask cluster of WORKBENCH_DASK_ADDRESS) or `swarm` (a one-off Swarm service of the "
        "lab image).",
    )
    jobs_start_timeout: int = setting(
        "WORKBENCH_JOBS_START_TIMEOUT",
        default=300,
        parse=parse_int,
        help="Seconds a run may take to start (container, papermill and kernel) before it fails as "
        "`start_failed`; a job's own timeout counts from its notebook's first cell.",
    )
    jobs_run_user: str = setting(
        "WORKBENCH_JOBS_RUN_USER",
        default="s2p-jobs",
        help="Identity of local runs when the jobs service runs as root: an account name (a system "
        "account created on first use if missing) or `uid:gid`. Never root nor the service's own user.",
    )
    jobs_work_dir: str = setting(
        "WORKBENCH_JOBS_WORK_DIR",
        default="",
        help="Parent of the folders local runs execute in, each owned by the run's identity. Empty: "
        "/var/lib/s2p-workbench/jobs-<6 hex of the state directory> when the service runs as root (every "
        "parent must be searchable by WORKBENCH_JOBS_RUN_USER, so not inside the state directory), "
        "else <state>/jobs/work.",
    )
    jobs_network: str = setting(
        "WORKBENCH_JOBS_NETWORK",
        derive=_default_jobs_network,
        choices=JOB_NETWORKS,
        help="Network of container runs: `none` (only the container's own loopback, which papermill and "
        "the kernel use) or `host` (needed for live data; the run then reaches the host's loopback services).",
    )
    jobs_memory: int = setting(
        "WORKBENCH_JOBS_MEMORY",
        derive=_default_jobs_memory,
        parse=parse_size,
        help="Memory limit of a container run (e.g. 4g); the kernel beyond it is killed and the run "
        "fails as `lost`.",
    )

    # ---------------------------------------------------------------------------------------------

    @classmethod
    def specs(cls) -> dict[str, Spec]:
        """Field name → :class:`Spec`, in table order."""
        return {f.name: f.metadata["spec"] for f in dataclasses.fields(cls)}

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Read every setting from ``environ`` (default: the process environment).

        Parameters
        ----------
        environ
            Mapping of ``WORKBENCH_*`` variables; unset or empty variables take their default.
        **overrides
            Typed values by field name, taking precedence over the environment (e.g. a CLI option).

        Raises
        ------
        SettingsError
            Naming the variable, the value found and the allowed values.
        """
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for name, spec in cls.specs().items():
            if name in overrides:
                values[name] = overrides[name]
                continue
            raw = env.get(spec.env, "")
            if spec.secret and raw.strip() == "" and env.get(f"{spec.env}_FILE", "").strip():
                raw = _read_secret_file(f"{spec.env}_FILE", env[f"{spec.env}_FILE"].strip())
            if raw.strip() == "":
                values[name] = spec.derive(values) if spec.derive is not None else spec.default
                continue
            try:
                value = spec.parse(raw)
            except ValueError as exc:
                shown = "<hidden>" if spec.secret else repr(raw)
                raise SettingsError(f"{spec.env}={shown} is invalid: {exc}.") from None
            if spec.choices is not None and value not in spec.choices:
                raise SettingsError(
                    f"{spec.env}={raw!r} is invalid: allowed values are {', '.join(spec.choices)}."
                )
            values[name] = value
        unknown = set(overrides) - set(values)
        if unknown:
            raise TypeError(f"unknown settings: {', '.join(sorted(unknown))}")
        settings = cls(**values)
        settings.validate()
        return settings

    def validate(self) -> None:
        """Check combinations that no single parser can see; raise :class:`SettingsError`."""
        if self.auth == "keycloak" and not self.oidc_issuer:
            raise SettingsError(
                "WORKBENCH_AUTH=keycloak needs WORKBENCH_OIDC_ISSUER (e.g. https://sso.example.org/realms/s2p)."
            )
        if self.auth == "keycloak" and not self.oidc_client_secret:
            raise SettingsError(
                "WORKBENCH_AUTH=keycloak needs WORKBENCH_OIDC_CLIENT_SECRET "
                "(the secret of the client in your Keycloak realm)."
            )
        unknown_admin = set(self.admin_groups) - set(self.allowed_groups)
        if unknown_admin:
            raise SettingsError(
                f"WORKBENCH_ADMIN_GROUPS has {', '.join(sorted(unknown_admin))}, which is not in "
                f"WORKBENCH_ALLOWED_GROUPS={','.join(self.allowed_groups)}."
            )
        if self.auth_refresh_age < 0 or self.spawn_timeout <= 0:
            raise SettingsError(
                "WORKBENCH_AUTH_REFRESH_AGE must be >= 0 and WORKBENCH_SPAWN_TIMEOUT > 0 (seconds)."
            )
        ports = {
            "WORKBENCH_HUB_PORT": self.hub_port,
            "WORKBENCH_HUB_API_PORT": self.hub_api_port,
            "WORKBENCH_PROXY_API_PORT": self.proxy_api_port,
        }
        if self.auth in LOCAL_IDPS:
            ports["WORKBENCH_IDP_PORT"] = self.idp_port
        self._validate_jobs()
        clashes = [a for a in ports if list(ports.values()).count(ports[a]) > 1]
        if clashes:
            raise SettingsError(f"{' and '.join(clashes)} use the same port {ports[clashes[0]]}.")

    def _validate_jobs(self) -> None:
        from workbench.jobs.policies import EVENTS

        if self.jobs_keep_runs < 0 or self.jobs_keep_days < 0:
            raise SettingsError(
                "WORKBENCH_JOBS_KEEP_RUNS and WORKBENCH_JOBS_KEEP_DAYS must be >= 0 (0: no limit)."
            )
        wrong = sorted(set(self.jobs_notify_on) - set(EVENTS))
        if wrong:
            raise SettingsError(
                f"WORKBENCH_JOBS_NOTIFY_ON has {', '.join(wrong)}: allowed are {', '.join(EVENTS)}."
            )
        keys = ("swe", "debris", "neo", "*")
        for env, pairs in (
            ("WORKBENCH_JOBS_NOTIFY_WEBHOOKS", self.jobs_notify_webhooks),
            ("WORKBENCH_JOBS_NOTIFY_EMAILS", self.jobs_notify_emails),
        ):
            for key, _ in pairs:
                if key not in keys:
                    raise SettingsError(f"{env}: {key!r} is not a segment: use {', '.join(keys)}.")

    def production_problems(self, dev_client_secret: str | None = None) -> list[str]:
        """What ``WORKBENCH_ENV=ope`` refuses in this configuration (empty when acceptable).

        Parameters
        ----------
        dev_client_secret
            The client secret generated for the dev IdP in the state directory, if any: reusing it in
            operations means the hub is wired to a development realm.
        """
        problems = []
        if self.auth in LOCAL_IDPS:
            problems.append(
                f"WORKBENCH_AUTH={self.auth}: the IdP started by `workbench up` (demo users, dev passwords) is "
                "for development; set WORKBENCH_AUTH=keycloak and WORKBENCH_OIDC_ISSUER to the programme's "
                "Keycloak realm."
            )
        public = urlsplit(self.public_url)
        if public.scheme == "http" and not _is_loopback(public.hostname):
            problems.append(
                f"WORKBENCH_PUBLIC_URL={self.public_url}: plain HTTP on a public address; serve the "
                "workbench over https:// (TLS terminated in front of the proxy)."
            )
        if public.scheme == "http" and not _is_loopback(self.hub_ip):
            problems.append(
                f"WORKBENCH_HUB_IP={self.hub_ip} with plain HTTP: bind 127.0.0.1 behind a TLS proxy, "
                "or set WORKBENCH_PUBLIC_URL to the https:// address users reach."
            )
        issuer = urlsplit(self.oidc_issuer)
        if issuer.scheme == "http" and not _is_loopback(issuer.hostname):
            problems.append(
                f"WORKBENCH_OIDC_ISSUER={self.oidc_issuer}: tokens over plain HTTP; use https://."
            )
        if self.spawner == "local":
            problems.append(
                "WORKBENCH_SPAWNER=local: every lab (and tool) would run as the hub's own OS user, with the hub "
                "database and secrets in reach; set WORKBENCH_SPAWNER=docker or swarm."
            )
        if not self.apps_kernel_filter:
            problems.append(
                "WORKBENCH_APPS_KERNEL_FILTER=false: visitors of published tools could send any kernel "
                "message through the gateway; it is a switch for tests, leave it unset."
            )
        if _contains(self.data_dir, self.state_dir):
            problems.append(
                f"WORKBENCH_DATA_DIR={self.data_dir} contains WORKBENCH_STATE_DIR={self.state_dir}: every lab, "
                "tool and job run mounts the data, so it would read the hub's database and secrets."
            )
        secret = self.oidc_client_secret
        if secret in DEV_SECRETS or len(secret) < 16 or (dev_client_secret and secret == dev_client_secret):
            problems.append(
                "WORKBENCH_OIDC_CLIENT_SECRET is empty, short (< 16 characters) or a development default; "
                "use the client secret Keycloak generated for this deployment."
            )
        return problems

    def display_rows(self) -> list[tuple[str, str, str, str]]:
        """(variable, value, default, help) for every setting, secrets masked."""
        rows = []
        for name, spec in self.specs().items():
            value = getattr(self, name)
            if spec.secret:
                shown = _mask(name, value)
            elif isinstance(value, tuple):
                shown = _show_tuple(value)
            else:
                shown = str(value)
            help_text = spec.help
            if spec.choices:
                help_text += f" One of: {', '.join(spec.choices)}."
            rows.append((spec.env, shown, spec.describe_default(), help_text))
        return rows

    def lab_environment(self) -> dict[str, str]:
        """The ``WORKBENCH_*`` settings a lab, a tool's kernel or a job run needs to find and read the data
        the way the hub does (and nothing else: no secret is among them)."""
        env = {"WORKBENCH_DATA_DIR": str(self.data_dir)}
        if self.data_live:
            env["WORKBENCH_DATA_LIVE"] = "1"
        for name, value in (
            ("WORKBENCH_DATA_BASE_URL", self.data_base_url),
            ("WORKBENCH_DATA_CACHE", self.data_cache),
            ("WORKBENCH_CATALOG", self.catalog),
            ("WORKBENCH_CATALOG_FEDERATION", self.catalog_federation),
        ):
            if value:
                env[name] = value
        return env

    @property
    def local_url(self) -> str:
        """Where the proxy answers on this machine (health checks never leave it, whatever the public URL)."""
        host = "127.0.0.1" if self.hub_ip in {"0.0.0.0", "::"} else self.hub_ip
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.hub_port}{urlsplit(self.public_url).path}"

    @property
    def logs_dir(self) -> Path:
        """Where `workbench up` writes the logs of the processes it starts."""
        return self.state_dir / "logs"

    @property
    def users_dir(self) -> Path:
        """Parent of every user's own directory (``<state>/users/<name>``)."""
        return self.state_dir / "users"

    def ensure_dirs(self) -> None:
        """Create the state directory (0700: it holds secrets and the hub database) and its children."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.state_dir, 0o700)
        for d in (self.logs_dir, self.users_dir):
            d.mkdir(exist_ok=True)


def _read_secret_file(variable: str, path: str) -> str:
    """The content of a secret's ``*_FILE`` (e.g. a Swarm secret in ``/run/secrets``), stripped."""
    try:
        return Path(path).read_text().strip()
    except OSError as exc:
        raise SettingsError(f"{variable}={path!r} cannot be read: {exc.strerror or exc}.") from None


def _show_tuple(value: tuple[Any, ...]) -> str:
    """Groups as ``a,b``; pairs as ``k=v k2=v2``."""
    if value and isinstance(value[0], tuple):
        return " ".join(f"{k}={v}" for k, v in value)
    return ",".join(value)


def _contains(outer: Path, inner: Path) -> bool:
    """Whether ``inner`` is ``outer`` or lies inside it (both resolved)."""
    outer, inner = Path(outer).resolve(), Path(inner).resolve()
    return inner == outer or outer in inner.parents


def _mask(name: str, value: Any) -> str:
    text = str(value)
    if not text:
        return "(empty)"
    if name in {"db_url", "jobs_db_url"}:
        # Only the password of a database URL is secret; the rest helps the reader.
        parts = urlsplit(text)
        if parts.password:
            return text.replace(f":{parts.password}@", ":****@")
        return text
    return "****"
