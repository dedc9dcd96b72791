"""The hub's own secrets: generated on first run in ``<state>/secrets/`` (mode 0600), reused afterwards.

Nothing here is ever committed (``.state/`` is git-ignored) and nothing is derived from a fixed value:
each file holds random bytes from :func:`secrets.token_hex`. A file that other users can read is
refused rather than silently reused, as JupyterHub does for its cookie secret.
"""

from __future__ import annotations

import os
import secrets as _random
import stat
from dataclasses import dataclass
from pathlib import Path

SECRETS_DIRNAME = "secrets"

# name -> number of random bytes (hex-encoded in the file)
SECRET_SIZES: dict[str, int] = {
    "cookie_secret": 32,  # JupyterHub signs its cookies with it
    "crypt_key": 32,  # encrypts auth_state (tokens) in the database
    "proxy_auth_token": 32,  # hub <-> configurable-http-proxy control API
    "admin_api_token": 32,  # token of the `workbench-admin` hub service (CLI, tests, ops scripts)
    "dev_client_secret": 24,  # the `workbench` client's secret in the dev IdP (never used with keycloak)
}


class SecretsError(RuntimeError):
    """A secret file exists but cannot be used safely."""


@dataclass(frozen=True)
class HubSecrets:
    """The secrets of one state directory (hex strings)."""

    directory: Path
    cookie_secret: str
    crypt_key: str
    proxy_auth_token: str
    admin_api_token: str
    dev_client_secret: str

    @property
    def cookie_secret_file(self) -> Path:
        return self.directory / "cookie_secret"


def _read_or_create(path: Path, nbytes: int) -> str:
    if path.exists():
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            raise SecretsError(
                f"{path} is readable by other users (mode {mode:o}); run `chmod 600 {path}` or delete it "
                "to generate a new one."
            )
        value = path.read_text().strip()
        if len(value) < 2 * nbytes:
            raise SecretsError(f"{path} is shorter than {2 * nbytes} hex digits; delete it to regenerate.")
        return value
    value = _random.token_hex(nbytes)
    # O_EXCL: two processes starting at once must not overwrite each other's secret.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_or_create(path, nbytes)
    with os.fdopen(fd, "w") as fh:
        fh.write(value + "\n")
    return value


def ensure_secret_file(path: Path, nbytes: int = 32) -> str:
    """The secret in ``path``, generated (0600, ``nbytes`` random bytes as hex) if the file is absent.

    Raises
    ------
    SecretsError
        If the file is readable by group/others or truncated.
    """
    return _read_or_create(path, nbytes)


def ensure_secrets(state_dir: Path) -> HubSecrets:
    """Return the hub secrets of ``state_dir``, generating the missing ones.

    Parameters
    ----------
    state_dir
        The workbench state directory (``WORKBENCH_STATE_DIR``); secrets go to ``<state_dir>/secrets``.

    Raises
    ------
    SecretsError
        If an existing secret file is readable by group/others or truncated.
    """
    directory = Path(state_dir) / SECRETS_DIRNAME
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    values = {name: _read_or_create(directory / name, n) for name, n in SECRET_SIZES.items()}
    return HubSecrets(directory=directory, **values)
