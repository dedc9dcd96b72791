"""``workbench login`` / ``workbench logout``: keep your own hub API token, so commands act as you.

The hub issues a person's API tokens on its *Token* page (``/hub/token``). ``workbench login`` asks for
one (or reads it from standard input with ``--token-stdin``), asks the hub whose it is
(``GET /hub/api/user``), refuses a service's token, and keeps it with the hub's URL in
:func:`login_file` (``~/.config/s2p-workbench/login.json``, mode 0600, folder 0700). ``workbench jobs``
then calls the jobs service with it, so runs and changes are credited to that person; the
workbench-admin service token is for automation only. ``workbench logout`` forgets the token (revoke it
on the Token page to end it everywhere).
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from pathlib import Path
from typing import Any

import requests

HUB_TIMEOUT_S = 30.0
"""How long ``workbench login`` waits for the hub's answer [s]."""


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "login",
        help="keep your own hub API token, so `workbench jobs` acts as you (runs are credited to you)",
        description="Keep your own hub API token (made on the hub's Token page) for the workbench "
        "commands (see docs/jobs.md).",
    )
    p.add_argument("--url", help="the hub's URL (default: this machine's workbench)")
    p.add_argument("--token-stdin", action="store_true", help="read the token from standard input")
    p.set_defaults(handler=cmd_login)
    q = subparsers.add_parser("logout", help="forget the token `workbench login` kept")
    q.set_defaults(handler=cmd_logout)


def login_file() -> Path:
    """Where ``workbench login`` keeps the token: ``~/.config/s2p-workbench/login.json``."""
    return Path.home() / ".config" / "s2p-workbench" / "login.json"


def stored_login() -> dict[str, str] | None:
    """The kept login (``url``, ``name``, ``token``), or None when there is none (or it is unreadable)."""
    try:
        data = json.loads(login_file().read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not all(isinstance(data.get(k), str) for k in ("url", "name", "token")):
        return None
    return {k: data[k] for k in ("url", "name", "token")}


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` readable by its owner only (0600, in a 0700 folder), atomically."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path.parent, 0o700)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.replace(tmp, path)


def whose(url: str, token: str) -> dict[str, Any]:
    """The hub's model of the owner of ``token`` (``GET <url>/hub/api/user``).

    Raises
    ------
    ValueError
        With a sentence for the user when the hub does not answer or refuses the token.
    """
    try:
        r = requests.get(
            f"{url}/hub/api/user", headers={"Authorization": f"token {token}"}, timeout=HUB_TIMEOUT_S
        )
    except requests.RequestException as exc:
        raise ValueError(f"the hub at {url} does not answer: {exc}") from None
    if r.status_code in {401, 403}:
        raise ValueError(
            f"the hub at {url} does not accept this token (HTTP {r.status_code}): make one on {url}/hub/token"
        )
    if r.status_code != 200:
        raise ValueError(f"the hub at {url} answered HTTP {r.status_code}: is this the workbench's URL?")
    return dict(r.json())


def cmd_login(args: argparse.Namespace) -> int:
    from workbench.settings import Settings

    url = (args.url or Settings.from_env().local_url).rstrip("/")
    if args.token_stdin:
        token = sys.stdin.readline().strip()
    else:
        token = getpass.getpass(f"Your API token (make one on {url}/hub/token): ").strip()
    if not token:
        print("workbench login: no token given", file=sys.stderr)
        return 2
    try:
        model = whose(url, token)
    except ValueError as exc:
        print(f"workbench login: {exc}", file=sys.stderr)
        return 1
    if model.get("kind", "user") != "user":
        print(
            f"workbench login: this is a token of the service {model.get('name')!r}, not a person's; "
            "pass service tokens with --token or WORKBENCH_TOKEN (automation)",
            file=sys.stderr,
        )
        return 1
    name = str(model["name"])
    _write_private(login_file(), json.dumps({"url": url, "name": name, "token": token}))
    print(f"logged in to {url} as {name}: `workbench jobs` acts as {name} (token kept in {login_file()})")
    return 0


def cmd_logout(args: argparse.Namespace) -> int:
    path = login_file()
    if path.exists():
        path.unlink()
        print(f"forgot the token in {path} (revoke it on the hub's Token page to end it everywhere)")
    else:
        print("not logged in")
    return 0
