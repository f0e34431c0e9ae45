"""Real processes: two schedulers run each job once; a run killed with SIGKILL mid-forecast is completed
by the next scheduler start; SIGTERM lets the running job finish and exits 0. SQLite and PostgreSQL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, func, select, text

from forecasting.models import ForecastRun, ForecastValue
from restock.db import make_engine, upgrade
from scheduler.runs import last_runs
from tests.conftest import PG_URL, require_postgres
from tests.scheduler.conftest import config_file, import_slice

ROOT = Path(__file__).resolve().parents[2]


class Process:
    """A `restock` subprocess whose stderr is collected line by line."""

    def __init__(self, *args: str, config: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "restock.cli.main", "--config", str(config), *args],
            cwd=ROOT, env={**os.environ}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line)

    def wait_for(self, fragment: str, timeout: float = 240) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(fragment in line for line in self.lines):
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"{fragment!r} not seen; stderr:\n{''.join(self.lines)}")

    def stop(self, timeout: float = 240) -> int:
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=timeout)
        self._reader.join(timeout=5)
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)


def wait_until(condition, timeout: float = 240, what: str = "") -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database(request, tmp_path: Path, small_slice: Path) -> Iterator[tuple[str, Engine]]:  # type: ignore[no-untyped-def]
    """(URL for a subprocess, engine for the test) on a migrated database holding the small slice."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'restock.db'}"
        engine = make_engine(url)
        admin = None
        schema = None
    else:
        require_postgres()
        schema = f"t_{uuid.uuid4().hex[:12]}"
        admin = create_engine(PG_URL)
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = f"{PG_URL}?options=-csearch_path%3D{schema}"
        engine = make_engine(PG_URL, schema=schema)
    upgrade(engine)
    import_slice(engine, small_slice)
    try:
        yield url, engine
    finally:
        engine.dispose()
        if admin is not None:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()


def count(engine: Engine, model) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(model)).scalar_one()


def test_two_schedulers_started_at_once_run_each_job_once(database, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    url, engine = database
    config = config_file(tmp_path, url, {"nightly": "0 2 * * *", "backup": "0 2 * * *"})
    start = "2026-08-31T01:59:50"
    first = Process("scheduler", "--start-at", start, config=config)
    second = Process("scheduler", "--start-at", start, config=config)
    try:
        for proc in (first, second):
            proc.wait_for("scheduler started")

        def settled() -> bool:
            runs = last_runs(engine, limit=50)
            done = {(r["job"], r["status"]) for r in runs}
            return ("nightly", "succeeded") in done and ("backup", "succeeded") in done and not any(
                r["status"] == "running" for r in runs
            )

        wait_until(settled, what="both jobs to succeed")
        time.sleep(2)  # give a late twin every chance to (wrongly) run again
    finally:
        codes = [first.stop(), second.stop()]
        first.kill()
        second.kill()
    assert codes == [0, 0], "".join(first.lines + second.lines)
    runs = last_runs(engine, limit=50)
    succeeded = sorted((r["job"], str(r["as_of"])) for r in runs if r["status"] == "succeeded")
    assert succeeded == [("backup", "2026-08-31"), ("nightly", "2026-08-30")]
    assert all(r["status"] in ("succeeded", "skipped") for r in runs), runs
    assert count(engine, ForecastRun) == 1
    backups = [p for p in (tmp_path / "backups").iterdir() if p.suffix in (".sqlite3", ".pgdump")]
    assert len(backups) == 1


def test_a_run_killed_mid_forecast_is_completed_by_the_next_start_and_sigterm_lets_it_finish(
    database, tmp_path: Path  # type: ignore[no-untyped-def]
) -> None:
    url, engine = database
    config = config_file(tmp_path, url, {})
    doomed = Process("run", "nightly", "--date", "2026-08-30", config=config)
    try:
        doomed.wait_for("nightly: forecasting as of 2026-08-30")
        time.sleep(0.3)
        assert doomed.proc.poll() is None, "".join(doomed.lines)
        doomed.proc.send_signal(signal.SIGKILL)
        doomed.proc.wait(timeout=30)
    finally:
        doomed.kill()
    # Nothing half-visible: no forecast run, only the run record left 'running' by the dead process.
    assert count(engine, ForecastRun) == 0
    assert count(engine, ForecastValue) == 0
    assert [(r["job"], r["status"]) for r in last_runs(engine)] == [("nightly", "running")]

    restarted = Process("scheduler", config=config)
    try:
        restarted.wait_for("was interrupted; running it again now")
        restarted.wait_for("nightly: forecasting as of 2026-08-30")
        code = restarted.stop()  # SIGTERM while the forecast runs: it finishes first
    finally:
        restarted.kill()
    assert code == 0, "".join(restarted.lines)
    runs = last_runs(engine)
    assert [(r["job"], r["status"], r["trigger"], str(r["as_of"])) for r in runs] == [
        ("nightly", "succeeded", "recovery", "2026-08-30"),
        ("nightly", "failed", "manual", "2026-08-30"),
    ]
    assert runs[1]["message"].startswith("interrupted")
    with engine.connect() as conn:
        statuses = conn.execute(select(ForecastRun.status)).scalars().all()
    assert statuses == ["succeeded"]
    assert count(engine, ForecastValue) == runs[0]["counts"]["skus_forecast"] * 182
