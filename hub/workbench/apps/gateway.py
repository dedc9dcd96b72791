"""The gateway of one published tool: the access policy of its ``app.yaml`` in front of Voila.

The hub starts one gateway per tool as a managed service (``python -m workbench.apps.gateway``) on
the service's URL; the gateway starts the tool's Voila server (:mod:`workbench.apps.voila`) and proxies
HTTP and websockets to it. Before anything reaches Voila it applies the policy:

- ``public``: no check;
- ``logged-in``: the visitor must be identified by the hub (``HubOAuth``: a redirect through
  ``/hub/`` logs them in, with the hub's own login and group rules) and hold the hub's
  ``access:services!service=<name>`` scope;
- ``groups``: as logged-in, and the visitor's hub groups (read with the OAuth token) must meet the
  tool's groups; others get a 403 page naming the groups.

It also caps the visitors at once (``kernels.max``): one more page gets a 503 "busy" answer.

Everything the gateway needs comes from the hub's ``JUPYTERHUB_*`` variables and from
``WORKBENCH_APP_SPEC`` (the validated ``app.yaml``, as JSON, written by :mod:`workbench.apps.hub`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import re
import secrets
import signal
from collections.abc import Sequence
from dataclasses import asdict
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jupyterhub.services.auth import HubOAuth, HubOAuthCallbackHandler, HubOAuthenticated, UserNotAllowed
from tornado import httpclient, httputil, iostream, web, websocket

from workbench.apps.spec import AppSpec, Kernels
from workbench.apps.voila import VoilaServer, die_with_parent

log = logging.getLogger("workbench.apps.gateway")

SPEC_ENV = "WORKBENCH_APP_SPEC"
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
KERNEL_SOCKET = re.compile(r"api/kernels/[^/]+/channels$")
PAGE = "voila/render/app.ipynb"
PROXIED = re.compile(
    r"^(voila/render/app\.ipynb$|voila/(static|templates|labextensions|files|query|api/themes|api/shutdown)/"
    r"|api/kernels/[^/]+(/channels)?$)"
)
"""Voila's paths a visitor may reach: the tool's page, its assets and kernel; not the folder listing
(``voila/tree``) nor the contents API, which would show the tool's other files."""


def may_proxy(path: str) -> bool:
    """Whether a visitor's path (after ``/services/<name>/``, URL-decoded) may reach Voila."""
    return bool(PROXIED.match(path)) and ".." not in path.split("/")


# ------------------------------------------------------------------------------------------------
# the spec, handed over by the hub


def spec_to_json(spec: AppSpec) -> str:
    """The spec as the JSON the hub puts in ``WORKBENCH_APP_SPEC``."""
    data = asdict(spec)
    data["directory"] = str(spec.directory)
    return json.dumps(data)


def spec_from_json(text: str) -> AppSpec:
    """Inverse of :func:`spec_to_json`."""
    data = json.loads(text)
    data["directory"] = Path(data["directory"])
    data["groups"] = tuple(data["groups"])
    data["kernels"] = Kernels(**data["kernels"])
    return AppSpec(**data)


# ------------------------------------------------------------------------------------------------


class Gateway:
    """State shared by the handlers: the spec, the Voila server, the visitors at once."""

    def __init__(self, spec: AppSpec, voila: VoilaServer) -> None:
        self.spec = spec
        self.voila = voila
        self.ready = asyncio.Event()
        self.failed: str | None = None
        self.pages_in_flight = 0
        self.kernel_sockets = 0

    @property
    def visitors(self) -> int:
        """Pages being rendered plus pages holding a kernel connection."""
        return self.pages_in_flight + self.kernel_sockets

    async def start_voila(self) -> None:
        self.voila.start()
        try:
            await self.voila.wait_ready()
        except RuntimeError as exc:
            self.failed = str(exc)
            log.error("%s", exc)
        self.ready.set()


def _page(title: str, body: str) -> str:
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>{escape(title)}</title></head><body style='font-family:sans-serif;margin:3em'>"
        f"{body}</body></html>"
    )


class ProxyHandler(HubOAuthenticated, websocket.WebSocketHandler):
    """Every path of the tool: policy check, then HTTP or websocket proxy to Voila."""

    SUPPORTED_METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS")  # type: ignore[assignment]

    def initialize(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.spec = gateway.spec
        self.upstream: websocket.WebSocketClientConnection | None = None
        self._status_set = False
        self._counted_page = False

    # -- policy ---------------------------------------------------------------------------------

    @property
    def hub_home(self) -> str:
        return os.environ.get("JUPYTERHUB_BASE_URL", "/").rstrip("/") + "/hub/home"

    @property
    def is_websocket(self) -> bool:
        return self.request.headers.get("Upgrade", "").lower() == "websocket"

    async def _identify(self) -> dict[str, Any] | None:
        """The hub's model of the visitor (from the OAuth cookie), None when not logged in here.

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

    async def _check_access(self) -> bool:
        """Apply the tool's access policy; False when a response (redirect, 403) was sent."""
        if self.spec.access == "public":
            return True
        user = await self._identify()
        self.current_user = user
        if user is None:
            if self.is_websocket or self.request.method not in {"GET", "HEAD"}:
                raise web.HTTPError(403, "log in first")
            # The hub's login; a user the hub does not allow here is refused there (or on redirect).
            self.redirect(self.get_login_url())
            return False
        if not self.spec.may_open(user.get("groups") or []):
            log.warning(
                "%s (groups %s) refused: needs %s", user["name"], user.get("groups"), self.spec.groups
            )
            self.set_status(403)
            self.finish(
                _page(
                    "No access",
                    f"<h1 id='workbench-app-refused'>{escape(self.spec.title)}: no access</h1>"
                    f"<p>You are signed in as <strong>{escape(user['name'])}</strong>. This tool is "
                    f"open to {escape(self.spec.describe_access())}.</p>"
                    f"<p><a href='{escape(self.hub_home)}'>Back to the workbench</a></p>",
                )
            )
            return False
        return True

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        reason = httputil.responses.get(status_code, "Error")
        exc = kwargs.get("exc_info", (None, None, None))[1]
        detail = getattr(exc, "log_message", None) or ""
        self.finish(
            _page(
                reason,
                f"<h1>{status_code} {escape(reason)}</h1><p>{escape(detail)}</p>",
            )
        )

    # -- dispatch -------------------------------------------------------------------------------

    async def _dispatch(self, path: str) -> None:
        if not await self._check_access():
            return
        if path == "" and not self.is_websocket:
            # The tool's stable URL: to its page. The hub's health checks stop here: they neither use
            # a kernel nor wait for Voila (the hub starts its services one after the other).
            query = f"?{self.request.query}" if self.request.query else ""
            self.redirect(f"{self.request.path}{PAGE}{query}")
            return
        if not may_proxy(path):
            raise web.HTTPError(404)
        await self.gateway.ready.wait()
        if self.gateway.failed:
            raise web.HTTPError(503, "this tool failed to start; the hub log says why")
        if self.is_websocket:
            await self._open_upstream_socket()
            await super().get(path)
            return
        await self._proxy_http(path)

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

    # -- HTTP -----------------------------------------------------------------------------------

    def _upstream_headers(self) -> httputil.HTTPHeaders:
        headers = httputil.HTTPHeaders()
        own = self.hub_auth.cookie_name  # the OAuth token cookie and its "-oauth-state" cookies
        for name, value in self.request.headers.get_all():
            lower = name.lower()
            if lower in HOP_HEADERS or lower in {"authorization", "cookie", "origin"}:
                continue
            if lower.startswith("sec-websocket-"):
                continue
            headers.add(name, value)
        cookies = [
            f"{c.key}={c.coded_value}"
            for c in self.request.cookies.values()
            if not c.key.startswith(own) and not c.key.startswith("jupyterhub-")
        ]
        if cookies:
            headers["Cookie"] = "; ".join(cookies)
        # Voila accepts only the gateway, by its token.
        headers["Authorization"] = f"token {self.gateway.voila.token}"
        return headers

    def _on_header(self, line: str) -> None:
        line = line.rstrip("\r\n")
        if not line:
            return
        if line.startswith("HTTP/"):
            parts = line.split(" ", 2)
            self.set_status(int(parts[1]), parts[2] if len(parts) > 2 else None)
            self._clear_representation_headers()
            self._status_set = True
            return
        name, _, value = line.partition(":")
        lower = name.strip().lower()
        if lower in HOP_HEADERS or lower == "server":
            return
        if lower == "set-cookie" and value.strip().startswith("username-"):
            return  # Voila's login cookie for the gateway's token: no use to a browser
        self.add_header(name.strip(), value.strip())

    def _on_chunk(self, chunk: bytes) -> None:
        if self.request.connection is None or self._finished:
            return
        self.write(chunk)
        # A visitor who left: the rest of the page is read from Voila and dropped.
        self.flush().add_done_callback(lambda f: f.exception())

    def _is_page(self, path: str) -> bool:
        return self.request.method == "GET" and path == PAGE

    async def _proxy_http(self, path: str) -> None:
        gw = self.gateway
        if self._is_page(path):
            if gw.visitors >= self.spec.kernels.max:
                self.set_status(503)
                self.set_header("Retry-After", "30")
                self.finish(
                    _page(
                        "Busy",
                        f"<h1 id='workbench-app-busy'>{escape(self.spec.title)} is busy</h1>"
                        f"<p>{self.spec.kernels.max} visitors are using it; please try again in a minute.</p>",
                    )
                )
                return
            gw.pages_in_flight += 1
            self._counted_page = True
        body = self.request.body if self.request.method in {"POST", "PUT", "PATCH", "DELETE"} else None
        request = httpclient.HTTPRequest(
            gw.voila.url + self.request.uri,
            method=self.request.method,
            headers=self._upstream_headers(),
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
                gw.pages_in_flight -= 1
                self._counted_page = False
        if not self._finished:
            with contextlib.suppress(iostream.StreamClosedError):
                self.finish()

    # -- websockets -----------------------------------------------------------------------------

    async def _open_upstream_socket(self) -> None:
        protocols = [
            p.strip() for p in self.request.headers.get("Sec-WebSocket-Protocol", "").split(",") if p.strip()
        ]
        url = "ws" + self.gateway.voila.url[len("http") :] + self.request.uri
        request = httpclient.HTTPRequest(url, headers=self._upstream_headers(), request_timeout=60)
        try:
            self.upstream = await websocket.websocket_connect(
                request,
                subprotocols=protocols or None,
                on_message_callback=self._from_upstream,
                max_message_size=512 * 1024 * 1024,
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
        if KERNEL_SOCKET.search(self.request.path):
            self.gateway.kernel_sockets += 1
            self._counted_page = True

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
        if self.upstream is not None:
            try:
                await self.upstream.write_message(message, binary=isinstance(message, bytes))
            except websocket.WebSocketClosedError:
                self.close()

    def on_close(self) -> None:
        if self._counted_page:
            self.gateway.kernel_sockets -= 1
            self._counted_page = False
        if self.upstream is not None:
            self.upstream.close()
            self.upstream = None


class AddSlashHandler(web.RequestHandler):
    def get(self) -> None:
        self.redirect(self.request.path + "/")


def make_app(gateway: Gateway, prefix: str) -> web.Application:
    """The gateway's Tornado application for a tool served under ``prefix`` (``/services/<name>/``)."""
    # One HubOAuth, configured from the hub's JUPYTERHUB_* variables, shared by every handler; a user
    # model is re-read from the hub after cache_max_age, so a group change applies within it [s].
    hub_auth = HubOAuth.instance(cache_max_age=60)
    settings: dict[str, Any] = {
        "cookie_secret": secrets.token_bytes(32),
        "login_url": hub_auth.login_url,
        "websocket_ping_interval": 30,
    }
    handlers = [
        (prefix.rstrip("/"), AddSlashHandler),
        (prefix + "oauth_callback", HubOAuthCallbackHandler),
        (prefix + "(.*)", ProxyHandler, {"gateway": gateway}),
    ]
    app = web.Application(handlers, **settings)  # type: ignore[arg-type]
    return app


async def _watch_voila(gateway: Gateway, stop: asyncio.Event) -> None:
    """Stop the gateway when Voila is gone: the hub then restarts the tool, Voila included."""
    await gateway.ready.wait()
    while not stop.is_set():
        process = gateway.voila.process
        code = process.poll() if process is not None else None
        if gateway.failed or code is not None:
            log.error(
                "Voila of %s exited (%s): the gateway stops, the hub restarts the tool",
                gateway.spec.name,
                gateway.failed or f"code {code}",
            )
            gateway.failed = gateway.failed or f"Voila exited with code {code}"
            stop.set()
            return
        await asyncio.sleep(1.0)


async def serve(spec: AppSpec) -> int:
    """Run the gateway and its Voila server until SIGTERM or SIGINT (0) or until Voila dies (1)."""
    parent = os.getppid()
    die_with_parent()
    if os.getppid() != parent:  # the hub died before the request took effect
        return 1
    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", spec.url_path)
    bind = urlsplit(os.environ.get("JUPYTERHUB_SERVICE_URL", "http://127.0.0.1:0"))
    gateway = Gateway(spec, VoilaServer(spec, prefix))
    app = make_app(gateway, prefix)
    server = app.listen(bind.port or 0, address=bind.hostname or "127.0.0.1", xheaders=True)
    log.info("%s (%s) on %s%s, access %s", spec.name, spec.title, bind.netloc, prefix, spec.describe_access())
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    starting = asyncio.create_task(gateway.start_voila())
    watching = asyncio.create_task(_watch_voila(gateway, stop))
    try:
        await stop.wait()
    finally:
        server.stop()
        starting.cancel()
        watching.cancel()
        gateway.voila.stop()
    return 1 if gateway.failed else 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the managed service: ``python -m workbench.apps.gateway``."""
    parser = argparse.ArgumentParser(
        prog="python -m workbench.apps.gateway", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--spec", help=f"the tool's spec as JSON (default: ${SPEC_ENV})")
    args = parser.parse_args(argv)
    text = args.spec or os.environ.get(SPEC_ENV)
    if not text:
        parser.error(f"no spec: pass --spec or set {SPEC_ENV}")
    logging.basicConfig(
        level=logging.INFO, format="[%(levelname).1s %(asctime)s gateway] %(message)s", datefmt="%H:%M:%S"
    )
    return asyncio.run(serve(spec_from_json(text)))


if __name__ == "__main__":
    raise SystemExit(main())
