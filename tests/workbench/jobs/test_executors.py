"""The executors' shared rules: reading what a run wrote, classifying how it ended, refusing what is unsafe."""

from __future__ import annotations

import os
import pwd
from pathlib import Path

import pytest

from workbench.jobs.executors.base import (
    RETRYABLE,
    Failure,
    Outcome,
    classify,
    copy_untrusted,
    notebook_started,
    read_untrusted,
    read_untrusted_json,
)
from workbench.jobs.executors.local import (
    LocalExecutor,
    default_work_dir,
    ensure_account,
    refusal,
    secure_root,
)
from workbench.jobs.model import JobError
from workbench.settings import Settings


def test_files_a_run_wrote_are_read_only_if_plain(tmp_path: Path) -> None:
    secret = tmp_path / "admin_api_token"
    secret.write_text("s3cret")
    run = tmp_path / "run"
    run.mkdir()
    (run / "plain.json").write_text('{"cells": []}')
    os.symlink(secret, run / "link.json")
    os.link(secret, run / "hard.json")
    os.mkfifo(run / "fifo.json")  # would block a reader for ever
    (run / "huge.json").write_bytes(b" " * 2048)
    assert read_untrusted_json(run / "plain.json") == {"cells": []}
    for name in ("link.json", "hard.json", "fifo.json", "missing.json", "."):
        assert read_untrusted(run / name) is None, name
    assert read_untrusted(run / "huge.json", max_bytes=1024) is None
    target = tmp_path / "record" / "output.ipynb"
    target.parent.mkdir()
    assert copy_untrusted(run / "plain.json", target) and target.read_text() == '{"cells": []}'
    assert oct(target.stat().st_mode & 0o777) == "0o600"
    assert not copy_untrusted(run / "link.json", tmp_path / "record" / "other.ipynb")
    assert not (tmp_path / "record" / "other.ipynb").exists()


def _nb(*statuses: str, error: bool = False) -> dict:
    cells = []
    for status in statuses:
        outputs = [{"output_type": "error", "ename": "ValueError", "evalue": "bad"}] if error else []
        cells.append({"cell_type": "code", "metadata": {"papermill": {"status": status}}, "outputs": outputs})
    return {"cells": cells}


@pytest.mark.parametrize(
    ("how", "code", "notebook", "lost", "expected"),
    [
        ("exited", 0, _nb("completed"), "", Outcome("succeeded")),
        ("exited", 1, _nb("failed", error=True), "", Outcome("failed", Failure.NOTEBOOK_ERROR, "ValueError: bad (code cell 1)")),
        ("timeout", None, _nb("running"), "", Outcome("timed_out", Failure.TIMEOUT, "timed out after 8 s")),
        ("cancelled", None, None, "", Outcome("cancelled", Failure.CANCELLED, "cancelled while running")),
        ("start_timeout", None, None, "", Outcome("failed", Failure.START_FAILED, "did not start within 30 s (kernel or container)")),
        ("exited", None, _nb("running"), "the run's container was removed while it ran", Outcome("failed", Failure.LOST, "the run's container was removed while it ran")),
        ("exited", 137, _nb("running"), "out of memory", Outcome("failed", Failure.LOST, "out of memory")),
        ("exited", -9, _nb("running"), "", Outcome("failed", Failure.LOST, "the kernel or papermill died (killed by signal 9): x")),
        ("exited", 1, _nb("pending"), "", Outcome("failed", Failure.START_FAILED, "papermill exited with code 1: x")),
    ],
)  # fmt: skip
def test_how_a_run_ended_is_classified_for_a_retry_policy(
    how: str, code: int | None, notebook: dict | None, lost: str, expected: Outcome
) -> None:
    got = classify(how, code, notebook, timeout_s=8, start_timeout_s=30, log_tail="x", lost_reason=lost)
    assert got == expected
    assert (got.failure in RETRYABLE) == (
        got.failure in {Failure.TIMEOUT, Failure.LOST, Failure.START_FAILED}
    )


def test_the_start_ends_with_the_first_cell() -> None:
    assert not notebook_started(None) and not notebook_started(_nb("pending", "pending"))
    assert notebook_started(_nb("running", "pending")) and notebook_started(_nb("completed"))


def test_the_local_executor_is_refused_where_it_cannot_separate_identities() -> None:
    for env in ("pre-ope", "ope"):
        message = refusal(env, 1000)
        assert message is not None and f"WORKBENCH_ENV={env}" in message and "container" in message
        assert refusal(env, 0) is None  # as root it runs as an account of its own
    assert refusal("dev", 1000) is None and refusal("ire", 1000) is None
    if os.geteuid() != 0:
        with pytest.raises(JobError, match="refused"):
            LocalExecutor(Path("/nonexistent"), env="ope").check()


def test_work_folders_and_run_identities(tmp_path: Path) -> None:
    assert default_work_dir(tmp_path, 1000) == tmp_path / "jobs" / "work"
    assert default_work_dir(tmp_path, 0).parent == Path("/var/lib/s2p-workbench")
    for spec in ("0:0", "1234:0", "abc:1"):
        with pytest.raises(JobError):
            ensure_account(spec)
    assert ensure_account("1234:1234") == (1234, 1234, "1234:1234")

    root = tmp_path / "work"
    secure_root(root, os.geteuid())
    assert oct(root.stat().st_mode & 0o777) == "0o711"
    os.chmod(root, 0o777)
    with pytest.raises(JobError, match="writable by it alone"):
        secure_root(root, os.geteuid())
    link = tmp_path / "link"
    link.symlink_to(root)
    with pytest.raises(JobError, match="must be a directory"):
        secure_root(link, os.geteuid())
    if os.geteuid() == 0:
        nobody = pwd.getpwnam("nobody").pw_uid
        other = tmp_path / "other"
        other.mkdir(mode=0o711)
        os.chown(other, nobody, -1)
        with pytest.raises(JobError, match="owned by the jobs service"):
            secure_root(other, 0)


def test_a_local_run_gets_a_minimal_environment(tmp_path: Path) -> None:
    local = LocalExecutor(
        tmp_path, data_environment={"WORKBENCH_DATA_DIR": "/data", "WORKBENCH_CATALOG": "/c.yaml"}
    )
    env = local.environment(tmp_path / "run-1")
    assert set(env) == {
        "PATH",
        "HOME",
        "LANG",
        "PYTHONUNBUFFERED",
        "NUMBA_CACHE_DIR",
        "WORKBENCH_DATA_DIR",
        "WORKBENCH_CATALOG",
    }
    assert env["HOME"] == str(tmp_path / "run-1") and env["NUMBA_CACHE_DIR"].startswith(env["HOME"])


def test_the_default_executor_follows_the_spawner() -> None:
    assert Settings.from_env({}).jobs_executor == "local"
    for spawner in ("docker", "swarm"):
        assert Settings.from_env({"WORKBENCH_SPAWNER": spawner}).jobs_executor == "container"
    assert (
        Settings.from_env({"WORKBENCH_SPAWNER": "docker", "WORKBENCH_JOBS_EXECUTOR": "local"}).jobs_executor
        == "local"
    )
    assert Settings.from_env({}).jobs_network == "none"
    assert Settings.from_env({"WORKBENCH_DATA_LIVE": "1"}).jobs_network == "host"
    assert Settings.from_env({"WORKBENCH_JOBS_MEMORY": "512m"}).jobs_memory == 512 << 20


def test_pre_ope_and_ope_refuse_local_runs_that_would_share_the_hubs_identity(tmp_path: Path) -> None:
    """`workbench up` and the hub refuse, with one line naming the setting, local runs as the hub's user."""
    from workbench.hubconfig import HubConfigError, check_environment
    from workbench.secrets import ensure_secrets

    settings = Settings.from_env({"WORKBENCH_ENV": "pre-ope", "WORKBENCH_STATE_DIR": str(tmp_path / "state")})
    settings.ensure_dirs()
    secrets = ensure_secrets(settings.state_dir)
    container = Settings.from_env(
        {
            "WORKBENCH_ENV": "pre-ope",
            "WORKBENCH_STATE_DIR": str(tmp_path / "state"),
            "WORKBENCH_JOBS_EXECUTOR": "container",
        }
    )
    root = os.geteuid() == 0
    if root:
        check_environment(settings, secrets)  # as root, local runs get an account of their own
        os.seteuid(pwd.getpwnam("nobody").pw_uid)  # now as a hub that is not root
    try:
        with pytest.raises(HubConfigError) as err:
            check_environment(settings, secrets)
        check_environment(container, secrets)
    finally:
        if root:
            os.seteuid(0)
    assert "\n" not in str(err.value) and str(err.value).startswith(
        "WORKBENCH_JOBS_EXECUTOR=local is refused"
    )
