"""What the gateway puts in front of a visitor's browser: its own pages (busy, refused, error) and the
security headers of every response, its own and Voila's.

The gateway's pages are Jinja2 templates (``templates/``) rendered with autoescape on, so a tool's
title, a user's name or an error's reason is text, never markup. They extend the workbench's shared
layout (:mod:`workbench.look`): the hub's navigation and one style sheet, in a nonce'd ``<style>``. Every response carries a
Content-Security-Policy, ``X-Content-Type-Options: nosniff``, a frame policy and a referrer policy:

- the gateway's pages: nothing but their own nonce'd style (no script at all), no framing;
- Voila's pages: scripts only from the tool's own URL or carrying the response's nonce, which
  :class:`NonceInjector` adds to the ``<script>`` tags Voila writes while the page streams through.
  An ``onerror=`` attribute or a ``javascript:`` URL that a widget's HTML lets into the page does not
  run, and nothing is loaded from other sites; framing only by the workbench itself.
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

from workbench.look import BRAND, environment, new_nonce

TEMPLATES = Path(__file__).resolve().parent / "templates"

_env = environment(TEMPLATES)


__all__ = ["new_nonce", "own_page_headers", "render", "voila_headers"]


def render(name: str, *, nonce: str, **context: Any) -> str:
    """The template ``templates/<name>`` rendered with ``context`` (every value escaped).

    ``context`` gives the layout ``title``, ``hub_prefix`` (default ``/hub/``) and ``user`` (the
    signed-in visitor's name, or None).
    """
    context.setdefault("hub_prefix", "/hub/")
    context.setdefault("user", None)
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
_HOLD = 512
"""Bytes at the end of a chunk that may hold an unfinished tag (from its last ``<``) and wait for the next."""
_TITLE = re.compile(rb"<title>[^<]*</title>", re.IGNORECASE)
_BODY = re.compile(rb"<body(?=[\s>])[^>]*>", re.IGNORECASE)
FONT_AWESOME = "static/components/@fortawesome/fontawesome-free/css/"
"""Font Awesome's style sheets as the hub serves them (under its prefix, from JupyterHub's own files)."""
_FONT_AWESOME_CDN = re.compile(
    rb"https://cdn\.jsdelivr\.net/npm/(?:@fortawesome/fontawesome-free@[^/\"']*/css/|font-awesome@[^/\"']*/css/font-awesome\.min\.css)"
)


def _tag_start(data: bytes, start: int) -> int:
    """Where to hold ``data`` back from: the last opening tag in ``data[start:]`` (it may be unfinished,
    or be a ``<title>`` whose text is not all there), else the last ``<``; -1: nothing to hold."""
    cut = len(data)
    while (cut := data.rfind(b"<", start, cut)) != -1:
        if data[cut + 1 : cut + 2].isalpha():
            return cut
    return data.rfind(b"<", start)


class NonceInjector:
    """Rewrites an HTML document of a tool that arrives in chunks, for the workbench's site:

    - adds ``nonce="…"`` to every ``<script`` tag;
    - points Voila's Font Awesome style sheets from a public CDN to the hub's own copy
      (``<hub prefix>`` + :data:`FONT_AWESOME`), so that no page needs another site;
    - gives the page ``title`` (the tool's title and the workbench's name) in place of Voila's
      (the notebook's file name), when one is given;
    - opens the page's body with ``banner`` (the hub's navigation, :func:`workbench.look.banner`),
      when one is given.

    A tag split across two chunks is found: the end of a chunk from the last ``<`` that may start an
    unfinished tag is held back until the next chunk (or :meth:`close`).
    """

    def __init__(
        self, nonce: str, *, hub_prefix: str = "/hub/", title: str | None = None, banner: str | None = None
    ) -> None:
        self._attr = f' nonce="{nonce}"'.encode()
        self._held = b""
        self._font_awesome = (hub_prefix + FONT_AWESOME).encode()
        self._title = f"<title>{html.escape(title)} · {BRAND}</title>".encode() if title is not None else None
        self._banner = banner.encode() if banner is not None else None

    def _rewrite(self, ready: bytes) -> bytes:
        ready = _SCRIPT_TAG.sub(lambda m: m.group(0) + self._attr, ready)
        ready = _FONT_AWESOME_CDN.sub(
            lambda m: self._font_awesome + (b"all.min.css" if m.group(0).endswith(b".css") else b""), ready
        )
        if self._title is not None:
            ready, n = _TITLE.subn(self._title, ready, count=1)
            if n:
                self._title = None
        if self._banner is not None:
            banner = self._banner
            ready, n = _BODY.subn(lambda m: m.group(0) + banner, ready, count=1)
            if n:
                self._banner = None
        return ready

    def feed(self, chunk: bytes) -> bytes:
        """The part of the document so far that can be sent, rewritten."""
        data = self._held + chunk
        cut = _tag_start(data, max(0, len(data) - _HOLD))
        if cut == -1:
            self._held, ready = b"", data
        else:
            self._held, ready = data[cut:], data[:cut]
        return self._rewrite(ready)

    def close(self) -> bytes:
        """The rest of the document."""
        rest, self._held = self._held, b""
        return self._rewrite(rest)
