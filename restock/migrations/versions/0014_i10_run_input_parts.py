"""forecast_runs.inputs_parts: the digest of each part a run read (sales, SKU catalogue, promotions,
parameters), so `restock forecast list` and `status` can say which part changed since the run.

Revision ID: 0014_i10_run_input_parts
Revises: 0013_i10_exact_money
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_i10_run_input_parts"
down_revision = "0013_i10_exact_money"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("forecast_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("inputs_parts", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("forecast_runs", schema=None) as batch_op:
        batch_op.drop_column("inputs_parts")
