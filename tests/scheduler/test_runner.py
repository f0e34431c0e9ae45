"""The one run path: idempotency key, --force, retries on transient database errors, the lock, recovery."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError, OperationalError

from kernel.locks import JobLockBusy, job_lock
from scheduler.jobs import JOBS, JobContext, JobOutcome
from scheduler.runner import is_transient, lock_kind, run_job
from scheduler.runs import job_run, last_runs
from tests.scheduler.conftest import ManualClock, make_settings

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[JobContext]:
    """Replace the nightly job's function by one that records its context."""
    seen: list[JobContext] = []

    def fake(ctx: JobContext) -> JobOutcome:
        seen.append(ctx)
        return JobOutcome(message=f"done for {ctx.business_date}", counts={"n": len(seen)})

    monkeypatch.setitem(JOBS, "nightly", replace(JOBS["nightly"], function=fake))
    return seen


def _clock() -> ManualClock:
    return ManualClock(datetime(2026, 8, 31, 2, 0, tzinfo=SHANGHAI))


def test_a_date_that_succeeded_is_skipped_unless_forced(engine: Engine, tmp_path: Path, calls) -> None:
    settings, clock = make_settings(tmp_path), _clock()
    first = run_job("nightly", engine=engine, settings=settings, now=clock)
    assert (first.status, first.business_date, first.key) == ("succeeded", date(2026, 8, 30), "2026-08-30")
    again = run_job("nightly", engine=engine, settings=settings, now=clock)
    assert again.status == "skipped"
    assert f"already succeeded for 2026-08-30 (run {first.run_id}" in again.message
    forced = run_job("nightly", engine=engine, settings=settings, now=clock, force=True)
    assert forced.status == "succeeded"
    other_day = run_job(
        "nightly", engine=engine, settings=settings, now=clock, business_date=date(2026, 8, 29)
    )
    assert other_day.status == "succeeded"
    assert [ctx.business_date for ctx in calls] == [date(2026, 8, 30), date(2026, 8, 30), date(2026, 8, 29)]
    assert [(r["status"], r["key"]) for r in last_runs(engine)] == [
        ("succeeded", "2026-08-29"),
        ("succeeded", "2026-08-30"),
        ("skipped", "2026-08-30"),
        ("succeeded", "2026-08-30"),
    ]


def test_business_dates_follow_the_scheduled_time_in_the_configured_zone() -> None:
    # 02:00 on Monday 31 August in Shanghai is still Sunday 30 August in UTC.
    monday_2am = datetime(2026, 8, 31, 2, 0, tzinfo=SHANGHAI)
    assert JOBS["nightly"].business_date(monday_2am) == date(2026, 8, 30)
    assert JOBS["propose"].business_date(monday_2am.replace(hour=6)) == date(2026, 8, 31)
    assert JOBS["propose"].normalise(date(2026, 9, 3)) == date(2026, 8, 31)
    assert JOBS["backup"].business_date(monday_2am) == date(2026, 8, 31)
    assert JOBS["export"].key(date(2026, 8, 31), monday_2am.replace(minute=15)) == "2026-08-31T02:15"
    assert JOBS["nightly"].reference == "scheduler.jobs:nightly"


def _operational(message: str) -> OperationalError:
    return OperationalError("UPDATE x", {}, sqlite3.OperationalError(message))


def test_transient_errors_are_retried_with_backoff_and_no_real_waiting(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tries: list[int] = []

    def flaky(ctx: JobContext) -> JobOutcome:
        tries.append(1)
        if len(tries) < 3:
            raise _operational("database is locked")
        return JobOutcome(message="third time lucky")

    monkeypatch.setitem(JOBS, "nightly", replace(JOBS["nightly"], function=flaky))
    slept: list[float] = []
    settings = make_settings(tmp_path)
    result = run_job("nightly", engine=engine, settings=settings, now=_clock(), sleep=slept.append)
    assert result.status == "succeeded"
    assert len(tries) == 3
    assert slept == [1.0, 2.0]  # exponential backoff, through the injected sleep
    assert last_runs(engine)[0]["attempts"] == 3


def test_a_transient_error_that_persists_fails_after_the_configured_tries(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def down(ctx: JobContext) -> JobOutcome:
        raise _operational("database is locked")

    monkeypatch.setitem(JOBS, "nightly", replace(JOBS["nightly"], function=down))
    settings = make_settings(tmp_path, scheduler={"retry_attempts": 3, "retry_max_wait_s": 1.5})
    slept: list[float] = []
    with pytest.raises(OperationalError):
        run_job("nightly", engine=engine, settings=settings, now=_clock(), sleep=slept.append)
    assert slept == [1.0, 1.5]
    [run] = last_runs(engine)
    assert (run["status"], run["attempts"]) == ("failed", 3)
    assert "database is locked" in run["message"]


def test_other_errors_are_not_retried(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tries: list[int] = []

    def broken(ctx: JobContext) -> JobOutcome:
        tries.append(1)
        raise ValueError("bad data")

    monkeypatch.setitem(JOBS, "nightly", replace(JOBS["nightly"], function=broken))
    with pytest.raises(ValueError, match="bad data"):
        run_job("nightly", engine=engine, settings=make_settings(tmp_path), now=_clock(),
                sleep=lambda s: None)
    assert len(tries) == 1
    assert last_runs(engine)[0]["status"] == "failed"


def test_which_errors_are_transient() -> None:
    assert is_transient(_operational("database is locked"))
    assert not is_transient(_operational("no such table: skus"))
    assert not is_transient(IntegrityError("INSERT", {}, sqlite3.IntegrityError("UNIQUE constraint failed")))
    assert not is_transient(ValueError("x"))

    class PgError(Exception):
        def __init__(self, sqlstate: str) -> None:
            self.sqlstate = sqlstate

    assert is_transient(OperationalError("SELECT", {}, PgError("40P01")))  # deadlock
    assert is_transient(OperationalError("SELECT", {}, PgError("08006")))  # connection failure
    assert not is_transient(OperationalError("SELECT", {}, PgError("23505")))  # unique violation


def test_a_job_held_by_another_process_is_skipped_when_scheduled_and_refused_by_hand(
    engine: Engine, tmp_path: Path, calls
) -> None:
    settings, clock = make_settings(tmp_path), _clock()
    with job_lock(engine, lock_kind("nightly"), now=clock, holder="other@host"):
        scheduled = run_job("nightly", engine=engine, settings=settings, now=clock, trigger="scheduler",
                            scheduled_at=clock())
        assert scheduled.status == "skipped"
        assert scheduled.message.startswith("not started: ")
        with pytest.raises(JobLockBusy):
            run_job("nightly", engine=engine, settings=settings, now=clock, trigger="manual")
    assert calls == []
    assert run_job("nightly", engine=engine, settings=settings, now=clock).status == "succeeded"


def test_a_run_whose_process_died_is_marked_interrupted_and_its_date_runs_again(
    engine: Engine, tmp_path: Path, calls
) -> None:
    settings, clock = make_settings(tmp_path), _clock()
    dying = job_run(engine, "nightly", as_of=date(2026, 8, 30), now=clock, trigger="scheduler")
    dying.__enter__()  # killed here: no exit, no commit of anything else
    result = run_job("nightly", engine=engine, settings=settings, now=clock)
    assert result.status == "succeeded"  # the interrupted run does not count as done
    runs = last_runs(engine)
    assert [(r["status"], r["key"]) for r in runs] == [("succeeded", "2026-08-30"), ("failed", "2026-08-30")]
    assert runs[1]["message"].startswith("interrupted")


def test_the_export_job_says_it_has_nothing_to_do(engine: Engine, tmp_path: Path) -> None:
    clock = ManualClock(datetime(2026, 8, 31, 9, 15, tzinfo=SHANGHAI))
    result = run_job("export", engine=engine, settings=make_settings(tmp_path), now=clock,
                     scheduled_at=clock(), trigger="scheduler")
    assert result.status == "skipped"
    assert result.key == "2026-08-31T09:15"
    assert result.message == "nothing to do: no approved purchase orders waiting for export"
