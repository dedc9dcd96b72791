"""Who may do what with a job: by the hub groups (which mirror the Keycloak groups) of the caller.

- members of a job's segment group (``swe``, ``debris``, ``neo``) see its jobs and runs and start runs;
- members of an operator group (``WORKBENCH_JOBS_OPERATOR_GROUPS``, default ``operators,admins``), hub
  admins and the workbench's own admin service may do everything for every segment: create, delete,
  cancel;
- whoever started a run may cancel it;
- anyone else gets 403, and does not see the segment's jobs in lists.
"""

from __future__ import annotations

from dataclasses import dataclass

from workbench.jobs.model import JobError

ADMIN_SERVICE = "workbench-admin"


@dataclass(frozen=True)
class Identity:
    """The caller of a request, as the hub knows it."""

    name: str
    kind: str  # "user" or "service"
    groups: frozenset[str]
    admin: bool = False

    @property
    def label(self) -> str:
        return self.name if self.kind == "user" else f"service:{self.name}"


@dataclass(frozen=True)
class Policy:
    """The access rules, given the operator groups."""

    operator_groups: frozenset[str]

    def manages(self, who: Identity) -> bool:
        """May create, delete and cancel anything."""
        if who.kind == "service":
            return who.name == ADMIN_SERVICE
        return who.admin or bool(who.groups & self.operator_groups)

    def sees(self, who: Identity, segment: str) -> bool:
        """May see the jobs and runs of ``segment`` and start runs of them."""
        return self.manages(who) or segment in who.groups

    def require_manage(self, who: Identity, what: str) -> None:
        if not self.manages(who):
            groups = ", ".join(sorted(self.operator_groups))
            raise JobError(f"{who.label} may not {what}: only members of {groups} may", 403)

    def require_see(self, who: Identity, segment: str, what: str) -> None:
        if not self.sees(who, segment):
            raise JobError(f"{who.label} may not {what}: the job belongs to segment {segment!r}", 403)
