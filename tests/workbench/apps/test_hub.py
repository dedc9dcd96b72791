"""configure_hub: one service per valid tool, the access scopes of each policy, the home page list."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest
from jupyterhub import orm
from traitlets.config import Config, LazyConfigValue

from tests.support import ROOT
from workbench.apps.handover import LAUNCH_ENV, SPEC_ENV, launch_from_json, spec_from_json, spec_to_json
from workbench.apps.hub import GROUPS_SCOPE, configure_hub
from workbench.apps.spec import discover
from workbench.apps.voila import voila_config
from workbench.secrets import ensure_secrets
from workbench.settings import Settings


@pytest.fixture()
def apps_dir(tmp_path: Path) -> Path:
    d = tmp_path / "voila-apps"
    shutil.copytree(ROOT / "voila-apps", d)
    return d


def _value(lazy: object, default: object) -> object:
    """A config value as the hub will see it (an update() on an unset value is lazy)."""
    return lazy.get_value(default) if isinstance(lazy, LazyConfigValue) else lazy


def _configure(tmp_path: Path, apps_dir: Path, c: Config | None = None) -> tuple[Config, list]:
    settings = Settings.from_env({}, state_dir=tmp_path / "state", apps_dir=apps_dir)
    settings.ensure_dirs()
    c = c if c is not None else Config()
    apps = configure_hub(c, settings, ensure_secrets(settings.state_dir))
    return c, apps


def test_one_managed_service_per_tool(tmp_path: Path, apps_dir: Path) -> None:
    c, apps = _configure(tmp_path, apps_dir)
    services = {s["name"]: s for s in c.JupyterHub.services}
    assert set(services) == {"geomagnetic-storms", "neo-risk-list", "conjunction-viewer"}
    ports = set()
    for spec in apps:
        s = services[spec.name]
        assert s["url"].startswith("http://127.0.0.1:")
        ports.add(s["url"].rsplit(":", 1)[1])
        assert s["command"][1:] == ["-m", "workbench.apps.gateway"]
        assert spec_from_json(s["environment"][SPEC_ENV]) == spec
        launch = launch_from_json(s["environment"][LAUNCH_ENV])
        assert launch.runtime == "local" and launch.kernel_filter is True
        assert launch.environment["WORKBENCH_DATA_DIR"] == launch.data_dir == str(ROOT / "data")
        # the gateway itself gets no data settings, and its Voila no hub credential
        assert "WORKBENCH_DATA_DIR" not in s["environment"]
        assert s["oauth_no_confirm"] is True
        assert s["oauth_client_allowed_scopes"] == [GROUPS_SCOPE]
        assert s["info"]["title"] == spec.title and s["info"]["access"] == spec.access
    assert len(ports) == 3


@pytest.mark.parametrize("lazy", [True, False])
def test_access_scopes_follow_the_policy(tmp_path: Path, apps_dir: Path, lazy: bool) -> None:
    c = Config()
    jobs_scope = {"access:services!service=jobs"}  # another extension's scope, added before
    if lazy:
        c.JupyterHub.extra_user_scopes.update(jobs_scope)
    else:
        c.JupyterHub.extra_user_scopes = jobs_scope
    c.JupyterHub.load_roles = [{"name": "other", "scopes": ["read:hub"]}]
    c, _ = _configure(tmp_path, apps_dir, c)
    assert _value(c.JupyterHub.extra_user_scopes, set()) == {
        "access:services!service=jobs",
        "access:services!service=geomagnetic-storms",
        "access:services!service=neo-risk-list",
    }
    roles = {r["name"]: r for r in c.JupyterHub.load_roles}
    assert roles["other"] == {"name": "other", "scopes": ["read:hub"]}
    viewer = roles["app-conjunction-viewer"]
    assert viewer["scopes"] == ["access:services!service=conjunction-viewer"]
    assert viewer["groups"] == ["admins", "debris", "operators"]  # admins reach every segment's tools


def test_home_page_lists_only_what_the_user_may_open(tmp_path: Path, apps_dir: Path) -> None:
    c, _ = _configure(tmp_path, apps_dir)
    tools = _value(c.JupyterHub.template_vars, {})["workbench_tools"]  # type: ignore[index]
    db = orm.new_session_factory("sqlite://")()
    debris, swe, admins = orm.Group(name="debris"), orm.Group(name="swe"), orm.Group(name="admins")
    analyst = orm.User(name="debris-analyst", groups=[debris])
    scientist = orm.User(name="swe-scientist", groups=[swe])
    admin = orm.User(name="admin", groups=[admins])
    db.add_all([debris, swe, admins, analyst, scientist, admin])
    db.commit()
    assert [t["name"] for t in tools(analyst)] == [
        "conjunction-viewer",
        "geomagnetic-storms",
        "neo-risk-list",
    ]
    assert [t["name"] for t in tools(scientist)] == ["geomagnetic-storms", "neo-risk-list"]
    assert [t["name"] for t in tools(admin)] == [t["name"] for t in tools(analyst)]  # every tool
    assert [t["name"] for t in tools(None)] == ["geomagnetic-storms"]
    first = tools(scientist)[0]
    assert first["title"] == "Geomagnetic storms" and first["url"] == "/services/geomagnetic-storms/"


def test_broken_tool_is_left_out_with_a_logged_error(
    tmp_path: Path, apps_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (apps_dir / "neo-risk-list" / "app.yaml").write_text("title: Risk\naccess: {groups: [neo, martians]}\n")
    with caplog.at_level(logging.ERROR):
        c, apps = _configure(tmp_path, apps_dir)
    assert [a.name for a in apps] == ["conjunction-viewer", "geomagnetic-storms"]
    assert "neo-risk-list" not in {s["name"] for s in c.JupyterHub.services}
    message = " ".join(r.getMessage() for r in caplog.records)
    assert (
        f"tool left out: {apps_dir / 'neo-risk-list' / 'app.yaml'}: access.groups: unknown group(s) martians"
        in (message)
    )


def test_no_tools_changes_nothing(tmp_path: Path) -> None:
    c, apps = _configure(tmp_path, tmp_path / "none")
    assert apps == [] and "services" not in c.JupyterHub


def test_spec_json_round_trip_and_voila_config() -> None:
    apps, _ = discover(ROOT / "voila-apps")
    for spec in apps:
        assert spec_from_json(spec_to_json(spec)) == spec
        config = voila_config(spec, "secret-token")
        assert config["Voila"] == {"token": "secret-token", "ip": "127.0.0.1"}
        assert config["VoilaConfiguration"]["preheat_kernel"] is (spec.kernels.preheat > 0)
        assert config["VoilaConfiguration"]["default_pool_size"] == spec.kernels.preheat
        assert config["MappingKernelManager"]["cull_idle_timeout"] == spec.kernels.idle_timeout
        json.dumps(config)


@pytest.mark.parametrize(
    ("path", "proxied"),
    [
        ("voila/render/app.ipynb", True),
        ("voila/static/voila.js", True),
        ("voila/templates/lab/static/index.css", True),
        ("voila/labextensions/@jupyter-widgets/jupyterlab-manager/static/x.js", True),
        ("voila/api/themes/theme.css", True),
        ("voila/query/0b8f2a30-0000-4000-8000-000000000000", True),
        ("api/kernels/0b8f2a30-0000-4000-8000-000000000000", True),
        ("api/kernels/0b8f2a30-0000-4000-8000-000000000000/channels", True),
        ("voila/render/other.ipynb", False),  # only the tool's own notebook
        ("voila/render/app.ipynb/../app.yaml", False),
        ("voila/tree", False),  # the folder listing
        ("api/contents/app.yaml", False),  # the contents API
        ("api/kernels", False),  # the list of every visitor's kernel
        ("app.yaml", False),
        ("voila/static/../../api/contents", False),
    ],
)
def test_gateway_passes_on_only_the_page_its_assets_and_kernels(path: str, proxied: bool) -> None:
    from workbench.apps.policy import may_proxy

    assert may_proxy(path) is proxied
