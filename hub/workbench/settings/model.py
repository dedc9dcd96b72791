"""The table of every ``WORKBENCH_*`` setting: :class:`Settings`, read with :meth:`Settings.from_env`."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from workbench.settings.base import (
    AUTH_MODES,
    ENVIRONMENTS,
    JOB_EXECUTORS,
    JOB_NETWORKS,
    LOCAL_IDPS,
    LOG_LEVELS,
    PROJECT_ROOT,
    SEGMENT_GROUPS,
    SPAWNERS,
    SettingsError,
    Spec,
    mask_value,
    parse_bool,
    parse_docker_size,
    parse_float,
    parse_groups,
    parse_int,
    parse_ip,
    parse_pairs,
    parse_path,
    parse_port,
    parse_size,
    parse_url,
    read_secret_file,
    setting,
    show_tuple,
)
from workbench.settings.checks import production_problems, validate
from workbench.settings.defaults import (
    default_db_url,
    default_issuer,
    default_jobs_db_url,
    default_jobs_executor,
    default_jobs_memory,
    default_jobs_network,
    default_keycloak_cache,
    default_public_url,
    java_on_path,
)


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
    log_format: str = setting(
        "WORKBENCH_LOG_FORMAT",
        default="text",
        choices=("text", "json"),
        help="`json`: every line of `workbench up --log-to-terminal` (hub, proxy, jobs service, tools' "
        "gateways, idle culler) is one JSON object with the keys time, level, service, user, "
        "request_id, message (docs/operations.md, for ELK or Loki); `text`: each program's own format.",
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
        derive=default_db_url,
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
        derive=default_issuer,
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
        derive=default_keycloak_cache,
        parse=parse_path,
        help="Folder outside the repository where `workbench keycloak fetch` keeps the Keycloak "
        "distribution downloaded with Maven, augmented once, and its template database.",
    )
    keycloak_java_home: Path | None = setting(
        "WORKBENCH_KEYCLOAK_JAVA_HOME",
        derive=java_on_path,
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
        derive=default_public_url,
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
    keep_labs: bool = setting(
        "WORKBENCH_KEEP_LABS",
        default=False,
        parse=parse_bool,
        help="When `workbench up` is stopped (SIGTERM: the hub's container restarted or upgraded), the "
        "users' labs keep running and the next hub resumes them, sessions included (containers of the "
        "Docker and Swarm spawners only: local labs are processes of `workbench up`). Off: a stop stops "
        "every lab. `workbench stack rm` removes labs left running.",
    )
    cull_idle_timeout: int = setting(
        "WORKBENCH_CULL_IDLE_TIMEOUT",
        default=3600,
        parse=parse_int,
        help="Seconds without activity (browser, kernels, terminals) after which a user's lab is stopped by "
        "the idle culler (the hub service `idle-culler`, jupyterhub-idle-culler); their home stays. 0: never.",
    )
    cull_every: int = setting(
        "WORKBENCH_CULL_EVERY",
        default=0,
        parse=parse_int,
        help="Seconds between two looks of the idle culler; 0: a tenth of WORKBENCH_CULL_IDLE_TIMEOUT "
        "(at least 5, at most 300).",
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
    jobs_warm_pool: int = setting(
        "WORKBENCH_JOBS_WARM_POOL",
        default=0,
        parse=parse_int,
        help="Run processes of the `local` executor kept ready (papermill imported, a python3 kernel "
        "started): a run takes one instead of starting cold (about 1.5 s sooner) and another starts "
        "behind it. Each holds an idle kernel. 0: none.",
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
        derive=default_jobs_db_url,
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
    prometheus_token: str = setting(
        "WORKBENCH_PROMETHEUS_TOKEN",
        default="",
        secret=True,
        help="Hub API token of the `prometheus` service (reads /hub/metrics and the jobs service's "
        "metrics). Empty: generated once in <state>/secrets/prometheus_api_token (0600), the file "
        "`workbench monitoring config` points Prometheus at.",
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
        derive=default_jobs_executor,
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
        derive=default_jobs_network,
        choices=JOB_NETWORKS,
        help="Network of container runs: `none` (only the container's own loopback, which papermill and "
        "the kernel use) or `host` (needed for live data; the run then reaches the host's loopback services).",
    )
    jobs_memory: int = setting(
        "WORKBENCH_JOBS_MEMORY",
        derive=default_jobs_memory,
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
                raw = read_secret_file(f"{spec.env}_FILE", env[f"{spec.env}_FILE"].strip())
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
        validate(self)

    def production_problems(self, dev_client_secret: str | None = None) -> list[str]:
        """What ``WORKBENCH_ENV=ope`` refuses in this configuration (empty when acceptable); see
        :func:`workbench.settings.checks.production_problems`."""
        return production_problems(self, dev_client_secret)

    def display_rows(self) -> list[tuple[str, str, str, str]]:
        """(variable, value, default, help) for every setting, secrets masked."""
        rows = []
        for name, spec in self.specs().items():
            value = getattr(self, name)
            if spec.secret:
                shown = mask_value(name, value)
            elif isinstance(value, tuple):
                shown = show_tuple(value)
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

    def listen_ports(self) -> dict[str, int]:
        """The ports the workbench itself listens on, by variable (the IdP's only when `workbench up`
        starts it)."""
        ports = {
            "WORKBENCH_HUB_PORT": self.hub_port,
            "WORKBENCH_HUB_API_PORT": self.hub_api_port,
            "WORKBENCH_PROXY_API_PORT": self.proxy_api_port,
        }
        if self.auth in LOCAL_IDPS:
            ports["WORKBENCH_IDP_PORT"] = self.idp_port
        return ports

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
