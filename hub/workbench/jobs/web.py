"""The jobs service's pages for browsers: the list of jobs, a job's page (run form, history, editing) and a
run's page (facts, recorded values, log, report).

The pages are rendered on the server from the same store the API reads (so they show everything
without script) and carry one nonce'd script (``templates/jobs.js``) that calls the JSON API for every
action: create, run, cancel, edit, schedule, delete, and the live run history. The API decides and
explains; the pages show its answers. Who may do what is the API's rule (:mod:`workbench.jobs.access`):
the pages only hide the forms a user could not use.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from workbench.jobs import pages
from workbench.jobs.api import BaseHandler, job_with_parameters
from workbench.jobs.model import ACTIVE, SEGMENTS, JobError
from workbench.jobs.reports import read_json
from workbench.jobs.scraps import read_scraps

MAX_NOTEBOOKS = 500
"""Notebooks offered in the new-job form (the first, in path order)."""
HISTORY = 20
"""Runs shown in a job's history."""

INPUTS = {"int": "number", "float": "number", "bool": "checkbox", "str": "text", "DataPath": "text"}
"""The ``<input type>`` of a parameter by its declared type; other types (list, dict, unknown) are JSON
in a text area."""


def notebooks(root: Path) -> list[str]:
    """The notebooks under ``root`` a job may run (relative POSIX paths, checkpoints and hidden skipped)."""
    found: list[str] = []
    if not root.is_dir():
        return found
    for path in sorted(root.rglob("*.ipynb")):
        rel = path.relative_to(root)
        if any(part.startswith(".") for part in rel.parts):
            continue
        found.append(rel.as_posix())
        if len(found) >= MAX_NOTEBOOKS:
            break
    return found


def _when(iso: str | None) -> str:
    """An ISO time as ``YYYY-MM-DD HH:MM`` UTC, or an empty string."""
    return f"{iso[:10]} {iso[11:16]}" if iso else ""


def parameter_fields(job: dict[str, Any]) -> list[dict[str, Any]]:
    """The run form's fields: one per declared parameter, valued with the job's own or the default."""
    fields = []
    for name, spec in job["notebook_parameters"].items():
        type_name = spec["type"]
        value = job["parameters"].get(name, spec["default"])
        kind = INPUTS.get(type_name or "", "json")
        if kind == "checkbox":
            text = ""
        elif kind == "json":
            text = json.dumps(value)
        else:
            text = "" if value is None else str(value)
        fields.append(
            {
                "name": name,
                "type": type_name or "any",
                "kind": kind,
                "step": "1" if type_name == "int" else "any",
                "value": text,
                "checked": bool(value) if kind == "checkbox" else False,
                "default": json.dumps(spec["default"]),
                "help": spec["help"],
            }
        )
    return fields


class PageHandler(BaseHandler):
    """A page: the shared layout's context, a CSP with this response's nonce, errors as pages."""

    nonce = ""
    prefix = "/"

    def set_default_headers(self) -> None:
        super().set_default_headers()
        self.nonce = pages.new_nonce()
        self.set_header("Content-Security-Policy", pages.page_csp(self.nonce))

    def context(self, title: str, **more: Any) -> dict[str, Any]:
        who = getattr(self, "who", None)
        hub_prefix = getattr(self.hub_auth, "hub_prefix", None) or "/hub/"
        subject = f"{who.kind}:{who.name}" if who else ""
        xsrf = self.xsrf_token
        return {
            "title": title,
            "nonce": self.nonce,
            "hub_prefix": hub_prefix,
            "user": who.label if who else None,
            "base": self.prefix,
            "xsrf": xsrf.decode() if isinstance(xsrf, bytes) else xsrf,
            "page_token": pages.page_token(subject) if who else "",
            "script": pages.script(),
            **more,
        }

    def initialize(self, state: Any, prefix: str = "/") -> None:  # type: ignore[override]
        self.state, self.prefix = state, prefix

    def page(self, template: str, title: str, **more: Any) -> None:
        self.set_header("Content-Type", "text/html; charset=UTF-8")
        self.finish(pages.render(template, **self.context(title, **more)))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        message = exc.message if isinstance(exc, JobError) else self._reason
        self.set_status(status_code)
        self.page("error.html", f"Error {status_code}", status=status_code, message=message)


class JobsPage(PageHandler):
    """The list of the jobs the user may see, and (for operators) the form to create one."""

    def get(self) -> None:
        state, who = self.state, self.who
        rows = []
        for job in state.store.jobs():
            if not state.policy.sees(who, job.segment):
                continue
            data = job.to_json()
            last = state.store.runs(job.name, limit=1, attempts=True)
            rows.append(
                {
                    "name": job.name,
                    "segment": job.segment,
                    "notebook": job.notebook,
                    "description": job.description,
                    "schedule": job.schedule or "",
                    "next": _when(data["next_run_at"]),
                    "last": _when(last[0].created_at.isoformat()) if last else "",
                    "last_id": last[0].id if last else None,
                    "status": last[0].status if last else "",
                }
            )
        manages = state.policy.manages(who)
        self.page(
            "jobs.html",
            "Production jobs",
            rows=rows,
            manages=manages,
            notebooks=notebooks(state.notebooks_dir) if manages else [],
            segments=SEGMENTS,
            groups=sorted(who.groups),
        )


class JobPage(PageHandler):
    """One job: its facts, the run form, the run history; editing and deleting for operators."""

    def get(self, name: str) -> None:
        job = self.job_or_404(name, "see this job")
        data = job_with_parameters(self.state, job)
        runs = [
            self.state.runner.progress(r).to_json()
            for r in self.state.store.runs(job.name, limit=HISTORY, attempts=True)
        ]
        for run in runs:
            run["created"] = _when(run["created_at"])
            run["active"] = run["status"] in ACTIVE
        self.page(
            "job.html",
            job.name,
            job=data,
            next_run=_when(data["next_run_at"]),
            fields=parameter_fields(data),
            runs=runs,
            manages=self.state.policy.manages(self.who),
            me=self.who.label,
        )


LOG_TAIL = 64 * 1024
"""The end of a run's log shown on its page [bytes] (the whole log is one link away)."""


def log_tail(path: Path) -> str:
    """The last :data:`LOG_TAIL` bytes of ``path`` as text ('' when there is no log yet)."""
    if not path.is_file():
        return ""
    with open(path, "rb") as fh:
        size = fh.seek(0, 2)
        fh.seek(max(0, size - LOG_TAIL))
        data = fh.read()
    text = data.decode("utf-8", errors="replace")
    return text if size <= LOG_TAIL else "…\n" + text.split("\n", 1)[-1]


class RunPage(PageHandler):
    """One run: its facts, the values it recorded, the end of its log and its report in a sandboxed frame."""

    def get(self, run_id: str) -> None:
        run = self.run_or_404(run_id, "see this run", attempts=True)
        directory = self.state.runner.run_dir(run.id)
        saved = read_json(directory / "scraps.json")
        if saved is None:
            saved = read_scraps(self.state.runner.notebook(run) or {})
        data = run.to_json()
        values = [
            {"name": name, "value": value if isinstance(value, str) else json.dumps(value)}
            for name, value in sorted((saved or {}).items())
        ]
        self.page(
            "run.html",
            f"Run {run.id} of {run.job}",
            run=data,
            created=_when(data["created_at"]),
            started=_when(data["started_at"]),
            finished=_when(data["finished_at"]),
            active=run.status in ACTIVE,
            values=values,
            log=log_tail(directory / "run.log"),
            has_report=(directory / "report.html").is_file(),
        )
