"""Who the containers of user-driven code run as: job runs and tools' Voila, on the Docker engine.

A hub that runs as root (``workbench up`` on a host, with the Docker or Swarm spawner) runs them as
the lab image's only user, ``jovyan`` (uid and gid 1000), and hands it the files it needs with
``chown``. A hub that is not root cannot ``chown``: the stack's hub container runs as ``workbench``
(uid 1001). It runs them as itself instead, so the files it made for them (a run's folder, a tool's
configuration) are theirs without a ``chown``.

Sharing the hub's uid gives such a container nothing of the hub's: it sees only what is mounted into
it (its own folder, the data, one configuration file; never the state directory, the secrets or the
Docker socket), in PID, mount and IPC namespaces of its own, with every capability dropped and
``no-new-privileges`` (tests/security).
"""

from __future__ import annotations

import os
import pwd
import shutil
from pathlib import Path

JOVYAN = (1000, 1000)
"""uid and gid of the lab image's only user (``images/lab/Dockerfile``)."""


def container_user() -> tuple[int, int]:
    """The uid and gid for a container of user-driven code (see the module's doc)."""
    if os.geteuid() == 0:
        return JOVYAN
    uid = os.getuid()
    try:
        gid = pwd.getpwuid(uid).pw_gid  # the user's own group, not a supplementary one of the process
    except KeyError:
        gid = os.getgid()
    return uid, gid


def hand_over(path: Path, user: tuple[int, int]) -> None:
    """Make ``path`` belong to ``user``: a ``chown`` by a hub that is root; a hub that is not runs its
    containers as itself (:func:`container_user`), so what it made is theirs already."""
    if os.geteuid() == 0:
        shutil.chown(path, *user)


def user_spec(user: tuple[int, int]) -> str:
    """``uid:gid``, as Docker takes a container's user."""
    return f"{user[0]}:{user[1]}"
