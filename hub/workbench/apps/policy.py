"""The access policy of a published tool, apart from HTTP: who may open it, which of Voila's paths a
visitor may reach at all.

:func:`decide` takes what the gateway knows of a request (the tool, the hub's model of the visitor or
``None``, whether the request is a page load a browser can be redirected from) and returns a
:class:`Decision`; the gateway's handlers (:mod:`workbench.apps.gatekeeper`) turn it into a redirect
to the hub's login, a 403 page, or the proxy.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from workbench.apps.spec import AppSpec

PAGE = "voila/render/app.ipynb"
"""The tool's page under its URL (Voila serves the tool's folder and renders ``app.ipynb``)."""

KERNEL_SOCKET = re.compile(r"^api/kernels/[^/]+/channels$")
"""A page's kernel websocket, under the tool's URL."""

PROXIED = re.compile(
    r"^(voila/render/app\.ipynb$|voila/(static|templates|labextensions|files|query|api/themes|api/shutdown)/"
    r"|api/kernels/[^/]+(/channels)?$)"
)
"""Voila's paths a visitor may reach: the tool's page, its assets and kernel; not the folder listing
(``voila/tree``) nor the contents API, which would show the tool's other files."""


def may_proxy(path: str) -> bool:
    """Whether a visitor's path (after ``/services/<name>/``, URL-decoded) may reach Voila."""
    return bool(PROXIED.match(path)) and ".." not in path.split("/")


@dataclass(frozen=True)
class Decision:
    """What the gateway does with a request.

    Attributes
    ----------
    outcome
        ``allow``; ``login`` (send a browser to the hub's login); ``refuse`` (403).
    reason
        For ``refuse``: why, in words shown to the visitor.
    """

    outcome: str
    reason: str = ""

    @property
    def allowed(self) -> bool:
        return self.outcome == "allow"


ALLOW = Decision("allow")
LOGIN = Decision("login")


def decide(
    spec: AppSpec,
    user: Mapping[str, Any] | None,
    *,
    can_redirect: bool,
    allowed_groups: Collection[str] | None = None,
    admin_groups: Collection[str] = (),
) -> Decision:
    """Apply ``spec``'s policy to a visitor.

    Parameters
    ----------
    spec
        The tool.
    user
        The hub's model of the visitor (``name``, ``groups``), or ``None`` when not logged in here.
        A visitor the hub identifies but does not grant this service is refused before this call.
    can_redirect
        Whether the request is one a browser follows a redirect from (a ``GET``/``HEAD`` that is not
        a websocket): a visitor who is not logged in is then sent to log in, else refused.
    allowed_groups
        The groups whose members may use the workbench (``WORKBENCH_ALLOWED_GROUPS``). A hub user in
        none of them (whose groups were taken away after they got a token: the hub refuses their
        login, not their tokens) may not open ``logged-in`` tools either.
    admin_groups
        The workbench's admin groups (``WORKBENCH_ADMIN_GROUPS``): their members may open every tool,
        as the jobs service lets them act on every segment's jobs.
    """
    if spec.access == "public":
        return ALLOW
    if user is None:
        return LOGIN if can_redirect else Decision("refuse", "log in first")
    groups = set(user.get("groups") or [])
    if allowed_groups is not None and not groups & set(allowed_groups):
        return Decision("refuse", "your account is in none of the workbench's groups")
    if not spec.may_open(groups, admin_groups):
        return Decision("refuse", f"this tool is open to {spec.describe_access()}")
    return ALLOW
