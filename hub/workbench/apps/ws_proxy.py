"""A page's kernel websocket to the tool's Voila, through the gateway's message filter.

After the gatekeeper's checks, the gateway opens the same socket to Voila (with the subprotocol the
browser offered, and answers the browser with the one Voila chose, so both ends frame messages alike),
then relays frames both ways. What the visitor sends passes :func:`workbench.apps.messages.admit`
first: only the messages a tool's widgets exchange reach Voila, everything else is dropped and logged
(the first few of each socket, then one in a hundred). The kernel's answers pass unchanged.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any
from urllib.parse import urlsplit

from tornado import httpclient, web, websocket

from workbench.apps import messages
from workbench.apps.gatekeeper import GatekeeperMixin
from workbench.apps.http_proxy import upstream_headers

log = logging.getLogger("workbench.apps.gateway")

MAX_MESSAGE = 512 * 1024 * 1024
"""Largest frame relayed from the kernel [bytes] (a plot's data)."""
LOGGED_DROPS = 20
"""Dropped messages logged one by one per socket; after these, one in a hundred."""


class KernelSocketHandler(GatekeeperMixin, websocket.WebSocketHandler):
    """``api/kernels/<id>/channels`` of the tool."""

    def initialize(self, state) -> None:  # type: ignore[no-untyped-def, override]
        super().initialize(state)
        self.upstream: websocket.WebSocketClientConnection | None = None
        self._counted = False
        self._drops = 0

    async def get(self, path: str, *args: Any, **kwargs: Any) -> None:
        if not await self.admit():
            return
        await self.state.ready.wait()
        if self.state.failed:
            raise web.HTTPError(503, "this tool failed to start; the hub log says why")
        await self._open_upstream()
        await super().get(path, *args, **kwargs)

    async def _open_upstream(self) -> None:
        offered = self.request.headers.get("Sec-WebSocket-Protocol", "")
        protocols = [p.strip() for p in offered.split(",") if p.strip()]
        url = "ws" + self.state.voila.url[len("http") :] + self.request.uri
        request = httpclient.HTTPRequest(
            url, headers=upstream_headers(self, self.state.voila.token), request_timeout=60
        )
        try:
            self.upstream = await websocket.websocket_connect(
                request,
                subprotocols=protocols or None,
                on_message_callback=self._from_upstream,
                max_message_size=MAX_MESSAGE,
            )
        except (OSError, httpclient.HTTPClientError) as exc:
            raise web.HTTPError(502, f"the tool's kernel socket does not answer ({exc})") from None

    def select_subprotocol(self, subprotocols: list[str]) -> str | None:
        # Answer with the protocol Voila chose, so both ends speak the same kernel message format.
        return self.upstream.selected_subprotocol if self.upstream is not None else None

    def check_origin(self, origin: str) -> bool:
        # Same origin as the page (the hub's public address); Voila itself sees no Origin.
        return bool(urlsplit(origin).netloc == self.request.host)

    def open(self, *args: Any, **kwargs: Any) -> None:
        self.state.kernel_sockets += 1
        self._counted = True

    def _from_upstream(self, message: str | bytes | None) -> None:
        if message is None:
            if self.ws_connection is not None:
                self.close()
            return
        if self.ws_connection is None or self.ws_connection.is_closing():
            return
        with contextlib.suppress(websocket.WebSocketClosedError):
            self.write_message(message, binary=isinstance(message, bytes))

    async def on_message(self, message: str | bytes) -> None:
        if self.upstream is None:
            return
        forward: str | bytes = message
        if self.state.kernel_filter:
            verdict = messages.admit(message, self.selected_subprotocol)
            if verdict.forward is None:
                self._dropped(verdict.reason)
                return
            forward = verdict.forward
        try:
            await self.upstream.write_message(forward, binary=isinstance(forward, bytes))
        except websocket.WebSocketClosedError:
            self.close()

    def _dropped(self, reason: str) -> None:
        self._drops += 1
        self.state.dropped_messages += 1
        if self._drops <= LOGGED_DROPS or self._drops % 100 == 0:
            log.warning(
                "tool %s: dropped a visitor's kernel message (%s) from %s [%d on this socket]",
                self.spec.name,
                reason,
                self.request.remote_ip,
                self._drops,
            )

    def on_close(self) -> None:
        if self._counted:
            self.state.kernel_sockets -= 1
            self._counted = False
        if self.upstream is not None:
            self.upstream.close()
            self.upstream = None
