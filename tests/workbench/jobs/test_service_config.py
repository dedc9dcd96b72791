"""The pieces of the service that need no running hub: routes vs OpenAPI, hub config, CLI parsing, access."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from traitlets.config import Config

from workbench.jobs.access import Identity, Policy
from workbench.jobs.api import routes
from workbench.jobs.client import ClientError
from workbench.jobs.commands import parse_params
from workbench.jobs.hub import ACCESS_SCOPE, configure_hub
from workbench.jobs.model import JobError
from workbench.jobs.openapi import spec
from workbench.secrets import ensure_secrets
from workbench.settings import Settings


def test_openapi_describes_exactly_the_api_routes() -> None:
    served = {path for _, _, _, path in routes("/services/jobs/") if path is not None}
    assert served == set(spec()["paths"])
    # and the patterns agree with the documented paths ({name}, {id} where the regex groups are)
    for pattern, _, _, path in routes("/services/jobs/"):
        if path is None:
            continue
        as_doc = re.sub(r"\(\[a-z0-9-\]\+\)", "{name}", pattern)
        as_doc = re.sub(r"\(\[0-9\]\+\)", "{id}", as_doc)
        assert as_doc == f"/services/jobs/api/v1{path}"
    contract = {"/jobs", "/jobs/{name}", "/jobs/{name}/runs", "/runs/{id}", "/runs/{id}/notebook"}
    contract |= {
        "/runs/{id}/report",
        "/runs/{id}/log",
        "/runs/{id}/scraps",
        "/runs/{id}/cancel",
        "/openapi.json",
    }
    assert contract <= served


def test_configure_hub_adds_the_service_roles_and_user_scope(tmp_path: Path) -> None:
    settings = Settings.from_env({"WORKBENCH_STATE_DIR": str(tmp_path)})
    settings.ensure_dirs()
    secrets = ensure_secrets(tmp_path)
    c = Config()
    c.JupyterHub.services = [{"name": "workbench-admin", "api_token": "x" * 64}]
    c.JupyterHub.load_roles = [
        {"name": "workbench-admin", "scopes": ["admin:users"], "services": ["workbench-admin"]}
    ]
    configure_hub(c, settings, secrets)
    by_name = {s["name"]: s for s in c.JupyterHub.services}
    roles = {r["name"]: r for r in c.JupyterHub.load_roles}
    service = by_name["jobs"]
    assert service["name"] == "jobs" and service["command"][1:] == ["-m", "workbench.jobs.service"]
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", service["url"])
    assert service["timeout"] >= 120  # the hub waits for the store's upgrade on a loaded machine
    assert service["environment"]["WORKBENCH_STATE_DIR"] == str(tmp_path)
    assert service["environment"]["WORKBENCH_JOBS_PORT"] == service["url"].rsplit(":", 1)[1]
    token_file = tmp_path / "secrets" / "jobs_api_token"
    assert service["api_token"] == token_file.read_text().strip() and token_file.stat().st_mode & 0o077 == 0
    assert ACCESS_SCOPE in c.JupyterHub.load_roles[0]["scopes"]  # the CLI's admin token reaches the API
    assert roles["jobs-service"]["services"] == ["jobs"]
    # Prometheus: one token of its own reads the hub's metrics and the jobs service's.
    prometheus = tmp_path / "secrets" / "prometheus_api_token"
    assert by_name["prometheus"]["api_token"] == prometheus.read_text().strip()
    assert prometheus.stat().st_mode & 0o077 == 0 and "command" not in by_name["prometheus"]
    assert roles["prometheus"] == {
        "name": "prometheus",
        "description": "Read the hub's and the jobs service's metrics",
        "scopes": ["read:metrics", ACCESS_SCOPE],
        "services": ["prometheus"],
    }
    assert c.JupyterHub.authenticate_prometheus is True
    assert ACCESS_SCOPE in c.JupyterHub.extra_user_scopes
    # A lab's token keeps what JupyterHub gives it and reaches the jobs API as its user (nothing more).
    assert c.Spawner.server_token_scopes == ["users:activity!user", "access:servers!server", ACCESS_SCOPE]
    # Another extension adding to the same Set trait keeps ours, and a second configure reuses the token.
    c.JupyterHub.extra_user_scopes.add("access:services!service=other")
    c2 = Config()
    c2.JupyterHub.services, c2.JupyterHub.load_roles = [], []
    c2.JupyterHub.extra_user_scopes = {"access:services!service=other"}
    configure_hub(
        c2, Settings.from_env({"WORKBENCH_STATE_DIR": str(tmp_path), "WORKBENCH_JOBS_PORT": "18123"}), secrets
    )
    assert c2.JupyterHub.extra_user_scopes == {"access:services!service=other", ACCESS_SCOPE}
    jobs2 = next(s for s in c2.JupyterHub.services if s["name"] == "jobs")
    assert jobs2["url"] == "http://127.0.0.1:18123" and jobs2["api_token"] == service["api_token"]
    token_file.chmod(0o644)
    with pytest.raises(ValueError, match="readable by other users"):
        configure_hub(Config(), settings, secrets)


def test_access_policy() -> None:
    policy = Policy(frozenset({"operators", "admins"}))
    analyst = Identity("debris-analyst", "user", frozenset({"debris"}))
    operator = Identity("operator", "user", frozenset({"operators"}))
    admin_user = Identity("root", "user", frozenset(), admin=True)
    cli = Identity("workbench-admin", "service", frozenset())
    other_service = Identity("neo-risk-list", "service", frozenset())
    assert policy.sees(analyst, "debris") and not policy.sees(analyst, "swe")
    assert not policy.manages(analyst)
    assert all(policy.manages(w) and policy.sees(w, "neo") for w in (operator, admin_user, cli))
    assert not policy.sees(other_service, "debris")
    with pytest.raises(JobError, match="only members of admins, operators may") as err:
        policy.require_manage(analyst, "delete jobs")
    assert err.value.status == 403
    with pytest.raises(JobError, match="belongs to segment 'swe'"):
        policy.require_see(analyst, "swe", "run this job")


def test_cli_parameters_are_json_or_text() -> None:
    assert parse_params(["a=1e-3", "b=true", "c=2015-03-15", "d=[1, 2]", "e=", 'f="x"']) == {
        "a": 1e-3,
        "b": True,
        "c": "2015-03-15",
        "d": [1, 2],
        "e": "",
        "f": "x",
    }
    with pytest.raises(ClientError, match="NAME=VALUE"):
        parse_params(["novalue"])
