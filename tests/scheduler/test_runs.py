"""Job-run history: a run is recorded as running, then succeeded, failed or skipped with its message."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Engine

from scheduler.runs import job_run, last_runs, latest_by_job, mark_interrupted, record_skipped


class FakeClock:
    """A clock that advances one minute per call, so start and finish differ predictably."""

    def __init__(self) -> None:
        self.current = datetime(2026, 8, 31, 6, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.current += timedelta(minutes=1)
        return self.current


def test_a_successful_job_is_recorded_with_its_message_and_counts(engine: Engine) -> None:
    with job_run(engine, "forecast", as_of=date(2026, 8, 30), now=FakeClock(), trigger="manual") as run:
        run.message = "172 SKUs forecast"
        run.counts["skus"] = 172
    [latest] = last_runs(engine)
    assert latest["job"] == "forecast"
    assert latest["status"] == "succeeded"
    assert latest["message"] == "172 SKUs forecast"
    assert latest["counts"] == {"skus": 172}
    assert latest["as_of"] == date(2026, 8, 30)
    assert latest["key"] == "2026-08-30"
    assert latest["trigger"] == "manual"
    assert latest["started_at"] == datetime(2026, 8, 31, 6, 1, tzinfo=UTC)
    assert latest["finished_at"] == datetime(2026, 8, 31, 6, 2, tzinfo=UTC)


def test_a_failing_job_is_recorded_as_failed_and_the_error_still_raises(engine: Engine) -> None:
    with (
        pytest.raises(RuntimeError, match="solver exploded"),
        job_run(engine, "propose", as_of=None, now=FakeClock()),
    ):
        raise RuntimeError("solver exploded")
    [latest] = last_runs(engine)
    assert latest["status"] == "failed"
    assert "solver exploded" in latest["message"]


def test_a_job_with_nothing_to_do_is_recorded_as_skipped(engine: Engine) -> None:
    clock = FakeClock()
    with job_run(engine, "export", as_of=date(2026, 8, 31), now=clock, key="2026-08-31T06:15") as run:
        run.status = "skipped"
        run.message = "nothing to do"
    record_skipped(engine, "backup", as_of=date(2026, 8, 31), key="2026-08-31", trigger="scheduler",
                   message="already succeeded", at=clock())
    runs = last_runs(engine)
    assert [(r["job"], r["status"], r["key"]) for r in runs] == [
        ("backup", "skipped", "2026-08-31"),
        ("export", "skipped", "2026-08-31T06:15"),
    ]


def test_last_runs_lists_the_newest_first_and_filters_by_job(engine: Engine) -> None:
    clock = FakeClock()
    for name in ("import", "forecast", "propose", "forecast"):
        with job_run(engine, name, as_of=None, now=clock):
            pass
    assert [run["job"] for run in last_runs(engine, limit=2)] == ["forecast", "propose"]
    assert [run["job"] for run in last_runs(engine, job="forecast")] == ["forecast", "forecast"]
    overview = latest_by_job(engine)
    assert set(overview) == {"import", "forecast", "propose"}
    assert overview["forecast"]["last"]["id"] == overview["forecast"]["last_success"]["id"] == 4


def test_runs_left_running_are_marked_interrupted(engine: Engine) -> None:
    clock = FakeClock()
    handle = job_run(engine, "nightly", as_of=date(2026, 8, 30), now=clock)
    handle.__enter__()  # the process "dies" here: the context never exits
    dead = mark_interrupted(engine, "nightly", clock())
    assert [run["key"] for run in dead] == ["2026-08-30"]
    [latest] = last_runs(engine)
    assert latest["status"] == "failed"
    assert latest["message"].startswith("interrupted: process")
    assert mark_interrupted(engine, "nightly", clock()) == []
