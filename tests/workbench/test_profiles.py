"""Profiles per Keycloak group: who sees what, and the server-side check (no Docker needed)."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest
from tornado import web

from workbench.spawners import profiles as P


def slugs(groups: set[str], admin: bool = False) -> set[str]:
    return {p.slug for p in P.profiles_for(groups, admin=admin)}


def test_each_segment_sees_only_its_own_profiles():
    assert slugs({"debris"}) == {"debris-standard", "debris-large"}
    assert slugs({"swe"}) == {"swe-standard", "swe-large"}
    assert slugs({"neo"}) == {"neo-standard", "neo-large"}
    assert slugs({"swe", "neo"}) == {"swe-standard", "swe-large", "neo-standard", "neo-large"}


def test_admins_see_all_operators_the_standard_ones_nobody_else_any():
    every = {p.slug for p in P.default_profiles()}
    assert len(every) == 6
    assert slugs({"admins"}) == every
    assert slugs(set(), admin=True) == every  # a hub admin without the Keycloak group
    assert slugs({"operators"}) == {"swe-standard", "debris-standard", "neo-standard"}
    assert slugs(set()) == set()
    assert slugs({"partners"}) == set()


def test_choose_refuses_another_groups_profile_with_403_and_unknown_with_400():
    assert P.choose("debris-large", {"debris"}).mem_limit == "8G"
    with pytest.raises(web.HTTPError) as exc:
        P.choose("debris-standard", {"swe"})
    assert exc.value.status_code == 403
    with pytest.raises(web.HTTPError) as exc:
        P.choose("debris-large", {"operators"})
    assert exc.value.status_code == 403
    with pytest.raises(web.HTTPError) as exc:
        P.choose("debris-huge", {"debris"})
    assert exc.value.status_code == 400
    # no profile named: the user's first one; a user with none gets 403
    assert P.choose(None, {"neo"}).slug == "neo-standard"
    with pytest.raises(web.HTTPError) as exc:
        P.choose(None, set())
    assert exc.value.status_code == 403


def test_parse_bytes_docker_notation():
    assert P.parse_bytes("2G") == 2 * 1024**3
    assert P.parse_bytes("512m") == 512 * 1024**2
    assert P.parse_bytes("1.5GiB") == int(1.5 * 1024**3)
    assert P.parse_bytes("1024") == 1024


def _spawner(groups: list[str], admin: bool = False) -> SimpleNamespace:
    user = SimpleNamespace(name="u", admin=admin, groups=[SimpleNamespace(name=g) for g in groups])
    return SimpleNamespace(
        user=user,
        profile=None,
        mem_limit=None,
        cpu_limit=None,
        log=logging.getLogger("test"),
        profile_list=P.default_profiles,
    )


def test_apply_profile_sets_limits_and_rejects_crafted_options():
    sp = _spawner(["debris"])
    P.apply_profile(sp, {"profile": "debris-large"})
    assert (sp.mem_limit, sp.cpu_limit, sp.profile.slug) == ("8G", 2.0, "debris-large")
    for options, status in [
        ({"profile": "swe-standard"}, 403),
        ({"profile": "debris-standard", "image": "evil:latest"}, 400),  # nothing else can be smuggled in
        ({"profile": ["debris-standard"]}, 400),
    ]:
        with pytest.raises(web.HTTPError) as exc:
            P.apply_profile(_spawner(["debris"]), options)
        assert exc.value.status_code == status, options


def test_form_lists_exactly_the_visible_profiles_and_escapes():
    html = P.render_form(P.profiles_for({"debris"}))
    assert html.count('type="radio"') == 2
    assert 'value="debris-standard" checked' in html
    assert "swe-" not in html
    odd = P.Profile("x<y", "<b>", "a&b", "debris", "standard", "1G", 1.0)
    assert "<b>" not in P.render_form([odd]).replace("<br>", "")


def test_mixin_applies_to_a_real_jupyterhub_spawner_class():
    # The mixin's traits and hook compose with JupyterHub's Spawner (the same MRO as the Docker one).
    from jupyterhub.spawner import LocalProcessSpawner

    class S(P.ProfilesMixin, LocalProcessSpawner):
        pass

    user = SimpleNamespace(name="d", admin=False, groups=[SimpleNamespace(name="neo")], url="/user/d/")
    sp = S(user=user, _log_name="d")
    assert sp.apply_user_options is P.apply_profile
    assert [p.slug for p in sp.visible_profiles()] == ["neo-standard", "neo-large"]
    assert "neo-large" in sp.options_form(sp)
    assert sp.options_from_form({"profile": ["neo-large"], "junk": ["1"]}) == {"profile": "neo-large"}
    sp.profiles = [
        dict(
            slug="neo-x",
            display_name="X",
            description="",
            segment="neo",
            size="large",
            mem_limit="1G",
            cpu_limit=0.5,
        )
    ]
    assert [p.slug for p in sp.visible_profiles()] == ["neo-x"]
