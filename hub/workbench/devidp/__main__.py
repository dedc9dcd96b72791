"""``python -m workbench.devidp REALM_FILE [--port N] [--realm NAME]``: run the dev IdP in the foreground."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from pathlib import Path

from workbench.devidp import DevIdP, DevIdPError


def main(argv: list[str] | None = None) -> int:
    """Start the dev IdP, print its issuer and demo logins, and run until Ctrl-C.

    Parameters
    ----------
    argv
        Command-line arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        Process exit status.
    """
    parser = argparse.ArgumentParser(
        prog="python -m workbench.devidp",
        description="Keycloak-shaped dev identity provider serving a Keycloak realm export on 127.0.0.1.",
    )
    parser.add_argument(
        "realm_file", type=Path, help="Keycloak realm export, e.g. deploy/keycloak/realm-s2p.json"
    )
    parser.add_argument("--port", type=int, default=None, help="TCP port (default: a free one)")
    parser.add_argument("--realm", default=None, help="realm name to serve (default: the file's)")
    parser.add_argument("--state-dir", type=Path, default=None, help="keep signing keys here across restarts")
    parser.add_argument(
        "--redirect-uris",
        default=None,
        help='JSON {"clientId": ["uri", ...]} replacing the clients\' redirect URIs',
    )
    args = parser.parse_args(argv)
    redirect = json.loads(args.redirect_uris) if args.redirect_uris else None
    idp = DevIdP(
        args.realm_file, port=args.port, realm=args.realm, redirect_uris=redirect, state_dir=args.state_dir
    )
    try:
        idp.start()
    except DevIdPError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        # Ctrl-C while the server is still coming up is an ordinary stop, not a crash.
        idp.stop()
        return 0
    stop = False

    def _on_signal(signum: int, frame: object) -> None:
        nonlocal stop
        stop = True

    # Before the banner: a Ctrl-C by someone who has read it must be an ordinary stop.
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    print(f"dev IdP running: issuer {idp.issuer} (pid {idp.pid}); log: {idp.log_file}")
    print("Press Ctrl-C to stop.", flush=True)
    try:
        while not stop and idp.running:
            time.sleep(0.5)
    finally:
        idp.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
