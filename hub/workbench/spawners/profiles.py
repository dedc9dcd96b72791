"""Server profiles per Keycloak group: who may start what, with which memory and CPU.

Each data segment (``swe``, ``debris``, ``neo``) has its own profiles — by default a *standard*
and a *large* one — visible only to members of that segment's group. ``admins`` see every profile.
``operators`` turn notebooks of any segment into production jobs, so they see every segment's
*standard* profile (not the large ones, which are the segments' own budget).

The list shown in the spawn form and the check made when a server starts use the same function
(:func:`profiles_for`), and the check runs on the server side in ``apply_user_options``: a user who
posts another group's profile through the REST API or a crafted form gets ``403 Forbidden``.

:class:`ProfilesMixin` adds this to any JupyterHub spawner (Docker, Swarm or local processes); the
spawner then reads :attr:`ProfilesMixin.profile` to apply limits and mounts.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from tornado import web
from traitlets import Any as AnyTrait
from traitlets import List, default
from traitlets.config import LoggingConfigurable

SEGMENTS: dict[str, str] = {
    "swe": "Space Weather",
    "debris": "Space Debris",
    "neo": "Planetary Defence",
}
"""Segment group → title. Group names are the Keycloak groups of the realm."""

ADMIN_GROUP = "admins"
OPERATOR_GROUP = "operators"


@dataclass(frozen=True)
class Profile:
    """One kind of server a user may start."""

    slug: str
    """Stable identifier sent by the form and the API, e.g. ``"debris-standard"``."""
    display_name: str
    description: str
    segment: str
    """The segment group whose members see it."""
    size: str
    """``"standard"`` or ``"large"``: operators see the standard size of every segment."""
    mem_limit: str
    """Memory limit of the server (and all its kernels), Docker notation, e.g. ``"2G"``."""
    cpu_limit: float
    """CPU limit [cores]."""

    @property
    def mem_limit_bytes(self) -> int:
        """:attr:`mem_limit` in bytes."""
        return parse_bytes(self.mem_limit)


# Sizes of the default profiles: (memory, cores, words for the form). Dev-sized; production sets its
# own list through ``c.ProfilesMixin.profiles`` (see docs/containers.md).
DEFAULT_SIZES: dict[str, tuple[str, float, str]] = {
    "standard": ("2G", 1.0, "exploration and small catalogues"),
    "large": ("8G", 2.0, "full catalogues, screening, Dask"),
}


def default_profiles() -> list[Profile]:
    """A standard and a large profile for every segment."""
    out = []
    for seg, title in SEGMENTS.items():
        for size, (mem, cpu, words) in DEFAULT_SIZES.items():
            out.append(
                Profile(
                    slug=f"{seg}-{size}",
                    display_name=f"{title} — {size}",
                    description=f"{words}; {mem} memory, {cpu:g} CPU",
                    segment=seg,
                    size=size,
                    mem_limit=mem,
                    cpu_limit=cpu,
                )
            )
    return out


def parse_bytes(text: str) -> int:
    """Bytes of a Docker-style size (``"512M"``, ``"2G"``, ``"1.5g"``, ``"1024"``)."""
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
    t = text.strip().lower().removesuffix("b").removesuffix("i")
    if t and t[-1] in units:
        return int(float(t[:-1]) * units[t[-1]])
    return int(t)


def may_use(profile: Profile, groups: Iterable[str], *, admin: bool = False) -> bool:
    """Whether a user in ``groups`` (hub groups = Keycloak groups) may start ``profile``."""
    groups = set(groups)
    if admin or ADMIN_GROUP in groups:
        return True
    if profile.segment in groups:
        return True
    return OPERATOR_GROUP in groups and profile.size == "standard"


def profiles_for(
    groups: Iterable[str], *, admin: bool = False, profiles: Sequence[Profile] | None = None
) -> list[Profile]:
    """The profiles a user in ``groups`` may start, in configuration order."""
    groups = set(groups)
    return [
        p
        for p in (profiles if profiles is not None else default_profiles())
        if may_use(p, groups, admin=admin)
    ]


def choose(
    slug: str | None, groups: Iterable[str], *, admin: bool = False, profiles: Sequence[Profile] | None = None
) -> Profile:
    """The profile a spawn request asks for, or an HTTP error.

    ``slug`` None (an API start without options) means the user's first profile.

    Raises
    ------
    tornado.web.HTTPError
        400 for an unknown profile, 403 for a profile of another group (or a user with none).
    """
    every = list(profiles if profiles is not None else default_profiles())
    allowed = profiles_for(groups, admin=admin, profiles=every)
    if slug is None:
        if not allowed:
            raise web.HTTPError(
                403, "You are in no group that may start a server (swe, debris, neo, operators)."
            )
        return allowed[0]
    known = {p.slug: p for p in every}
    if slug not in known:
        raise web.HTTPError(400, f"Unknown profile {slug!r}; known: {', '.join(known)}")
    if known[slug] not in allowed:
        raise web.HTTPError(
            403, f"Profile {slug!r} belongs to the {known[slug].segment!r} group, which you are not in."
        )
    return known[slug]


def render_form(profiles: Sequence[Profile]) -> str:
    """HTML of the spawn form: one radio button per profile, the first checked."""
    rows = []
    for i, p in enumerate(profiles):
        checked = " checked" if i == 0 else ""
        rows.append(
            '<label class="list-group-item" style="display:block">'
            f'<input type="radio" name="profile" value="{html.escape(p.slug)}"{checked}> '
            f"<strong>{html.escape(p.display_name)}</strong><br>"
            f'<small class="text-muted">{html.escape(p.description)}</small></label>'
        )
    return '<div class="list-group" id="s2p-profiles">' + "".join(rows) + "</div>"


def user_groups(user: Any) -> tuple[set[str], bool]:
    """(hub group names, is admin) of a JupyterHub ``User``."""
    groups = {g.name for g in getattr(user, "groups", [])}
    return groups, bool(getattr(user, "admin", False))


class ProfilesMixin(LoggingConfigurable):
    """Profiles for a JupyterHub spawner: the form, the server-side check, the chosen profile.

    Put it before the spawner class (``class S(ProfilesMixin, DockerSpawner)``); after
    ``apply_user_options`` has run, :attr:`profile` is the checked profile and ``mem_limit`` and
    ``cpu_limit`` are set from it.
    """

    profiles = List(
        AnyTrait(),
        help="""Server profiles (:class:`workbench.spawners.profiles.Profile` or dicts of its fields).
        Default: a standard and a large profile per segment group.""",
    ).tag(config=True)

    @default("profiles")
    def _default_profiles(self) -> list[Profile]:
        return default_profiles()

    profile: Profile | None = None

    def profile_list(self) -> list[Profile]:
        """All configured profiles (dicts from the config turned into :class:`Profile`)."""
        out: list[Profile] = []
        for p in self.profiles:
            out.append(p if isinstance(p, Profile) else Profile(**p))  # type: ignore[arg-type]
        return out

    def visible_profiles(self) -> list[Profile]:
        """The profiles this spawner's user may start."""
        groups, admin = user_groups(self.user)  # type: ignore[attr-defined]
        return profiles_for(groups, admin=admin, profiles=self.profile_list())

    @default("options_form")
    def _default_options_form(self) -> Any:
        def form(spawner: Any) -> str:
            visible = spawner.visible_profiles()
            if not visible:
                return "<p>You are in no group that may start a server. Ask an administrator.</p>"
            return render_form(visible)

        return form

    def options_from_form(self, formdata: dict[str, list[str]]) -> dict[str, Any]:
        """Form fields → ``user_options``: only the profile slug is taken."""
        values = formdata.get("profile") or [""]
        return {"profile": values[0]}

    @default("apply_user_options")
    def _default_apply_user_options(self) -> Any:
        return apply_profile


def apply_profile(spawner: Any, user_options: dict[str, Any]) -> None:
    """``apply_user_options`` hook: check the requested profile and apply its limits.

    Raises ``HTTPError(403)`` for another group's profile; the hub relays it to the API client or
    the form. Unknown option keys are refused (400), so nothing else can be smuggled in.
    """
    extra = set(user_options) - {"profile"}
    if extra:
        raise web.HTTPError(400, f"Unsupported server options: {', '.join(sorted(extra))}")
    slug = user_options.get("profile")
    if slug is not None and not isinstance(slug, str):
        raise web.HTTPError(400, "profile must be a string")
    groups, admin = user_groups(spawner.user)
    profile = choose(slug or None, groups, admin=admin, profiles=spawner.profile_list())
    spawner.profile = profile
    spawner.mem_limit = profile.mem_limit
    spawner.cpu_limit = profile.cpu_limit
    spawner.log.info(
        "%s starts profile %s (%s, %g CPU)",
        spawner.user.name,
        profile.slug,
        profile.mem_limit,
        profile.cpu_limit,
    )
