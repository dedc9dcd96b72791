"""The hub on PostgreSQL (the production database) instead of the embedded SQLite default.

A throwaway PostgreSQL cluster runs on 127.0.0.1 (see :mod:`tests.postgres`); the workbench is
configured only through ``WORKBENCH_DB_URL``. A user who logs in must land in PostgreSQL's tables,
with the groups the IdP gave them, and nothing may be written to an SQLite file in the state dir.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.e2e.harness import start_workbench
from tests.postgres import postgres_server
from tests.support import need_executable

pytestmark = [pytest.mark.integration, pytest.mark.postgres, pytest.mark.slow]


def test_hub_keeps_users_and_groups_in_postgres(tmp_path):
    need_executable("node")
    with postgres_server("jupyterhub") as url:
        with start_workbench(tmp_path, env={"WORKBENCH_DB_URL": url}) as wb:
            login = wb.login("neo-analyst", "dev-neo-analyst")
            assert login.ok, login.response.text[:500]
            assert wb.user("neo-analyst")["groups"] == ["neo"]

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
    # the hub must not fall back to SQLite (the jobs service keeps its own run store under jobs/)
    hub_sqlite = [p for p in tmp_path.rglob("*.sqlite") if "jobs" not in p.relative_to(tmp_path).parts]
    assert not hub_sqlite, hub_sqlite
