"""What the gateway puts in front of a visitor's browser: its own pages (busy, refused, error) and the
security headers of every response, its own and Voila's.

The gateway's pages are Jinja2 templates (``templates/``) rendered with autoescape on, so a tool's
title, a user's name or an error's reason is text, never markup. Every response carries a
Content-Security-Policy, ``X-Content-Type-Options: nosniff``, a frame policy and a referrer policy:

- the gateway's pages: nothing but their own nonce'd style (no script at all), no framing;
- Voila's pages: scripts only from the tool's own URL or carrying the response's nonce, which
  :class:`NonceInjector` adds to the ``<script>`` tags Voila writes while the page streams through.
  An ``onerror=`` attribute or a ``javascript:`` URL that a widget's HTML lets into the page does not
  run, and nothing is loaded from other sites; framing only by the workbench itself.
"""

from __future__ import annotations

import re
import secrets
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

TEMPLATES = Path(__file__).resolve().parent / "templates"

_env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


def new_nonce() -> str:
    """A fresh CSP nonce (one per response)."""
    return secrets.token_urlsafe(18)


def render(name: str, *, nonce: str, **context: Any) -> str:
    """The template ``templates/<name>`` rendered with ``context`` (every value escaped)."""
    return _env.get_template(name).render(nonce=nonce, **context)


def own_page_headers(nonce: str) -> dict[str, str]:
    """Headers of the gateway's own pages: no script, only their nonce'd style, never framed."""
    csp = "; ".join(
        [
            "default-src 'none'",
            f"style-src 'nonce-{nonce}'",
            "img-src 'self'",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        ]
    )
    return {
        "Content-Security-Policy": csp,
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "same-origin",
    }


def voila_headers(nonce: str) -> dict[str, str]:
    """Headers of everything proxied from Voila (pages, assets, API answers).

    Styles may be inline (Voila's page and the widgets set them); scripts come from the workbench's
    origin or carry ``nonce``; images may be ``data:``/``blob:`` URLs (plots); connections (the kernel
    websocket) go to the same origin only.
    """
    csp = "; ".join(
        [
            "default-src 'self'",
            f"script-src 'self' 'nonce-{nonce}'",
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data: blob:",
            "font-src 'self' data:",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'self'",
        ]
    )
    return {
        "Content-Security-Policy": csp,
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "SAMEORIGIN",
        "Referrer-Policy": "same-origin",
    }


REPLACED_HEADERS = frozenset(
    {
        "content-security-policy",
        "content-security-policy-report-only",
        "x-frame-options",
        "x-content-type-options",
    }
)
"""Upstream headers the gateway drops because it sets its own (two CSPs would both apply)."""


_SCRIPT_TAG = re.compile(rb"<script(?=[\s>/])", re.IGNORECASE)
_HOLD = len(b"<script ")


class NonceInjector:
    """Adds ``nonce="…"`` to every ``<script`` tag of an HTML document that arrives in chunks.

    A tag split across two chunks is found: the last few bytes of a chunk that could start a tag are
    held back until the next chunk (or :meth:`close`).
    """

    def __init__(self, nonce: str) -> None:
        self._attr = f' nonce="{nonce}"'.encode()
        self._held = b""

    def feed(self, chunk: bytes) -> bytes:
        """The part of the document so far that can be sent, with nonces added."""
        data = self._held + chunk
        cut = data.rfind(b"<", max(0, len(data) - _HOLD))
        if cut == -1:
            self._held, ready = b"", data
        else:
            self._held, ready = data[cut:], data[:cut]
        return _SCRIPT_TAG.sub(lambda m: m.group(0) + self._attr, ready)

    def close(self) -> bytes:
        """The rest of the document."""
        rest, self._held = self._held, b""
        return _SCRIPT_TAG.sub(lambda m: m.group(0) + self._attr, rest)
