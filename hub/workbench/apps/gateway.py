"""The gateway of one published tool: the entry point of the hub-managed service
(``python -m workbench.apps.gateway``).

The hub starts one gateway per tool on the service's URL. The gateway starts the tool's Voila server
(:mod:`workbench.apps.voila`: a local process, or a container of the lab image) and serves the tool's
URL with two handlers, each behind the policy of its ``app.yaml`` (:mod:`workbench.apps.gatekeeper`):

- :class:`~workbench.apps.ws_proxy.KernelSocketHandler`: the kernel websockets, through the filter of
  :mod:`workbench.apps.messages` (only widget messages reach the kernel);
- :class:`~workbench.apps.http_proxy.HttpProxyHandler`: everything else (the page, its assets, the
  kernel API; Voila's other paths answer 404);

and ``metrics`` (:mod:`workbench.apps.metrics`) for Prometheus, to a token with ``read:metrics`` only.

Policies: ``public`` (no check); ``logged-in`` (the hub identifies the visitor with ``HubOAuth`` and
grants the scope ``access:services!service=<name>``); ``groups`` (as logged-in, and one of the tool's
groups; others get a 403 page naming them). ``kernels.max`` caps the visitors at once (503 "busy").

Everything the gateway needs comes from the hub's ``JUPYTERHUB_*`` variables and from
``WORKBENCH_APP_SPEC`` and ``WORKBENCH_APP_LAUNCH`` (:mod:`workbench.apps.handover`).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import secrets
import signal
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from jupyterhub.services.auth import HubOAuth, HubOAuthCallbackHandler
from tornado import web

from workbench import logs
from workbench.apps.gatekeeper import ToolState
from workbench.apps.handover import LAUNCH_ENV, SPEC_ENV, Launch, launch_from_json, spec_from_json
from workbench.apps.http_proxy import HttpProxyHandler
from workbench.apps.metrics import MetricsHandler
from workbench.apps.spec import AppSpec
from workbench.apps.voila import die_with_parent, launcher_for
from workbench.apps.ws_proxy import KernelSocketHandler

log = logging.getLogger("workbench.apps.gateway")


class AddSlashHandler(web.RequestHandler):
    def get(self) -> None:
        self.redirect(self.request.path + "/")


def make_app(state: ToolState, prefix: str) -> web.Application:
    """The gateway's Tornado application for a tool served under ``prefix`` (``/services/<name>/``)."""
    # One HubOAuth, configured from the hub's JUPYTERHUB_* variables, shared by every handler; a user
    # model is re-read from the hub after cache_max_age, so a group change applies within it [s].
    hub_auth = HubOAuth.instance(cache_max_age=60)
    settings: dict[str, Any] = {
        "cookie_secret": secrets.token_bytes(32),
        "login_url": hub_auth.login_url,
        "websocket_ping_interval": 30,
        "compress_response": True,
        "log_function": logs.access_log,
    }
    handlers = [
        (prefix.rstrip("/"), AddSlashHandler),
        (prefix + "oauth_callback", HubOAuthCallbackHandler),
        (prefix + "metrics", MetricsHandler, {"state": state, "hub_auth": hub_auth}),
        (prefix + "(api/kernels/[^/]+/channels)", KernelSocketHandler, {"state": state}),
        (prefix + "(.*)", HttpProxyHandler, {"state": state}),
    ]
    return web.Application(handlers, **settings)  # type: ignore[arg-type]


async def _watch_voila(state: ToolState, stop: asyncio.Event) -> None:
    """Stop the gateway when Voila is gone: the hub then restarts the tool, Voila included."""
    await state.ready.wait()
    while not stop.is_set():
        code = await asyncio.to_thread(state.voila.exit_code)
        if state.failed or code is not None:
            log.error(
                "Voila of %s exited (%s): the gateway stops, the hub restarts the tool",
                state.spec.name,
                state.failed or f"code {code}",
            )
            state.failed = state.failed or f"Voila exited with code {code}"
            stop.set()
            return
        await asyncio.sleep(1.0)


async def serve(spec: AppSpec, launch: Launch, environ: Mapping[str, str]) -> int:
    """Run the gateway and its Voila server until SIGTERM or SIGINT (0) or until Voila dies (1).

    Parameters
    ----------
    spec, launch
        The tool and how its Voila runs (from the hub).
    environ
        The gateway's environment: the hub's ``JUPYTERHUB_*`` variables of the service, and what a
        local Voila inherits (``PATH``…).
    """
    parent = os.getppid()
    die_with_parent()
    if os.getppid() != parent:  # the hub died before the request took effect
        return 1
    prefix = environ.get("JUPYTERHUB_SERVICE_PREFIX", spec.url_path)
    bind = urlsplit(environ.get("JUPYTERHUB_SERVICE_URL", "http://127.0.0.1:0"))
    hub_home = environ.get("JUPYTERHUB_BASE_URL", "/").rstrip("/") + "/hub/home"
    voila = launcher_for(spec, prefix, launch, environ)
    state = ToolState(
        spec,
        voila,
        kernel_filter=launch.kernel_filter,
        hub_home=hub_home,
        allowed_groups=launch.allowed_groups,
        admin_groups=launch.admin_groups,
    )
    app = make_app(state, prefix)
    server = app.listen(bind.port or 0, address=bind.hostname or "127.0.0.1", xheaders=True)
    log.info(
        "%s (%s) on %s%s, access %s, kernel message filter %s",
        spec.name,
        spec.title,
        bind.netloc,
        prefix,
        spec.describe_access(),
        "on" if launch.kernel_filter else "OFF",
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    starting = asyncio.create_task(state.start_voila())
    watching = asyncio.create_task(_watch_voila(state, stop))
    try:
        await stop.wait()
    finally:
        server.stop()
        starting.cancel()
        watching.cancel()
        await asyncio.to_thread(voila.stop)
    return 1 if state.failed else 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the managed service: ``python -m workbench.apps.gateway``."""
    parser = argparse.ArgumentParser(
        prog="python -m workbench.apps.gateway", description=(__doc__ or "").split("\n")[0]
    )
    parser.add_argument("--spec", help=f"the tool's spec as JSON (default: ${SPEC_ENV})")
    parser.add_argument("--launch", help=f"how to run its Voila, as JSON (default: ${LAUNCH_ENV})")
    args = parser.parse_args(argv)
    environ = dict(os.environ)
    text = args.spec or environ.get(SPEC_ENV)
    if not text:
        parser.error(f"no spec: pass --spec or set {SPEC_ENV}")
    launch_text = args.launch or environ.get(LAUNCH_ENV)
    launch = launch_from_json(launch_text) if launch_text else Launch()
    spec = spec_from_json(text)
    logs.configure(
        f"tool:{spec.name}",
        environ.get("WORKBENCH_LOG_FORMAT", "text"),
        environ.get("WORKBENCH_LOG_LEVEL", "INFO"),
        text_format="[%(levelname).1s %(asctime)s gateway] %(message)s",
    )
    return asyncio.run(serve(spec, launch, environ))


if __name__ == "__main__":
    raise SystemExit(main())
