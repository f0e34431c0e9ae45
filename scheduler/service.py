"""`restock scheduler`: APScheduler 3.x with its job store in the application database.

Jobs are stored by APScheduler's `SQLAlchemyJobStore` in `apscheduler_jobs`,
each as a `module:function` text reference (`scheduler.runner:fire`) with the
job's name as argument and a cron trigger in the configured time zone; never a
pickled callable. A job whose schedule did not change keeps its stored next
run time across restarts, so a run missed while the scheduler was down fires
once on start (coalesced) if it is within the misfire grace time, and is
recorded as missed otherwise. `max_instances=1` per process, and the job's
cross-process lock and idempotency key (in `scheduler.runner`) keep two
scheduler processes from running the same job or date twice.

Runs happen on worker threads of `JobExecutor`, which hands APScheduler's
scheduled time to the job (the business date comes from it) and judges
misfires with the scheduler's clock. The clock is passed in: the real one, an
offset one for rehearsals (`restock scheduler --start-at`), or a test's.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MISSED,
    JobExecutionEvent,
)
from apscheduler.executors.base import BaseExecutor
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import Engine

from kernel.errors import ConfigError
from kernel.locks import JobLockBusy, current_holder, job_lock
from restock.settings import Settings
from scheduler import runner
from scheduler.jobs import JOBS
from scheduler.runs import latest_by_job, mark_interrupted, succeeded_run

log = logging.getLogger("restock.scheduler")

FIRE = "scheduler.runner:fire"
JOBSTORE_TABLE = "apscheduler_jobs"

Clock = Callable[[], datetime]


class OffsetClock:
    """Real time shifted to start at `start`: a rehearsal of the schedule at another date."""

    def __init__(self, start: datetime) -> None:
        self._start = start
        self._began = time.monotonic()

    def __call__(self) -> datetime:
        return self._start + timedelta(seconds=time.monotonic() - self._began)


def triggers(settings: Settings) -> dict[str, CronTrigger]:
    """The cron trigger of every scheduled job, in the configured zone; unknown job names refused."""
    unknown = sorted(set(settings.schedules) - set(JOBS))
    if unknown:
        raise ConfigError(
            f"schedules: no such job {', '.join(map(repr, unknown))} (expected: {', '.join(JOBS)})"
        )
    tz = settings.tz
    return {name: CronTrigger.from_crontab(expr, timezone=tz) for name, expr in settings.schedules.items()}


def next_run_times(settings: Settings, after: datetime, count: int = 1) -> dict[str, list[datetime]]:
    """The next `count` run times of every scheduled job at or after `after`, in the configured zone."""
    out: dict[str, list[datetime]] = {}
    for name, trigger in triggers(settings).items():
        times: list[datetime] = []
        previous = None
        now = after
        for _ in range(count):
            fire_time = trigger.get_next_fire_time(previous, now)
            if fire_time is None:
                break
            times.append(fire_time)
            # Step in UTC: local arithmetic would lose the fold of a repeated (DST) hour.
            previous, now = fire_time, fire_time.astimezone(UTC) + timedelta(microseconds=1)
        out[name] = times
    return out


class JobExecutor(BaseExecutor):
    """Runs due jobs on worker threads (or inline), passing each its scheduled time.

    A run whose scheduled time is older than the job's misfire grace time by
    the scheduler's clock is recorded as missed instead of run.
    """

    def __init__(self, clock: Clock, max_workers: int = 4, inline: bool = False) -> None:
        super().__init__()
        self._clock = clock
        self._inline = inline
        self._max_workers = max_workers
        self._pool: ThreadPoolExecutor | None = None

    def start(self, scheduler: Any, alias: str) -> None:
        super().start(scheduler, alias)
        if not self._inline:
            self._pool = ThreadPoolExecutor(max_workers=self._max_workers, thread_name_prefix="restock-job")

    def shutdown(self, wait: bool = True) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=wait)

    def _do_submit_job(self, job: Any, run_times: list[datetime]) -> None:
        if self._inline:
            try:
                self._run_job_success(job.id, self._execute(job, run_times))
            except BaseException as exc:  # noqa: BLE001 - reported like APScheduler's own executors
                self._run_job_error(job.id, exc, exc.__traceback__)
            return
        assert self._pool is not None
        future: Future[list[JobExecutionEvent]] = self._pool.submit(self._execute, job, run_times)

        def done(finished: Future[list[JobExecutionEvent]]) -> None:
            exc = finished.exception()
            if exc is not None:
                self._run_job_error(job.id, exc, exc.__traceback__)
            else:
                self._run_job_success(job.id, finished.result())

        future.add_done_callback(done)

    def _execute(self, job: Any, run_times: list[datetime]) -> list[JobExecutionEvent]:
        events: list[JobExecutionEvent] = []
        for run_time in run_times:
            late = self._clock() - run_time
            grace = job.misfire_grace_time
            if grace is not None and late > timedelta(seconds=grace):
                log.warning("%s: run due %s missed by %s", job.id, run_time, late)
                name = job.args[0] if job.args else job.id
                runner.record_missed(name, run_time, grace)
                events.append(JobExecutionEvent(EVENT_JOB_MISSED, job.id, job._jobstore_alias, run_time))
                continue
            try:
                result = job.func(*job.args, scheduled_at=run_time, **job.kwargs)
            except BaseException as exc:  # noqa: BLE001 - recorded in job_runs; the scheduler goes on
                log.error("%s: run due %s failed: %s: %s", job.id, run_time, type(exc).__name__, exc)
                events.append(
                    JobExecutionEvent(
                        EVENT_JOB_ERROR, job.id, job._jobstore_alias, run_time, exception=exc, traceback=None
                    )
                )
            else:
                log.info("%s: %s — %s", job.id, result.status, result.message)
                events.append(
                    JobExecutionEvent(EVENT_JOB_EXECUTED, job.id, job._jobstore_alias, run_time, retval=None)
                )
        return events


class SteppedScheduler(BaseScheduler):
    """An APScheduler without a loop of its own: `step()` processes what is due now (tests, replays)."""

    def wakeup(self) -> None:
        """Nothing to wake: the caller steps."""

    def step(self) -> float | None:
        """Run (inline) every job due by the clock; return seconds until the next is due."""
        return self._process_jobs()

    def shutdown(self, wait: bool = True) -> None:
        super().shutdown(wait)


@contextmanager
def scheduler_clock(clock: Clock | None) -> Iterator[None]:
    """Make APScheduler read `clock` instead of the system time (no-op for the real clock)."""
    if clock is None:
        yield
        return
    import apscheduler.schedulers.base as base

    class _ClockDatetime(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> datetime:  # type: ignore[override]
            current = clock()
            return current.astimezone(tz) if tz is not None else current.replace(tzinfo=None)

    original = base.datetime
    base.datetime = _ClockDatetime  # type: ignore[misc]
    try:
        yield
    finally:
        base.datetime = original  # type: ignore[misc]


def build_scheduler(
    engine: Engine, settings: Settings, clock: Clock, *, stepped: bool = False
) -> BaseScheduler:
    """An APScheduler on the application database, not started."""
    job_defaults = {
        "coalesce": True,
        "max_instances": 1,
        "misfire_grace_time": settings.scheduler.misfire_grace_s,
    }
    jobstores = {
        "default": SQLAlchemyJobStore(engine=engine, tablename=JOBSTORE_TABLE),
        "memory": MemoryJobStore(),
    }
    executors = {"default": JobExecutor(clock, inline=stepped)}
    cls = SteppedScheduler if stepped else BackgroundScheduler
    return cls(jobstores=jobstores, executors=executors, job_defaults=job_defaults, timezone=settings.tz)


def sync_jobs(sched: BaseScheduler, settings: Settings) -> dict[str, str]:
    """Make the stored jobs match the configured schedules; return what happened to each job.

    An unchanged job keeps its stored next run time (a run missed while down
    still fires); a changed one is rescheduled; a job no longer configured is
    removed.
    """
    wanted = triggers(settings)
    actions: dict[str, str] = {}
    for stored in sched.get_jobs(jobstore="default"):
        if stored.id not in wanted:
            sched.remove_job(stored.id, jobstore="default")
            actions[stored.id] = "removed (no longer in [schedules])"
    for name, trigger in wanted.items():
        stored = sched.get_job(name, jobstore="default")
        if (
            stored is not None
            and stored.func_ref == FIRE
            and tuple(stored.args) == (name,)
            and repr(stored.trigger) == repr(trigger)
        ):
            actions[name] = "kept"
            continue
        try:
            sched.add_job(FIRE, trigger, args=[name], id=name, name=name, jobstore="default",
                          replace_existing=True)
        except Exception as exc:  # noqa: BLE001 - another scheduler process added it at the same moment
            if type(exc).__name__ != "ConflictingIdError":
                raise
        actions[name] = "added" if stored is None else "rescheduled"
    return actions


def recover(sched: BaseScheduler, engine: Engine, settings: Settings, clock: Clock) -> list[tuple[str, str]]:
    """Runs left 'running' by a process that died are marked interrupted; each such business date
    that never succeeded is run again now. Returns the (job, key) pairs queued."""
    queued: list[tuple[str, str]] = []
    for name, spec in JOBS.items():
        try:
            with job_lock(engine, runner.lock_kind(name), now=clock, wait_s=0,
                          lease_s=settings.scheduler.lease_s, tz=settings.tz, holder="scheduler (recovery)"):
                dead = mark_interrupted(engine, name, clock())
        except JobLockBusy:
            continue  # another process is running it right now: not ours to recover
        for run in dead:
            key, day = run["key"], run["as_of"]
            if spec.period == "slot" or day is None or (key, name) in {(k, n) for n, k in queued}:
                continue
            if succeeded_run(engine, name, key) is not None:
                continue
            log.warning("%s: run %s for %s was interrupted; running it again now", name, run["id"], key)
            sched.add_job(FIRE, "date", run_date=clock(), args=[name],
                          kwargs={"business_date": day.isoformat(), "trigger": "recovery"},
                          id=f"recover:{name}:{key}", jobstore="memory", replace_existing=True,
                          misfire_grace_time=None)
            queued.append((name, key))
    return queued


def serve(
    engine: Engine,
    settings: Settings,
    clock: Clock | None = None,
    *,
    stop: threading.Event | None = None,
    install_signals: bool = True,
) -> int:
    """Run the scheduler until SIGTERM/SIGINT (or `stop`); the running job finishes first. Returns 0."""
    now = clock or (lambda: datetime.now(settings.tz))
    stop = stop or threading.Event()
    if install_signals:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda number, _frame: _request_stop(stop, number))
    runner.install_runtime(engine, settings, now)
    with scheduler_clock(clock):
        sched = build_scheduler(engine, settings, now)
        sched.start(paused=True)
        try:
            for name, action in sync_jobs(sched, settings).items():
                log.info("job %s: %s", name, action)
            recover(sched, engine, settings, now)
            sched.resume()
            for job in sched.get_jobs(jobstore="default"):
                log.info("job %s: next run %s", job.id, job.next_run_time)
            log.info("scheduler started (pid %s); SIGTERM stops it after the running job", _pid())
            while not stop.wait(1.0):
                pass
            log.info("stopping: waiting for the running job to finish")
        finally:
            sched.shutdown(wait=True)
    log.info("scheduler stopped")
    return 0


def _request_stop(stop: threading.Event, signum: int) -> None:
    log.info("received %s", signal.Signals(signum).name)
    stop.set()


def _pid() -> int:
    import os

    return os.getpid()


def scheduler_status(engine: Engine, settings: Settings, now: datetime) -> list[dict[str, Any]]:
    """Per job: schedule, function, next run (stored, else from the schedule), last run and last
    success, and who is running it now."""
    tz = settings.tz
    computed = next_run_times(settings, now)
    stored = _stored_next_runs(engine, settings)
    history = latest_by_job(engine)
    rows = []
    for name, spec in JOBS.items():
        holder = current_holder(engine, runner.lock_kind(name))
        upcoming = stored.get(name) or (computed.get(name) or [None])[0]
        past = history.get(name, {})
        rows.append(
            {
                "job": name,
                "function": spec.reference,
                "summary": spec.summary,
                "schedule": settings.schedules.get(name),
                "next_run": upcoming.astimezone(tz) if upcoming else None,
                "next_run_source": "job store" if name in stored else ("schedule" if upcoming else None),
                "last_run": past.get("last"),
                "last_success": past.get("last_success"),
                "running": None if holder is None else holder.describe(tz),
            }
        )
    return rows


def _stored_next_runs(engine: Engine, settings: Settings) -> dict[str, datetime]:
    """Next run times as the scheduler's job store holds them (empty if no scheduler ever ran)."""
    store = SQLAlchemyJobStore(engine=engine, tablename=JOBSTORE_TABLE)
    out: dict[str, datetime] = {}
    try:
        for job in store.get_all_jobs():
            if job.next_run_time is not None:
                out[job.id] = job.next_run_time
    except Exception as exc:  # noqa: BLE001 - a store written by another APScheduler version
        log.warning("could not read the job store: %s", exc)
    return out
