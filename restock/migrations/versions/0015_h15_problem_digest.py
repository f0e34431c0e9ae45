"""proposal_lines: an index per grid sort key (with the id breaking ties), so a page of 50 lines
sorted by any column is read in index order instead of sorting every line of the proposal.

proposals.problem_sha256: the digest of the saved problem JSON, so the web app keeps the parsed
problem by digest instead of reading the megabyte text on every request; on SQLite the text also
moves to the row's end.

SQLite stores a row's columns in order, and a text larger than a page continues on a chain of
overflow pages: reading any column after `problem` (state, lock_version, ...) walked the whole
megabyte chain, ~2 ms for a 2,000-SKU proposal on every request that read a proposal. With
`problem` last, a read that does not select it stops before it. (PostgreSQL keeps large values
out of line already.)

Revision ID: 0015_h15_problem_digest
Revises: 0014_i10_run_input_parts
Create Date: 2026-11-27
"""

from __future__ import annotations

import hashlib

import sqlalchemy as sa
from alembic import op

revision = "0015_h15_problem_digest"
down_revision = "0014_i10_run_input_parts"
branch_labels = None
depends_on = None


# replenishment.models.LINE_SORT_COLUMNS as of this revision (a migration does not import models).
SORT_COLUMNS = (
    "sku_code",
    "supplier_code",
    "units",
    "value",
    "margin_pct",
    "days_of_cover",
    "stockout_probability_without",
)
# Every column of proposals that 0003..0014 left after `problem`, then the new digest, then the text.
_AFTER_PROBLEM = (
    "state", "lock_version", "approved_week", "state_changed_at", "state_changed_by", "agreements",
    "problem_sha256",
)


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    with op.batch_alter_table(
        "proposals",
        schema=None,
        recreate="always" if sqlite else "auto",
        partial_reordering=[(*_AFTER_PROBLEM, "problem")] if sqlite else None,
    ) as batch_op:
        batch_op.add_column(sa.Column("problem_sha256", sa.String(length=64), nullable=True))
    proposals = sa.table(
        "proposals", sa.column("id", sa.Integer), sa.column("problem", sa.Text),
        sa.column("problem_sha256", sa.String),
    )
    conn = op.get_bind()
    ids = [row.id for row in conn.execute(sa.select(proposals.c.id))]
    for proposal_id in ids:  # one text at a time: a problem can be megabytes
        text = conn.execute(sa.select(proposals.c.problem).where(proposals.c.id == proposal_id)).scalar_one()
        conn.execute(
            proposals.update()
            .where(proposals.c.id == proposal_id)
            .values(problem_sha256=hashlib.sha256(text.encode("utf-8")).hexdigest())
        )


    for key in SORT_COLUMNS:
        op.create_index(f"ix_proposal_lines_sort_{key}", "proposal_lines", ["proposal_id", key, "id"])


def downgrade() -> None:
    for key in SORT_COLUMNS:
        op.drop_index(f"ix_proposal_lines_sort_{key}", table_name="proposal_lines")
    with op.batch_alter_table("proposals", schema=None) as batch_op:
        batch_op.drop_column("problem_sha256")
