"""The workbench's one look for the pages its services render (jobs pages, tool pages, report frames).

Every such page extends ``templates/layout.html``: the hub's navigation (``templates/nav.html``: the
workbench's name and logo linking to the hub's home, the signed-in user, logout) above the page's own
content, and one style sheet (``templates/workbench.css`` and the navigation's ``templates/nav.css``),
written into the page inside a ``<style>`` element carrying the response's CSP nonce. A tool's Voila
page gets the navigation too, from :func:`banner`. Nothing is fetched from another site (the logo is the hub's own ``/hub/logo``).

A service builds its Jinja2 environment with :func:`environment`, which finds the service's own
templates first and the shared layout after them, with autoescape on (user-supplied text is never
markup).
"""

from __future__ import annotations

import secrets
from functools import cache
from pathlib import Path

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, Template, select_autoescape
from markupsafe import Markup

TEMPLATES = Path(__file__).resolve().parent / "templates"
BRAND = "S2P Workbench"
"""The workbench's name, shown in every page's navigation and title."""


@cache
def nav_stylesheet() -> Markup:
    """The navigation bar's rules alone (self-contained: they hold on any page)."""
    return Markup((TEMPLATES / "nav.css").read_text(encoding="utf-8"))


@cache
def stylesheet() -> Markup:
    """The shared style sheet (trusted text of the package, written into a nonce'd ``<style>``)."""
    return Markup((TEMPLATES / "workbench.css").read_text(encoding="utf-8")) + nav_stylesheet()


def banner(hub_prefix: str, user: str | None) -> str:
    """The hub's navigation as an HTML fragment with its own ``<style>``, to open a page the workbench
    does not render itself (a tool's Voila page); ``user`` is escaped, ``None`` offers the login."""
    return _banner_template().render(css=nav_stylesheet(), hub_prefix=hub_prefix, user=user)


@cache
def _banner_template() -> Template:
    return environment(TEMPLATES).from_string(
        '{% from "nav.html" import nav %}<style>{{ css }}</style>{{ nav(hub_prefix, brand, user) }}'
    )


def new_nonce() -> str:
    """A fresh CSP nonce (one per response)."""
    return secrets.token_urlsafe(18)


def environment(own: Path) -> Environment:
    """A Jinja2 environment over the templates in ``own``, then the shared layout (autoescape on)."""
    env = Environment(
        loader=ChoiceLoader([FileSystemLoader(own), FileSystemLoader(TEMPLATES)]),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(brand=BRAND, stylesheet=stylesheet)
    return env
