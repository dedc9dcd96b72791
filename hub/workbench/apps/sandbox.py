"""Run a command as an unprivileged uid in a private mount namespace: the local tools' sandbox.

Used by :mod:`workbench.apps.launch_local` when the hub runs as root (Linux only)::

    python -m workbench.apps.sandbox --uid N --cwd DIR [--hide DIR]... [--reach PATH]... -- COMMAND...

As root, in a mount namespace of its own (nothing it mounts is seen outside), it

1. hides every ``--hide`` directory (the state directory: hub database, ``secrets/``, users' homes)
   under an empty read-only tmpfs that nobody may enter;
2. opens the way to every ``--reach`` path (the Python runtime, the tool's folder, the data) that a
   directory the uid may not enter lies on: such a directory (``/root`` for a Python installed under
   it) is covered by a tmpfs holding only the entries on the way, bind-mounted from the original;
   nothing else of it is visible;
3. drops to the uid (its own group, no supplementary group), forbids gaining privileges again
   (``no_new_privs``, as Docker's ``no-new-privileges``), asks for SIGTERM when its parent (the
   gateway) dies, and executes the command.

:func:`plan` says beforehand (without privileges) what step 2 will open, or which path the uid cannot
read at all (a file without ``o+r``): then the gateway does not use the sandbox.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import signal
import stat
import sys
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

CLONE_NEWNS = 0x00020000
MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_BIND = 0x1000
MS_MOVE = 0x2000
MS_REC = 0x4000
MS_PRIVATE = 1 << 18
MNT_DETACH = 0x2
PR_SET_PDEATHSIG = 1
PR_SET_NO_NEW_PRIVS = 38


def _permits(path: Path, uid: int, gid: int, bits: int) -> bool:
    """Whether ``uid``/``gid`` (no supplementary group) has ``bits`` (``S_I?OTH``) on ``path``."""
    st = path.stat()
    if st.st_uid == uid:
        mode = st.st_mode >> 6
    elif st.st_gid == gid:
        mode = st.st_mode >> 3
    else:
        mode = st.st_mode
    return mode & bits == bits


@dataclass
class Plan:
    """What the sandbox must open for a uid to reach some paths.

    Attributes
    ----------
    openings
        Directory the uid may not enter → names of its entries to keep visible (the way through).
    unreadable
        A path the uid cannot read even once the way is open (None: every path is reachable).
    """

    openings: dict[Path, set[str]] = field(default_factory=dict)
    unreadable: Path | None = None


def plan(uid: int, reach: Iterable[Path | str]) -> Plan:
    """Which directories :func:`main` must open for ``uid`` (as its own group) to read ``reach``.

    A file needs ``r``, a directory ``r`` and ``x``; the directories on the way need ``x`` (Unix
    mode bits; ACLs are not read). Paths that do not exist are skipped.
    """
    result = Plan()
    for raw in reach:
        path = Path(raw)
        if not path.exists():
            continue
        path = path.resolve()
        for parent in reversed(path.parents):
            if not _permits(parent, uid, uid, stat.S_IXOTH):
                entry = path.relative_to(parent).parts[0]
                result.openings.setdefault(parent, set()).add(entry)
        need = stat.S_IROTH | (stat.S_IXOTH if path.is_dir() else 0)
        if not _permits(path, uid, uid, need) and result.unreadable is None:
            result.unreadable = path
    return result


# ------------------------------------------------------------------------------------------------
# what runs as root in the child, before the command


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def _mount(source: str, target: str | Path, fstype: str | None, flags: int, data: str | None = None) -> None:
    libc = _libc()
    result = libc.mount(
        source.encode(),
        str(target).encode(),
        fstype.encode() if fstype else None,
        ctypes.c_ulong(flags),
        data.encode() if data else None,
    )
    _check(result, f"mount {source} on {target}")


def _open_way(directory: Path, entries: set[str], staging: Path) -> None:
    """Cover ``directory`` with a tmpfs that holds only ``entries``, bound from the original."""
    kept = []
    for name in sorted(entries):
        original = directory / name
        holder = Path(tempfile.mkdtemp(dir=staging)) / "entry"
        if original.is_dir():
            holder.mkdir()
        else:
            holder.touch()
        _mount(str(original), holder, None, MS_BIND | MS_REC)
        kept.append((name, holder, original.is_dir()))
    _mount("tmpfs", directory, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=64k")
    for name, holder, is_dir in kept:
        target = directory / name
        if is_dir:
            target.mkdir()
        else:
            target.touch()
        _mount(str(holder), target, None, MS_MOVE)


def enter(uid: int, hide: Sequence[Path], reach: Sequence[Path], cwd: Path) -> None:
    """Set up the namespace and drop to ``uid`` (this process; it must run as root).

    Raises
    ------
    OSError
        When the kernel refuses a step (no mount namespaces, no privileges): nothing is half done
        outside this process.
    """
    libc = _libc()
    steps = plan(uid, reach)
    _check(libc.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")
    # Nothing mounted from here on propagates back to the host's namespace.
    _mount("none", "/", None, MS_REC | MS_PRIVATE)
    for directory in hide:
        if Path(directory).is_dir():
            _mount(
                "tmpfs", directory, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0000,size=4k"
            )
    staging = Path(tempfile.mkdtemp(prefix="workbench-sandbox-"))
    try:
        _mount("tmpfs", staging, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0700,size=64k")
        # Outer directories first: an inner one is reached through the outer one's opening.
        for directory in sorted(steps.openings, key=lambda p: len(p.parts)):
            _open_way(directory, steps.openings[directory], staging)
        _check(libc.umount2(str(staging).encode(), MNT_DETACH), f"umount {staging}")
    finally:
        with contextlib.suppress(OSError):  # still mounted after a failure: empty, and in /tmp
            os.rmdir(staging)
    os.chdir(cwd)
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    _check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(PR_SET_NO_NEW_PRIVS)")
    # After the switch of user: a change of credentials clears the parent-death signal.
    _check(libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0), "prctl(PR_SET_PDEATHSIG)")


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m workbench.apps.sandbox``: enter the sandbox, then execute the command."""
    parser = argparse.ArgumentParser(
        prog="python -m workbench.apps.sandbox", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--uid", type=int, required=True, help="uid (and gid) to run the command as")
    parser.add_argument("--cwd", type=Path, required=True, help="working directory of the command")
    parser.add_argument("--hide", type=Path, action="append", default=[], help="directory to hide")
    parser.add_argument("--reach", type=Path, action="append", default=[], help="path the command reads")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- command and arguments")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command after --")
    if args.uid <= 0:
        parser.error("--uid must be an unprivileged uid (> 0)")
    parent = os.getppid()
    try:
        enter(args.uid, args.hide, args.reach, args.cwd)
    except OSError as exc:
        print(f"workbench sandbox: {exc}", file=sys.stderr)
        return 126
    if os.getppid() != parent:  # the gateway died before the parent-death signal was asked for
        return 1
    os.execvp(command[0], command)
    return 127  # not reached


if __name__ == "__main__":
    raise SystemExit(main())
