"""`restock import` and the scheduler's nightly inbox import take the same lock (issue 10 item 1): the
second waits and names the first, or — past `lock_wait_s` — refuses naming it; on SQLite and
PostgreSQL."""

from __future__ import annotations

import threading
import time
from datetime import UTC, date, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

import forecasting.services
import restock.inbox
from forecasting.models import DailySales
from kernel.locks import JobLockBusy, job_lock
from scheduler.models import JobRun
from scheduler.runner import lock_kind, run_job
from tests.importing.dataset import BASE_FILES, write_files
from tests.operations.conftest import database_url
from tests.operations.test_concurrency import _start_import
from tests.scheduler.conftest import make_settings


def _clock() -> datetime:
    return datetime.now(UTC)


def _no_forecast(monkeypatch: pytest.MonkeyPatch) -> None:
    """The nightly job's forecast is not what these tests are about."""
    monkeypatch.setattr(
        forecasting.services, "run_forecast",
        lambda *a, **k: SimpleNamespace(run_id=0, n_series=0, n_fallbacks=0),
    )


def test_a_cli_import_waits_for_the_nightly_inbox_import_and_names_it(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _no_forecast(monkeypatch)
    holding, release = threading.Event(), threading.Event()
    real_import_inbox = restock.inbox.import_inbox

    def slow_import_inbox(*args: Any, **kwargs: Any) -> Any:
        report = real_import_inbox(*args, **kwargs)
        holding.set()
        release.wait(120)  # still importing while the person starts `restock import`
        return report

    monkeypatch.setattr(restock.inbox, "import_inbox", slow_import_inbox)
    settings = make_settings(tmp_path)
    outcome: list[Any] = []
    nightly = threading.Thread(target=lambda: outcome.append(run_job(
        "nightly", engine=engine, settings=settings, now=_clock, business_date=date(2026, 8, 30),
    )))
    nightly.start()
    assert holding.wait(60)
    files = write_files(tmp_path / "in", BASE_FILES)
    process, lines = _start_import(files, database_url(engine))
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and not any("waiting for" in line for line in lines):
        time.sleep(0.2)
    release.set()
    nightly.join(120)
    process.wait(300)
    time.sleep(0.2)
    said = "".join(lines)
    assert "waiting for the import started at" in said and "by scheduler (nightly, manual)" in said, said
    assert process.returncode == 0, said
    assert outcome and outcome[0].status == "succeeded"
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(DailySales)).scalar_one() == len(
            BASE_FILES["sales.csv"].strip().splitlines()[1:]
        )


def test_the_nightly_inbox_import_waits_for_a_cli_import_then_refuses_naming_it(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _no_forecast(monkeypatch)
    settings = make_settings(tmp_path, lock_wait_s=1)
    inbox = write_files(tmp_path / "inbox", BASE_FILES)
    waiting: list[str] = []
    monkeypatch.setattr("scheduler.jobs.log.warning", lambda msg, *a: waiting.append(msg % a))
    with (
        job_lock(engine, lock_kind("import"), now=_clock, holder="mei@shop-1"),
        pytest.raises(JobLockBusy) as busy,
    ):
        run_job("nightly", engine=engine, settings=settings, now=_clock, business_date=date(2026, 8, 30))
    assert "import not started: the import started at" in str(busy.value)
    assert "by mei@shop-1" in str(busy.value)
    assert any("nightly: waiting for the import started at" in w and "mei@shop-1" in w for w in waiting)
    # Nothing of the inbox was taken, and the run is recorded failed with that message.
    assert sorted(p.name for p in inbox.glob("*.csv")) == sorted(BASE_FILES)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(DailySales)).scalar_one() == 0
        run = conn.execute(select(JobRun.status, JobRun.message).where(JobRun.job == "nightly")).one()
    assert run.status == "failed" and "mei@shop-1" in (run.message or "")
