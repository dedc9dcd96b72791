"""Start Keycloak for the stack: secrets from files, the realm adjusted to the hub's public URL.

Environment (set by deploy/swarm/stack.yaml):

- ``KC_HOSTNAME``: the public URL of Keycloak (``https://…``, through the TLS front).
- ``KC_HTTP_PORT``: the loopback port the front proxies to.
- ``KC_DB_URL``, ``KC_DB_USERNAME``, ``KC_DB_PASSWORD_FILE``: the PostgreSQL database.
- ``KC_ADMIN_PASSWORD_FILE``: the bootstrap admin's password (user ``admin``), first start only.
- ``KC_CLIENT_SECRET_FILE``: the hub's client secret (the realm's ``${WORKBENCH_OIDC_CLIENT_SECRET}``).
- ``WORKBENCH_PUBLIC_URL``: the hub's public URL (the client's redirect and logout URIs).

The realm is imported at the first start only (Keycloak skips a realm that exists).
"""

import json
import os
import sys

HOME = "/opt/keycloak"


def read(name: str) -> str:
    path = os.environ.get(name, "")
    if not path:
        sys.exit(f"s2p-keycloak: {name} is not set")
    with open(path) as fh:
        return fh.read().strip()


def realm(public_url: str) -> None:
    with open(f"{HOME}/realm/realm-s2p.json") as fh:
        data = json.load(fh)
    for client in data.get("clients", []):
        if client.get("clientId") == "workbench":
            client["redirectUris"] = [f"{public_url}/hub/oauth_callback", f"{public_url}/user/*"]
            client["webOrigins"] = [public_url]
            client.setdefault("attributes", {})["post.logout.redirect.uris"] = f"{public_url}/hub/*"
    with open(f"{HOME}/data/import/realm-s2p.json", "w") as fh:
        json.dump(data, fh)


def main() -> None:
    env = dict(os.environ)
    env["KC_DB_PASSWORD"] = read("KC_DB_PASSWORD_FILE")
    env["KC_BOOTSTRAP_ADMIN_USERNAME"] = "admin"
    env["KC_BOOTSTRAP_ADMIN_PASSWORD"] = read("KC_ADMIN_PASSWORD_FILE")
    env["WORKBENCH_OIDC_CLIENT_SECRET"] = read("KC_CLIENT_SECRET_FILE")
    realm(env["WORKBENCH_PUBLIC_URL"].rstrip("/"))
    args = [
        f"{HOME}/bin/kc.sh",
        "start",
        "--optimized",
        "--import-realm",
        "--http-enabled=true",
        "--http-host=127.0.0.1",
        f"--http-port={env['KC_HTTP_PORT']}",
        f"--hostname={env['KC_HOSTNAME']}",
        "--proxy-headers=xforwarded",
        "--cache=local",
        "--log-console-output=json",
    ]
    os.execve(args[0], args, env)


if __name__ == "__main__":
    main()
