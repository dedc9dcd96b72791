"""HTML pages of the jobs service, rendered by Jinja2 with autoescape on: user-supplied text is never markup."""

from __future__ import annotations

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


def render(name: str, **context: Any) -> str:
    """The template ``templates/<name>`` rendered with ``context`` (every value escaped)."""
    return _env.get_template(name).render(**context)
