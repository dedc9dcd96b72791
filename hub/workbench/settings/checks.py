"""Checks across settings: combinations no single parser can see, and what ``WORKBENCH_ENV=ope`` refuses."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from workbench.settings.base import DEV_SECRETS, LOCAL_IDPS, SettingsError
from workbench.settings.defaults import is_loopback

if TYPE_CHECKING:
    from workbench.settings.model import Settings


def validate(settings: Settings) -> None:
    """Check combinations that no single parser can see; raise :class:`SettingsError`."""
    if settings.auth == "keycloak" and not settings.oidc_issuer:
        raise SettingsError(
            "WORKBENCH_AUTH=keycloak needs WORKBENCH_OIDC_ISSUER (e.g. https://sso.example.org/realms/s2p)."
        )
    if settings.auth == "keycloak" and not settings.oidc_client_secret:
        raise SettingsError(
            "WORKBENCH_AUTH=keycloak needs WORKBENCH_OIDC_CLIENT_SECRET "
            "(the secret of the client in your Keycloak realm)."
        )
    unknown_admin = set(settings.admin_groups) - set(settings.allowed_groups)
    if unknown_admin:
        raise SettingsError(
            f"WORKBENCH_ADMIN_GROUPS has {', '.join(sorted(unknown_admin))}, which is not in "
            f"WORKBENCH_ALLOWED_GROUPS={','.join(settings.allowed_groups)}."
        )
    if settings.cull_idle_timeout < 0 or settings.cull_every < 0:
        raise SettingsError(
            "WORKBENCH_CULL_IDLE_TIMEOUT and WORKBENCH_CULL_EVERY must be >= 0 (seconds; 0: off/auto)."
        )
    if settings.auth_refresh_age < 0 or settings.spawn_timeout <= 0:
        raise SettingsError(
            "WORKBENCH_AUTH_REFRESH_AGE must be >= 0 and WORKBENCH_SPAWN_TIMEOUT > 0 (seconds)."
        )
    if settings.keep_labs and settings.spawner == "local":
        raise SettingsError(
            "WORKBENCH_KEEP_LABS needs labs that can outlive `workbench up`: WORKBENCH_SPAWNER=docker or "
            "swarm (local labs are its processes and stop with it)."
        )
    ports = settings.listen_ports()
    _validate_jobs(settings)
    clashes = [a for a in ports if list(ports.values()).count(ports[a]) > 1]
    if clashes:
        raise SettingsError(f"{' and '.join(clashes)} use the same port {ports[clashes[0]]}.")


def _validate_jobs(settings: Settings) -> None:
    from workbench.jobs.policies import EVENTS

    if settings.jobs_keep_runs < 0 or settings.jobs_keep_days < 0:
        raise SettingsError(
            "WORKBENCH_JOBS_KEEP_RUNS and WORKBENCH_JOBS_KEEP_DAYS must be >= 0 (0: no limit)."
        )
    wrong = sorted(set(settings.jobs_notify_on) - set(EVENTS))
    if wrong:
        raise SettingsError(
            f"WORKBENCH_JOBS_NOTIFY_ON has {', '.join(wrong)}: allowed are {', '.join(EVENTS)}."
        )
    keys = ("swe", "debris", "neo", "*")
    for env, pairs in (
        ("WORKBENCH_JOBS_NOTIFY_WEBHOOKS", settings.jobs_notify_webhooks),
        ("WORKBENCH_JOBS_NOTIFY_EMAILS", settings.jobs_notify_emails),
    ):
        for key, _ in pairs:
            if key not in keys:
                raise SettingsError(f"{env}: {key!r} is not a segment: use {', '.join(keys)}.")


def production_problems(settings: Settings, dev_client_secret: str | None = None) -> list[str]:
    """What ``WORKBENCH_ENV=ope`` refuses in this configuration (empty when acceptable).

    Parameters
    ----------
    dev_client_secret
        The client secret generated for the dev IdP in the state directory, if any: reusing it in
        operations means the hub is wired to a development realm.
    """
    problems = []
    if settings.auth in LOCAL_IDPS:
        problems.append(
            f"WORKBENCH_AUTH={settings.auth}: the IdP started by `workbench up` (demo users, dev passwords) is "
            "for development; set WORKBENCH_AUTH=keycloak and WORKBENCH_OIDC_ISSUER to the programme's "
            "Keycloak realm."
        )
    public = urlsplit(settings.public_url)
    if public.scheme == "http" and not is_loopback(public.hostname):
        problems.append(
            f"WORKBENCH_PUBLIC_URL={settings.public_url}: plain HTTP on a public address; serve the "
            "workbench over https:// (TLS terminated in front of the proxy)."
        )
    if public.scheme == "http" and not is_loopback(settings.hub_ip):
        problems.append(
            f"WORKBENCH_HUB_IP={settings.hub_ip} with plain HTTP: bind 127.0.0.1 behind a TLS proxy, "
            "or set WORKBENCH_PUBLIC_URL to the https:// address users reach."
        )
    issuer = urlsplit(settings.oidc_issuer)
    if issuer.scheme == "http" and not is_loopback(issuer.hostname):
        problems.append(
            f"WORKBENCH_OIDC_ISSUER={settings.oidc_issuer}: tokens over plain HTTP; use https://."
        )
    if settings.spawner == "local":
        problems.append(
            "WORKBENCH_SPAWNER=local: every lab (and tool) would run as the hub's own OS user, with the hub "
            "database and secrets in reach; set WORKBENCH_SPAWNER=docker or swarm."
        )
    if not settings.apps_kernel_filter:
        problems.append(
            "WORKBENCH_APPS_KERNEL_FILTER=false: visitors of published tools could send any kernel "
            "message through the gateway; it is a switch for tests, leave it unset."
        )
    if _contains(settings.data_dir, settings.state_dir):
        problems.append(
            f"WORKBENCH_DATA_DIR={settings.data_dir} contains WORKBENCH_STATE_DIR={settings.state_dir}: every lab, "
            "tool and job run mounts the data, so it would read the hub's database and secrets."
        )
    secret = settings.oidc_client_secret
    if secret in DEV_SECRETS or len(secret) < 16 or (dev_client_secret and secret == dev_client_secret):
        problems.append(
            "WORKBENCH_OIDC_CLIENT_SECRET is empty, short (< 16 characters) or a development default; "
            "use the client secret Keycloak generated for this deployment."
        )
    return problems


def _contains(outer: Path, inner: Path) -> bool:
    """Whether ``inner`` is ``outer`` or lies inside it (both resolved)."""
    outer, inner = Path(outer).resolve(), Path(inner).resolve()
    return inner == outer or outer in inner.parents
