"""A real HTTP server on 127.0.0.1 that plays the data providers, for the catalog and fetch tests.

Routes are the providers' URL paths *with* their query (``/NORAD/elements/gp.php?GROUP=geo&...``),
so one server stands in for every provider once URLs are rewritten to its base URL. Each route
can misbehave on purpose: ``cut`` announces the full length and closes half-way, ``wrong``
serves other bytes, ``flaky`` cuts the first request only, ``html`` answers an error page with
status 200, ``status:NNN`` answers that status.
"""

from __future__ import annotations

import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit


def route_of(url: str) -> str:
    """The server route for a provider URL: its path plus ``?query`` when there is one."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


class DataMirror:
    """Serve ``{route: bytes}`` on 127.0.0.1; use as a context manager."""

    def __init__(self, files: dict[str, bytes] | None = None):
        self.files: dict[str, bytes] = dict(files or {})
        self.modes: dict[str, str] = {}
        self.hits: Counter[str] = Counter()
        mirror = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # keep pytest output clean
                pass

            def do_HEAD(self) -> None:
                # Real providers answer HEAD (fsspec asks for the size first); not counted as a hit.
                body = mirror.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()

            def do_GET(self) -> None:
                route = self.path
                mirror.hits[route] += 1
                body = mirror.files.get(route)
                mode = mirror.modes.get(route, "ok")
                if body is None:
                    self.send_error(404)
                    return
                if mode.startswith("status:"):
                    self.send_error(int(mode.split(":")[1]))
                    return
                if mode == "html":
                    body = b"<html><body>Service temporarily unavailable</body></html>"
                if mode == "wrong":
                    body = body[:-64] + b"# tampered\n" * 6 + body[-4:]
                cut = mode == "cut" or (mode == "flaky" and mirror.hits[route] == 1)
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if cut:
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> DataMirror:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
