"""The hub and the jobs service on PostgreSQL (the production database) instead of embedded SQLite.

A throwaway PostgreSQL cluster runs on 127.0.0.1 (see :mod:`tests.postgres`); the workbench is
configured only through ``WORKBENCH_DB_URL`` and ``WORKBENCH_JOBS_DB_URL`` (another database of the
same server). A user who logs in must land in PostgreSQL's tables, with the groups the IdP gave them,
a job created through the API in the jobs database, and nothing may be written to an SQLite file.
"""

from __future__ import annotations

import pytest
import requests
import sqlalchemy as sa

from tests.e2e.harness import start_workbench
from tests.postgres import postgres_server
from tests.support import need_executable

pytestmark = [pytest.mark.integration, pytest.mark.postgres, pytest.mark.slow]


def test_hub_keeps_users_and_groups_in_postgres(tmp_path):
    need_executable("node")
    with postgres_server("jupyterhub") as url:
        jobs_url = url.rsplit("/", 1)[0] + "/jobs"
        admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
        with admin.connect() as db:
            db.exec_driver_sql("CREATE DATABASE jobs")
        admin.dispose()
        with start_workbench(
            tmp_path, env={"WORKBENCH_DB_URL": url, "WORKBENCH_JOBS_DB_URL": jobs_url}
        ) as wb:
            login = wb.login("neo-analyst", "dev-neo-analyst")
            assert login.ok, login.response.text[:500]
            assert wb.user("neo-analyst")["groups"] == ["neo"]
            job = {
                "name": "storms",
                "segment": "swe",
                "notebook": "jobs/swe_storms.ipynb",
                "schedule": "0 6 * * *",
            }
            r = requests.post(
                f"{wb.url}/services/jobs/api/v1/jobs",
                json=job,
                headers={"Authorization": f"token {wb.admin_token}"},
                timeout=60,
            )
            assert r.status_code == 201, r.text

        jobs_engine = sa.create_engine(jobs_url)
        with jobs_engine.connect() as db:
            assert db.execute(sa.text("SELECT name, schedule FROM jobs")).all() == [("storms", "0 6 * * *")]
            assert db.execute(sa.text("SELECT version_num FROM alembic_version")).scalar() == "0002"
        jobs_engine.dispose()

        engine = sa.create_engine(url)
        with engine.connect() as db:
            users = {r[0] for r in db.execute(sa.text("SELECT name FROM users"))}
            memberships = set(
                db.execute(
                    sa.text(
                        "SELECT u.name, g.name FROM users u JOIN user_group_map m ON m.user_id = u.id "
                        "JOIN groups g ON g.id = m.group_id"
                    )
                )
            )
        engine.dispose()
    assert "neo-analyst" in users
    assert ("neo-analyst", "neo") in memberships
    # neither the hub nor the jobs service fell back to SQLite
    assert not list(tmp_path.rglob("*.sqlite")), list(tmp_path.rglob("*.sqlite"))
