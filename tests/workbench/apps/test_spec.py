"""app.yaml validation and the discovery of voila-apps/."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import ROOT
from workbench.apps.spec import AppSpecError, Kernels, discover, load_app

NOTEBOOK = '{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}'


def make_app(parent: Path, name: str, yaml_text: str | None, *, notebook: bool = True) -> Path:
    d = parent / name
    d.mkdir()
    if yaml_text is not None:
        (d / "app.yaml").write_text(yaml_text)
    if notebook:
        (d / "app.ipynb").write_text(NOTEBOOK)
    return d


def test_shipped_tools_are_valid_and_cover_the_three_policies() -> None:
    apps, errors = discover(ROOT / "voila-apps")
    assert errors == []
    by_name = {a.name: a for a in apps}
    assert set(by_name) == {"geomagnetic-storms", "neo-risk-list", "conjunction-viewer"}
    assert by_name["geomagnetic-storms"].access == "public"
    assert by_name["neo-risk-list"].access == "logged-in"
    viewer = by_name["conjunction-viewer"]
    assert (viewer.access, viewer.groups) == ("groups", ("debris", "operators"))
    for app in apps:
        assert app.notebook.is_file() and app.url_path == f"/services/{app.name}/"
        assert app.segment in {"swe", "debris", "neo"} and app.title and app.description


def test_full_spec(tmp_path: Path) -> None:
    d = make_app(
        tmp_path,
        "cdm-tool",
        "title: '  CDM tool '\ndescription: |\n  two\n  lines\nsegment: debris\n"
        "access:\n  groups: [debris, debris, admins]\nkernels: {preheat: 2, max: 4, idle_timeout: 60}\n",
    )
    spec = load_app(d)
    assert spec.title == "CDM tool" and spec.description == "two lines"
    assert spec.groups == ("debris", "admins")
    assert spec.kernels == Kernels(preheat=2, max=4, idle_timeout=60)
    assert spec.directory == d.resolve()


def test_defaults(tmp_path: Path) -> None:
    spec = load_app(make_app(tmp_path, "plain", "title: Plain\naccess: logged-in\n"))
    assert spec.kernels == Kernels() and spec.description == "" and spec.segment == ""
    assert spec.groups == ()


def test_single_group_as_a_string(tmp_path: Path) -> None:
    assert load_app(make_app(tmp_path, "one", "title: T\naccess: {groups: neo}\n")).groups == ("neo",)


@pytest.mark.parametrize(
    ("groups", "allowed"),
    [(None, False), ([], False), (["swe"], False), (["debris"], True), (["swe", "operators"], True)],
)
def test_may_open_groups(tmp_path: Path, groups: list[str] | None, allowed: bool) -> None:
    spec = load_app(make_app(tmp_path, "tool", "title: T\naccess: {groups: [debris, operators]}\n"))
    assert spec.may_open(groups) is allowed


def test_may_open_public_and_logged_in(tmp_path: Path) -> None:
    public = load_app(make_app(tmp_path, "pub", "title: T\naccess: public\n"))
    member = load_app(make_app(tmp_path, "mem", "title: T\naccess: logged-in\n"))
    assert public.may_open(None) and public.may_open([])
    assert not member.may_open(None) and member.may_open([])


@pytest.mark.parametrize(
    ("text", "field", "reason"),
    [
        ("access: public\n", "title", "required"),
        ("title: ''\naccess: public\n", "title", "required"),
        ("title: T\n", "access", "required"),
        ("title: T\naccess: everyone\n", "access", "expected public, logged-in or {groups"),
        ("title: T\naccess: {groups: []}\n", "access.groups", "non-empty list"),
        ("title: T\naccess: {groups: [debris, aliens]}\n", "access.groups", "unknown group(s) aliens"),
        ("title: T\naccess: {groups: [neo], users: [x]}\n", "access", "expected public"),
        ("title: T\naccess: public\nsegment: moon\n", "segment", "expected one of swe, debris, neo"),
        ("title: T\naccess: public\ndescription: [a]\n", "description", "expected text"),
        ("title: T\naccess: public\nkernels: 3\n", "kernels", "expected a mapping"),
        ("title: T\naccess: public\nkernels: {warm: 1}\n", "kernels", "unknown key(s) warm"),
        ("title: T\naccess: public\nkernels: {preheat: 9}\n", "kernels.preheat", "out of range [0, 8]"),
        ("title: T\naccess: public\nkernels: {max: 0}\n", "kernels.max", "out of range"),
        ("title: T\naccess: public\nkernels: {max: 'ten'}\n", "kernels.max", "expected an integer"),
        ("title: T\naccess: public\nkernels: {preheat: true}\n", "kernels.preheat", "expected an integer"),
        ("title: T\naccess: public\nkernels: {idle_timeout: 1}\n", "kernels.idle_timeout", "out of range"),
    ],
)
def test_invalid_field_is_named(tmp_path: Path, text: str, field: str, reason: str) -> None:
    d = make_app(tmp_path, "bad-tool", text)
    with pytest.raises(AppSpecError) as info:
        load_app(d)
    assert info.value.field == field
    assert reason in str(info.value)
    assert str(info.value).startswith(f"{d / 'app.yaml'}: {field}: ")


def test_unknown_top_level_key(tmp_path: Path) -> None:
    with pytest.raises(AppSpecError, match=r"unknown key\(s\) acess; allowed: access, description"):
        load_app(make_app(tmp_path, "typo", "title: T\nacess: public\n"))


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    d = make_app(tmp_path, "broken", "title: T\naccess: [public\n")
    with pytest.raises(AppSpecError, match=r"app.yaml: not valid YAML at line \d"):
        load_app(d)


def test_not_a_mapping(tmp_path: Path) -> None:
    with pytest.raises(AppSpecError, match="expected a mapping"):
        load_app(make_app(tmp_path, "list", "- title\n"))


@pytest.mark.parametrize(
    "name", ["Tool", "a", "1tool", "tool_x", "tool-", "x" * 41, "jobs", "workbench-admin"]
)
def test_folder_name_must_be_a_free_slug(tmp_path: Path, name: str) -> None:
    with pytest.raises(AppSpecError):
        load_app(make_app(tmp_path, name, "title: T\naccess: public\n"))


def test_missing_files(tmp_path: Path) -> None:
    with pytest.raises(AppSpecError, match=r"app.yaml: missing"):
        load_app(make_app(tmp_path, "no-yaml", None))
    with pytest.raises(AppSpecError, match=r"app.ipynb: missing"):
        load_app(make_app(tmp_path, "no-notebook", "title: T\naccess: public\n", notebook=False))


def test_known_groups_come_from_the_caller(tmp_path: Path) -> None:
    d = make_app(tmp_path, "partners", "title: T\naccess: {groups: [partners]}\n")
    with pytest.raises(AppSpecError, match="unknown group"):
        load_app(d)
    assert load_app(d, known_groups=["partners"]).groups == ("partners",)


def test_discover_keeps_the_good_and_reports_the_bad(tmp_path: Path) -> None:
    make_app(tmp_path, "good-one", "title: Good\naccess: public\n")
    make_app(tmp_path, "bad-one", "title: Bad\naccess: nobody\n")
    make_app(tmp_path, ".hidden", "garbage: [")
    make_app(tmp_path, "_draft", "garbage: [")
    (tmp_path / "README.md").write_text("not a tool")
    apps, errors = discover(tmp_path)
    assert [a.name for a in apps] == ["good-one"]
    assert len(errors) == 1 and errors[0].path == tmp_path / "bad-one" / "app.yaml"
    assert errors[0].field == "access"


def test_discover_missing_folder(tmp_path: Path) -> None:
    assert discover(tmp_path / "absent") == ([], [])
