"""What every request to a tool goes through before the proxies: the visitor's identity (the hub's
OAuth), the tool's policy (:mod:`workbench.apps.policy`), the security headers and the error pages
(:mod:`workbench.apps.pages`).

:class:`ToolState` is what the handlers of one gateway share: the tool, its Voila server, and the
visitors it has at once.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from jupyterhub.services.auth import HubOAuthenticated, UserNotAllowed
from tornado import httputil, web

from workbench.apps import pages
from workbench.apps.policy import decide
from workbench.apps.spec import AppSpec
from workbench.apps.voila import VoilaServer

log = logging.getLogger("workbench.apps.gateway")


class ToolState:
    """State shared by the handlers: the spec, the Voila server, the visitors at once.

    Attributes
    ----------
    kernel_filter
        Whether the kernel websocket passes only widget messages (:mod:`workbench.apps.messages`).
    hub_home
        The hub's home page (``<base url>hub/home``), linked from the refusal page.
    allowed_groups
        The workbench's groups (a user in none of them may open no tool but the public ones).
    admin_groups
        The workbench's admin groups, whose members may open every tool.
    """

    def __init__(
        self,
        spec: AppSpec,
        voila: VoilaServer,
        *,
        kernel_filter: bool,
        hub_home: str,
        allowed_groups: list[str] | None = None,
        admin_groups: list[str] | None = None,
    ) -> None:
        self.spec = spec
        self.voila = voila
        self.kernel_filter = kernel_filter
        self.allowed_groups = allowed_groups
        self.admin_groups = admin_groups or []
        self.hub_home = hub_home
        self.ready = asyncio.Event()
        self.failed: str | None = None
        self.pages_in_flight = 0
        self.kernel_sockets = 0
        self.dropped_messages = 0

    @property
    def visitors(self) -> int:
        """Pages being rendered plus pages holding a kernel connection."""
        return self.pages_in_flight + self.kernel_sockets

    async def start_voila(self) -> None:
        """Start Voila and wait for it; a failure is kept in :attr:`failed` (the hub log says why)."""
        try:
            await self.voila.start()
            await self.voila.wait_ready()
        except Exception as exc:  # any failure: the watcher stops the gateway and the hub restarts it
            self.failed = str(exc) or type(exc).__name__
            log.error("tool %s: Voila did not start: %s", self.spec.name, self.failed)
        self.ready.set()


class GatekeeperMixin(HubOAuthenticated):
    """Identification, policy, headers and error pages of a handler of the tool's URL."""

    state: ToolState
    nonce: str

    def initialize(self, state: ToolState) -> None:  # type: ignore[override]
        self.state = state
        self.spec = state.spec

    def set_default_headers(self) -> None:
        self.nonce = pages.new_nonce()
        for name, value in pages.own_page_headers(self.nonce).items():
            self.set_header(name, value)  # type: ignore[attr-defined]

    def set_voila_headers(self) -> None:
        """Replace the gateway's own headers by those of Voila's pages (scripts with the nonce)."""
        for name, value in pages.voila_headers(self.nonce).items():
            self.set_header(name, value)  # type: ignore[attr-defined]

    @property
    def is_websocket(self) -> bool:
        return bool(self.request.headers.get("Upgrade", "").lower() == "websocket")  # type: ignore[attr-defined]

    async def _identify(self) -> dict[str, Any] | None:
        """The hub's model of the visitor (OAuth cookie or token), None when not logged in here.

        Raises
        ------
        tornado.web.HTTPError
            403 when the hub identifies the visitor but grants them no access to this service.
        """
        model = await self.hub_auth.get_user(self, sync=False)
        if not model:
            return None
        try:
            return dict(self.check_hub_user(model))
        except UserNotAllowed:
            raise web.HTTPError(403, f"{model['name']} may not open this tool") from None

    async def admit(self) -> bool:
        """Apply the tool's policy; False when a response (redirect, 403 page) was sent instead."""
        if self.spec.access == "public":
            return True
        user = await self._identify()
        self.current_user = user
        can_redirect = not self.is_websocket and self.request.method in {"GET", "HEAD"}  # type: ignore[attr-defined]
        decision = decide(
            self.spec,
            user,
            can_redirect=can_redirect,
            allowed_groups=self.state.allowed_groups,
            admin_groups=self.state.admin_groups,
        )
        if decision.allowed:
            return True
        if decision.outcome == "login":
            # The hub's login; a user the hub does not allow here is refused there (or on redirect).
            self.redirect(self.get_login_url())  # type: ignore[attr-defined]
            return False
        if user is None:
            raise web.HTTPError(403, decision.reason)
        log.warning("%s (groups %s) refused: %s", user["name"], user.get("groups"), decision.reason)
        self.render_page(
            403,
            "refused.html",
            tool=self.spec.title,
            user=user["name"],
            reason=decision.reason,
            home=self.state.hub_home,
        )
        return False

    def render_page(self, http_status: int, template: str, **context: Any) -> None:
        """Finish the request with one of the gateway's own pages."""
        self.set_status(http_status)  # type: ignore[attr-defined]
        self.set_header("Content-Type", "text/html; charset=UTF-8")  # type: ignore[attr-defined]
        visitor = getattr(self, "_current_user", None)
        context.setdefault("user", visitor.get("name") if isinstance(visitor, dict) else None)
        context.setdefault("hub_prefix", getattr(self.hub_auth, "hub_prefix", None) or "/hub/")
        context.setdefault("title", context.get("tool", ""))
        self.finish(pages.render(template, nonce=self.nonce, **context))  # type: ignore[attr-defined]

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        reason = httputil.responses.get(status_code, "Error")
        exc = kwargs.get("exc_info", (None, None, None))[1]
        detail = getattr(exc, "log_message", None) or ""
        self.render_page(
            status_code,
            "error.html",
            status=status_code,
            reason=reason,
            detail=detail,
            tool=reason,
            title=f"{status_code} {reason}",
        )
