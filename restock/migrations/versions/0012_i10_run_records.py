"""Records that stay true: proposals.forecast_run_id becomes an integer foreign key to the run it
read (a run a proposal used cannot be deleted), and forecast_runs.inputs_fingerprint records what
the run read (sales up to its as-of date, catalogue, promotions, parameters).

A proposal naming a run that no longer exists (or not a run id at all) keeps no reference: there
is nothing left for it to point at.

Revision ID: 0012_i10_run_records
Revises: 0011_i9_reasons
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_i10_run_records"
down_revision = "0011_i9_reasons"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "UPDATE proposals SET forecast_run_id = NULL WHERE forecast_run_id IS NOT NULL AND "
        "forecast_run_id NOT IN (SELECT CAST(id AS VARCHAR(64)) FROM forecast_runs)"
    )
    with op.batch_alter_table("proposals", schema=None) as batch_op:
        batch_op.alter_column(
            "forecast_run_id",
            existing_type=sa.String(length=64),
            type_=sa.Integer(),
            existing_nullable=True,
            postgresql_using="forecast_run_id::integer",
        )
        batch_op.create_index(batch_op.f("ix_proposals_forecast_run_id"), ["forecast_run_id"])
        batch_op.create_foreign_key(
            batch_op.f("fk_proposals_forecast_run_id_forecast_runs"),
            "forecast_runs",
            ["forecast_run_id"],
            ["id"],
            ondelete="RESTRICT",
        )
    with op.batch_alter_table("forecast_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("inputs_fingerprint", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("forecast_runs", schema=None) as batch_op:
        batch_op.drop_column("inputs_fingerprint")
    with op.batch_alter_table("proposals", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_proposals_forecast_run_id_forecast_runs"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_proposals_forecast_run_id"))
        batch_op.alter_column(
            "forecast_run_id",
            existing_type=sa.Integer(),
            type_=sa.String(length=64),
            existing_nullable=True,
            postgresql_using="forecast_run_id::varchar",
        )
