"""A browser-less user: the requests a browser makes for a workbench user, with the browser's cookies.

Everything goes through the workbench's public URL (the proxy) with what a browser holds, never with an
admin token: the IdP's login form (:func:`tests.e2e.harness.login_via_idp`), the hub's spawn page,
JupyterLab's REST and kernel websocket API with the lab's ``_xsrf`` cookie echoed in ``X-XSRFToken``
and the ``Sec-Fetch-*`` headers a browser adds (JupyterHub decides on them whether a cookie request
needs the XSRF check), the contents API, the hub's REST API from the home page, and the logout.

Stable API (tests and ``bench/`` build on it)::

    user = WebUser(wb.url, "neo-analyst", "dev-neo-analyst")
    user.login()                        # raises WebUserError unless on the hub's home page
    user.start_lab()                    # the spawn page, then JupyterLab's page
    kernel = user.start_kernel()
    with user.kernel_socket(kernel) as ws:
        out = user.execute(ws, "x = 41; print(x + 1)")
    user.save_notebook("a.ipynb", notebook_json); user.read_notebook("a.ipynb")
    user.stop_lab(); user.logout()
"""

from __future__ import annotations

import contextlib
import re
import time
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import requests
import websocket

from tests.e2e.harness import execute_over, login_via_idp

SPAWN_BOUND_S = 300.0
KERNEL_BOUND_S = 180.0
HTTP_TIMEOUT_S = 120.0
SOCKET_ATTEMPTS = 3
"""Connections of a kernel's websocket tried before giving up (each waits ``timeout``), as JupyterLab retries."""

XHR = {"Sec-Fetch-Mode": "cors", "Sec-Fetch-Site": "same-origin"}
"""What a browser adds to a script's request to its own origin."""


class WebUserError(AssertionError):
    """The workbench did not give the user what they asked for (the message says what it gave)."""


class KernelError(WebUserError):
    """The code raised in the kernel."""


def describe(response: requests.Response) -> str:
    """One line: status, path and the start of the body."""
    text = " ".join(response.text.split())[:300]
    return f"HTTP {response.status_code} at {urlsplit(response.url).path}: {text}"


class WebUser:
    """One user of the workbench with a browser's cookie jar.

    Parameters
    ----------
    url
        The workbench's public URL.
    username, password
        The IdP login.
    """

    def __init__(self, url: str, username: str, password: str) -> None:
        self.url = url.rstrip("/")
        self.username = username
        self.password = password
        self.session = requests.Session()

    # -- hub ------------------------------------------------------------------------------------------

    @property
    def lab(self) -> str:
        """The user's server URL (``…/user/<name>``)."""
        return f"{self.url}/user/{self.username}"

    def login(self) -> requests.Response:
        """The IdP's form through the hub's redirects; returns the hub's home page."""
        login = login_via_idp(self.url, self.username, self.password, session=self.session)
        if not login.ok:
            raise WebUserError(f"login of {self.username}: {describe(login.response)}")
        return login.response

    def hub_headers(self) -> dict[str, str]:
        """Headers of a hub page's script: the hub's XSRF token and the fetch metadata."""
        return {"X-XSRFToken": self.session.cookies.get("_xsrf", path="/hub/") or "", **XHR}

    def hub_api(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """The hub's REST API (``/hub/api`` + ``path``) with the login cookie, as the home page calls it."""
        headers = {**self.hub_headers(), **kwargs.pop("headers", {})}
        return self.session.request(
            method, f"{self.url}/hub/api{path}", headers=headers, timeout=HTTP_TIMEOUT_S, **kwargs
        )

    def server(self) -> dict[str, Any] | None:
        """The hub's model of the user's default server, or None when it has none."""
        r = self.hub_api("GET", f"/users/{self.username}")
        if r.status_code != 200:
            raise WebUserError(f"reading {self.username}: {describe(r)}")
        return dict(r.json().get("servers", {}).get("") or {}) or None

    def start_lab(self, bound: float = SPAWN_BOUND_S) -> None:
        """The spawn page (its first profile when a form is shown), then wait for JupyterLab's page."""
        s, name = self.session, self.username
        form = s.get(f"{self.url}/hub/spawn/{name}", timeout=HTTP_TIMEOUT_S)
        if form.status_code >= 400:
            raise WebUserError(f"spawn page: {describe(form)}")
        # The form's _xsrf field, or (JupyterHub 6's spawn page has none) the page's jhdata.xsrf_token,
        # which the page's script sends with the form.
        xsrf = re.search(r'name="_xsrf"\s+value="([^"]+)"', form.text) or re.search(
            r'xsrf_token:\s*"([^"]+)"', form.text
        )
        if "/user/" not in form.url and xsrf and 'id="spawn_form"' in form.text:  # a spawn form is shown
            data = {"_xsrf": xsrf.group(1)}
            first = re.search(r'name="profile" value="([^"]+)"', form.text)
            if first:
                data["profile"] = first.group(1)
            # A browser submitting the form: the hub's XSRF check accepts a same-origin navigation.
            navigate = {"Sec-Fetch-Mode": "navigate", "Sec-Fetch-Site": "same-origin"}
            r = s.post(f"{self.url}/hub/spawn/{name}", data=data, headers=navigate, timeout=HTTP_TIMEOUT_S)
            if r.status_code >= 400:
                raise WebUserError(f"spawn: {describe(r)}")
        self.wait_lab(bound)

    def wait_lab(self, bound: float = SPAWN_BOUND_S) -> requests.Response:
        """Poll JupyterLab's page (following the hub's redirects and the lab's OAuth) until it is served."""
        deadline = time.monotonic() + bound
        last = ""
        while time.monotonic() < deadline:
            r = self.session.get(f"{self.lab}/lab", timeout=HTTP_TIMEOUT_S)
            if r.status_code == 200 and f"/user/{self.username}/" in r.url and "JupyterLab" in r.text:
                return r
            last = describe(r)
            time.sleep(0.5)
        raise WebUserError(f"JupyterLab of {self.username} not served after {bound:.0f} s (last: {last})")

    def stop_lab(self, bound: float = SPAWN_BOUND_S) -> None:
        """The home page's "Stop My Server": the REST call, then wait until the server is gone."""
        r = self.hub_api("DELETE", f"/users/{self.username}/server")
        if r.status_code not in {202, 204}:
            raise WebUserError(f"stopping the lab: {describe(r)}")
        deadline = time.monotonic() + bound
        while time.monotonic() < deadline:
            if self.server() is None:
                return
            time.sleep(0.5)
        raise WebUserError(f"server of {self.username} still there after {bound:.0f} s")

    def new_token(self, note: str, expires_in: int = 3600) -> tuple[str, str]:
        """A hub API token of the user's own, as the hub's Token page makes it: (token, id)."""
        r = self.hub_api(
            "POST", f"/users/{self.username}/tokens", json={"note": note, "expires_in": expires_in}
        )
        if r.status_code != 201:
            raise WebUserError(f"no API token: {describe(r)}")
        return str(r.json()["token"]), str(r.json()["id"])

    def logout(self) -> None:
        """The hub's logout (and the IdP's); afterwards the home page asks for a login."""
        r = self.session.get(f"{self.url}/hub/logout", timeout=60)
        if r.status_code >= 400:
            raise WebUserError(f"logout: {describe(r)}")
        home = self.session.get(f"{self.url}/hub/home", timeout=60, allow_redirects=False)
        if home.status_code != 302 or "login" not in home.headers.get("Location", ""):
            raise WebUserError(f"still logged in after logout: HTTP {home.status_code}")

    # -- the lab ------------------------------------------------------------------------------------

    def lab_headers(self) -> dict[str, str]:
        """Headers of JupyterLab's requests: the lab's XSRF token and the fetch metadata."""
        return {"X-XSRFToken": self.session.cookies.get("_xsrf", path=f"/user/{self.username}/") or "", **XHR}

    def lab_api(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """The lab's REST API (``/user/<name>/api`` + ``path``) with the cookies, as JupyterLab calls it."""
        headers = {**self.lab_headers(), **kwargs.pop("headers", {})}
        return self.session.request(
            method, f"{self.lab}/api{path}", headers=headers, timeout=HTTP_TIMEOUT_S, **kwargs
        )

    def start_kernel(self) -> str:
        """A new python3 kernel; its id."""
        r = self.lab_api("POST", "/kernels", json={"name": "python3"})
        if r.status_code != 201:
            raise WebUserError(f"starting a kernel: {describe(r)}")
        return str(r.json()["id"])

    def delete_kernel(self, kernel: str) -> None:
        self.lab_api("DELETE", f"/kernels/{kernel}")

    @contextlib.contextmanager
    def kernel_socket(self, kernel: str, timeout: float = 30.0) -> Iterator[websocket.WebSocket]:
        """The kernel's websocket through the proxy, authenticated by the login cookie as in a browser."""
        cookie = "; ".join(f"{c.name}={c.value}" for c in self.session.cookies)
        url = "ws" + self.lab[len("http") :] + f"/api/kernels/{kernel}/channels"
        # over HTTPS, the CA the session trusts (the stack's own)
        sslopt = {"ca_certs": self.session.verify} if isinstance(self.session.verify, str) else None
        for attempt in range(1, SOCKET_ATTEMPTS + 1):
            try:
                ws = websocket.create_connection(
                    url,
                    header=[f"Cookie: {cookie}", "Sec-Fetch-Mode: websocket"],
                    timeout=timeout,
                    sslopt=sslopt,
                )
                break
            except websocket.WebSocketTimeoutException:
                # JupyterLab reconnects a kernel's socket that timed out; so does this user
                if attempt == SOCKET_ATTEMPTS:
                    raise
        try:
            yield ws
        finally:
            ws.close()

    def execute(self, ws: websocket.WebSocket, code: str, *, bound: float = KERNEL_BOUND_S) -> str:
        """Run ``code`` on the kernel behind ``ws``; return its stdout and results, in order.

        Raises
        ------
        KernelError
            If the code raised (``ename: evalue``).
        WebUserError
            If the kernel gave no answer within ``bound`` [s].
        """
        try:
            out, error = execute_over(
                ws, code, time.monotonic() + bound, username="webuser", store_history=True
            )
        except TimeoutError:
            raise WebUserError(f"no answer from the kernel within {bound:.0f} s") from None
        if error is not None:
            raise KernelError(f"{error['ename']}: {error['evalue']}")
        return out

    def run(self, code: str, *, bound: float = KERNEL_BOUND_S) -> str:
        """Run ``code`` in a new kernel (REST + websocket), delete the kernel; return the output."""
        kernel = self.start_kernel()
        try:
            with self.kernel_socket(kernel) as ws:
                return self.execute(ws, code, bound=bound)
        finally:
            self.delete_kernel(kernel)

    def save_notebook(self, path: str, notebook: dict[str, Any]) -> requests.Response:
        """Save ``notebook`` at ``path`` of the user's home (contents API); returns the answer as is."""
        folder = path.rpartition("/")[0]
        if folder:
            self.lab_api("PUT", f"/contents/{folder}", json={"type": "directory"})
        return self.lab_api(
            "PUT", f"/contents/{path}", json={"type": "notebook", "format": "json", "content": notebook}
        )

    def read_notebook(self, path: str) -> dict[str, Any]:
        r = self.lab_api("GET", f"/contents/{path}")
        if r.status_code != 200:
            raise WebUserError(f"reading {path}: {describe(r)}")
        return dict(r.json()["content"])


def notebook(source: str, output: str = "") -> dict[str, Any]:
    """A one-cell notebook (nbformat 4.5) with ``source`` and a stdout ``output``."""
    cell = {
        "cell_type": "code",
        "execution_count": 1,
        "id": uuid.uuid4().hex[:8],
        "metadata": {},
        "source": source,
        "outputs": [{"output_type": "stream", "name": "stdout", "text": output}] if output else [],
    }
    return {
        "cells": [cell],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
