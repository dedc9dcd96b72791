"""The vocabulary of the settings table: allowed values, the error, the parsers and :func:`setting`."""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

PROJECT_ROOT = Path(__file__).resolve().parents[3]
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
            return show_tuple(self.default)
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


def read_secret_file(variable: str, path: str) -> str:
    """The content of a secret's ``*_FILE`` (e.g. a Swarm secret in ``/run/secrets``), stripped."""
    try:
        return Path(path).read_text().strip()
    except OSError as exc:
        raise SettingsError(f"{variable}={path!r} cannot be read: {exc.strerror or exc}.") from None


def show_tuple(value: tuple[Any, ...]) -> str:
    """Groups as ``a,b``; pairs as ``k=v k2=v2``."""
    if value and isinstance(value[0], tuple):
        return " ".join(f"{k}={v}" for k, v in value)
    return ",".join(value)


def mask_value(name: str, value: Any) -> str:
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
