"""APScheduler driven by a clock the test moves: run times, DST, missed runs, restarts. No real waiting.

The scheduler is the real one (job store in the database, cron triggers,
coalescing, misfire grace, the job executor); only its loop is replaced by
`step()`, and the clock jumps straight to the next wake-up.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, select

from restock.settings import Settings
from scheduler import runner
from scheduler.jobs import JOBS, JobContext, JobOutcome
from scheduler.models import apscheduler_jobs
from scheduler.runs import last_runs
from scheduler.service import build_scheduler, next_run_times, scheduler_clock, sync_jobs
from tests.scheduler.conftest import ManualClock, make_settings

SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture
def fired(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, date, datetime | None]]:
    """Every job's function replaced by one that records (job, business date, scheduled time)."""
    seen: list[tuple[str, date, datetime | None]] = []
    for name, spec in list(JOBS.items()):

        def record(ctx: JobContext, name: str = name) -> JobOutcome:
            seen.append((name, ctx.business_date, ctx.scheduled_at))
            return JobOutcome(message="ok")

        monkeypatch.setitem(JOBS, name, replace(spec, function=record))
    return seen


@contextmanager
def running_scheduler(engine: Engine, settings: Settings, clock: ManualClock) -> Iterator[object]:
    """A started scheduler (stepped by hand) whose jobs match the settings; shut down on exit."""
    runner.install_runtime(engine, settings, clock, sleep=lambda s: None)
    with scheduler_clock(clock):
        sched = build_scheduler(engine, settings, clock, stepped=True)
        sched.start()
        sync_jobs(sched, settings)
        try:
            yield sched
        finally:
            sched.shutdown(wait=True)


def run_until(sched, clock: ManualClock, end: datetime) -> None:  # type: ignore[no-untyped-def]
    """Process due jobs, jumping the clock to each next wake-up, until `end`."""
    with scheduler_clock(clock):
        while True:
            wait = sched.step()
            if wait is None or clock() + timedelta(seconds=wait) > end:
                clock.set(end)
                sched.step()
                return
            clock.advance(seconds=max(wait, 0.001))


def test_next_run_times_in_shanghai() -> None:
    settings = make_settings(Path("/nonexistent"))
    after = datetime(2026, 8, 30, 23, 0, tzinfo=SHANGHAI)  # Sunday evening
    times = next_run_times(settings, after, count=2)
    assert times["nightly"] == [datetime(2026, 8, 31, 2, 0, tzinfo=SHANGHAI),
                                datetime(2026, 9, 1, 2, 0, tzinfo=SHANGHAI)]
    assert times["propose"] == [datetime(2026, 8, 31, 6, 0, tzinfo=SHANGHAI),
                                datetime(2026, 9, 7, 6, 0, tzinfo=SHANGHAI)]
    assert times["export"] == [datetime(2026, 8, 30, 23, 0, tzinfo=SHANGHAI),  # at or after
                               datetime(2026, 8, 30, 23, 15, tzinfo=SHANGHAI)]
    assert times["backup"][0] == datetime(2026, 8, 31, 3, 30, tzinfo=SHANGHAI)
    # 02:00 in Shanghai is 18:00 UTC the day before.
    assert times["nightly"][0].astimezone(UTC) == datetime(2026, 8, 30, 18, 0, tzinfo=UTC)


def test_next_run_times_across_daylight_saving_changes_in_berlin() -> None:
    settings = make_settings(
        Path("/nonexistent"), timezone="Europe/Berlin", schedules={"nightly": "30 2 * * *"}
    )
    spring = next_run_times(settings, datetime(2026, 3, 28, 12, 0, tzinfo=BERLIN), count=3)["nightly"]
    # 29 March: 02:30 does not exist (clocks jump 02:00 → 03:00); the run happens at 03:30 CEST.
    assert [t.astimezone(UTC) for t in spring] == [
        datetime(2026, 3, 29, 1, 30, tzinfo=UTC),
        datetime(2026, 3, 30, 0, 30, tzinfo=UTC),
        datetime(2026, 3, 31, 0, 30, tzinfo=UTC),
    ]
    autumn = next_run_times(settings, datetime(2026, 10, 24, 12, 0, tzinfo=BERLIN), count=3)["nightly"]
    # 25 October: 02:30 happens twice (CEST, then CET); APScheduler fires at both.
    assert [t.astimezone(UTC) for t in autumn] == [
        datetime(2026, 10, 25, 0, 30, tzinfo=UTC),
        datetime(2026, 10, 25, 1, 30, tzinfo=UTC),
        datetime(2026, 10, 26, 1, 30, tzinfo=UTC),
    ]


def test_the_nightly_and_weekly_jobs_run_at_their_times(engine: Engine, tmp_path: Path, fired) -> None:
    settings = make_settings(tmp_path, schedules={"nightly": "0 2 * * *", "propose": "0 6 * * MON"})
    clock = ManualClock(datetime(2026, 8, 30, 23, 0, tzinfo=SHANGHAI))
    with running_scheduler(engine, settings, clock) as sched:
        run_until(sched, clock, datetime(2026, 9, 8, 0, 0, tzinfo=SHANGHAI))
    nightly = [(day, at) for job, day, at in fired if job == "nightly"]
    assert len(nightly) == 8  # 31 Aug … 7 Sep at 02:00
    assert nightly[0] == (date(2026, 8, 30), datetime(2026, 8, 31, 2, 0, tzinfo=SHANGHAI))
    assert all(at is not None and at.astimezone(SHANGHAI).hour == 2 and day == at.astimezone(SHANGHAI).date()
               - timedelta(days=1) for day, at in nightly)
    weekly = [(day, at) for job, day, at in fired if job == "propose"]
    assert weekly == [
        (date(2026, 8, 31), datetime(2026, 8, 31, 6, 0, tzinfo=SHANGHAI)),
        (date(2026, 9, 7), datetime(2026, 9, 7, 6, 0, tzinfo=SHANGHAI)),
    ]
    runs = last_runs(engine, limit=50)
    assert {r["status"] for r in runs} == {"succeeded"}
    assert {r["trigger"] for r in runs} == {"scheduler"}


def test_the_job_store_holds_text_references_not_pickled_functions(engine: Engine, tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    clock = ManualClock(datetime(2026, 8, 30, 23, 0, tzinfo=SHANGHAI))
    with running_scheduler(engine, settings, clock) as sched:
        jobs = {job.id: job for job in sched.get_jobs()}
        assert set(jobs) == {"nightly", "propose", "export", "backup"}
        assert {job.func_ref for job in jobs.values()} == {"scheduler.runner:fire"}
        assert jobs["nightly"].args == ("nightly",)
        assert jobs["nightly"].coalesce is True
        assert jobs["nightly"].max_instances == 1
        assert jobs["nightly"].misfire_grace_time == settings.scheduler.misfire_grace_s
    with engine.connect() as conn:
        states = conn.execute(select(apscheduler_jobs.c.id, apscheduler_jobs.c.job_state)).all()
    assert len(states) == 4
    for _, state in states:
        assert b"scheduler.runner:fire" in state
        assert b"scheduler.jobs" not in state  # no pickled function object


def test_a_run_missed_while_the_scheduler_was_down_runs_once_on_restart(
    engine: Engine, tmp_path: Path, fired
) -> None:
    settings = make_settings(tmp_path, schedules={"nightly": "0 2 * * *"})
    clock = ManualClock(datetime(2026, 8, 30, 23, 0, tzinfo=SHANGHAI))
    with running_scheduler(engine, settings, clock) as sched:
        run_until(sched, clock, datetime(2026, 8, 31, 3, 0, tzinfo=SHANGHAI))
    assert [day for _, day, _ in fired] == [date(2026, 8, 30)]
    # Down for three nights; back at 05:00 on 3 September, within the 6 h grace of that night's run.
    clock.set(datetime(2026, 9, 3, 5, 0, tzinfo=SHANGHAI))
    with running_scheduler(engine, settings, clock) as sched:
        run_until(sched, clock, datetime(2026, 9, 3, 12, 0, tzinfo=SHANGHAI))
    assert [day for _, day, _ in fired] == [date(2026, 8, 30), date(2026, 9, 2)]  # once, coalesced
    assert fired[-1][2] == datetime(2026, 9, 3, 2, 0, tzinfo=SHANGHAI)


def test_a_run_missed_beyond_the_grace_time_is_recorded_not_run(
    engine: Engine, tmp_path: Path, fired
) -> None:
    settings = make_settings(tmp_path, schedules={"nightly": "0 2 * * *"})
    clock = ManualClock(datetime(2026, 8, 30, 23, 0, tzinfo=SHANGHAI))
    with running_scheduler(engine, settings, clock):
        pass
    clock.set(datetime(2026, 8, 31, 9, 0, tzinfo=SHANGHAI))  # 7 h late, grace 6 h
    with running_scheduler(engine, settings, clock) as sched:
        run_until(sched, clock, datetime(2026, 8, 31, 12, 0, tzinfo=SHANGHAI))
    assert fired == []
    [run] = last_runs(engine)
    assert (run["job"], run["status"], run["as_of"]) == ("nightly", "skipped", date(2026, 8, 30))
    assert run["message"].startswith("missed: due 2026-08-31 02:00 CST")
    assert "restock run nightly --date 2026-08-30" in run["message"]


def test_a_changed_schedule_is_rescheduled_and_a_removed_one_dropped(engine: Engine, tmp_path: Path) -> None:
    clock = ManualClock(datetime(2026, 8, 30, 23, 0, tzinfo=SHANGHAI))
    first = make_settings(tmp_path, schedules={"nightly": "0 2 * * *", "backup": "30 3 * * *"})
    with running_scheduler(engine, first, clock):
        pass
    second = make_settings(tmp_path, schedules={"nightly": "0 1 * * *"})
    with running_scheduler(engine, second, clock) as sched:
        [job] = sched.get_jobs()
        assert job.id == "nightly"
        assert job.next_run_time == datetime(2026, 8, 31, 1, 0, tzinfo=SHANGHAI)


def test_the_repeated_autumn_hour_fires_twice_and_the_date_key_runs_the_job_once(
    engine: Engine, tmp_path: Path, fired
) -> None:
    settings = make_settings(tmp_path, timezone="Europe/Berlin", schedules={"nightly": "30 2 * * *"})
    clock = ManualClock(datetime(2026, 10, 24, 12, 0, tzinfo=BERLIN))
    with running_scheduler(engine, settings, clock) as sched:
        run_until(sched, clock, datetime(2026, 10, 25, 12, 0, tzinfo=BERLIN))
    assert [day for _, day, _ in fired] == [date(2026, 10, 24)]
    runs = last_runs(engine)
    assert [(r["status"], r["as_of"]) for r in runs] == [
        ("skipped", date(2026, 10, 24)),
        ("succeeded", date(2026, 10, 24)),
    ]
    assert runs[0]["message"].startswith("already succeeded for 2026-10-24")
