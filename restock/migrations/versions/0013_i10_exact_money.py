"""Money exact on SQLite: every money and unit-cost column holds an INTEGER count of fen (unit
costs: of 1/10000 CNY) instead of SQLite's binary-float NUMERIC, so `sum(revenue)` no longer
drifts (kernel.orm.ExactDecimal). PostgreSQL keeps NUMERIC and is not touched.

Revision ID: 0013_i10_exact_money
Revises: 0012_i10_run_records
Create Date: 2026-11-26
"""

from __future__ import annotations

from alembic import op

revision = "0013_i10_exact_money"
down_revision = "0012_i10_run_records"
branch_labels = None
depends_on = None

# (table, column, decimal places) of every ExactDecimal column at this revision.
COLUMNS = (
    ("suppliers", "min_order_value", 2),
    ("proposals", "budget", 2),
    ("proposals", "spend", 2),
    ("proposals", "rebate", 2),
    ("proposals", "expected_profit", 2),
    ("rebate_agreements", "purchases_to_date", 2),
    ("skus", "price", 2),
    ("daily_sales", "revenue", 2),
    ("proposal_lines", "unit_cost", 4),
    ("proposal_lines", "effective_unit_cost", 4),
    ("proposal_lines", "value", 2),
    ("proposal_lines", "rebate_share", 2),
    ("proposal_supplier_summaries", "value", 2),
    ("proposal_supplier_summaries", "rebate_earned", 2),
    ("rebate_tiers", "threshold", 2),
    ("supplier_items", "unit_cost", 4),
    ("purchase_order_lines", "unit_cost", 4),
    ("orders", "unit_price", 2),
    ("orders", "deposit", 2),
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table, column, places in COLUMNS:
        op.execute(
            f'UPDATE "{table}" SET "{column}" = CAST(ROUND("{column}" * {10**places}) AS INTEGER) '
            f'WHERE "{column}" IS NOT NULL'
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table, column, places in COLUMNS:
        op.execute(
            f'UPDATE "{table}" SET "{column}" = CAST("{column}" AS REAL) / {10**places} '
            f'WHERE "{column}" IS NOT NULL'
        )
