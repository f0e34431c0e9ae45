"""data_version: a counter the database bumps, by triggers, on every committed change to any table
but the excluded ones (sessions, login failures, audit log, job lock heartbeats, the scheduler's
job store); the web app's response cache is keyed by it. See `restock.data_version` for how the
triggers work on each database and why PostgreSQL bumps at commit.

Every table that exists at this revision gets its triggers (all but
`restock.data_version.EXCLUDED_TABLES`). **A migration that creates a table must add them**:
`data_version.add_triggers(op.get_bind(), "new_table")`; on SQLite, a `batch_alter_table` that
copies a table drops its triggers, so call it again after the batch.
`tests/test_data_version.py` fails for any table of the metadata left without them.

Revision ID: 0016_h15c_data_version
Revises: 0015_h15_problem_digest
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from restock import data_version

revision = "0016_h15c_data_version"
down_revision = "0015_h15_problem_digest"
branch_labels = None
depends_on = None


def _triggered_tables() -> list[str]:
    names = sa.inspect(op.get_bind()).get_table_names()
    return sorted(set(names) - data_version.EXCLUDED_TABLES)


def upgrade() -> None:
    op.create_table(
        "data_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("id = 1", name="ck_data_version_one_row"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "data_version_pending",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.execute(sa.text("INSERT INTO data_version (id, version) VALUES (1, 0)"))
    bind = op.get_bind()
    data_version.jump(bind)  # a database made again never repeats the versions of the one before
    data_version.install(bind)
    for table in _triggered_tables():
        data_version.add_triggers(bind, table)


def downgrade() -> None:
    bind = op.get_bind()
    for table in _triggered_tables():
        data_version.drop_triggers(bind, table)
    if bind.dialect.name == "postgresql":
        op.execute(sa.text("DROP TRIGGER IF EXISTS data_version_bump ON data_version_pending"))
        op.execute(sa.text("DROP FUNCTION IF EXISTS restock_bump_data_version()"))
        op.execute(sa.text("DROP FUNCTION IF EXISTS restock_data_changed()"))
    op.drop_table("data_version_pending")
    op.drop_table("data_version")
