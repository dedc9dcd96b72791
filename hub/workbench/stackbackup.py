"""Back up and restore the production stack (``deploy/swarm/stack.yaml``): one archive, every piece of state.

What :func:`backup` takes from a running stack (``workbench stack backup``):

- ``postgres/<db>.dump``: ``pg_dump --format=custom`` of the hub's, the jobs' and Keycloak's databases
  (users, groups and clients are Keycloak's; users, tokens and servers the hub's; jobs and runs the
  jobs service's), run in the stack's PostgreSQL container, each dump consistent on its own;
- ``secrets/``: the stack's generated secrets and CA (the database password, the OIDC client secret that
  Keycloak's database holds too, the Prometheus token, the front's certificate);
- ``state.tar``: the hub's state folder (its cookie secret and crypt key, without which the restored hub
  could not read its database's encrypted tokens; the job runs' outputs), logs left out;
- ``volumes/<name>.tar``: every volume the hub made, users' homes and groups' shares, named without
  the hub's instance prefix (a restore into another folder gets another prefix).

Left out: Keycloak's ``kcdata`` volume (its realm lives in the database) and Prometheus' ``promdata``
(metrics history, rebuilt by scraping).

The archive is a gzip'd tar with ``MANIFEST.json`` first (format, time, stack name, every member's size
and SHA-256). :func:`restore` checks every member against it in a private staging folder before it
writes anything, then puts the state back onto an *empty* deployment (no such stack running, an empty
state folder, no volume of the names it would create): the secrets, the state folder and the volumes
(each unpacked by ``tar`` in a throw-away container that sees only that one folder or volume), and the
databases into a fresh ``<name>_pgdata`` volume through a PostgreSQL container of the stack's image
started for the purpose. ``workbench stack deploy`` then starts the stack on it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from workbench import archive as archives
from workbench.stack import (
    HUB_IMAGE,
    HUB_UID,
    StackError,
    hub_volumes,
    lab_prefix,
    make_state_dir,
    output_lines,
    state_folder,
)

FORMAT = "s2p-workbench-stack-backup/1"
MANIFEST = archives.MANIFEST
DATABASES = ("jupyterhub", "jobs", "keycloak")
"""The stack's PostgreSQL databases (``POSTGRES_DATABASES`` of ``deploy/swarm/stack.yaml``)."""
POSTGRES_IMAGE = "s2p-workbench/postgres:latest"
PGDATA = "/var/lib/postgresql/data"
STATE_SKIPPED = ("./logs", "./jobs/runtime")
"""Rebuilt at start."""
VOLUME_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,200}")
READY_S = 120.0
"""How long the restoring PostgreSQL may take to accept connections [s]."""


class StackBackupError(StackError):
    """A backup cannot be taken or an archive cannot be restored; the message says why."""


@dataclass(frozen=True)
class Summary:
    """What an archive holds."""

    databases: tuple[str, ...]
    volumes: tuple[str, ...]
    files: int
    bytes: int


Say = Callable[[str], None]


def _docker(*args: str, stdin=None, stdout=None, check: bool = True) -> subprocess.CompletedProcess:
    try:
        proc = subprocess.run(
            ["docker", *args],
            stdin=stdin,
            stdout=stdout if stdout is not None else subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
    except FileNotFoundError:
        raise StackBackupError(
            "the docker command is missing: the stack's backup runs where the stack does"
        ) from None
    if check and proc.returncode != 0:
        err = proc.stderr.decode(errors="replace").strip()[-1500:]
        raise StackBackupError(f"docker {' '.join(args[:3])} failed: {err}")
    return proc


def _postgres_container(name: str) -> str:
    running = output_lines(
        "docker", "ps", "-q", "--filter", f"label=com.docker.swarm.service.name={name}_postgres"
    )
    if not running:
        raise StackBackupError(f"stack {name} has no running PostgreSQL: back up a running stack")
    return running[0]


def _tar_out(mount: str, into: Path, *excluded: str) -> None:
    """``tar`` of ``mount`` (``volume:`` or a host folder) into the host file ``into``, in a throw-away
    container as root that sees only that mount (read-only)."""
    excludes = [f"--exclude={e}" for e in excluded]
    with into.open("wb") as out:
        done = _docker("run", "--rm", "--network", "none", "--user", "0", "--entrypoint", "tar",
                       "-v", f"{mount}:/s:ro", HUB_IMAGE, "-C", "/s", *excludes, "-cf", "-", ".",
                       stdout=out, check=False)  # fmt: skip
    # GNU tar's 1: a file changed while it was read (a running lab, a log): the archive is whole
    if done.returncode not in (0, 1):
        err = done.stderr.decode(errors="replace").strip()[-1500:]
        raise StackBackupError(f"tar of {mount} failed: {err}")


def _tar_in(mount: str, source: Path, owner: int | None = None) -> None:
    """Unpack the host file ``source`` into ``mount`` in a throw-away container that sees only it."""
    script = "tar -C /s -xf -" + (f" && chown -R {owner}:{owner} /s" if owner is not None else "")
    with source.open("rb") as fh:
        _docker("run", "--rm", "-i", "--network", "none", "--user", "0", "--entrypoint", "sh",
                "-v", f"{mount}:/s", HUB_IMAGE, "-c", script, stdin=fh)  # fmt: skip


def backup(name: str, folder: Path, archive: Path, *, say: Say = print) -> Summary:
    """Write the state of the running stack ``name`` (deployed from ``folder``) into ``archive``.

    Raises
    ------
    StackBackupError
        When the archive exists, the stack's PostgreSQL does not run or a step fails.
    """
    archive = Path(archive)
    if archive.exists():
        raise StackBackupError(f"{archive} exists already: choose a new file name")
    secrets_dir = folder / "secrets"
    if not secrets_dir.is_dir():
        raise StackBackupError(f"{folder} holds no stack (no secrets/ folder): give the --dir of the deploy")
    pg = _postgres_container(name)
    staged: list[tuple[str, Path]] = []
    with tempfile.TemporaryDirectory(prefix="s2p-stack-backup-") as scratch:
        work = Path(scratch)
        os.chmod(work, 0o700)
        (work / "postgres").mkdir()
        for db in DATABASES:
            dump = work / "postgres" / f"{db}.dump"
            with dump.open("wb") as out:
                _docker("exec", "-u", "postgres", pg, "sh", "-c",
                        'exec pg_dump -h /tmp -p "$POSTGRES_PORT" --format=custom "$0"', db, stdout=out)  # fmt: skip
            staged.append((f"postgres/{db}.dump", dump))
            say(f"database {db}: {dump.stat().st_size} bytes")
        for secret in sorted(p for p in secrets_dir.iterdir() if p.is_file()):
            staged.append((f"secrets/{secret.name}", secret))
        state = work / "state.tar"
        _tar_out(str(state_folder(folder)), state, *STATE_SKIPPED)
        staged.append(("state.tar", state))
        say(f"hub state: {state.stat().st_size} bytes")
        prefix = lab_prefix(folder)
        volumes = []
        (work / "volumes").mkdir()
        for volume in hub_volumes(folder):
            short = volume[len(prefix) + 1 :]
            into = work / "volumes" / f"{short}.tar"
            _tar_out(volume, into)
            staged.append((f"volumes/{short}.tar", into))
            volumes.append(short)
            say(f"volume {volume}: {into.stat().st_size} bytes")
        entries = [archives.entry(member, path) for member, path in staged]
        manifest: dict[str, object] = {
            "format": FORMAT,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "stack": name,
            "databases": list(DATABASES),
            "volumes": volumes,
            "files": entries,
        }
        archives.write(archive, manifest, staged)
    return Summary(DATABASES, tuple(volumes), len(entries), sum(int(e["size"]) for e in entries))


def _safe_member(name: str) -> PurePosixPath:
    rel = PurePosixPath(name)
    allowed = name == "state.tar" or (
        len(rel.parts) == 2 and rel.parts[0] in {"secrets", "postgres", "volumes"}
    )
    if rel.is_absolute() or ".." in rel.parts or not allowed or rel.name.startswith("."):
        raise StackBackupError(f"archive member {name!r} is not one a stack backup has: refused")
    return rel


def unpack(archive: Path, into: Path) -> dict:
    """Check ``archive`` against its manifest, unpacking it into the empty folder ``into``; the manifest."""
    try:
        tar = tarfile.open(archive, mode="r:gz")  # noqa: SIM115 (closed below)
    except (OSError, tarfile.TarError) as exc:
        raise StackBackupError(f"{archive} is not a stack backup: {exc}") from None
    with tar:
        manifest, expected = archives.read_manifest(tar, archive, FORMAT, "stack backup", StackBackupError)
        seen = set()
        while (member := tar.next()) is not None:
            rel = _safe_member(member.name)
            if not member.isfile() or member.name not in expected or member.name in seen:
                raise StackBackupError(f"archive member {member.name!r} is not in its manifest: refused")
            target = into / rel
            target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            archives.extract(tar, member, target, 0o600, expected[member.name], StackBackupError)
            seen.add(member.name)
    missing = sorted(set(expected) - seen)
    if missing:
        raise StackBackupError(
            f"the archive lacks {len(missing)} member(s) its manifest lists, e.g. {missing[0]}"
        )
    volumes = manifest.get("volumes", [])
    if not isinstance(volumes, list) or not all(
        isinstance(v, str) and VOLUME_NAME.fullmatch(v) for v in volumes
    ):
        raise StackBackupError(f"{archive}: {MANIFEST} lists volume names Docker would not take: {volumes!r}")
    needed = {"state.tar", "secrets/postgres_password", *(f"postgres/{db}.dump" for db in DATABASES)}
    needed |= {f"volumes/{v}.tar" for v in volumes}
    if needed - seen:
        raise StackBackupError(
            f"{archive} lacks {', '.join(sorted(needed - seen))}: not a whole stack backup"
        )
    return dict(manifest)


def _refuse_unless_empty(name: str, folder: Path, volumes: list[str]) -> None:
    label = f"label=com.docker.stack.namespace={name}"
    if output_lines("docker", "service", "ls", "-q", "--filter", label):
        raise StackBackupError(
            f"stack {name} runs: remove it (`workbench stack rm --volumes`) before restoring"
        )
    state = state_folder(folder)
    if state.is_dir() and any(state.iterdir()):
        raise StackBackupError(f"{state} is not empty: restore onto an empty deployment")
    existing = set(output_lines("docker", "volume", "ls", "--format", "{{.Name}}"))
    taken = sorted(existing & {f"{name}_pgdata", *volumes})
    if taken:
        raise StackBackupError(f"volumes {', '.join(taken)} exist: restore onto an empty deployment")


def restore(name: str, folder: Path, archive: Path, *, say: Say = print) -> Summary:
    """Put the state of ``archive`` back onto the empty deployment ``name`` kept in ``folder``.

    Deploy it afterwards with ``workbench stack deploy`` (same name and folder).

    Raises
    ------
    StackBackupError
        When the archive is not a sound stack backup, or the deployment is not empty.
    """
    folder = Path(folder)
    with tempfile.TemporaryDirectory(prefix="s2p-stack-restore-") as scratch:
        work = Path(scratch)
        os.chmod(work, 0o700)
        manifest = unpack(Path(archive), work)
        say(f"{archive}: {len(manifest['files'])} members checked")
        folder.mkdir(parents=True, exist_ok=True)
        os.chmod(folder, 0o700)
        prefix = lab_prefix(folder)
        shorts = [str(v) for v in manifest.get("volumes", [])]
        volumes = {short: f"{prefix}-{short}" for short in shorts}
        _refuse_unless_empty(name, folder, list(volumes.values()))
        secrets_dir = folder / "secrets"
        secrets_dir.mkdir(exist_ok=True)
        os.chmod(secrets_dir, 0o700)
        for secret in sorted((work / "secrets").iterdir()):
            shutil.copyfile(secret, secrets_dir / secret.name)
            os.chmod(secrets_dir / secret.name, 0o644 if secret.name.endswith(".crt") else 0o600)
        state = state_folder(folder)
        make_state_dir(state)
        _tar_in(str(state), work / "state.tar", owner=HUB_UID)
        say(f"hub state restored into {state}")
        for short, volume in volumes.items():
            _docker("volume", "create", volume)
            _tar_in(volume, work / "volumes" / f"{short}.tar")
            say(f"volume {volume} restored")
        _restore_databases(name, secrets_dir / "postgres_password", work / "postgres", say)
        files = manifest["files"]
        return Summary(
            tuple(manifest.get("databases", DATABASES)),
            tuple(shorts),
            len(files),
            sum(int(e["size"]) for e in files),
        )


def _restore_databases(name: str, password: Path, dumps: Path, say: Say) -> None:
    """A fresh ``<name>_pgdata`` initialised by the stack's PostgreSQL image, each dump restored into
    its database as that database's own role."""
    from workbench.spawners.docker import free_loopback_port

    volume = f"{name}_pgdata"
    _docker("volume", "create", "--label", f"com.docker.stack.namespace={name}", volume)
    port = free_loopback_port()
    with tempfile.TemporaryDirectory(prefix="s2p-pg-restore-") as private:
        os.chmod(private, 0o700)  # the copy below is readable by the container's postgres user only here
        pw = Path(private) / "pw"
        shutil.copyfile(password, pw)
        os.chmod(pw, 0o644)
        container = f"{name}-restore-postgres"
        _docker("rm", "-f", container, check=False)
        _docker("run", "-d", "--name", container, "--network", "host",
                "-e", f"POSTGRES_PORT={port}", "-e", "POSTGRES_PASSWORD_FILE=/run/secrets/pw",
                "-e", f"POSTGRES_DATABASES={' '.join(DATABASES)}",
                "-v", f"{pw}:/run/secrets/pw:ro", "-v", f"{volume}:{PGDATA}", POSTGRES_IMAGE)  # fmt: skip
        try:
            deadline = time.monotonic() + READY_S
            while _docker("exec", container, "pg_isready", "-q", "-h", "/tmp", "-p", str(port),
                          check=False).returncode != 0:  # fmt: skip
                if time.monotonic() > deadline:
                    logs = _docker("logs", "--tail", "30", container, check=False)
                    raise StackBackupError(
                        f"PostgreSQL did not start to restore into within {READY_S:.0f} s: "
                        f"{(logs.stderr or b'').decode(errors='replace')}"
                    )
                time.sleep(1)
            for db in DATABASES:
                with (dumps / f"{db}.dump").open("rb") as fh:
                    _docker("exec", "-i", "-u", "postgres", container, "pg_restore", "-h", "/tmp",
                            "-p", str(port), "--dbname", db, "--role", db, "--no-owner",
                            "--no-privileges", "--exit-on-error", "--single-transaction", stdin=fh)  # fmt: skip
                say(f"database {db} restored")
        finally:
            _docker("stop", "--time", "60", container, check=False)
            _docker("rm", "-f", container, check=False)
