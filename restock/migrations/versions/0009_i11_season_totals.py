"""forecast_series.season_total: a seasonal SKU's total over its next season, with its parts and reasons

Revision ID: 0009_i11_season_totals
Revises: 0008_i14_scheduler
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_i11_season_totals"
down_revision = "0008_i14_scheduler"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("forecast_series", schema=None) as batch_op:
        batch_op.add_column(sa.Column("season_total", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("forecast_series", schema=None) as batch_op:
        batch_op.drop_column("season_total")
