"""The gateway's pure parts: the policy decision, its pages (escaping, headers), the nonce injector,
the sandbox's plan, the launch the hub hands over, the container a tool runs in."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from workbench import look
from workbench.apps import pages
from workbench.apps.handover import Launch, launch_from_json, launch_to_json
from workbench.apps.hub import launch_for
from workbench.apps.launch_container import ContainerVoila
from workbench.apps.launch_local import UID_SPAN, private_numba_cache, tool_uid
from workbench.apps.policy import decide
from workbench.apps.sandbox import plan
from workbench.apps.spec import AppSpec
from workbench.runas import JOVYAN, container_user, user_spec
from workbench.settings import Settings


def spec(access: str = "public", groups: tuple[str, ...] = (), title: str = "Tool") -> AppSpec:
    return AppSpec(name="tool", title=title, directory=Path("/srv/x"), access=access, groups=groups)


ALLOWED = ["swe", "debris", "neo", "operators", "admins"]
ADMINS = ["admins"]


@pytest.mark.parametrize(
    ("access", "groups", "user", "can_redirect", "outcome"),
    [
        ("public", (), None, False, "allow"),
        ("logged-in", (), None, True, "login"),
        ("logged-in", (), None, False, "refuse"),  # a websocket or a POST cannot be sent to log in
        ("logged-in", (), {"name": "a", "groups": ["swe"]}, True, "allow"),
        ("logged-in", (), {"name": "a", "groups": []}, True, "refuse"),  # in none of the workbench's groups
        ("logged-in", (), {"name": "a", "groups": ["partners"]}, True, "refuse"),
        ("groups", ("debris",), {"name": "a", "groups": ["debris"]}, True, "allow"),
        # one rule for tools and jobs: the admin groups reach every segment's
        ("groups", ("debris",), {"name": "a", "groups": ["admins"]}, True, "allow"),
        ("groups", ("debris",), {"name": "a", "groups": ["neo"]}, True, "refuse"),
        ("groups", ("debris",), {"name": "a", "groups": ["operators"]}, True, "refuse"),
        ("groups", ("debris",), None, True, "login"),
    ],
)
def test_policy(
    access: str, groups: tuple[str, ...], user: dict | None, can_redirect: bool, outcome: str
) -> None:
    assert (
        decide(
            spec(access, groups), user, can_redirect=can_redirect, allowed_groups=ALLOWED, admin_groups=ADMINS
        ).outcome
        == outcome
    )


def test_pages_escape_what_they_show() -> None:
    nonce = pages.new_nonce()
    html = pages.render(
        "refused.html",
        nonce=nonce,
        tool='<script>alert("t")</script>',
        title="<b>",
        user="<img src=x onerror=alert(1)>",
        reason="<svg onload=alert(2)>",
        home="javascript:alert(3)' x='",
    )
    assert "<script>alert" not in html and "<img src=x" not in html and "<svg" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert 'href="javascript:alert(3)&#39; x=&#39;"' in html  # an attribute stays one attribute
    assert f'<style nonce="{nonce}">' in html
    # the workbench's one look: the hub's navigation with the visitor's name, a meaningful title
    assert '<a class="wb-navlink" id="workbench-logout" href="/hub/logout">' in html
    assert '<span class="wb-user" id="workbench-user">&lt;img src=x onerror=alert(1)&gt;</span>' in html
    assert "<title>&lt;b&gt; · S2P Workbench</title>" in html
    error = pages.render(
        "error.html", nonce=nonce, title="x", status=404, reason="Not Found", detail="<i>x</i>"
    )
    assert "&lt;i&gt;x&lt;/i&gt;" in error


def test_header_sets() -> None:
    own = pages.own_page_headers("n0")
    assert "script-src" not in own["Content-Security-Policy"] and own["X-Frame-Options"] == "DENY"
    voila = pages.voila_headers("n1")
    assert "script-src 'self' 'nonce-n1'" in voila["Content-Security-Policy"]
    for headers in (own, voila):
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert "frame-ancestors" in headers["Content-Security-Policy"]


@pytest.mark.parametrize("chunk", [1, 2, 3, 5, 7, 8, 13, 1000])
def test_nonce_injector_finds_tags_split_across_chunks(chunk: int) -> None:
    doc = (
        b"<html><SCRIPT>a()</SCRIPT><script src='x.js'></script><scripts>no</scripts>"
        b"<script\ntype='module'>b()</script><p>&lt;script&gt;</p><script/>"
    )
    injector = pages.NonceInjector("N")
    out = b"".join(injector.feed(doc[i : i + chunk]) for i in range(0, len(doc), chunk)) + injector.close()
    assert out.count(b' nonce="N"') == 4
    assert re.sub(rb' nonce="N"', b"", out) == doc
    assert b"<scripts>" in out and b'<scripts nonce="N">' not in out


@pytest.mark.parametrize("chunk", [1, 4, 9, 50, 100, 10_000])
def test_a_tool_page_gets_its_title_and_the_hubs_font_awesome(chunk: int) -> None:
    doc = (
        b"<html><head><title>app</title>\n"
        b'  <link rel="stylesheet" href="https://cdn.jsdelivr.net/npm/@fortawesome/fontawesome-free@^5/css/all.min.css" />\n'
        b'  <link rel="stylesheet" href="https://cdn.jsdelivr.net/npm/@fortawesome/fontawesome-free@^5/css/v4-shims.min.css" />\n'
        b'  <link rel="stylesheet" href="https://cdn.jsdelivr.net/npm/font-awesome@4.5.0/css/font-awesome.min.css" />\n'
        b"</head><body><p>the <title>app</title> stays in the body</p></body></html>"
    )
    injector = pages.NonceInjector("N", hub_prefix="/hub/", title="Lowest <risk> & more")
    out = b"".join(injector.feed(doc[i : i + chunk]) for i in range(0, len(doc), chunk)) + injector.close()
    assert b"cdn.jsdelivr.net" not in out and b"https://" not in out
    fa = b"/hub/static/components/@fortawesome/fontawesome-free/css/"
    assert out.count(fa + b"all.min.css") == 2 and out.count(fa + b"v4-shims.min.css") == 1
    assert out.startswith(b"<html><head><title>Lowest &lt;risk&gt; &amp; more \xc2\xb7 S2P Workbench</title>")
    assert out.endswith(b"<p>the <title>app</title> stays in the body</p></body></html>")


@pytest.mark.parametrize("chunk", [1, 7, 50, 10_000])
@pytest.mark.parametrize("user", ["<img src=x onerror=alert(1)>", None])
def test_a_tool_page_opens_with_the_hubs_navigation(chunk: int, user: str | None) -> None:
    doc = b'<html><head><title>app</title></head>\n<body class="jp-Notebook" data-x="1">\n<p>cells</p></body></html>'
    banner = look.banner("/prefix/hub/", user)
    injector = pages.NonceInjector("N", banner=banner)
    out = b"".join(injector.feed(doc[i : i + chunk]) for i in range(0, len(doc), chunk)) + injector.close()
    head, _, body = out.partition(b'<body class="jp-Notebook" data-x="1">')
    assert body.startswith(b"<style>.wb-nav") or body.startswith(b"<style>/*"), body[:80]
    assert out.count(b'id="workbench-nav"') == 1 and b'href="/prefix/hub/home"' in body
    assert body.endswith(b"\n<p>cells</p></body></html>")
    if user is None:  # an anonymous visitor of a public tool is offered the login
        assert b'id="workbench-login" href="/prefix/hub/login"' in body and b"workbench-user" not in body
    else:  # the name is text, never markup
        assert b"<img src=x" not in out and b"&lt;img src=x onerror=alert(1)&gt;" in body
        assert b'id="workbench-logout"' in body


def test_tool_uids_are_stable_distinct_and_in_range(tmp_path: Path) -> None:
    a = tool_uid(1_900_000_000, tmp_path / "one", "geomagnetic-storms")
    assert a == tool_uid(1_900_000_000, tmp_path / "one", "geomagnetic-storms")
    assert a != tool_uid(1_900_000_000, tmp_path / "two", "geomagnetic-storms")
    assert a != tool_uid(1_900_000_000, tmp_path / "one", "neo-risk-list")
    assert 1_900_000_000 <= a < 1_900_000_000 + UID_SPAN


def test_sandbox_plan_opens_closed_directories_on_the_way(tmp_path: Path) -> None:
    closed = tmp_path / "closed"
    (closed / "inner" / "tool").mkdir(parents=True)
    (closed / "secret").mkdir()
    (closed / "inner" / "tool" / "app.ipynb").write_text("{}")
    (closed / "inner" / "tool" / "private.txt").write_text("x")
    os.chmod(tmp_path, 0o755)
    os.chmod(closed, 0o700)
    os.chmod(closed / "inner", 0o711)  # searchable, not listable: no opening needed
    os.chmod(closed / "inner" / "tool", 0o755)
    os.chmod(closed / "inner" / "tool" / "private.txt", 0o600)
    uid = 1_900_000_007
    steps = plan(uid, [closed / "inner" / "tool", closed / "inner" / "tool" / "app.ipynb"])
    assert {p: e for p, e in steps.openings.items() if p.is_relative_to(tmp_path)} == {closed: {"inner"}}
    assert steps.unreadable is None
    assert (
        plan(uid, [closed / "inner" / "tool" / "private.txt"]).unreadable
        == closed / "inner" / "tool" / "private.txt"
    )


def test_launch_follows_the_spawner(tmp_path: Path) -> None:
    s = spec()
    local = launch_for(s, Settings.from_env({}, state_dir=tmp_path / "state"))
    assert local.runtime == "local" and local.hidden == [str(tmp_path / "state")]
    assert local.local_uid == tool_uid(1_900_000_000, tmp_path / "state", "tool")
    assert launch_from_json(launch_to_json(local)) == local
    docker = launch_for(
        s,
        Settings.from_env(
            {"WORKBENCH_SPAWNER": "docker", "WORKBENCH_APPS_MEMORY": "2G"}, state_dir=tmp_path / "s"
        ),
    )
    assert docker.runtime == "container" and docker.image == "s2p-workbench/lab:latest"
    assert docker.memory_bytes == 2 << 30 and re.fullmatch(
        r"s2p-[0-9a-f]{6}-tool-tool", docker.container_name
    )
    assert docker.kernel_filter is True and "WORKBENCH_APPS_KERNEL_FILTER" not in docker.environment
    # Voila's configuration is written where the engine can mount it from (the hub in a container too)
    assert docker.config_dir == str(tmp_path / "s" / "apps" / "config")
    with pytest.raises(ValueError, match="runtime"):
        Launch(runtime="vm")


def test_tool_container_holds_only_the_tool_and_the_data(tmp_path: Path) -> None:
    launch = Launch(
        runtime="container",
        image="s2p-workbench/lab:latest",
        container_name="s2p-abc123-tool-tool",
        data_dir="/srv/data",
        environment={"WORKBENCH_DATA_DIR": "/srv/data", "WORKBENCH_DATA_LIVE": "1"},
        memory_bytes=1 << 30,
    )
    voila = ContainerVoila(spec(), "/services/tool/", launch)
    kwargs = voila.run_kwargs(tmp_path / "voila.json")
    assert kwargs["user"] == user_spec(container_user()) and kwargs["cap_drop"] == ["ALL"]
    assert kwargs["security_opt"] == ["no-new-privileges"] and kwargs["network_mode"] == "host"
    assert kwargs["init"] is True and kwargs["pids_limit"] > 0 and kwargs["mem_limit"] == 1 << 30
    assert {v["bind"]: v["mode"] for v in kwargs["volumes"].values()} == {
        "/srv/tool": "ro",
        "/etc/workbench-voila/voila.json": "ro",
        "/data": "ro",
    }
    assert kwargs["environment"]["WORKBENCH_DATA_DIR"] == "/data"
    assert ("HOME" in kwargs["environment"]) is (container_user() != JOVYAN)  # the image's user has one
    assert not [k for k in kwargs["environment"] if "JUPYTERHUB" in k or "TOKEN" in k or "SECRET" in k]
    assert f"--port={voila.port}" in kwargs["command"] and "--base_url=/services/tool/" in kwargs["command"]


def test_a_sandboxed_tool_gets_its_own_copy_of_the_warmed_numba_cache(tmp_path: Path) -> None:
    source = tmp_path / "numba-cache" / "neo_abc"
    source.mkdir(parents=True)
    (source / "moid.nbi").write_bytes(b"index")
    (source / "moid.nbc").write_bytes(b"code")
    home = tmp_path / "home"
    home.mkdir()
    uid = os.geteuid()  # as root the copy is handed to the tool's uid; here: whoever runs the test
    copy = private_numba_cache(home, uid, tmp_path / "numba-cache")
    assert copy == home / ".numba-cache"
    assert (copy / "neo_abc" / "moid.nbc").read_bytes() == b"code"
    assert all(p.stat().st_uid == uid for p in [copy, *copy.rglob("*")])
    # a tool's write lands in its copy, never in the environment's cache other tools and labs load
    (copy / "neo_abc" / "moid.nbc").write_bytes(b"tampered")
    assert (source / "moid.nbc").read_bytes() == b"code"
    assert private_numba_cache(home / "other", uid, tmp_path / "absent") is None
