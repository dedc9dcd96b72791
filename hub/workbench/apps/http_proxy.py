"""HTTP to a tool's Voila: the page (streamed, so a page rendered on request shows as it executes), its
assets and the kernel API, after the gatekeeper's checks.

Only Voila's paths of :data:`workbench.apps.policy.PROXIED` pass; the tool's bare URL is the gateway's
own redirect to the page (the hub's health checks stop there). Voila's answers get the gateway's
security headers (:func:`workbench.apps.pages.voila_headers`) in place of Voila's, and the
``<script>`` tags of its pages the response's nonce. Voila is asked for uncompressed answers (the
nonces are added to the text); the gateway compresses what it sends.
"""

from __future__ import annotations

import contextlib

from tornado import httpclient, httputil, iostream, web

from workbench import look
from workbench.apps import pages
from workbench.apps.gatekeeper import GatekeeperMixin
from workbench.apps.policy import PAGE, may_proxy

PROXY_TIMEOUT = 300.0
"""Longest a proxied request may take [s] (a cold page executes the whole notebook)."""
HOP_HEADERS = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "content-length",
    }
)
DROPPED_REQUEST_HEADERS = frozenset({"authorization", "cookie", "origin", "accept-encoding"})
"""The visitor's credentials never reach Voila (the gateway sends its own token)."""


def upstream_headers(handler: GatekeeperMixin, token: str) -> httputil.HTTPHeaders:
    """The visitor's request headers as passed to Voila: no hop-by-hop header, no hub credential."""
    headers = httputil.HTTPHeaders()
    own = handler.hub_auth.cookie_name  # the OAuth token cookie and its "-oauth-state" cookies
    for name, value in handler.request.headers.get_all():  # type: ignore[attr-defined]
        lower = name.lower()
        if lower in HOP_HEADERS or lower in DROPPED_REQUEST_HEADERS or lower.startswith("sec-websocket-"):
            continue
        headers.add(name, value)
    cookies = [
        f"{c.key}={c.coded_value}"
        for c in handler.request.cookies.values()  # type: ignore[attr-defined]
        if not c.key.startswith(own) and not c.key.startswith("jupyterhub-")
    ]
    if cookies:
        headers["Cookie"] = "; ".join(cookies)
    # Voila accepts only the gateway, by its token.
    headers["Authorization"] = f"token {token}"
    return headers


class HttpProxyHandler(GatekeeperMixin, web.RequestHandler):
    """Every path of the tool but its kernel websocket: policy check, then HTTP proxy to Voila."""

    SUPPORTED_METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS")  # type: ignore[assignment]

    def initialize(self, state) -> None:  # type: ignore[no-untyped-def, override]
        super().initialize(state)
        self._status_set = False
        self._counted_page = False
        self._injector: pages.NonceInjector | None = None

    async def _dispatch(self, path: str) -> None:
        if not await self.admit():
            return
        if path == "":
            # The tool's stable URL: to its page. The hub's health checks stop here: they neither use
            # a kernel nor wait for Voila (the hub starts its services one after the other).
            query = f"?{self.request.query}" if self.request.query else ""
            self.redirect(f"{self.request.path}{PAGE}{query}")
            return
        if not may_proxy(path):
            raise web.HTTPError(404)
        await self.state.ready.wait()
        if self.state.failed:
            raise web.HTTPError(503, "this tool failed to start; the hub log says why")
        await self._proxy(path)

    async def get(self, path: str = "") -> None:
        await self._dispatch(path)

    async def head(self, path: str = "") -> None:
        await self._dispatch(path)

    async def post(self, path: str = "") -> None:
        await self._dispatch(path)

    async def put(self, path: str = "") -> None:
        await self._dispatch(path)

    async def delete(self, path: str = "") -> None:
        await self._dispatch(path)

    async def patch(self, path: str = "") -> None:
        await self._dispatch(path)

    async def options(self, path: str = "") -> None:
        await self._dispatch(path)

    # -- Voila's answer, as it streams in --------------------------------------------------------

    def _on_header(self, line: str) -> None:
        line = line.rstrip("\r\n")
        if not line:
            return
        if line.startswith("HTTP/"):
            parts = line.split(" ", 2)
            self.set_status(int(parts[1]), parts[2] if len(parts) > 2 else None)
            self._clear_representation_headers()
            self.set_voila_headers()
            self._status_set = True
            return
        name, _, value = line.partition(":")
        lower = name.strip().lower()
        if lower in HOP_HEADERS or lower in pages.REPLACED_HEADERS or lower in {"server", "date"}:
            return
        if lower == "set-cookie" and value.strip().startswith("username-"):
            return  # Voila's login cookie for the gateway's token: no use to a browser
        if lower == "content-type" and value.strip().lower().startswith("text/html"):
            hub_prefix = getattr(self.hub_auth, "hub_prefix", None) or "/hub/"
            visitor = getattr(self, "_current_user", None)
            visitor = visitor if isinstance(visitor, dict) else None
            self._injector = pages.NonceInjector(
                self.nonce,
                hub_prefix=hub_prefix,
                title=self.spec.title,
                banner=look.banner(hub_prefix, visitor["name"] if visitor else None),
            )
        self.add_header(name.strip(), value.strip())

    def _on_chunk(self, chunk: bytes) -> None:
        if self.request.connection is None or self._finished:
            return
        self.write(self._injector.feed(chunk) if self._injector is not None else chunk)
        # A visitor who left: the rest of the page is read from Voila and dropped.
        self.flush().add_done_callback(lambda f: f.exception())

    async def _proxy(self, path: str) -> None:
        state = self.state
        if self.request.method == "GET" and path == PAGE:
            if state.visitors >= self.spec.kernels.max:
                self.set_header("Retry-After", "30")
                self.render_page(503, "busy.html", tool=self.spec.title, visitors=self.spec.kernels.max)
                return
            state.pages_in_flight += 1
            self._counted_page = True
        body = self.request.body if self.request.method in {"POST", "PUT", "PATCH", "DELETE"} else None
        request = httpclient.HTTPRequest(
            state.voila.url + self.request.uri,
            method=self.request.method,
            headers=upstream_headers(self, state.voila.token),
            body=body,
            follow_redirects=False,
            decompress_response=False,
            allow_nonstandard_methods=True,
            request_timeout=PROXY_TIMEOUT,
            header_callback=self._on_header,
            streaming_callback=self._on_chunk,
        )
        try:
            await httpclient.AsyncHTTPClient().fetch(request, raise_error=False)
        except OSError as exc:
            if not self._status_set:
                raise web.HTTPError(502, f"the tool's server does not answer ({exc})") from None
        finally:
            if self._counted_page:
                state.pages_in_flight -= 1
                self._counted_page = False
        if not self._finished:
            with contextlib.suppress(iostream.StreamClosedError):
                if self._injector is not None and self.request.connection is not None:
                    self.write(self._injector.close())
                self.finish()
