"""Tables the scheduler owns: the history of job runs, and APScheduler's job store.

`job_runs` is the operator's record: one row per run of a job (scheduled, by
hand with `restock run`, or a CLI command doing the same work) with its
business date, idempotency key, outcome and counts. `apscheduler_jobs` is the
table APScheduler's `SQLAlchemyJobStore` keeps its schedule in; it is declared
here (same columns APScheduler 3.x creates) so migrations own every table.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Float,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    Unicode,
)
from sqlalchemy.orm import Mapped, mapped_column

from kernel.orm import Base

RUN_STATUSES = ("running", "succeeded", "failed", "skipped")


class JobRun(Base):
    """One run of a job (nightly, propose, export, backup, import, forecast, ...) with its outcome.

    `as_of` is the business date the run is for and `run_key` its idempotency key
    (the business date, or the time slot for frequent jobs): a job that
    succeeded for a key is not run again unless forced. `host` and `pid` say
    which process ran it; a 'running' row whose process died is marked failed
    by the next process that takes the job's lock.
    """

    __tablename__ = "job_runs"
    __table_args__ = (
        CheckConstraint(
            "status IN ('running', 'succeeded', 'failed', 'skipped')", name="status_known"
        ),
        Index("ix_job_runs_job_key", "job", "run_key", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    job: Mapped[str] = mapped_column(String(64), index=True)
    as_of: Mapped[date | None] = mapped_column(Date)
    run_key: Mapped[str | None] = mapped_column(String(32))
    trigger: Mapped[str] = mapped_column(String(16), default="cli")
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(16), default="running")
    message: Mapped[str | None] = mapped_column(Text)
    counts: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    host: Mapped[str | None] = mapped_column(String(255))
    pid: Mapped[int | None] = mapped_column(Integer)


# APScheduler 3.x SQLAlchemyJobStore's table, column for column; the job state is
# APScheduler's own serialisation of the trigger and a `module:function` text reference.
apscheduler_jobs = Table(
    "apscheduler_jobs",
    Base.metadata,
    Column("id", Unicode(191), primary_key=True),
    Column("next_run_time", Float(25), index=True),
    Column("job_state", LargeBinary, nullable=False),
)
