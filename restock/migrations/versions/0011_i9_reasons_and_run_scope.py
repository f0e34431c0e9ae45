"""Reason codes on proposal lines and exclusions, rebates per agreement; complete or partial runs.

Revision ID: 0011_i9_reasons
Revises: 0010_h17_orders
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_i9_reasons"
down_revision = "0010_h17_orders"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("forecast_runs", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("scope", sa.String(length=16), server_default="complete", nullable=False)
        )
        batch_op.create_check_constraint(
            op.f("ck_forecast_runs_scope_known"), "scope IN ('complete', 'partial')"
        )
    with op.batch_alter_table("proposals", schema=None) as batch_op:
        batch_op.add_column(sa.Column("agreements", sa.JSON(), nullable=True))
    with op.batch_alter_table("proposal_lines", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reasons", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("rebate_share", sa.Numeric(precision=14, scale=2), nullable=True))
    with op.batch_alter_table("proposal_exclusions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("code", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("params", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("proposal_exclusions", schema=None) as batch_op:
        batch_op.drop_column("params")
        batch_op.drop_column("code")
    with op.batch_alter_table("proposal_lines", schema=None) as batch_op:
        batch_op.drop_column("rebate_share")
        batch_op.drop_column("reasons")
    with op.batch_alter_table("proposals", schema=None) as batch_op:
        batch_op.drop_column("agreements")
    with op.batch_alter_table("forecast_runs", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_forecast_runs_scope_known"), type_="check")
        batch_op.drop_column("scope")
