"""Job locks: a second job of a kind waits and says for whom, gives up with a named error, and a
crashed holder never leaves the lock behind — on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, text

from kernel.locks import JobLockBusy, LockHolder, current_holder, job_lock


def _now() -> datetime:
    return datetime.now(UTC)


def test_a_second_holder_waits_says_for_whom_and_runs_once_the_first_is_done(engine: Engine) -> None:
    first_in = threading.Event()
    release_first = threading.Event()
    order: list[str] = []

    def first() -> None:
        with job_lock(engine, "import", now=_now, holder="alice@shop"):
            order.append("first in")
            first_in.set()
            release_first.wait(10)
            order.append("first out")

    thread = threading.Thread(target=first)
    thread.start()
    assert first_in.wait(10)
    waited_for: list[LockHolder | None] = []

    def on_wait(holder: LockHolder | None) -> None:
        waited_for.append(holder)
        threading.Timer(0.5, release_first.set).start()

    with job_lock(engine, "import", now=_now, holder="bob@shop", on_wait=on_wait, wait_s=20) as mine:
        order.append("second in")
        assert mine.holder == "bob@shop"
    thread.join(10)
    assert order == ["first in", "first out", "second in"]
    assert len(waited_for) == 1 and waited_for[0] is not None
    assert waited_for[0].holder == "alice@shop"
    assert waited_for[0].pid == os.getpid()
    assert "the import started at" in waited_for[0].describe()
    assert current_holder(engine, "import") is None


def test_a_waiter_gives_up_after_the_bounded_wait_naming_the_holder(engine: Engine) -> None:
    with job_lock(engine, "forecast", now=_now, holder="alice@shop"):
        outcome: list[BaseException] = []

        def second() -> None:
            try:
                with job_lock(engine, "forecast", now=_now, holder="bob@shop", wait_s=0.6):
                    pass
            except BaseException as exc:  # noqa: BLE001 - collected for the assertion
                outcome.append(exc)

        started = time.monotonic()
        thread = threading.Thread(target=second)
        thread.start()
        thread.join(20)
        assert time.monotonic() - started < 10
    assert len(outcome) == 1 and isinstance(outcome[0], JobLockBusy)
    message = str(outcome[0])
    assert message.startswith("forecast not started: the forecast started at ")
    assert "by alice@shop" in message and "still running after" in message
    assert outcome[0].exit_code == 75


def test_different_kinds_do_not_wait_for_each_other(engine: Engine) -> None:
    with (
        job_lock(engine, "import", now=_now),
        job_lock(engine, "propose", now=_now, wait_s=0),
    ):
        assert current_holder(engine, "propose") is not None


def test_the_lock_is_released_when_the_block_raises(engine: Engine) -> None:
    with pytest.raises(RuntimeError), job_lock(engine, "propose", now=_now):
        raise RuntimeError("boom")
    with job_lock(engine, "propose", now=_now, wait_s=0):
        pass


_HOLDER_SCRIPT = """
import sys, time
from datetime import UTC, datetime
from restock.db import make_engine
from kernel.locks import job_lock
url, schema = sys.argv[1], sys.argv[2] or None
engine = make_engine(url, schema=schema)
with job_lock(engine, "import", now=lambda: datetime.now(UTC), holder="killed@shop"):
    print("locked", flush=True)
    time.sleep(120)
"""


def _engine_target(engine: Engine) -> tuple[str, str]:
    url = engine.url.render_as_string(hide_password=False)
    if engine.dialect.name != "postgresql":
        return url, ""
    with engine.connect() as conn:
        return url, conn.execute(text("SELECT current_schema()")).scalar_one()


def test_a_holder_killed_with_sigkill_does_not_leave_the_lock_behind(engine: Engine) -> None:
    url, schema = _engine_target(engine)
    child = subprocess.Popen(
        [sys.executable, "-c", _HOLDER_SCRIPT, url, schema], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "locked"
        with (
            pytest.raises(JobLockBusy, match="by killed@shop"),
            job_lock(engine, "import", now=_now, wait_s=0.3),
        ):
            pass
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
        with job_lock(engine, "import", now=_now, wait_s=10, holder="next@shop") as mine:
            assert mine.holder == "next@shop"
            holder = current_holder(engine, "import")
            assert holder is not None and holder.holder == "next@shop"
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(10)
