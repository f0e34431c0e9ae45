"""Job-run history: a run is recorded as running, then succeeded or failed with its message."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Engine

from scheduler.runs import job_run, last_runs


class FakeClock:
    """A clock that advances one minute per call, so start and finish differ predictably."""

    def __init__(self) -> None:
        self.current = datetime(2026, 8, 31, 6, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.current += timedelta(minutes=1)
        return self.current


def test_a_successful_job_is_recorded_with_its_message(engine: Engine) -> None:
    with job_run(engine, "forecast", as_of=date(2026, 8, 30), now=FakeClock()) as run:
        run.message = "172 SKUs forecast"
        run.details["skus"] = 172
    [latest] = last_runs(engine)
    assert latest["job"] == "forecast"
    assert latest["status"] == "succeeded"
    assert latest["message"] == "172 SKUs forecast"
    assert latest["as_of"] == date(2026, 8, 30)
    assert latest["finished_at"] > latest["started_at"]


def test_a_failing_job_is_recorded_as_failed_and_the_error_still_raises(engine: Engine) -> None:
    with (
        pytest.raises(RuntimeError, match="solver exploded"),
        job_run(engine, "propose", as_of=None, now=FakeClock()),
    ):
        raise RuntimeError("solver exploded")
    [latest] = last_runs(engine)
    assert latest["status"] == "failed"
    assert "solver exploded" in latest["message"]


def test_last_runs_lists_the_newest_first(engine: Engine) -> None:
    clock = FakeClock()
    for name in ("import", "forecast", "propose"):
        with job_run(engine, name, as_of=None, now=clock):
            pass
    assert [run["job"] for run in last_runs(engine, limit=2)] == ["propose", "forecast"]
