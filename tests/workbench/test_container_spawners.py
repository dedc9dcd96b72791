"""Docker and Swarm spawner configuration: mounts per user and group, names, hardening (no engine needed).

The end-to-end behaviour (containers really started, volumes really kept) is in
``tests/e2e/test_docker.py`` and ``tests/e2e/test_swarm.py``.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from traitlets.config import Config

from workbench.settings import Settings
from workbench.spawners import configure, swarm
from workbench.spawners.docker import WorkbenchDockerSpawner, instance_prefix
from workbench.spawners.swarm import WorkbenchSwarmSpawner


def user(name: str, *groups: str, admin: bool = False) -> SimpleNamespace:
    return SimpleNamespace(
        name=name, admin=admin, groups=[SimpleNamespace(name=g) for g in groups], url=f"/user/{name}/"
    )


def configured(kind: str, tmp_path: Path) -> Config:
    c = Config()
    c.Spawner.environment = {"WORKBENCH_DATA_DIR": str(tmp_path / "host-data"), "KEEP": "1"}
    env = {
        "WORKBENCH_SPAWNER": kind,
        "WORKBENCH_STATE_DIR": str(tmp_path / "state"),
        "WORKBENCH_DATA_DIR": str(tmp_path / "host-data"),
        "WORKBENCH_IMAGE": "lab:test",
    }
    configure(c, Settings.from_env(env))
    return c


def test_docker_spawner_mounts_home_own_group_shares_and_data_read_only(tmp_path: Path):
    c = configured("docker", tmp_path)
    assert c.JupyterHub.spawner_class is WorkbenchDockerSpawner
    sp = WorkbenchDockerSpawner(config=c, user=user("debris-analyst", "debris"), _log_name="t")
    prefix = instance_prefix(SimpleNamespace(state_dir=tmp_path / "state"))
    assert sp.prefix == prefix and prefix.startswith("s2p-") and len(prefix) == 10
    sp.volumes = sp.user_volumes()
    binds = sp.volume_binds
    home = f"{prefix}-home-{sp.escaped_name}"
    assert binds[home] == {"bind": "/home/jovyan", "mode": "rw"}
    assert binds[f"{prefix}-shared-debris"] == {"bind": "/shared/debris", "mode": "rw"}
    assert binds[str((tmp_path / "host-data").resolve())] == {"bind": "/data", "mode": "ro"}
    assert len(binds) == 3  # no other group's share, no other user's home, no docker socket
    assert sp.environment == {"WORKBENCH_DATA_DIR": "/data", "KEEP": "1"}
    assert sp.image == "lab:test" and sp.pull_policy == "never"
    assert sp.network_name == "host" and sp.use_internal_ip and sp.ip == "127.0.0.1"
    assert sp.remove and sp.cmd == ["jupyterhub-singleuser"]
    assert sp.extra_host_config["security_opt"] == ["no-new-privileges"]
    assert sp.extra_host_config["cap_drop"] == ["ALL"]
    assert sp.object_name == f"{prefix}-lab-{sp.escaped_name}"


def test_admins_get_every_share_operators_only_their_own(tmp_path: Path):
    c = configured("docker", tmp_path)
    admin = WorkbenchDockerSpawner(config=c, user=user("admin", "admins"), _log_name="t")
    assert admin.shares_for_user() == ["swe", "debris", "neo"]
    op = WorkbenchDockerSpawner(config=c, user=user("operator", "operators", "debris"), _log_name="t")
    assert op.shares_for_user() == ["debris"]
    nobody = WorkbenchDockerSpawner(config=c, user=user("nogroup"), _log_name="t")
    assert nobody.shares_for_user() == []


def test_two_workbenches_never_share_names(tmp_path: Path):
    a = instance_prefix(SimpleNamespace(state_dir=tmp_path / "a"))
    b = instance_prefix(SimpleNamespace(state_dir=tmp_path / "b"))
    assert a != b
    assert a == instance_prefix(SimpleNamespace(state_dir=tmp_path / "a"))  # stable for one instance


def test_swarm_spawner_uses_volume_mounts_for_named_volumes_and_no_restart(tmp_path: Path, monkeypatch):
    # in dev, configure() makes the engine a swarm; this test only looks at the configuration
    monkeypatch.setattr(swarm, "ensure_single_node_swarm", lambda: False)
    c = configured("swarm", tmp_path)
    assert c.JupyterHub.spawner_class is WorkbenchSwarmSpawner
    sp = WorkbenchSwarmSpawner(config=c, user=user("neo-analyst", "neo"), _log_name="t")
    sp.volumes = sp.user_volumes()
    mounts = {m["Target"]: m for m in sp.mounts}
    assert mounts["/home/jovyan"]["Type"] == "volume" and mounts["/shared/neo"]["Type"] == "volume"
    assert mounts["/data"]["Type"] == "bind" and mounts["/data"]["ReadOnly"] is True
    assert set(mounts) == {"/home/jovyan", "/shared/neo", "/data"}
    assert sp.extra_task_spec["restart_policy"]["Condition"] == "none"
    assert sp.extra_container_spec["cap_drop"] == ["ALL"]
    assert sp.network_name == "host" and sp.ip == "127.0.0.1"
