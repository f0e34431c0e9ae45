"""Job-run history: every job (import, forecast, propose, demo) leaves a row saying how it ended."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import Engine, select

from kernel.orm import unit_of_work
from scheduler.models import JobRun


@dataclass
class JobRunHandle:
    """What the job body may fill in: a one-line message and JSON details for the history."""

    id: int
    message: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


@contextmanager
def job_run(
    engine: Engine, job: str, *, as_of: date | None, now: Callable[[], datetime]
) -> Iterator[JobRunHandle]:
    """Record a run of `job`: 'running' at start (own transaction), then 'succeeded' or 'failed'.

    `now()` returns the current aware datetime (passed in so replays are testable).
    The job's own writes happen in the job's transactions; a failure is recorded
    with its message and re-raised.
    """
    with unit_of_work(engine) as session:
        run = JobRun(job=job, as_of=as_of, started_at=now(), status="running")
        session.add(run)
        session.flush()
        handle = JobRunHandle(id=run.id)
    try:
        yield handle
    except BaseException as exc:
        with unit_of_work(engine) as session:
            run = session.get(JobRun, handle.id)
            run.status = "failed"
            run.finished_at = now()
            run.message = f"{type(exc).__name__}: {exc}"[:4000]
            run.details = handle.details or None
        raise
    with unit_of_work(engine) as session:
        run = session.get(JobRun, handle.id)
        run.status = "succeeded"
        run.finished_at = now()
        run.message = handle.message
        run.details = handle.details or None


def last_runs(engine: Engine, limit: int = 10) -> list[dict[str, Any]]:
    """The most recent job runs, newest first, as plain dicts."""
    with unit_of_work(engine) as session:
        rows = session.scalars(select(JobRun).order_by(JobRun.id.desc()).limit(limit)).all()
        return [
            {
                "id": r.id,
                "job": r.job,
                "as_of": r.as_of,
                "started_at": r.started_at,
                "finished_at": r.finished_at,
                "status": r.status,
                "message": r.message,
            }
            for r in rows
        ]
