"""Chromium kept on the machine: every request to a host other than loopback is blocked and recorded.

Two locks, so that nothing can leave even if one of them misses a kind of request:

- the browser's proxy is a closed loopback port (``--proxy-server``): Chromium sends everything that is
  not loopback (HTTP, websockets, IP literals, its own background requests) there, and it fails;
  loopback itself bypasses proxies (Chromium's implicit rule), so the workbench is reached directly;
- every request of every page goes through a Playwright route (:meth:`OfflineGuard.attach`) that lets
  loopback through and aborts, and records, anything else; websockets are recorded likewise.

A test asserts ``guard.leaks == []`` at its end (:meth:`OfflineGuard.check`).
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

LOCAL_SCHEMES = frozenset({"data", "blob", "about", "chrome", "chrome-extension", "devtools"})


def _closed_port() -> int:
    """A loopback port nothing listens on (bound and released: nothing else takes it at once)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def offline_args() -> list[str]:
    """Chromium flags sending everything that is not loopback to a closed loopback port."""
    return [f"--proxy-server=http://127.0.0.1:{_closed_port()}"]


def is_loopback(url: str) -> bool:
    """Whether ``url`` stays on the machine (a loopback host, or a browser-internal scheme)."""
    parts = urlsplit(url)
    if parts.scheme in LOCAL_SCHEMES:
        return True
    host = (parts.hostname or "").strip("[]")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass
class OfflineGuard:
    """Blocks and records the requests of a browser context that would leave the machine."""

    leaks: list[str] = field(default_factory=list)
    requests: int = 0

    def attach(self, context: Any) -> Any:
        """Route every request of ``context`` (a Playwright ``BrowserContext``) through the guard."""
        context.route("**/*", self._route)
        context.on("page", self._watch_page)
        for page in context.pages:
            self._watch_page(page)
        return context

    def _route(self, route: Any) -> None:
        url = route.request.url
        self.requests += 1
        if is_loopback(url):
            route.continue_()
        else:
            self.leaks.append(url)
            route.abort("blockedbyclient")

    def _watch_page(self, page: Any) -> None:
        page.on("websocket", lambda ws: None if is_loopback(ws.url) else self.leaks.append(ws.url))

    def check(self) -> None:
        """Fail if any request tried to leave the machine (and say which)."""
        assert self.leaks == [], f"requests leaving the machine: {self.leaks}"
        assert self.requests > 0, "the guard saw no request at all: it is not attached"
