"""The workbench's one look for the pages its services render (jobs pages, tool pages, report frames).

Every such page extends ``templates/layout.html``: the hub's navigation (the workbench's name and logo
linking to the hub's home, the signed-in user, logout) above the page's own content, and one style
sheet, ``templates/workbench.css``, written into the page inside a ``<style>`` element carrying the
response's CSP nonce. Nothing is fetched from another site (the logo is the hub's own ``/hub/logo``).

A service builds its Jinja2 environment with :func:`environment`, which finds the service's own
templates first and the shared layout after them, with autoescape on (user-supplied text is never
markup).
"""

from __future__ import annotations

import secrets
from functools import cache
from pathlib import Path

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

TEMPLATES = Path(__file__).resolve().parent / "templates"
BRAND = "S2P Workbench"
"""The workbench's name, shown in every page's navigation and title."""


@cache
def stylesheet() -> Markup:
    """The shared style sheet (trusted text of the package, written into a nonce'd ``<style>``)."""
    return Markup((TEMPLATES / "workbench.css").read_text(encoding="utf-8"))


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
