"""Validation of what a client sends: names, notebook paths, parameters, schedules, timeouts."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.support import DATA, ROOT
from workbench.jobs.model import (
    JobError,
    check_data_paths,
    check_executor,
    check_name,
    check_parameters,
    check_schedule,
    check_timeout,
    job_from_request,
    next_fire,
    notebook_parameters,
    resolve_notebook,
)


@pytest.mark.parametrize("name", ["a", "daily-pc", "swe-storms-2", "x" * 63])
def test_good_names(name: str) -> None:
    assert check_name(name) == name


@pytest.mark.parametrize("name", ["", "-a", "a-", "Daily", "a_b", "a/b", "a b", "x" * 64, "..", None, 3])
def test_bad_names(name: object) -> None:
    with pytest.raises(JobError, match="invalid job name") as err:
        check_name(name)
    assert err.value.status == 400


def test_notebook_path_inside_the_notebooks_dir(notebooks: Path) -> None:
    assert resolve_notebook(notebooks, "jobs/tiny.ipynb") == (notebooks / "jobs" / "tiny.ipynb").resolve()


@pytest.mark.parametrize(
    ("given", "reason"),
    [
        ("/etc/passwd.ipynb", "relative"),
        ("../secret.ipynb", "'..' is not allowed"),
        ("jobs/../../x.ipynb", "'..' is not allowed"),
        ("jobs/notes.txt", ".ipynb"),
        ("jobs/missing.ipynb", "no such notebook"),
        ("jobs\\tiny.ipynb", "relative"),
        ("", "give a path"),
        (None, "give a path"),
    ],
)
def test_notebook_path_refused(notebooks: Path, given: object, reason: str) -> None:
    with pytest.raises(JobError, match=reason):
        resolve_notebook(notebooks, given)


def test_symlink_out_of_the_notebooks_dir_is_refused(notebooks: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside.ipynb"
    outside.write_text((notebooks / "jobs" / "tiny.ipynb").read_text())
    os.symlink(outside, notebooks / "jobs" / "link.ipynb")
    with pytest.raises(JobError, match="outside the notebooks directory"):
        resolve_notebook(notebooks, "jobs/link.ipynb")


def test_parameters_are_read_with_types(notebooks: Path) -> None:
    declared = notebook_parameters(notebooks / "jobs" / "tiny.ipynb")
    assert {n: (p.type_name, p.default) for n, p in declared.items()} == {
        "seconds": ("float", 0.0),
        "fail": ("bool", False),
        "label": ("str", "tiny"),
        "count": ("int", 3),
    }
    assert declared["seconds"].help == "how long the notebook sleeps"


def test_parameters_papermill_cannot_parse_are_still_found(tmp_path: Path) -> None:
    """papermill skips `x: int = 1  # a = b` (an '=' in the comment); the service must not."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    cell = new_code_cell("level: int = 1  # 1 = G1\nfactor = 2.5")
    cell.metadata["tags"] = ["parameters"]
    path = tmp_path / "p.ipynb"
    nbformat.write(new_notebook(cells=[cell]), path)
    declared = notebook_parameters(path)
    assert declared["level"].type_name == "int" and declared["level"].default == 1
    assert declared["factor"].type_name == "float"


def test_shipped_production_notebooks_declare_parameters() -> None:
    for name, expected in {
        "debris_pc_digest": {"pc_threshold": "float", "cdm_folder": "DataPath", "method": "str"},
        "swe_storms": {"start": "str", "stop": "str", "min_level": "int"},
        "neo_risk_digest": {"ps_threshold": "float", "risk_list": "DataPath"},
    }.items():
        path = ROOT / "notebooks" / "jobs" / f"{name}.ipynb"
        declared = notebook_parameters(path)
        assert {n: p.type_name for n, p in declared.items()} == expected
        # data is found through the public s2p.data_path, never the private s2p._paths
        assert "s2p._paths" not in path.read_text() and "data_path(" in path.read_text()
        for p in declared.values():  # every shipped default is a valid data path
            check_data_paths(declared, {p.name: p.default}, DATA)


def _data_path_notebook(tmp_path: Path, annotation: str = "DataPath") -> dict:
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    cell = new_code_cell(
        f'from s2p import DataPath\nfolder: {annotation} = "space_debris/cdm"  # CDMs\nn = 1'
    )
    cell.metadata["tags"] = ["parameters"]
    path = tmp_path / "d.ipynb"
    nbformat.write(new_notebook(cells=[cell]), path)
    return notebook_parameters(path)


@pytest.mark.parametrize("annotation", ["DataPath", "s2p.DataPath"])
def test_a_data_path_parameter_is_declared_by_its_annotation(tmp_path: Path, annotation: str) -> None:
    declared = _data_path_notebook(tmp_path, annotation)
    assert declared["folder"].type_name == "DataPath" and declared["folder"].default == "space_debris/cdm"
    assert set(declared) == {"folder", "n"}  # the import line is no parameter


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("../../secrets/admin_api_token", "'..' is not allowed"),
        ("space_debris/../../etc", "'..' is not allowed"),
        ("/etc/passwd", "not absolute"),
        ("~root/.ssh", "not absolute"),
        ("space_debris\\cdm", "backslashes"),
        ("", "give a path relative to the data folder"),
        ("space_debris/no-such-folder", "nothing at"),
        ("link-out", "leads outside the data folder"),
    ],
)
def test_data_path_values_outside_the_data_folder_are_refused(
    tmp_path: Path, value: str, reason: str
) -> None:
    data = tmp_path / "data"
    (data / "space_debris" / "cdm").mkdir(parents=True)
    secret = tmp_path / "secrets"
    secret.mkdir()
    os.symlink(secret, data / "link-out")
    declared = _data_path_notebook(tmp_path)
    check_data_paths(declared, {"folder": "space_debris/cdm", "n": 2}, data)  # inside: fine
    with pytest.raises(JobError, match=reason) as err:
        check_data_paths(declared, {"folder": value}, data)
    assert err.value.status == 400 and "parameter folder" in err.value.message
    with pytest.raises(JobError, match="expected DataPath"):
        check_parameters(declared, {"folder": 3})


def test_executor_names() -> None:
    assert check_executor(None) is None and check_executor("container") == "container"
    with pytest.raises(JobError, match="invalid executor 'k8s': one of local, container"):
        check_executor("k8s")


def test_parameter_values_checked_against_declared_types(notebooks: Path) -> None:
    declared = notebook_parameters(notebooks / "jobs" / "tiny.ipynb")
    ok = {"seconds": 2, "fail": True, "label": "x", "count": 5}  # an int is a fine float
    assert check_parameters(declared, ok) == ok
    assert check_parameters(declared, None) == {}
    with pytest.raises(JobError, match=r"unknown parameter\(s\) nope: the notebook declares count, fail"):
        check_parameters(declared, {"nope": 1})
    with pytest.raises(JobError, match="parameter count: expected int"):
        check_parameters(declared, {"count": "5"})
    with pytest.raises(JobError, match="parameter count: expected int"):
        check_parameters(declared, {"count": True})  # JSON true is not an integer
    with pytest.raises(JobError, match="parameter seconds: expected float"):
        check_parameters(declared, {"seconds": "1"})
    with pytest.raises(JobError, match="JSON object"):
        check_parameters(declared, [1, 2])


def test_cron_schedules() -> None:
    assert check_schedule(None) is None
    assert check_schedule("30  6 * * *") == "30 6 * * *"
    for bad in ("* * * *", "* * * * * *", "61 * * * *", "every day", 5):
        with pytest.raises(JobError, match="5-field cron"):
            check_schedule(bad)
    after = datetime(2026, 1, 1, 6, 30, tzinfo=UTC)
    assert next_fire("30 6 * * *", after) == datetime(2026, 1, 2, 6, 30, tzinfo=UTC)
    assert next_fire("*/15 * * * *", after) == datetime(2026, 1, 1, 6, 45, tzinfo=UTC)


def test_timeouts() -> None:
    assert check_timeout(None, 3600) == 3600
    assert check_timeout(5, 3600) == 5
    for bad in (0, -1, 1.5, True, "10", 10**9):
        with pytest.raises(JobError, match="invalid timeout"):
            check_timeout(bad, 3600)


def test_job_from_request(notebooks: Path) -> None:
    job, declared = job_from_request(
        {"name": "tiny", "segment": "debris", "notebook": "jobs/tiny.ipynb", "parameters": {"count": 2}},
        notebooks_dir=notebooks,
        data_dir=DATA,
        default_timeout=60,
        created_by="operator",
    )
    assert (job.name, job.segment, job.parameters, job.timeout_s, job.schedule) == (
        "tiny",
        "debris",
        {"count": 2},
        60,
        None,
    )
    assert "count" in declared
    (notebooks / "jobs" / "broken.ipynb").write_text("{not json")
    for body, reason in [
        ({"name": "x", "segment": "neo", "notebook": "jobs/broken.ipynb"}, "cannot be read as a notebook"),
        ({"name": "x", "segment": "moon", "notebook": "jobs/tiny.ipynb"}, "invalid segment"),
        ({"name": "x", "segment": "neo", "notebook": "jobs/tiny.ipynb", "owner": "me"}, "unknown field"),
        ([], "JSON object"),
    ]:
        with pytest.raises(JobError, match=reason):
            job_from_request(
                body, notebooks_dir=notebooks, data_dir=DATA, default_timeout=60, created_by="operator"
            )
