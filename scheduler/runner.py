"""The one path every job run takes: scheduled, by hand (`restock run`), after a crash, or from a CLI command.

`run_job` takes the job's cross-process lock (`kernel.locks.job_lock`: a
PostgreSQL advisory lock, or on SQLite a lock row with a lease and a
heartbeat), marks runs of the job whose process died as interrupted, skips a
business date that already succeeded (unless forced), records the run, and
calls the job function, retrying it with exponential backoff (tenacity) when
the database fails transiently. Job functions write in their own
transactions, so a retried or killed run leaves nothing half-written.

`fire` is what APScheduler's job store references (`scheduler.runner:fire`):
it runs a job for the time it was scheduled at, with the process's clock.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential

from kernel.errors import InvalidInput
from kernel.locks import JobLockBusy, job_lock
from restock.settings import Settings
from scheduler.jobs import JOBS, JobContext, JobSpec
from scheduler.runs import JobRunHandle, job_run, mark_interrupted, record_skipped, succeeded_run

log = logging.getLogger("restock.scheduler")

# PostgreSQL SQLSTATEs worth another try: connection lost/refused, serialization failure,
# deadlock, server shutting down or starting, too many connections.
_TRANSIENT_SQLSTATES = {"40001", "40P01", "57P01", "57P02", "57P03", "53300"}
_SCHEDULED_TRIGGERS = ("scheduler", "recovery")


@dataclass(frozen=True)
class RunResult:
    """How one attempt to run a job ended."""

    job: str
    business_date: date
    key: str
    status: str  # succeeded | skipped (failures raise)
    message: str
    run_id: int | None
    counts: dict[str, Any]


def is_transient(exc: BaseException) -> bool:
    """Whether a database error may succeed if tried again (lost connection, deadlock, busy SQLite)."""
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    orig = exc.orig
    sqlstate = getattr(orig, "sqlstate", None)
    if sqlstate is not None:
        return sqlstate.startswith("08") or sqlstate in _TRANSIENT_SQLSTATES
    if isinstance(orig, sqlite3.OperationalError):
        message = str(orig).lower()
        return "locked" in message or "busy" in message
    try:
        import psycopg
    except ImportError:  # pragma: no cover - psycopg is a dependency
        return False
    return isinstance(orig, psycopg.OperationalError)


def get_job(name: str) -> JobSpec:
    """The job called `name`; `InvalidInput` lists the known ones."""
    try:
        return JOBS[name]
    except KeyError:
        raise InvalidInput(f"unknown job {name!r} (expected one of: {', '.join(JOBS)})") from None


def lock_kind(job: str) -> str:
    """The lock a job's runs take (distinct from the locks services take inside, e.g. `import`)."""
    return f"job:{job}"


def run_job(
    name: str,
    *,
    engine: Engine,
    settings: Settings,
    now: Callable[[], datetime],
    business_date: date | None = None,
    scheduled_at: datetime | None = None,
    force: bool = False,
    trigger: str = "manual",
    lock_wait_s: float = 0.0,
    sleep: Callable[[float], None] = time.sleep,
) -> RunResult:
    """Run job `name` once for a business date, through the lock, the idempotency check and the history.

    The business date is `business_date` (normalised: weekly jobs take the
    Monday), else the one the scheduled time (or now) stands for. A run that
    already succeeded for the date is recorded as skipped unless `force`.
    When another process holds the job's lock, a scheduled run is recorded as
    skipped and a manual one raises `JobLockBusy` (after `lock_wait_s`).
    Failures are recorded and raised.
    """
    spec = get_job(name)
    tz = settings.tz
    local = (scheduled_at or now()).astimezone(tz)
    day = spec.normalise(business_date) if business_date is not None else spec.business_date(local)
    key = spec.key(day, local)
    try:
        with job_lock(
            engine,
            lock_kind(name),
            now=now,
            wait_s=lock_wait_s,
            lease_s=settings.scheduler.lease_s,
            tz=tz,
            holder=f"scheduler ({trigger})",
        ):
            for dead in mark_interrupted(engine, name, now()):
                log.warning("%s: run %s (%s) was interrupted; marked failed", name, dead["id"], dead["key"])
            if not force:
                done = succeeded_run(engine, name, key)
                if done is not None:
                    message = (
                        f"already succeeded for {key} (run {done['id']}, finished "
                        f"{_local(done['finished_at'], tz)}); use --force to run it again"
                    )
                    run_id = record_skipped(
                        engine, name, as_of=day, key=key, trigger=trigger, message=message, at=now()
                    )
                    return RunResult(name, day, key, "skipped", message, run_id, {})
            with job_run(engine, name, as_of=day, now=now, key=key, trigger=trigger) as run:
                context = JobContext(
                    engine=engine,
                    settings=settings,
                    business_date=day,
                    key=key,
                    now=now,
                    trigger=trigger,
                    scheduled_at=scheduled_at,
                )
                outcome = _call_with_retries(spec, context, run, settings, sleep)
                run.message = outcome.message
                run.counts = outcome.counts
                run.status = outcome.status
            return RunResult(name, day, key, outcome.status, outcome.message, run.id, outcome.counts)
    except JobLockBusy as busy:
        if trigger not in _SCHEDULED_TRIGGERS or busy.kind != lock_kind(name):
            raise  # by hand, or a lock the job takes inside (its run is recorded failed)
        message = f"not started: {busy}"
        run_id = record_skipped(engine, name, as_of=day, key=key, trigger=trigger, message=message, at=now())
        return RunResult(name, day, key, "skipped", message, run_id, {})


def _call_with_retries(
    spec: JobSpec,
    context: JobContext,
    run: JobRunHandle,
    settings: Settings,
    sleep: Callable[[float], None],
) -> Any:
    conf = settings.scheduler

    def before_sleep(state: Any) -> None:
        log.warning(
            "%s: transient database error on try %d, trying again in %.1f s: %s",
            spec.name,
            state.attempt_number,
            state.next_action.sleep if state.next_action else 0.0,
            state.outcome.exception() if state.outcome else "",
        )

    retrying = Retrying(
        stop=stop_after_attempt(conf.retry_attempts),
        wait=wait_exponential(multiplier=1, min=1, max=conf.retry_max_wait_s),
        retry=retry_if_exception(is_transient),
        sleep=sleep,
        before_sleep=before_sleep,
        reraise=True,
    )
    for attempt in retrying:
        with attempt:
            run.attempts = attempt.retry_state.attempt_number
            return spec.function(context)
    raise AssertionError("unreachable: tenacity re-raises the last error")  # pragma: no cover


def _local(value: datetime | None, tz: Any) -> str:
    if value is None:
        return "?"
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return aware.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z")


@contextmanager
def recorded_cli_run(
    engine: Engine,
    job: str,
    *,
    as_of: date | None,
    now: Callable[[], datetime],
    settings: Settings,
    lock_wait_s: float = 600.0,
    on_wait: Callable[[Any], None] | None = None,
) -> Iterator[JobRunHandle]:
    """A CLI command doing a job's work (`restock propose`, `forecast`, `import`): the same lock
    as the job, interrupted runs marked, and a job run recorded with trigger 'cli'. No idempotency
    skip: a person asked for it."""
    with job_lock(
        engine,
        lock_kind(job),
        now=now,
        wait_s=lock_wait_s,
        lease_s=settings.scheduler.lease_s,
        tz=settings.tz,
        on_wait=on_wait,
    ):
        mark_interrupted(engine, job, now())
        with job_run(engine, job, as_of=as_of, now=now, trigger="cli") as run:
            yield run


# -- APScheduler's entry point ---------------------------------------------------------------------


@dataclass
class _Runtime:
    engine: Engine
    settings: Settings
    now: Callable[[], datetime]
    sleep: Callable[[float], None] = time.sleep


_runtime: dict[str, _Runtime] = {}


def install_runtime(engine: Engine, settings: Settings, now: Callable[[], datetime],
                    sleep: Callable[[float], None] = time.sleep) -> None:
    """Give `fire` the database, settings and clock of this scheduler process."""
    _runtime["current"] = _Runtime(engine, settings, now, sleep)


def record_missed(job: str, scheduled_at: datetime, grace_s: float) -> int:
    """Record that a scheduled run was missed by more than the grace time (the scheduler was down)."""
    runtime = _runtime["current"]
    spec = get_job(job)
    tz = runtime.settings.tz
    local = scheduled_at.astimezone(tz)
    day = spec.business_date(local)
    now = runtime.now()
    message = (
        f"missed: due {local:%Y-%m-%d %H:%M %Z}, the scheduler only saw it at "
        f"{now.astimezone(tz):%Y-%m-%d %H:%M}, "
        f"beyond the {grace_s / 3600:g} h grace time; run it by hand with `restock run {job} --date {day}`"
    )
    return record_skipped(
        runtime.engine, job, as_of=day, key=spec.key(day, local), trigger="scheduler", message=message, at=now
    )


def fire(job: str, *, scheduled_at: datetime | None = None, business_date: str | None = None,
         trigger: str = "scheduler") -> RunResult:
    """Run `job` for the time it was scheduled at (APScheduler's executor passes it in)."""
    runtime = _runtime.get("current")
    if runtime is None:
        raise RuntimeError("scheduler.runner.fire called outside a scheduler process (no runtime installed)")
    return run_job(
        job,
        engine=runtime.engine,
        settings=runtime.settings,
        now=runtime.now,
        scheduled_at=scheduled_at,
        business_date=date.fromisoformat(business_date) if business_date else None,
        trigger=trigger,
        sleep=runtime.sleep,
    )
