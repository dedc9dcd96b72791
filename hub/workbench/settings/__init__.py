"""Every setting of the workbench, in one place, read from ``WORKBENCH_*`` environment variables.

The table below *is* the documentation: each field names its variable, its default and its help text,
and ``workbench settings`` prints them (``--markdown`` renders ``docs/settings.md``). Business code takes a
:class:`Settings` object and never reads ``os.environ`` itself.

To add a setting, add one field to :class:`Settings` (in :mod:`workbench.settings.model`) with :func:`setting`::

    jobs_workers: int = setting("WORKBENCH_JOBS_WORKERS", default=2, parse=parse_int,
                                help="Notebook runs executed at the same time.")

Defaults that depend on other settings (``WORKBENCH_DB_URL`` lives in the state directory) are
computed by ``derive=`` from the values parsed before them, in table order.
"""

from __future__ import annotations

from workbench.settings.base import (
    AUTH_MODES,
    DEV_SECRETS,
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
    parse_str,
    parse_url,
    setting,
)
from workbench.settings.model import Settings

__all__ = [
    "AUTH_MODES",
    "DEV_SECRETS",
    "ENVIRONMENTS",
    "JOB_EXECUTORS",
    "JOB_NETWORKS",
    "LOCAL_IDPS",
    "LOG_LEVELS",
    "PROJECT_ROOT",
    "SEGMENT_GROUPS",
    "SPAWNERS",
    "Settings",
    "SettingsError",
    "Spec",
    "parse_bool",
    "parse_docker_size",
    "parse_float",
    "parse_groups",
    "parse_int",
    "parse_ip",
    "parse_pairs",
    "parse_path",
    "parse_port",
    "parse_size",
    "parse_str",
    "parse_url",
    "setting",
]
