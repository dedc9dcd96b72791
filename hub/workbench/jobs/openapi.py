"""The OpenAPI 3 description of the jobs REST API (served at ``api/v1/openapi.json``).

Written by hand next to the routes; a test checks that every route of :func:`workbench.jobs.api.routes`
is described here and nothing else.
"""

from __future__ import annotations

from typing import Any

from workbench.jobs.model import SEGMENTS, STATUSES
from workbench.jobs.policies import EVENTS, FAILURE_KINDS, MISFIRE_POLICIES
from workbench.settings import JOB_EXECUTORS


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


ERRORS = {
    "400": _json(_ref("Error"), "invalid request (the message says which field and why)"),
    "403": _json(_ref("Error"), "no token, or the caller's groups do not allow it"),
    "404": _json(_ref("Error"), "no such job or run"),
}
NAME = {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}
RUN_ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}
LIMIT = {"name": "limit", "in": "query", "schema": {"type": "integer", "default": 50}}


POLICIES: dict[str, Any] = {
    "executor": {"type": "string", "enum": list(JOB_EXECUTORS), "nullable": True},
    "retry": {
        "type": "object",
        "nullable": True,
        "properties": {
            "retries": {"type": "integer", "minimum": 0, "maximum": 10, "default": 0},
            "backoff_s": {"type": "number", "default": 30},
            "backoff_factor": {"type": "number", "default": 2},
            "on": {"type": "array", "items": {"type": "string", "enum": list(FAILURE_KINDS)}},
        },
    },
    "notify": {
        "type": "object",
        "nullable": True,
        "properties": {
            "on": {"type": "array", "items": {"type": "string", "enum": list(EVENTS)}},
            "webhooks": {"type": "array", "items": {"type": "string", "format": "uri"}},
            "emails": {"type": "array", "items": {"type": "string", "format": "email"}},
            "secret": {"type": "string", "writeOnly": True, "description": "HMAC key of the webhooks"},
            "secret_set": {"type": "boolean", "readOnly": True},
        },
    },
    "retention": {
        "type": "object",
        "nullable": True,
        "properties": {
            "keep_last": {"type": "integer", "minimum": 1, "nullable": True},
            "keep_days": {"type": "number", "nullable": True},
        },
    },
    "misfire": {"type": "string", "enum": list(MISFIRE_POLICIES), "default": "run_once"},
    "misfire_cap": {"type": "integer", "minimum": 1, "maximum": 100, "default": 10},
}


def _run_file(kind: str, ctype: str, what: str) -> dict[str, Any]:
    return {
        "get": {
            "summary": what,
            "parameters": [RUN_ID],
            "responses": {"200": {"description": what, "content": {ctype: {}}}, **ERRORS},
        }
    }


def spec() -> dict[str, Any]:
    """The OpenAPI document (paths relative to the server ``/services/jobs/api/v1``)."""
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "S2P Workbench jobs",
            "version": "1",
            "description": "Parametrised notebooks run with papermill as production jobs. Authenticate with "
            "a JupyterHub API token: `Authorization: token <token>`. Members of a segment group see and "
            "run its jobs; operators create, delete and cancel.",
        },
        "servers": [{"url": "/services/jobs/api/v1"}],
        "components": {
            "securitySchemes": {"hubToken": {"type": "apiKey", "in": "header", "name": "Authorization"}},
            "schemas": {
                "Error": {
                    "type": "object",
                    "properties": {"error": {"type": "string"}, "status": {"type": "integer"}},
                },
                "NewJob": {
                    "type": "object",
                    "required": ["name", "segment", "notebook"],
                    "properties": {
                        "name": {"type": "string", "pattern": "^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$"},
                        "segment": {"type": "string", "enum": list(SEGMENTS)},
                        "notebook": {"type": "string", "description": "path relative to notebooks/"},
                        "parameters": {
                            "type": "object",
                            "description": "checked against the notebook's parameters cell; a DataPath "
                            "parameter must name a file or folder inside the data folder",
                        },
                        "schedule": {"type": "string", "description": "5-field cron, UTC", "nullable": True},
                        "timeout_s": {
                            "type": "integer",
                            "minimum": 1,
                            "description": "seconds, counted from the notebook's first cell",
                        },
                        "description": {"type": "string"},
                        **POLICIES,
                    },
                },
                "JobChange": {
                    "type": "object",
                    "description": "fields to change; null returns a field to its default",
                    "properties": {
                        "parameters": {"type": "object"},
                        "schedule": {"type": "string", "nullable": True},
                        "timeout_s": {"type": "integer", "minimum": 1},
                        "description": {"type": "string"},
                        **POLICIES,
                    },
                },
                "Attempt": {
                    "type": "object",
                    "properties": {
                        "number": {"type": "integer"},
                        "executor": {"type": "string"},
                        "worker": {"type": "string", "nullable": True},
                        "status": {"type": "string"},
                        "failure": {"type": "string", "enum": list(FAILURE_KINDS), "nullable": True},
                        "error": {"type": "string", "nullable": True},
                        "started_at": {"type": "string", "format": "date-time"},
                        "finished_at": {"type": "string", "format": "date-time", "nullable": True},
                    },
                },
                "Job": {
                    "allOf": [
                        _ref("NewJob"),
                        {
                            "type": "object",
                            "properties": {
                                "next_run_at": {"type": "string", "format": "date-time", "nullable": True},
                                "created_by": {"type": "string"},
                                "created_at": {"type": "string", "format": "date-time"},
                                "last_run": _ref("Run"),
                            },
                        },
                    ]
                },
                "Run": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "integer"},
                        "job": {"type": "string"},
                        "segment": {"type": "string"},
                        "status": {"type": "string", "enum": list(STATUSES)},
                        "trigger": {"type": "string", "enum": ["api", "cli", "schedule"]},
                        "parameters": {"type": "object"},
                        "requested_by": {"type": "string"},
                        "created_at": {"type": "string", "format": "date-time"},
                        "started_at": {"type": "string", "format": "date-time", "nullable": True},
                        "finished_at": {"type": "string", "format": "date-time", "nullable": True},
                        "duration_s": {"type": "number", "nullable": True},
                        "error": {"type": "string", "nullable": True},
                        "failure": {"type": "string", "enum": list(FAILURE_KINDS), "nullable": True},
                        "executor": {"type": "string"},
                        "attempt": {"type": "integer", "description": "attempts started so far"},
                        "not_before": {
                            "type": "string",
                            "format": "date-time",
                            "nullable": True,
                            "description": "a retry waits until then",
                        },
                        "scheduled_for": {"type": "string", "format": "date-time", "nullable": True},
                        "provenance": {
                            "type": "object",
                            "properties": {
                                "notebook_sha256": {"type": "string"},
                                "environment": {"type": "string", "description": "image id or env lock"},
                                "s2p_version": {"type": "string"},
                                "executor": {"type": "string"},
                            },
                        },
                        "attempts": {"type": "array", "items": _ref("Attempt")},
                        "notifications": {
                            "type": "array",
                            "description": "GET runs/{id} only: the run's notifications and their delivery",
                            "items": {"type": "object"},
                        },
                        "progress": {
                            "type": "object",
                            "properties": {
                                "cells_done": {"type": "integer"},
                                "cells_total": {"type": "integer"},
                            },
                        },
                    },
                },
                "StartRun": {
                    "type": "object",
                    "properties": {
                        "parameters": {"type": "object", "description": "overrides the job's parameters"},
                        "trigger": {"type": "string", "enum": ["api", "cli"], "default": "api"},
                    },
                },
            },
        },
        "security": [{"hubToken": []}],
        "paths": {
            "/jobs": {
                "get": {
                    "summary": "jobs of the segments the caller may see, with their last run",
                    "responses": {"200": _json({"type": "object"}, "{jobs: [Job]}"), **ERRORS},
                },
                "post": {
                    "summary": "create a job (operators)",
                    "requestBody": {"content": {"application/json": {"schema": _ref("NewJob")}}},
                    "responses": {
                        "201": _json(_ref("Job"), "created"),
                        "409": _json(_ref("Error"), "name taken"),
                        **ERRORS,
                    },
                },
            },
            "/jobs/{name}": {
                "get": {
                    "summary": "a job and its notebook's declared parameters",
                    "parameters": [NAME],
                    "responses": {"200": _json(_ref("Job"), "the job"), **ERRORS},
                },
                "patch": {
                    "summary": "change a job's parameters, schedule, timeout, description or policies (operators)",
                    "parameters": [NAME],
                    "requestBody": {"content": {"application/json": {"schema": _ref("JobChange")}}},
                    "responses": {"200": _json(_ref("Job"), "the job as changed"), **ERRORS},
                },
                "delete": {
                    "summary": "delete a job (operators); its active runs are cancelled, history kept",
                    "parameters": [NAME],
                    "responses": {"204": {"description": "deleted"}, **ERRORS},
                },
            },
            "/jobs/{name}/runs": {
                "get": {
                    "summary": "runs of a job, newest first",
                    "parameters": [NAME, LIMIT],
                    "responses": {"200": _json({"type": "object"}, "{runs: [Run]}"), **ERRORS},
                },
                "post": {
                    "summary": "start a run (queued at once)",
                    "parameters": [NAME],
                    "requestBody": {"content": {"application/json": {"schema": _ref("StartRun")}}},
                    "responses": {"201": _json(_ref("Run"), "queued"), **ERRORS},
                },
            },
            "/runs": {
                "get": {
                    "summary": "recent runs of every job the caller may see",
                    "parameters": [
                        LIMIT,
                        {
                            "name": "status",
                            "in": "query",
                            "schema": {"type": "string", "enum": list(STATUSES)},
                        },
                    ],
                    "responses": {"200": _json({"type": "object"}, "{runs: [Run]}"), **ERRORS},
                },
            },
            "/runs/{id}": {
                "get": {
                    "summary": "a run, with progress (code cells done/total) while it runs",
                    "parameters": [RUN_ID],
                    "responses": {"200": _json(_ref("Run"), "the run"), **ERRORS},
                },
            },
            "/runs/{id}/notebook": _run_file("notebook", "application/x-ipynb+json", "the executed notebook"),
            "/runs/{id}/report": _run_file("report", "text/html", "the executed notebook as HTML, no code"),
            "/runs/{id}/log": _run_file("log", "text/plain", "papermill's log with the notebook's output"),
            "/runs/{id}/scraps": _run_file(
                "scraps", "application/json", "{run, status, scraps: {name: value}}"
            ),
            "/runs/{id}/cancel": {
                "post": {
                    "summary": "cancel a queued or running run (operators, or who started it)",
                    "parameters": [RUN_ID],
                    "responses": {
                        "200": _json(_ref("Run"), "the run, cancelled"),
                        "409": _json(_ref("Error"), "the run has finished already"),
                        **ERRORS,
                    },
                },
            },
            "/openapi.json": {
                "get": {
                    "summary": "this description (no token needed)",
                    "security": [],
                    "responses": {"200": _json({"type": "object"}, "OpenAPI 3 document")},
                },
            },
        },
    }
