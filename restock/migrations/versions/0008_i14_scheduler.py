"""scheduler: job runs gain an idempotency key, trigger, process, counts, attempts and the 'skipped'
status; APScheduler's job store table

Revision ID: 0008_i14_scheduler
Revises: 0007_i13_approval
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_i14_scheduler"
down_revision = "0007_i13_approval"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("job_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("run_key", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("trigger", sa.String(length=16), nullable=False, server_default="cli"))
        batch_op.add_column(sa.Column("counts", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="1"))
        batch_op.add_column(sa.Column("host", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("pid", sa.Integer(), nullable=True))
        batch_op.drop_column("details")
        batch_op.drop_constraint(op.f("ck_job_runs_status_known"), type_="check")
        batch_op.create_check_constraint(
            "status_known", "status IN ('running', 'succeeded', 'failed', 'skipped')"
        )
        batch_op.create_index("ix_job_runs_job_key", ["job", "run_key", "status"], unique=False)
    with op.batch_alter_table("job_runs", schema=None) as batch_op:
        batch_op.alter_column("trigger", server_default=None)
        batch_op.alter_column("attempts", server_default=None)

    op.create_table(
        "apscheduler_jobs",
        sa.Column("id", sa.Unicode(length=191), nullable=False),
        sa.Column("next_run_time", sa.Float(precision=25), nullable=True),
        sa.Column("job_state", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_apscheduler_jobs")),
    )
    with op.batch_alter_table("apscheduler_jobs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_apscheduler_jobs_next_run_time"), ["next_run_time"], unique=False
        )


def downgrade() -> None:
    op.drop_table("apscheduler_jobs")
    with op.batch_alter_table("job_runs", schema=None) as batch_op:
        batch_op.drop_index("ix_job_runs_job_key")
        batch_op.drop_constraint(op.f("ck_job_runs_status_known"), type_="check")
        batch_op.create_check_constraint("status_known", "status IN ('running', 'succeeded', 'failed')")
        batch_op.add_column(sa.Column("details", sa.JSON(), nullable=True))
        for column in ("pid", "host", "attempts", "counts", "trigger", "run_key"):
            batch_op.drop_column(column)
