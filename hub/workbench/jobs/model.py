"""What a job is, and the validation of every field a client sends.

Every check raises :class:`JobError` with an HTTP status and a message meant for the person who sent the
request (the REST API returns it as ``{"error": message}``).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from workbench.jobs.errors import JobError
from workbench.jobs.policies import NotifyPolicy, RetentionPolicy, RetryPolicy, check_misfire
from workbench.settings import JOB_EXECUTORS

SEGMENTS = ("swe", "debris", "neo")
STATUSES = ("queued", "running", "succeeded", "failed", "timed_out", "cancelled")
ACTIVE = ("queued", "running")
TRIGGERS = ("api", "cli", "schedule")

NAME_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
MAX_TIMEOUT_S = 7 * 24 * 3600
MAX_DESCRIPTION = 2000

# Python types a parameter may be declared with (papermill's inferred_type_name) -> accepted JSON values.
_TYPES: dict[str, tuple[type, ...]] = {
    "int": (int,),
    "float": (int, float),
    "str": (str,),
    "bool": (bool,),
    "list": (list,),
    "dict": (dict,),
    "DataPath": (str,),
}
DATA_PATH = "DataPath"
"""The type name of a parameter annotated ``s2p.DataPath``: a path inside the data folder."""


def utcnow() -> datetime:
    """Now, timezone-aware UTC, to the second (what the store keeps)."""
    return datetime.now(UTC).replace(microsecond=0)


def check_name(name: Any) -> str:
    """A job name: lower-case letters, digits and inner hyphens, 1-63 characters (a URL path segment)."""
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise JobError(
            f"invalid job name {name!r}: use 1-63 lower-case letters, digits and inner hyphens (e.g. daily-pc)"
        )
    return name


def check_segment(segment: Any) -> str:
    if segment not in SEGMENTS:
        raise JobError(f"invalid segment {segment!r}: one of {', '.join(SEGMENTS)}")
    return str(segment)


def resolve_notebook(notebooks_dir: Path, notebook: Any) -> Path:
    """The file of a notebook given relative to ``notebooks_dir``.

    Parameters
    ----------
    notebooks_dir
        The project's ``notebooks/`` directory (``WORKBENCH_JOBS_NOTEBOOKS_DIR``).
    notebook
        A relative POSIX path such as ``jobs/debris_pc_digest.ipynb``.

    Raises
    ------
    JobError
        For absolute paths, ``..``, other suffixes than ``.ipynb``, files that do not exist, and
        symbolic links that lead out of ``notebooks_dir``.
    """
    if not isinstance(notebook, str) or not notebook.strip():
        raise JobError("notebook: give a path relative to the notebooks directory, e.g. jobs/x.ipynb")
    rel = PurePosixPath(notebook)
    if rel.is_absolute() or "\\" in notebook or notebook.startswith("~"):
        raise JobError(f"notebook {notebook!r}: must be a path relative to the notebooks directory")
    if ".." in rel.parts:
        raise JobError(f"notebook {notebook!r}: '..' is not allowed")
    if rel.suffix != ".ipynb":
        raise JobError(f"notebook {notebook!r}: must be a .ipynb file")
    root = notebooks_dir.resolve()
    path = (root / rel).resolve()
    if not path.is_relative_to(root):
        raise JobError(f"notebook {notebook!r}: leads outside the notebooks directory")
    if not path.is_file():
        raise JobError(f"notebook {notebook!r}: no such notebook in the notebooks directory")
    return path


@dataclass(frozen=True)
class Parameter:
    """One parameter of a notebook's ``parameters`` cell."""

    name: str
    type_name: str | None
    """``int``, ``float``, ``str``, ``bool``, ``list``, ``dict``, ``DataPath`` (``s2p.DataPath``: a
    path relative to the data folder), or None when it cannot be inferred."""
    default: Any
    help: str


def _literal(text: str) -> tuple[bool, Any]:
    try:
        return True, ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return False, None


def _annotation(text: str) -> str:
    """A declared type as :data:`_TYPES` names it (``s2p.DataPath`` is ``DataPath``)."""
    text = text.strip()
    return DATA_PATH if text in {"s2p.DataPath", "s2p.paths.DataPath"} else text


def notebook_parameters(path: Path) -> dict[str, Parameter]:
    """The parameters of the notebook's ``parameters`` cell, with their types (papermill's inspection).

    The type is the annotation (``x: float = 1``, ``folder: DataPath = "space_debris/cdm"``) when it
    names a plain type or ``DataPath``, else the type of the default value when that is a literal
    (``None`` defaults accept anything).
    """
    import papermill

    found: dict[str, Parameter] = {}
    try:
        inspected = papermill.inspect_notebook(str(path))
    except ValueError:  # e.g. no kernelspec in the notebook's metadata: Python's parser below still reads it
        inspected = {}
    for name, info in inspected.items():
        declared = _annotation(str(info.get("inferred_type_name") or "None"))
        ok, default = _literal(str(info.get("default", "")))
        type_name: str | None = declared if declared in _TYPES else None
        if type_name is None and ok and default is not None:
            type_name = type(default).__name__ if type(default).__name__ in _TYPES else None
        found[name] = Parameter(name, type_name, default if ok else None, str(info.get("help") or ""))
    # papermill skips lines its pattern cannot read (e.g. a comment holding '='); Python's parser does not.
    for name, (annotation, default_text) in _assigned_names(path).items():
        if name not in found:
            ok, default = _literal(default_text)
            type_name = _annotation(annotation) if _annotation(annotation) in _TYPES else None
            if type_name is None and ok and default is not None and type(default).__name__ in _TYPES:
                type_name = type(default).__name__
            found[name] = Parameter(name, type_name, default if ok else None, "")
    return found


def _assigned_names(path: Path) -> dict[str, tuple[str, str]]:
    """name -> (annotation, default source) of the simple assignments in the ``parameters`` cell."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    cell = next((c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])), None)
    if cell is None:
        return {}
    try:
        tree = ast.parse(cell.source)
    except SyntaxError:
        return {}
    out: dict[str, tuple[str, str]] = {}
    for node in tree.body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            out[node.target.id] = (ast.unparse(node.annotation), ast.unparse(node.value))
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    out[target.id] = ("", ast.unparse(node.value))
    return out


def read_parameters(path: Path, shown: str) -> dict[str, Parameter]:
    """:func:`notebook_parameters`, with an unreadable notebook reported as a 400 naming ``shown``."""
    try:
        return notebook_parameters(path)
    except (ValueError, OSError, KeyError, AttributeError) as exc:  # nbformat's NotJSONError is a ValueError
        raise JobError(f"notebook {shown!r} cannot be read as a notebook: {exc}") from None


def check_parameters(declared: dict[str, Parameter], given: Any) -> dict[str, Any]:
    """Validate ``given`` (a JSON object) against a notebook's declared parameters.

    Raises
    ------
    JobError
        For a non-object, unknown names (the message lists the known ones) and values of the wrong type.
    """
    if given is None:
        return {}
    if not isinstance(given, dict):
        raise JobError("parameters: expected a JSON object of name: value")
    unknown = sorted(set(given) - set(declared))
    if unknown:
        known = ", ".join(sorted(declared)) or "none"
        raise JobError(f"unknown parameter(s) {', '.join(unknown)}: the notebook declares {known}")
    for name, value in given.items():
        type_name = declared[name].type_name
        if type_name is None:
            continue
        accepted = _TYPES[type_name]
        # JSON true/false are Python bools, which are also ints: not an int parameter.
        if isinstance(value, bool) and type_name != "bool":
            ok = False
        else:
            ok = isinstance(value, accepted)
        if not ok:
            raise JobError(
                f"parameter {name}: expected {type_name} (default {declared[name].default!r}), "
                f"got {type(value).__name__} {value!r}"
            )
    return dict(given)


def check_data_paths(declared: dict[str, Parameter], values: dict[str, Any], data_dir: Path) -> None:
    """Refuse ``DataPath`` values that are not a path inside ``data_dir`` (checked as notebook paths are).

    Raises
    ------
    JobError
        400 for an absolute path, ``..``, a backslash, a path that resolves (symbolic links followed)
        outside the data folder, or nothing at the path.
    """
    from s2p.errors import S2PError
    from s2p.paths import data_path

    for name, value in values.items():
        param = declared.get(name)
        if param is None or param.type_name != DATA_PATH:
            continue
        try:
            data_path(value, root=data_dir, name=f"parameter {name}")
        except S2PError as exc:
            raise JobError(
                f"{exc} (a DataPath: relative to the data folder, e.g. {param.default!r})"
            ) from None


def check_executor(executor: Any) -> str | None:
    """An executor name (:data:`workbench.settings.JOB_EXECUTORS`), or None for the service's default."""
    if executor is None or executor == "":
        return None
    if executor not in JOB_EXECUTORS:
        raise JobError(
            f"invalid executor {executor!r}: one of {', '.join(JOB_EXECUTORS)} (or null: the default)"
        )
    return str(executor)


def check_schedule(schedule: Any) -> str | None:
    """A 5-field cron expression in UTC (``minute hour day-of-month month day-of-week``), or None."""
    if schedule is None or schedule == "":
        return None
    from croniter import croniter

    if not isinstance(schedule, str) or len(schedule.split()) != 5 or not croniter.is_valid(schedule):
        raise JobError(
            f"invalid schedule {schedule!r}: a 5-field cron expression in UTC, e.g. '30 6 * * *' (06:30 daily)"
        )
    return " ".join(schedule.split())


def next_fire(schedule: str, after: datetime) -> datetime:
    """The first time strictly after ``after`` (UTC) that ``schedule`` fires."""
    from croniter import croniter

    nxt = croniter(schedule, after.astimezone(UTC)).get_next(datetime)
    return nxt.astimezone(UTC) if nxt.tzinfo else nxt.replace(tzinfo=UTC)


def check_timeout(timeout: Any, default: int) -> int:
    """A run timeout in seconds: 1 … 7 days; ``None`` takes ``default``."""
    if timeout is None:
        return default
    if isinstance(timeout, bool) or not isinstance(timeout, int) or not 0 < timeout <= MAX_TIMEOUT_S:
        raise JobError(f"invalid timeout {timeout!r}: an integer number of seconds, 1 to {MAX_TIMEOUT_S}")
    return timeout


@dataclass
class Job:
    """A notebook with its parameters, segment, schedule and timeout, and its operating policies.

    ``executor``, ``retry``, ``notify`` and ``retention`` None: the service's defaults (settings).
    """

    name: str
    segment: str
    notebook: str
    parameters: dict[str, Any]
    schedule: str | None
    timeout_s: int
    description: str
    created_by: str
    created_at: datetime
    last_scheduled: datetime | None = None
    executor: str | None = None
    """Where its runs execute (``local``, ``container``…); None: the service's default."""
    retry: RetryPolicy | None = None
    notify: NotifyPolicy | None = None
    retention: RetentionPolicy | None = None
    misfire: str = "run_once"
    misfire_cap: int = 10

    def to_json(self) -> dict[str, Any]:
        nxt = next_fire(self.schedule, utcnow()) if self.schedule else None
        return {
            "name": self.name,
            "segment": self.segment,
            "notebook": self.notebook,
            "parameters": self.parameters,
            "schedule": self.schedule,
            "next_run_at": nxt.isoformat() if nxt else None,
            "timeout_s": self.timeout_s,
            "description": self.description,
            "created_by": self.created_by,
            "created_at": self.created_at.isoformat(),
            "executor": self.executor,
            "retry": self.retry.to_json() if self.retry else None,
            "notify": self.notify.to_json() if self.notify else None,
            "retention": self.retention.to_json() if self.retention else None,
            "misfire": self.misfire,
            "misfire_cap": self.misfire_cap,
        }


POLICY_FIELDS = {"executor", "retry", "notify", "retention", "misfire", "misfire_cap"}
CREATE_FIELDS = {"name", "segment", "notebook", "parameters", "schedule", "timeout_s", "description"}
UPDATE_FIELDS = (CREATE_FIELDS - {"name", "segment", "notebook"}) | POLICY_FIELDS


def _check_fields(body: Any, allowed: set[str], what: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise JobError(f"expected a JSON object {what}")
    extra = sorted(set(body) - allowed)
    if extra:
        raise JobError(f"unknown field(s) {', '.join(extra)}: allowed are {', '.join(sorted(allowed))}")
    return body


def _check_description(description: Any) -> str:
    description = description or ""
    if not isinstance(description, str) or len(description) > MAX_DESCRIPTION:
        raise JobError(f"description: a string of at most {MAX_DESCRIPTION} characters")
    return description


def job_from_request(
    body: Any, *, notebooks_dir: Path, data_dir: Path, default_timeout: int, created_by: str
) -> tuple[Job, dict[str, Parameter]]:
    """Validate a ``POST jobs`` body into a :class:`Job` (and the notebook's declared parameters)."""
    body = _check_fields(body, CREATE_FIELDS | POLICY_FIELDS, "with name, segment, notebook")
    name = check_name(body.get("name"))
    segment = check_segment(body.get("segment"))
    path = resolve_notebook(notebooks_dir, body.get("notebook"))
    declared = read_parameters(path, body["notebook"])
    parameters = check_parameters(declared, body.get("parameters"))
    check_data_paths(declared, parameters, data_dir)
    misfire, cap = check_misfire(body.get("misfire"), body.get("misfire_cap"))
    job = Job(
        name=name,
        segment=segment,
        notebook=str(PurePosixPath(body["notebook"])),
        parameters=parameters,
        schedule=check_schedule(body.get("schedule")),
        timeout_s=check_timeout(body.get("timeout_s"), default_timeout),
        description=_check_description(body.get("description")),
        created_by=created_by,
        created_at=utcnow(),
        executor=check_executor(body.get("executor")),
        retry=RetryPolicy.from_json(body.get("retry")),
        notify=NotifyPolicy.from_json(body.get("notify")),
        retention=RetentionPolicy.from_json(body.get("retention")),
        misfire=misfire,
        misfire_cap=cap,
    )
    return job, declared


def job_update(job: Job, body: Any, *, notebooks_dir: Path, data_dir: Path, default_timeout: int) -> Job:
    """``job`` with the fields of a ``PATCH jobs/{name}`` body changed (validated as at creation).

    A field given as ``null`` returns to the default. ``notify`` without ``secret`` keeps the job's
    secret (the API never shows it). Name, segment and notebook cannot change: create another job.
    """
    body = _check_fields(body, UPDATE_FIELDS, f"with some of {', '.join(sorted(UPDATE_FIELDS))}")
    changed: dict[str, Any] = {}
    if "parameters" in body:
        path = resolve_notebook(notebooks_dir, job.notebook)
        declared = read_parameters(path, job.notebook)
        changed["parameters"] = check_parameters(declared, body["parameters"])
        check_data_paths(declared, changed["parameters"], data_dir)
    if "schedule" in body:
        changed["schedule"] = check_schedule(body["schedule"])
    if "timeout_s" in body:
        changed["timeout_s"] = check_timeout(body["timeout_s"], default_timeout)
    if "description" in body:
        changed["description"] = _check_description(body["description"])
    if "executor" in body:
        changed["executor"] = check_executor(body["executor"])
    if "retry" in body:
        changed["retry"] = RetryPolicy.from_json(body["retry"])
    if "notify" in body:
        notify = NotifyPolicy.from_json(body["notify"])
        if notify is not None and notify.secret is None and job.notify is not None:
            notify = replace(notify, secret=job.notify.secret)
        changed["notify"] = notify
    if "retention" in body:
        changed["retention"] = RetentionPolicy.from_json(body["retention"])
    if "misfire" in body or "misfire_cap" in body:
        changed["misfire"], changed["misfire_cap"] = check_misfire(
            body.get("misfire", job.misfire), body.get("misfire_cap", job.misfire_cap)
        )
    return replace(job, **changed)
