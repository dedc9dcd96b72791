"""The jobs pages without a hub: the run form generated from a notebook's parameters, escaping, the
page token that lets only the service's own pages write, and the pages' CSP."""

from __future__ import annotations

import json
import re
from pathlib import Path

from workbench.jobs import pages, web
from workbench.jobs.model import read_parameters
from workbench.jobs.web import parameter_fields

XSS = "<img src=x onerror=alert(1)>"


def _job(root: Path, **parameters: object) -> dict:
    declared = read_parameters(root / "jobs" / "tiny.ipynb", "jobs/tiny.ipynb")
    return {
        "name": "tiny",
        "segment": "swe",
        "notebook": "jobs/tiny.ipynb",
        "parameters": parameters,
        "schedule": "30 6 * * *",
        "next_run_at": "2026-12-03T06:30:00+00:00",
        "timeout_s": 600,
        "description": XSS,
        "created_by": XSS,
        "created_at": "2026-12-02T08:00:00+00:00",
        "executor": None,
        "notebook_parameters": {
            p.name: {"type": p.type_name, "default": p.default, "help": p.help} for p in declared.values()
        },
    }


def _context(**more: object) -> dict:
    return {
        "title": "tiny",
        "nonce": "n0nce",
        "hub_prefix": "/hub/",
        "user": XSS,
        "base": "/services/jobs/",
        "xsrf": "x",
        "page_token": "t",
        "script": pages.script(),
        **more,
    }


def test_the_run_form_has_a_typed_input_per_declared_parameter(notebooks: Path) -> None:
    job = _job(notebooks, label="changed", count=7)
    fields = {f["name"]: f for f in parameter_fields(job)}
    assert list(fields) == ["seconds", "fail", "label", "count"]
    assert fields["seconds"]["kind"] == "number" and fields["seconds"]["step"] == "any"
    assert fields["count"]["kind"] == "number" and fields["count"]["step"] == "1"
    assert fields["count"]["value"] == "7" and fields["count"]["default"] == "3"  # the job's own value
    assert fields["fail"]["kind"] == "checkbox" and fields["fail"]["checked"] is False
    assert fields["label"]["value"] == "changed" and fields["label"]["default"] == json.dumps("tiny")
    assert fields["seconds"]["help"] == "how long the notebook sleeps"
    html = pages.render(
        "job.html",
        **_context(job=job, next_run="", fields=list(fields.values()), runs=[], manages=True, me="op"),
    )
    assert re.search(
        r'<input type="number" id="p-count" name="count" data-type="int" value="7" step="1">', html
    )
    assert 'id="p-fail" name="fail" data-type="bool"' in html
    assert "how long the notebook sleeps" in html
    assert "<title>tiny · S2P Workbench</title>" in html
    assert 'href="/hub/home"' in html and 'href="/hub/logout"' in html  # the hub's navigation
    assert XSS not in html and "&lt;img src=x onerror=alert(1)&gt;" in html  # the user, the description
    assert 'id="runs-empty"' in html and "No runs yet" in html
    assert '<script nonce="n0nce">' in html and '<style nonce="n0nce">' in html
    assert html.count("<script") == 1 and " on" + "click=" not in html


def test_the_list_says_what_to_do_when_empty(notebooks: Path) -> None:
    common = {"rows": [], "segments": ("swe",), "groups": ["swe"]}
    operator = pages.render(
        "jobs.html", **_context(title="Production jobs", manages=True, notebooks=["a.ipynb"], **common)
    )
    assert "No production jobs yet. Create the first one below" in operator and 'id="create-form"' in operator
    scientist = pages.render(
        "jobs.html", **_context(title="Production jobs", manages=False, notebooks=[], **common)
    )
    assert "An operator creates them" in scientist and 'id="create-form"' not in scientist


def test_the_new_job_form_offers_the_notebooks(notebooks: Path) -> None:
    (notebooks / ".ipynb_checkpoints").mkdir()
    (notebooks / ".ipynb_checkpoints" / "x.ipynb").write_text("{}")
    assert web.notebooks(notebooks) == ["jobs/tiny.ipynb"]
    assert web.notebooks(notebooks / "missing") == []


def test_a_page_token_is_the_users_and_expires() -> None:
    token = pages.page_token("user:op", now=1000.0)
    assert pages.page_token_valid(token, "user:op", now=1000.0 + 60)
    assert not pages.page_token_valid(token, "user:other", now=1000.0 + 60)
    assert not pages.page_token_valid(token, "user:op", now=1000.0 + pages.PAGE_TOKEN_TTL_S + 1)
    expires, signature = token.split(".")
    assert not pages.page_token_valid(f"{int(expires) + 10}.{signature}", "user:op", now=1000.0)
    for bad in (None, "", "x", "1.2", f"{expires}."):
        assert not pages.page_token_valid(bad, "user:op", now=1000.0)


def test_the_page_csp_runs_only_the_nonced_script() -> None:
    csp = pages.page_csp("abc")
    assert "script-src 'nonce-abc'" in csp and "unsafe-inline" not in csp and "default-src 'none'" in csp
    assert "connect-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "</" not in str(pages.script())  # the script cannot end its own element early
