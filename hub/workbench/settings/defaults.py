"""Defaults computed from the settings read before them (the ``derive=`` of :func:`~workbench.settings.base.setting`).

Each function's docstring is the default shown in ``workbench settings`` and ``docs/settings.md``."""

from __future__ import annotations

import ipaddress
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from workbench.settings.base import LOCAL_IDPS


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def realm_name(realm_file: Path) -> str:
    try:
        return str(json.loads(realm_file.read_text())["realm"])
    except (OSError, ValueError, KeyError, TypeError):
        return "s2p"


def default_issuer(v: Mapping[str, Any]) -> str:
    """dev-idp, keycloak-local: http://127.0.0.1:<WORKBENCH_IDP_PORT>/realms/<realm of WORKBENCH_REALM_FILE>; keycloak: required"""
    if v["auth"] in LOCAL_IDPS:
        return f"http://127.0.0.1:{v['idp_port']}/realms/{realm_name(v['realm_file'])}"
    return ""


def default_keycloak_cache(v: Mapping[str, Any]) -> Path:
    """$XDG_CACHE_HOME/s2p-workbench/keycloak, else ~/.cache/s2p-workbench/keycloak"""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser().resolve() / "s2p-workbench" / "keycloak"


def java_on_path(v: Mapping[str, Any]) -> None:
    """(empty: the java on PATH)"""
    return None


def default_public_url(v: Mapping[str, Any]) -> str:
    """http://<WORKBENCH_HUB_IP>:<WORKBENCH_HUB_PORT> (127.0.0.1 when bound to all addresses)"""
    host = v["hub_ip"]
    if host in {"0.0.0.0", "::"}:
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{v['hub_port']}"


def default_jobs_executor(v: Mapping[str, Any]) -> str:
    """container with WORKBENCH_SPAWNER=docker or swarm, else local"""
    return "container" if v["spawner"] in {"docker", "swarm"} else "local"


def default_jobs_network(v: Mapping[str, Any]) -> str:
    """host with WORKBENCH_DATA_LIVE, else none"""
    return "host" if v["data_live"] else "none"


def default_jobs_memory(v: Mapping[str, Any]) -> int:
    """4g"""
    return 4 << 30


def default_db_url(v: Mapping[str, Any]) -> str:
    """sqlite:///<WORKBENCH_STATE_DIR>/jupyterhub.sqlite"""
    return f"sqlite:///{v['state_dir'] / 'jupyterhub.sqlite'}"


def default_jobs_db_url(v: Mapping[str, Any]) -> str:
    """sqlite:///<WORKBENCH_STATE_DIR>/jobs/jobs.sqlite"""
    return f"sqlite:///{v['state_dir'] / 'jobs' / 'jobs.sqlite'}"
