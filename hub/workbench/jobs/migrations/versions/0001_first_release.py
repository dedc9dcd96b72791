"""The schema of the first release: jobs and runs.

A store that release made already has both tables (created by its ``CREATE TABLE IF NOT EXISTS``
script, with no Alembic version): they are left exactly as they are, and the next revision upgrades
them. A new store gets them here.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from workbench.jobs.tables import JSONText, UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    if "jobs" not in existing:
        op.create_table(
            "jobs",
            sa.Column("name", sa.Text, primary_key=True),
            sa.Column("segment", sa.Text, nullable=False),
            sa.Column("notebook", sa.Text, nullable=False),
            sa.Column("parameters", JSONText, nullable=False),
            sa.Column("schedule", sa.Text),
            sa.Column("timeout_s", sa.Integer, nullable=False),
            sa.Column("description", sa.Text, nullable=False),
            sa.Column("created_by", sa.Text, nullable=False),
            sa.Column("created_at", UTCDateTime, nullable=False),
            sa.Column("last_scheduled", UTCDateTime),
        )
    if "runs" not in existing:
        op.create_table(
            "runs",
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("job", sa.Text, nullable=False),
            sa.Column("segment", sa.Text, nullable=False),
            sa.Column("notebook", sa.Text, nullable=False),
            sa.Column("parameters", JSONText, nullable=False),
            sa.Column("timeout_s", sa.Integer, nullable=False),
            sa.Column("status", sa.Text, nullable=False),
            sa.Column("trigger", sa.Text, nullable=False),
            sa.Column("requested_by", sa.Text, nullable=False),
            sa.Column("created_at", UTCDateTime, nullable=False),
            sa.Column("started_at", UTCDateTime),
            sa.Column("finished_at", UTCDateTime),
            sa.Column("error", sa.Text),
            sa.Column("cells_done", sa.Integer),
            sa.Column("cells_total", sa.Integer),
            sa.Column("pid", sa.Integer),
            sqlite_autoincrement=True,
        )
        op.create_index("runs_job", "runs", ["job", "id"])
        op.create_index("runs_status", "runs", ["status"])


def downgrade() -> None:
    op.drop_table("runs")
    op.drop_table("jobs")
