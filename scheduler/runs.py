"""Job-run history: every job (scheduled, run by hand, or a CLI command doing the same work) leaves a row.

A run is written as 'running' in its own transaction before the work starts,
then finished as 'succeeded', 'failed' or 'skipped' with a message and counts.
The job's own writes happen in the job's transactions, so a run that dies
half-way leaves a 'running' row and nothing else; the next process to take
the job's lock marks such rows failed ("interrupted") and may run the key again.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Engine, func, select

from kernel.orm import unit_of_work
from scheduler.models import JobRun


@dataclass
class JobRunHandle:
    """What the job body may fill in: a one-line message, counts, and 'skipped' when it had nothing to do."""

    id: int
    message: str | None = None
    counts: dict[str, Any] = field(default_factory=dict)
    status: str = "succeeded"
    attempts: int = 1

    @property
    def details(self) -> dict[str, Any]:
        """Older name of `counts`."""
        return self.counts


@contextmanager
def job_run(
    engine: Engine,
    job: str,
    *,
    as_of: date | None,
    now: Callable[[], datetime],
    key: str | None = None,
    trigger: str = "cli",
) -> Iterator[JobRunHandle]:
    """Record a run of `job`: 'running' at start (own transaction), then how it ended.

    `as_of` is the business date the run is for, `key` its idempotency key
    (default: the business date), `trigger` who started it (scheduler, manual,
    recovery, cli). `now()` returns the current aware datetime (passed in so
    replays are testable). The body may set `handle.status = "skipped"`; an
    exception is recorded as 'failed' with its message and re-raised.
    """
    with unit_of_work(engine) as session:
        run = JobRun(
            job=job,
            as_of=as_of,
            run_key=key if key is not None else (as_of.isoformat() if as_of else None),
            trigger=trigger,
            started_at=_utc(now()),
            status="running",
            host=socket.gethostname()[:255],
            pid=os.getpid(),
            attempts=1,
        )
        session.add(run)
        session.flush()
        handle = JobRunHandle(id=run.id)
    try:
        yield handle
    except BaseException as exc:
        _finish(engine, handle, "failed", f"{type(exc).__name__}: {exc}", now())
        raise
    _finish(engine, handle, handle.status, handle.message, now())


def _finish(engine: Engine, handle: JobRunHandle, status: str, message: str | None, at: datetime) -> None:
    with unit_of_work(engine) as session:
        run = session.get(JobRun, handle.id)
        assert run is not None
        run.status = status
        run.finished_at = _utc(at)
        run.message = None if message is None else message[:4000]
        run.counts = handle.counts or None
        run.attempts = handle.attempts


def record_skipped(
    engine: Engine,
    job: str,
    *,
    as_of: date | None,
    key: str | None,
    trigger: str,
    message: str,
    at: datetime,
) -> int:
    """Write a finished 'skipped' run (already done for this key, missed, or busy elsewhere)."""
    with unit_of_work(engine) as session:
        run = JobRun(
            job=job,
            as_of=as_of,
            run_key=key,
            trigger=trigger,
            started_at=_utc(at),
            finished_at=_utc(at),
            status="skipped",
            message=message[:4000],
            host=socket.gethostname()[:255],
            pid=os.getpid(),
            attempts=0,
        )
        session.add(run)
        session.flush()
        return int(run.id)


def succeeded_run(engine: Engine, job: str, key: str) -> dict[str, Any] | None:
    """The latest successful run of `job` for idempotency key `key`, or None."""
    with unit_of_work(engine) as session:
        run = session.scalars(
            select(JobRun)
            .where(JobRun.job == job, JobRun.run_key == key, JobRun.status == "succeeded")
            .order_by(JobRun.id.desc())
            .limit(1)
        ).first()
        return None if run is None else _as_dict(run)


def mark_interrupted(engine: Engine, job: str, at: datetime) -> list[dict[str, Any]]:
    """Mark every 'running' run of `job` failed as interrupted; return them (as they were).

    Call only while holding the job's lock: then no live process is running it,
    so a 'running' row belongs to a process that died (kill -9, power loss).
    """
    with unit_of_work(engine) as session:
        runs = session.scalars(select(JobRun).where(JobRun.job == job, JobRun.status == "running")).all()
        found = [_as_dict(run) for run in runs]
        for run in runs:
            run.status = "failed"
            run.finished_at = _utc(at)
            run.message = (
                f"interrupted: process {run.pid} on {run.host} stopped before the run finished; "
                "nothing it was writing was committed"
            )
        return found


def last_runs(engine: Engine, limit: int = 10, job: str | None = None) -> list[dict[str, Any]]:
    """The most recent job runs (of `job`, or all), newest first, as plain dicts."""
    with unit_of_work(engine) as session:
        query = select(JobRun).order_by(JobRun.id.desc()).limit(limit)
        if job is not None:
            query = query.where(JobRun.job == job)
        return [_as_dict(run) for run in session.scalars(query).all()]


def latest_by_job(engine: Engine) -> dict[str, dict[str, dict[str, Any] | None]]:
    """Per job: its latest run and its latest successful run."""
    with unit_of_work(engine) as session:
        latest_ids = session.execute(select(JobRun.job, func.max(JobRun.id)).group_by(JobRun.job)).all()
        success_ids = session.execute(
            select(JobRun.job, func.max(JobRun.id)).where(JobRun.status == "succeeded").group_by(JobRun.job)
        ).all()
        wanted = {run_id for _, run_id in latest_ids} | {run_id for _, run_id in success_ids}
        runs = {run.id: _as_dict(run) for run in session.scalars(select(JobRun).where(JobRun.id.in_(wanted)))}
        success = dict(success_ids)
        return {
            job: {"last": runs[run_id], "last_success": runs.get(success.get(job, -1))}
            for job, run_id in latest_ids
        }


def _utc(at: datetime) -> datetime:
    # SQLite keeps no zone: store UTC so every naive value read back is UTC.
    return at.astimezone(UTC)


def _read(at: datetime | None) -> datetime | None:
    return at if at is None or at.tzinfo is not None else at.replace(tzinfo=UTC)


def _as_dict(run: JobRun) -> dict[str, Any]:
    return {
        "id": run.id,
        "job": run.job,
        "as_of": run.as_of,
        "key": run.run_key,
        "trigger": run.trigger,
        "started_at": _read(run.started_at),
        "finished_at": _read(run.finished_at),
        "status": run.status,
        "message": run.message,
        "counts": run.counts,
        "attempts": run.attempts,
        "host": run.host,
        "pid": run.pid,
    }
