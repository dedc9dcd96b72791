"""End to end with ``WORKBENCH_SPAWNER=docker``: real IdP, hub, proxy, Docker engine and lab image.

One workbench for the module; the tests run in order and share its users' servers:
a ``debris`` user logs in through OIDC, picks a profile in the spawn form, and runs SGP4 on a
catalog entry in the container; the home survives a restart and stays private; a ``swe`` user is
refused a ``debris`` profile; a cell beyond the memory limit kills only its kernel.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator
from types import SimpleNamespace

import numpy as np
import pytest

from tests.e2e import containers as C
from tests.e2e.harness import Workbench, start_workbench
from tests.images.fixtures import need_docker
from tests.support import DATA, need_executable
from workbench.images.build import BuildResult
from workbench.spawners.docker import instance_prefix
from workbench.spawners.profiles import parse_bytes

pytestmark = [pytest.mark.docker, pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(3600)]

DEBRIS = ("debris-analyst", "dev-debris-analyst")
SWE = ("swe-scientist", "dev-swe-scientist")
OOM_ALLOCATION_GIB = 3  # above debris-standard's 2 GiB, far below the machine's memory
NOTE = f"orbit determination notes {uuid.uuid4().hex}"
# OOM kills counted by the container's memory cgroup (v1: memory.oom_control, v2: memory.events)
OOM_KILLS_CELL = """
import pathlib
for f in ('/sys/fs/cgroup/memory/memory.oom_control', '/sys/fs/cgroup/memory.events'):
    p = pathlib.Path(f)
    if p.exists():
        print(dict(line.split() for line in p.read_text().splitlines()).get('oom_kill', -1))
        break
"""


@pytest.fixture(scope="module")
def wb(lab_image: BuildResult, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workbench]:
    need_docker()
    need_executable("node")
    state = tmp_path_factory.mktemp("wb-docker")
    prefix = instance_prefix(SimpleNamespace(state_dir=state))
    workbench = start_workbench(
        state, env={"WORKBENCH_SPAWNER": "docker", "WORKBENCH_IMAGE": lab_image.image}
    )
    workbench.prefix = prefix  # type: ignore[attr-defined]
    try:
        yield workbench
    finally:
        workbench.stop()
        assert C.docker_names("container", prefix) == [], "containers left after the hub stopped"
        C.remove_instance_objects(prefix)


def container_of(wb: Workbench, user: str) -> dict:
    names = C.docker_names("container", f"{wb.prefix}-lab-{user.split('-')[0]}")  # type: ignore[attr-defined]
    assert len(names) == 1, names
    out = subprocess.run(["docker", "inspect", names[0]], capture_output=True, text=True, check=True).stdout
    return dict(json.loads(out)[0])


def test_debris_user_picks_a_profile_and_runs_sgp4_on_a_catalog_entry_in_the_container(wb: Workbench):
    login = wb.login(*DEBRIS)
    assert login.ok, login.response.text[:500]
    form = C.spawn_form(wb, login, DEBRIS[0])
    assert 'value="debris-standard"' in form and 'value="debris-large"' in form
    assert "swe-standard" not in form and "neo-standard" not in form

    r = C.post_spawn_form(wb, login, DEBRIS[0], "debris-standard")
    assert r.status_code in {302, 303}, (r.status_code, r.text[:500])
    C.wait_ready(wb, DEBRIS[0])

    info = container_of(wb, DEBRIS[0])
    host = info["HostConfig"]
    assert host["NetworkMode"] == "host"
    assert host["Memory"] == host["MemorySwap"] == parse_bytes("2G")
    assert host["CpuQuota"] / host["CpuPeriod"] == 1.0  # CPUs
    assert "no-new-privileges" in host["SecurityOpt"] and host["CapDrop"] == ["ALL"]
    assert info["Config"]["User"] in {"", "jovyan"}  # the image's USER jovyan
    mounts = {m["Destination"]: m for m in info["Mounts"]}
    assert set(mounts) == {"/home/jovyan", "/data", "/shared/debris"}
    assert mounts["/data"]["RW"] is False and mounts["/home/jovyan"]["Type"] == "volume"
    assert not any("docker.sock" in m.get("Source", "") for m in info["Mounts"])

    out = wb.run_code(DEBRIS[0], C.SGP4_CELL)
    result = json.loads(out.strip().splitlines()[-1])
    assert result["n"] > 1 and result["err"] == [[0, 0, 0]]
    np.testing.assert_allclose(result["r"], C.reference_positions_km(str(DATA)), rtol=0, atol=C.SGP4_MATCH_KM)

    # A new user's home volume was seeded from the image: the examples are there, owned by the user.
    listing = wb.run_code(
        DEBRIS[0],
        "import os; p = '/home/jovyan/examples'; print(sorted(os.listdir(p)), os.stat(p).st_uid == os.getuid())",
    )
    assert "catalog_tour.ipynb" in listing and listing.strip().endswith("True")

    # `workbench jobs` in the container calls the jobs service as the lab's user (the lab's own token).
    jobs = wb.run_code(
        DEBRIS[0],
        "import subprocess; r = subprocess.run(['workbench', 'jobs', '--json', 'list'], capture_output=True,"
        " text=True, timeout=60); print(r.returncode, r.stdout.strip(), r.stderr.strip())",
    )
    assert jobs.strip() == "0 []", jobs


def test_home_survives_a_server_restart(wb: Workbench):
    user = DEBRIS[0]
    wb.run_code(user, f"open('/home/jovyan/notes.txt', 'w').write({NOTE!r})")
    wb.run_code(user, f"open('/shared/debris/team-notes.txt', 'w').write({NOTE!r})")  # the group's share
    wb.stop_server(user)
    assert C.docker_names("container", f"{wb.prefix}-lab-debris") == []  # type: ignore[attr-defined]  # removed on stop
    r = C.api_spawn(wb, user, "debris-standard")
    assert r.status_code in {201, 202}, r.text[:300]
    C.wait_ready(wb, user)
    assert wb.run_code(user, "print(open('/home/jovyan/notes.txt').read())").strip() == NOTE


def test_swe_user_cannot_start_a_debris_profile(wb: Workbench):
    user = SWE[0]
    login = wb.login(*SWE)
    assert login.ok
    assert "debris-" not in C.spawn_form(wb, login, user)
    crafted = C.post_spawn_form(wb, login, user, "debris-standard")
    assert crafted.status_code == 403, crafted.text[:300]
    api = C.api_spawn(wb, user, "debris-large")
    assert api.status_code == 403, api.text[:300]
    C.wait_gone(wb, user)  # nothing left pending
    assert C.docker_names("container", f"{wb.prefix}-lab-swe") == []  # type: ignore[attr-defined]


def test_another_user_cannot_read_the_home_or_the_groups_share(wb: Workbench):
    user = SWE[0]
    r = C.api_spawn(wb, user, "swe-standard")
    assert r.status_code in {201, 202}, r.text[:300]
    C.wait_ready(wb, user)
    debris_server = wb.user(DEBRIS[0])["servers"][""]
    debris_env = container_of(wb, DEBRIS[0])["Config"]["Env"]
    service_url = next(e.split("=", 1)[1] for e in debris_env if e.startswith("JUPYTERHUB_SERVICE_URL="))
    code = f"""
import os, glob, json, requests
found = [p for p in glob.glob('/home/**', recursive=True) + glob.glob('/shared/**', recursive=True)
         if os.path.isfile(p) and {NOTE!r} in open(p, errors='ignore').read()]
try:
    open('/data/intruder', 'w')
    data_writable = True
except OSError:
    data_writable = False
# the neighbour's server is on this machine's loopback (host network): try it with our own token
url = {service_url!r}.rstrip('/') + '/api/contents/notes.txt?content=1'
status = requests.get(url, headers={{'Authorization': 'token ' + os.environ['JUPYTERHUB_API_TOKEN']}}, timeout=30).status_code
print(json.dumps({{'found': found, 'shared': sorted(os.listdir('/shared')), 'swe_rw': os.access('/shared/swe', os.W_OK),
                  'data_writable': data_writable, 'status': status}}))
"""
    seen = json.loads(wb.run_code(user, code).strip().splitlines()[-1])
    assert seen["found"] == []
    assert seen["swe_rw"] is True and seen["data_writable"] is False
    assert seen["status"] in {401, 403}, seen
    assert debris_server["ready"]
    mounts = {m["Destination"] for m in container_of(wb, user)["Mounts"]}
    assert "/shared/debris" not in mounts and "/shared/swe" in mounts


def test_a_cell_beyond_the_memory_limit_kills_only_its_kernel(wb: Workbench):
    user = DEBRIS[0]
    server = wb.user(user)["servers"][""]
    url = f"{wb.url}{server['url']}"
    hog = f"import numpy as np\nx = np.ones({OOM_ALLOCATION_GIB} * 2**30 // 8)\nprint('survived', x.sum())"
    assert C.run_until_kernel_dies(url, wb.admin_token, hog) == "died"
    assert wb.api("GET", "/").status_code == 200  # the hub is healthy
    assert wb.run_code(SWE[0], "print(6 * 7)").strip() == "42"  # the neighbour is untouched
    info = wb.user(user)["servers"].get("")
    if info and info.get("ready"):
        # only the kernel died, killed by the container's memory cgroup; the same server goes on
        oom_kills = wb.run_code(user, OOM_KILLS_CELL).strip()
        assert int(oom_kills) >= 1, oom_kills
        assert wb.run_code(user, "print('again')").strip() == "again"
    else:
        # the whole container went: the user can start again
        C.wait_gone(wb, user)
        assert C.api_spawn(wb, user, "debris-standard").status_code in {201, 202}
        C.wait_ready(wb, user)
        assert wb.run_code(user, "print('again')").strip() == "again"
