"""orders, order_flags, brushing_clusters and installation_secrets: order-level import (issue 17)

Revision ID: 0010_h17_orders
Revises: 0009_i11_season_totals
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_h17_orders"
down_revision = "0009_i11_season_totals"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "installation_secrets",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_installation_secrets")),
    )
    op.create_table(
        "orders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.String(length=64), nullable=False),
        sa.Column("sku_id", sa.Integer(), nullable=False),
        sa.Column("ordered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("units", sa.Integer(), nullable=False),
        sa.Column("unit_price", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("buyer_hash", sa.String(length=32), nullable=False),
        sa.Column("ip_hash", sa.String(length=32), nullable=True),
        sa.Column("address_hash", sa.String(length=32), nullable=True),
        sa.Column("channel", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("presale", sa.Boolean(), nullable=False),
        sa.Column("deposit", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("deposit_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("final_paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sale_date", sa.Date(), nullable=True),
        sa.CheckConstraint("units > 0", name=op.f("ck_orders_units_positive")),
        sa.CheckConstraint("unit_price >= 0", name=op.f("ck_orders_price_nonneg")),
        sa.CheckConstraint("status IN ('paid', 'cancelled', 'refunded')", name=op.f("ck_orders_status_known")),
        sa.CheckConstraint("deposit IS NULL OR deposit >= 0", name=op.f("ck_orders_deposit_nonneg")),
        sa.ForeignKeyConstraint(["sku_id"], ["skus.id"], name=op.f("fk_orders_sku_id_skus")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orders")),
        sa.UniqueConstraint("order_id", "sku_id", name=op.f("uq_orders_order_id_sku_id")),
    )
    op.create_index(op.f("ix_orders_sku_id"), "orders", ["sku_id"], unique=False)
    op.create_index(op.f("ix_orders_business_date"), "orders", ["business_date"], unique=False)
    op.create_index(op.f("ix_orders_sale_date"), "orders", ["sale_date"], unique=False)
    op.create_table(
        "order_flags",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_row_id", sa.Integer(), nullable=False),
        sa.Column("cluster", sa.String(length=100), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.Column("detected_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_row_id"], ["orders.id"], name=op.f("fk_order_flags_order_row_id_orders"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_flags")),
        sa.UniqueConstraint("order_row_id", name=op.f("uq_order_flags_order_row_id")),
    )
    op.create_index(op.f("ix_order_flags_cluster"), "order_flags", ["cluster"], unique=False)
    op.create_table(
        "brushing_clusters",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cluster", sa.String(length=100), nullable=False),
        sa.Column("first_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("orders", sa.Integer(), nullable=False),
        sa.Column("units", sa.Integer(), nullable=False),
        sa.Column("skus", sa.JSON(), nullable=False),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("detected_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_brushing_clusters")),
        sa.UniqueConstraint("cluster", name=op.f("uq_brushing_clusters_cluster")),
    )
    op.create_index(op.f("ix_brushing_clusters_first_at"), "brushing_clusters", ["first_at"], unique=False)


def downgrade() -> None:
    op.drop_table("brushing_clusters")
    op.drop_table("order_flags")
    op.drop_table("orders")
    op.drop_table("installation_secrets")
