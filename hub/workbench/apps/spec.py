"""Published tools: what an ``app.yaml`` may say, and how ``voila-apps/`` is read.

One folder per tool: the folder name is the service name and the URL (``/services/<name>/``), the
folder holds ``app.ipynb`` (the notebook Voila renders) and ``app.yaml``::

    title: Geomagnetic storms            # required: the name users see
    description: Latest Kp and storms    # optional: one line on the home page
    segment: swe                         # optional: swe | debris | neo
    access: public                       # public | logged-in | {groups: [debris, operators]}
    kernels:                             # optional, all keys optional
      preheat: 1                         # kernels that run the notebook before anyone asks [0..8]
      max: 10                            # visitors at once (one kernel each); one more gets a 503 page
      idle_timeout: 600                  # s an unused kernel (page closed) lives before shutdown

:func:`load_app` validates one folder and raises :class:`AppSpecError` naming the file and the field;
:func:`discover` reads every folder and returns the valid tools and the errors apart, so that one
broken tool is reported without hiding the others.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from workbench.settings import SEGMENT_GROUPS

APP_FILE = "app.yaml"
NOTEBOOK_FILE = "app.ipynb"
ACCESS_MODES = ("public", "logged-in", "groups")
SEGMENTS = ("swe", "debris", "neo")
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9-]{1,38}[a-z0-9]$")
"""Service names: lower-case slug, 3-40 characters (a URL path segment and a hub service name)."""
RESERVED_NAMES = frozenset({"jobs", "workbench-admin"})
"""Names of the platform's own services, which a tool may not take."""

KNOWN_KEYS = frozenset({"title", "description", "segment", "access", "kernels"})
KERNEL_KEYS = frozenset({"preheat", "max", "idle_timeout"})
MAX_PREHEAT = 8
MAX_KERNELS = 200


class AppSpecError(ValueError):
    """An ``app.yaml`` (or its folder) is invalid; the message names the file and the field."""

    def __init__(self, path: Path, reason: str, field: str | None = None) -> None:
        where = f"{path}: {field}: " if field else f"{path}: "
        super().__init__(where + reason)
        self.path = path
        self.field = field
        self.reason = reason


@dataclass(frozen=True)
class Kernels:
    """How many kernels a tool keeps ready and allows.

    Attributes
    ----------
    preheat
        Kernels that execute the notebook in advance, so a visitor gets a rendered page at once
        (Voila's pre-heated kernel pool); 0 executes the notebook when the page is asked for.
    max
        Visitors with the tool open at once (each page holds one kernel, pre-heated ones come in
        addition); the gateway answers HTTP 503 to one more.
    idle_timeout
        Seconds a kernel without a connected page stays alive before it is shut down [s].
    """

    preheat: int = 1
    max: int = 10
    idle_timeout: int = 600


@dataclass(frozen=True)
class AppSpec:
    """One published tool, validated."""

    name: str
    title: str
    directory: Path
    access: str
    groups: tuple[str, ...] = ()
    description: str = ""
    segment: str = ""
    kernels: Kernels = field(default_factory=Kernels)

    @property
    def notebook(self) -> Path:
        return self.directory / NOTEBOOK_FILE

    @property
    def url_path(self) -> str:
        """Path of the tool under the hub's public URL (``/services/<name>/``)."""
        return f"/services/{self.name}/"

    def may_open(self, groups: Iterable[str] | None, admin_groups: Iterable[str] = ()) -> bool:
        """Whether a visitor may open the tool.

        Parameters
        ----------
        groups
            The hub groups of a logged-in user, or ``None`` for an anonymous visitor.
        admin_groups
            The workbench's admin groups (``WORKBENCH_ADMIN_GROUPS``): their members open every tool, as
            they act on every segment's jobs (one rule for both).
        """
        if self.access == "public":
            return True
        if groups is None:
            return False
        if self.access == "logged-in":
            return True
        return bool(set(groups) & {*self.groups, *admin_groups})

    def describe_access(self) -> str:
        """Who may open the tool, in words (home page, docs, 403 page)."""
        if self.access == "public":
            return "everyone, without logging in"
        if self.access == "logged-in":
            return "every user who can log in to the workbench"
        return "members of the group" + ("s " if len(self.groups) > 1 else " ") + ", ".join(self.groups)


def _require_int(path: Path, name: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise AppSpecError(path, f"expected an integer, got {value!r}", name)
    if not low <= value <= high:
        raise AppSpecError(path, f"{value} is out of range [{low}, {high}]", name)
    return value


def _kernels(path: Path, raw: Any) -> Kernels:
    if raw is None:
        return Kernels()
    if not isinstance(raw, Mapping):
        raise AppSpecError(path, "expected a mapping with preheat, max, idle_timeout", "kernels")
    unknown = set(raw) - KERNEL_KEYS
    if unknown:
        raise AppSpecError(
            path,
            f"unknown key(s) {', '.join(sorted(map(str, unknown)))}; allowed: preheat, max, idle_timeout",
            "kernels",
        )
    d = Kernels()
    preheat = _require_int(path, "kernels.preheat", raw.get("preheat", d.preheat), 0, MAX_PREHEAT)
    most = _require_int(path, "kernels.max", raw.get("max", d.max), 1, MAX_KERNELS)
    idle = _require_int(path, "kernels.idle_timeout", raw.get("idle_timeout", d.idle_timeout), 10, 86400)
    return Kernels(preheat=preheat, max=most, idle_timeout=idle)


def _access(path: Path, raw: Any, known_groups: Iterable[str]) -> tuple[str, tuple[str, ...]]:
    if raw in ("public", "logged-in"):
        return str(raw), ()
    if isinstance(raw, Mapping) and set(raw) == {"groups"}:
        groups = raw["groups"]
        if isinstance(groups, str):
            groups = [groups]
        if not isinstance(groups, list) or not groups or not all(isinstance(g, str) for g in groups):
            raise AppSpecError(path, "expected a non-empty list of group names", "access.groups")
        known = tuple(known_groups)
        unknown = [g for g in groups if g not in known]
        if unknown:
            raise AppSpecError(
                path,
                f"unknown group(s) {', '.join(unknown)}; known groups: {', '.join(known)}",
                "access.groups",
            )
        return "groups", tuple(dict.fromkeys(groups))
    raise AppSpecError(
        path, f"expected public, logged-in or {{groups: [<group>, ...]}}, got {raw!r}", "access"
    )


def load_app(directory: Path, *, known_groups: Iterable[str] = SEGMENT_GROUPS) -> AppSpec:
    """Read and validate the tool in ``directory``.

    Parameters
    ----------
    directory
        A folder of ``voila-apps/``; its name is the service name.
    known_groups
        Group names an ``access: {groups: [...]}`` may use (the workbench's allowed groups).

    Raises
    ------
    AppSpecError
        Naming the file, the field and what is expected.
    """
    directory = Path(directory)
    path = directory / APP_FILE
    name = directory.name
    if not NAME_PATTERN.match(name):
        raise AppSpecError(
            directory,
            "the folder name is the tool's URL: 3-40 characters of a-z, 0-9 and '-', starting with a letter",
        )
    if name in RESERVED_NAMES:
        raise AppSpecError(directory, f"{name!r} is the name of a platform service")
    if not path.is_file():
        raise AppSpecError(path, "missing (every tool folder needs app.yaml and app.ipynb)")
    if not (directory / NOTEBOOK_FILE).is_file():
        raise AppSpecError(directory / NOTEBOOK_FILE, "missing (the notebook Voila renders)")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise AppSpecError(path, f"not UTF-8 text (byte {exc.start}: {exc.reason})") from None
    except RecursionError:
        raise AppSpecError(path, "not valid YAML: nested too deeply") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" at line {mark.line + 1}" if mark is not None else ""
        raise AppSpecError(path, f"not valid YAML{line}: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(raw, Mapping):
        raise AppSpecError(path, "expected a mapping (title, access, ...)")
    unknown = set(raw) - KNOWN_KEYS
    if unknown:
        raise AppSpecError(
            path,
            f"unknown key(s) {', '.join(sorted(map(str, unknown)))}; allowed: {', '.join(sorted(KNOWN_KEYS))}",
        )
    title = raw.get("title")
    if not isinstance(title, str) or not title.strip():
        raise AppSpecError(path, "required: the name users see", "title")
    description = raw.get("description", "")
    if not isinstance(description, str):
        raise AppSpecError(path, "expected text", "description")
    segment = raw.get("segment", "")
    if segment and segment not in SEGMENTS:
        raise AppSpecError(path, f"expected one of {', '.join(SEGMENTS)}, got {segment!r}", "segment")
    if "access" not in raw:
        raise AppSpecError(path, "required: public, logged-in or {groups: [...]}", "access")
    access, groups = _access(path, raw["access"], known_groups)
    return AppSpec(
        name=name,
        title=title.strip(),
        directory=directory.resolve(),
        access=access,
        groups=groups,
        description=" ".join(description.split()),
        segment=str(segment or ""),
        kernels=_kernels(path, raw.get("kernels")),
    )


def discover(
    apps_dir: Path, *, known_groups: Iterable[str] = SEGMENT_GROUPS
) -> tuple[list[AppSpec], list[AppSpecError]]:
    """Every tool folder of ``apps_dir``: the valid ones (by name) and the errors of the others.

    Folders whose name starts with ``.`` or ``_`` are ignored; a missing ``apps_dir`` has no tools.
    """
    apps: list[AppSpec] = []
    errors: list[AppSpecError] = []
    if not Path(apps_dir).is_dir():
        return apps, errors
    for directory in sorted(Path(apps_dir).iterdir()):
        if not directory.is_dir() or directory.name.startswith((".", "_")):
            continue
        try:
            apps.append(load_app(directory, known_groups=known_groups))
        except AppSpecError as exc:
            errors.append(exc)
    return apps, errors
