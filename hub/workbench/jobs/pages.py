"""HTML pages of the jobs service, rendered by Jinja2 with autoescape on: user-supplied text is never markup.

The pages extend the workbench's shared layout (:mod:`workbench.look`: the hub's navigation, one style
sheet). Their one script, ``templates/jobs.js``, is written into the page with the response's CSP nonce
and calls the service's JSON API; no other script can run (:func:`page_csp`).

Writes from a page carry a **page token** (header :data:`PAGE_TOKEN_HEADER`): an HMAC, with a key only
this process knows, of the signed-in user and an expiry, written into the page the user was served. A
page of another site can make the browser send the hub's cookie, never this header, and cannot read the
page that holds the token; so the API accepts a cookie-authenticated write only with a valid page token
of the same user (:func:`page_token_valid`). After a restart of the service, a page still open must be
reloaded to write again (the API says so).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from pathlib import Path
from typing import Any

from markupsafe import Markup

from workbench.look import environment, new_nonce

TEMPLATES = Path(__file__).resolve().parent / "templates"
PAGE_TOKEN_HEADER = "X-Jobs-Page-Token"
PAGE_TOKEN_TTL_S = 12 * 3600
"""How long a page may write after it was served [s]."""

_env = environment(TEMPLATES)
_KEY = secrets.token_bytes(32)

__all__ = ["PAGE_TOKEN_HEADER", "new_nonce", "page_csp", "page_token", "page_token_valid", "render", "script"]


def render(name: str, **context: Any) -> str:
    """The template ``templates/<name>`` rendered with ``context`` (every value escaped)."""
    return _env.get_template(name).render(**context)


def script() -> Markup:
    """The pages' script (trusted text of the package, written into a nonce'd ``<script>``)."""
    return Markup((TEMPLATES / "jobs.js").read_text(encoding="utf-8"))


def page_csp(nonce: str) -> str:
    """Content-Security-Policy of a page: only its own nonce'd script and style run, fetches go to the
    service's origin, nothing is framed or submitted elsewhere."""
    return "; ".join(
        [
            "default-src 'none'",
            f"script-src 'nonce-{nonce}'",
            f"style-src 'nonce-{nonce}'",
            "img-src 'self'",
            "connect-src 'self'",
            "frame-src 'self'",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        ]
    )


def _sign(user: str, expires: int) -> str:
    return hmac.new(_KEY, f"{user}\n{expires}".encode(), hashlib.sha256).hexdigest()


def page_token(user: str, now: float | None = None) -> str:
    """A token letting the page served to ``user`` write through the API for :data:`PAGE_TOKEN_TTL_S`."""
    expires = int(now if now is not None else time.time()) + PAGE_TOKEN_TTL_S
    return f"{expires}.{_sign(user, expires)}"


def page_token_valid(token: str | None, user: str, now: float | None = None) -> bool:
    """Whether ``token`` was issued by this process to ``user`` and has not expired."""
    if not token or "." not in token:
        return False
    expires_text, signature = token.split(".", 1)
    if not expires_text.isdigit() or int(expires_text) < (now if now is not None else time.time()):
        return False
    return hmac.compare_digest(signature, _sign(user, int(expires_text)))
