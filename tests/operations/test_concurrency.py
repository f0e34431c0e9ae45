"""Overlapping jobs wait or say why; transient conflicts are retried; cleanup never hides the cause —
on SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import DBAPIError

from forecasting.models import DailySales
from kernel.errors import ConcurrentUpdate
from kernel.locks import job_lock
from restock.db import is_transient, retry_transient
from restock.importing import import_path
from restock.importing.staging import StagedFile
from scheduler.runner import lock_kind
from tests.importing.dataset import BASE_FILES, SEASONS, write_files
from tests.operations.conftest import ROOT, Cli, database_url

NOW = datetime(2026, 8, 31, tzinfo=UTC)


def test_cleanup_after_a_failed_import_never_replaces_the_real_cause(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_upsert(self: StagedFile) -> None:
        self.session.execute(text("SELECT * FROM no_such_table"))

    monkeypatch.setattr(StagedFile, "upsert", broken_upsert)
    with pytest.raises(DBAPIError) as caught:
        import_path(
            engine, write_files(tmp_path / "in", BASE_FILES), actor="t", now=NOW, season_names=SEASONS
        )
    assert "no_such_table" in str(caught.value)
    assert "current transaction is aborted" not in str(caught.value)


def test_a_deadlock_or_stale_snapshot_is_retried_until_the_work_succeeds(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE pair (id INTEGER PRIMARY KEY, n INTEGER)"))
        conn.execute(text("INSERT INTO pair VALUES (1, 0), (2, 0)"))
    attempts: list[int] = []
    errors: list[BaseException] = []
    if engine.dialect.name == "postgresql":
        # Two writers locking the same rows in opposite order: PostgreSQL detects a deadlock
        # and aborts one of them (SQLSTATE 40P01).
        barrier = threading.Barrier(2, timeout=30)

        def work(first: int, second: int) -> None:
            with engine.connect() as conn:
                conn.execute(text("UPDATE pair SET n = n + 1 WHERE id = :i"), {"i": first})
                attempts.append(first)
                if len(attempts) <= 2:
                    barrier.wait()
                conn.execute(text("UPDATE pair SET n = n + 1 WHERE id = :i"), {"i": second})
                conn.commit()

        jobs = [lambda: work(1, 2), lambda: work(2, 1)]
    else:
        # SQLite (WAL): a transaction that read the database before another one committed cannot
        # write any more; SQLite answers "database is locked" at once, whatever the busy timeout.
        has_read, other_committed = threading.Event(), threading.Event()

        def reader_then_writer() -> None:
            with engine.connect() as conn:
                conn.execute(text("CREATE TEMP TABLE IF NOT EXISTS scratch (x INTEGER)"))
                conn.execute(text("INSERT INTO scratch VALUES (1)"))  # opens the transaction
                conn.execute(text("SELECT n FROM pair WHERE id = 1")).scalar_one()
                attempts.append(1)
                if len(attempts) == 1:
                    has_read.set()
                    other_committed.wait(30)
                conn.execute(text("UPDATE pair SET n = n + 1 WHERE id = 1"))
                conn.execute(text("UPDATE pair SET n = n + 1 WHERE id = 2"))
                conn.commit()

        def other_writer() -> None:
            has_read.wait(30)
            with engine.begin() as conn:
                conn.execute(text("UPDATE pair SET n = n + 1 WHERE id = 2"))
                conn.execute(text("UPDATE pair SET n = n + 1 WHERE id = 1"))
            attempts.append(2)
            other_committed.set()

        jobs = [reader_then_writer, other_writer]

    def run(job) -> None:  # type: ignore[no-untyped-def]
        try:
            retry_transient(job, attempts=6, max_wait_s=0.5)
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(90)
    assert errors == []
    assert len(attempts) >= 3  # one of the two met the conflict and ran again
    with engine.connect() as conn:
        assert conn.execute(text("SELECT sum(n) FROM pair")).scalar_one() == 4


def test_retries_end_in_a_named_error_and_other_errors_are_not_retried() -> None:
    import sqlite3

    calls: list[int] = []

    def always_locked() -> None:
        calls.append(1)
        raise DBAPIError("UPDATE x", {}, sqlite3.OperationalError("database is locked"))

    with pytest.raises(ConcurrentUpdate, match="gave up after 3 attempts.*database is locked"):
        retry_transient(always_locked, attempts=3, max_wait_s=0.01)
    assert len(calls) == 3
    assert ConcurrentUpdate.exit_code == 11

    def broken() -> None:
        calls.append(2)
        raise DBAPIError("SELECT", {}, sqlite3.OperationalError("no such table: x"))

    with pytest.raises(DBAPIError):
        retry_transient(broken, attempts=3)
    assert calls.count(2) == 1
    assert not is_transient(ValueError("locked"))


def _start_import(files: Path, url: str) -> tuple[subprocess.Popen[str], list[str]]:
    env = {"RESTOCK_DATABASE_URL": url, "COLUMNS": "200", "PATH": "/usr/bin:/bin"}
    process = subprocess.Popen(
        [sys.executable, "-m", "restock.cli.main", "import", str(files)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    lines: list[str] = []

    def collect() -> None:
        assert process.stderr is not None
        lines.extend(process.stderr)

    threading.Thread(target=collect, daemon=True).start()
    return process, lines


def test_two_imports_started_together_both_succeed_and_each_says_whom_it_waits_for(
    engine: Engine, tmp_path: Path
) -> None:
    files = write_files(tmp_path / "in", BASE_FILES)
    url = database_url(engine)
    # This test holds the import job's lock first (the one `restock import` takes), so both imports
    # overlap with a running import for sure.
    with job_lock(engine, lock_kind("import"), now=lambda: datetime.now(UTC), holder="test@shop"):
        started = [_start_import(files, url) for _ in range(2)]
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not all(
            any("waiting for" in line for line in lines) for _, lines in started
        ):
            time.sleep(0.2)
    for process, _ in started:
        process.wait(300)
    time.sleep(0.2)
    for process, lines in started:
        said = "".join(lines)
        assert process.returncode == 0, said
        assert "waiting for the import started at" in said and "test@shop" in said
        assert "internal error" not in said and "locked" not in said
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(DailySales)).scalar_one() == len(
            BASE_FILES["sales.csv"].strip().splitlines()[1:]
        )


@pytest.mark.parametrize(
    ("job", "args"),
    [
        ("import", ["import", "{files}"]),
        ("forecast", ["forecast", "--as-of", "2026-08-30", "--executor", "serial"]),
        ("propose", ["propose", "--week", "2026-08-31"]),
    ],
)
def test_a_job_held_longer_than_lock_wait_s_is_refused_with_exit_75_naming_the_holder(
    engine: Engine, cli: Cli, tmp_path: Path, job: str, args: list[str]
) -> None:
    files = write_files(tmp_path / "in", BASE_FILES)
    with job_lock(engine, lock_kind(job), now=lambda: datetime.now(UTC), holder="mei@shop-1"):
        result = cli(*[a.format(files=files) for a in args], env={"RESTOCK_LOCK_WAIT_S": "1"})
    said = result.stderr
    assert result.returncode == 75, said
    assert f"waiting for the {job} started at" in said and "mei@shop-1" in said
    assert f"error: {job} not started: the {job} started at" in said
    assert "internal error" not in said
    with engine.connect() as conn:  # nothing of the work was done
        assert conn.execute(select(func.count()).select_from(DailySales)).scalar_one() == 0
        assert conn.execute(text("SELECT count(*) FROM forecast_runs")).scalar_one() == 0
        assert conn.execute(text("SELECT count(*) FROM proposals")).scalar_one() == 0
