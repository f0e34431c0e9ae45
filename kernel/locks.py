"""One named lock per kind of job (import, forecast, propose, ...) across processes.

PostgreSQL: a session-level advisory lock (released by the server when the
holder's connection ends, so a killed job never leaves it behind), keyed by
schema and kind. SQLite: a row in `job_locks` with a lease — holder, host, pid,
started_at and a heartbeat; a row whose process is gone (same host) or whose
heartbeat is older than the lease (another host) is taken over. On both, the
row says who holds the lock, so a waiter can print "waiting for the import
started at 10:02 by alice@shop-1 (pid 4242)".

A writer waits a bounded time (`wait_s`), polling, then raises `JobLockBusy`.
Locks are not re-entrant: taking the same kind twice in one process waits for
itself and times out.
"""

from __future__ import annotations

import getpass
import hashlib
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import DateTime, Engine, Float, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from kernel.errors import RestockError
from kernel.orm import Base

# How long a waiter sleeps between attempts (seconds).
POLL_S = 0.25


class JobLock(Base):
    """Who holds the lock of one kind of job (one row per kind while it is held)."""

    __tablename__ = "job_locks"

    kind: Mapped[str] = mapped_column(String(64), primary_key=True)
    token: Mapped[str] = mapped_column(String(32))
    holder: Mapped[str] = mapped_column(String(200))
    host: Mapped[str] = mapped_column(String(200))
    pid: Mapped[int] = mapped_column(Integer)
    # When the holder's process started (epoch seconds): a reused pid is not the holder.
    process_started: Mapped[float] = mapped_column(Float)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    heartbeat_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


@dataclass(frozen=True)
class LockHolder:
    """Who holds (or held) a job lock, for messages."""

    kind: str
    holder: str
    host: str
    pid: int
    started_at: datetime
    heartbeat_at: datetime

    def describe(self, tz: ZoneInfo | None = None) -> str:
        """E.g. "the import started at 2026-08-31 10:02 +08:00 by alice@shop-1 (pid 4242)"."""
        started = _aware(self.started_at)
        if tz is not None:
            started = started.astimezone(tz)
        what = self.kind.rpartition(":")[2]  # a namespaced kind ("job:import") reads as its job
        return (
            f"the {what} started at {started:%Y-%m-%d %H:%M:%S %z} by {self.holder} "
            f"(pid {self.pid} on {self.host})"
        )


class JobLockBusy(RestockError):
    """Another job of the same kind held the lock for longer than this one would wait."""

    exit_code = 75  # EX_TEMPFAIL: try again later

    def __init__(self, kind: str, waited_s: float, holder: LockHolder | None, tz: ZoneInfo | None) -> None:
        self.kind = kind
        self.holder = holder
        what = kind.rpartition(":")[2]
        who = holder.describe(tz) if holder is not None else f"another {what}"
        super().__init__(
            f"{what} not started: {who} is still running after {waited_s:.0f} s of waiting; "
            "try again when it has finished"
        )


def default_holder() -> str:
    """`user@host`, the name a lock row shows for this process."""
    try:
        user = getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name in some containers
        user = f"uid{os.getuid()}"
    return f"{user}@{socket.gethostname()}"


@contextmanager
def job_lock(
    engine: Engine,
    kind: str,
    *,
    now: Callable[[], datetime],
    wait_s: float = 600.0,
    holder: str | None = None,
    on_wait: Callable[[LockHolder | None], None] | None = None,
    lease_s: float = 60.0,
    tz: ZoneInfo | None = None,
) -> Iterator[LockHolder]:
    """Hold the lock of `kind` on `engine`'s database for the block; yield this holder.

    Waits up to `wait_s` seconds for another holder, calling `on_wait(current
    holder)` once when it starts waiting (to print "waiting for …"), then raises
    `JobLockBusy`. `now()` gives the aware time written to the lock row; `tz`
    is the zone messages show times in.
    """
    me = _Claim(
        kind=kind,
        token=uuid.uuid4().hex,
        holder=holder or default_holder(),
        host=socket.gethostname(),
        pid=os.getpid(),
        process_started=_process_started(os.getpid()) or 0.0,
    )
    backend: _Backend = (
        _Advisory(engine, me) if engine.dialect.name == "postgresql" else _LeaseRow(engine, me)
    )
    deadline = time.monotonic() + wait_s
    started_waiting = time.monotonic()
    told = False
    try:
        while True:
            remaining = deadline - time.monotonic()
            current = backend.try_acquire(now(), remaining, lease_s)
            if current is None:
                break
            if not told and on_wait is not None:
                on_wait(current if current.pid else None)
                told = True
            if remaining <= 0:
                raise JobLockBusy(
                    kind, time.monotonic() - started_waiting, current if current.pid else None, tz
                )
            time.sleep(min(POLL_S, max(remaining, 0.01)))
        mine = backend.held(now())
        heartbeat = backend.start_heartbeat(now, lease_s)
        try:
            yield mine
        finally:
            if heartbeat is not None:
                heartbeat.stop()
            backend.release()
    finally:
        backend.close()


def current_holder(engine: Engine, kind: str) -> LockHolder | None:
    """Who holds the lock of `kind` according to the lock table (None when nobody is recorded)."""
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT kind, holder, host, pid, started_at, heartbeat_at FROM job_locks WHERE kind = :kind"
            ),
            {"kind": kind},
        ).first()
    return None if row is None else _holder_from_row(row)


# -- implementation ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Claim:
    kind: str
    token: str
    holder: str
    host: str
    pid: int
    process_started: float


# Tokens of locks this process holds right now: a row naming this pid with another token was
# left by a release that failed, not by a live holder.
_held_here: set[str] = set()
_held_guard = threading.Lock()


class _Backend:
    def try_acquire(self, at: datetime, remaining_s: float, lease_s: float) -> LockHolder | None:
        """Take the lock now if free (return None), else return who holds it."""
        raise NotImplementedError

    def held(self, at: datetime) -> LockHolder:
        raise NotImplementedError

    def start_heartbeat(self, now: Callable[[], datetime], lease_s: float) -> _Heartbeat | None:
        return None

    def release(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


def _params(claim: _Claim, at: datetime) -> dict[str, object]:
    return {
        "kind": claim.kind,
        "token": claim.token,
        "holder": claim.holder,
        "host": claim.host,
        "pid": claim.pid,
        "process_started": claim.process_started,
        "at": at,
    }


def _unknown_holder(kind: str, at: datetime) -> LockHolder:
    return LockHolder(kind=kind, holder="another process", host="?", pid=0, started_at=at, heartbeat_at=at)


class _Advisory(_Backend):
    """PostgreSQL: `pg_try_advisory_lock` on a connection kept for the lock's lifetime."""

    def __init__(self, engine: Engine, claim: _Claim) -> None:
        self.claim = claim
        self.started_at: datetime | None = None
        self.conn = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        schema = self.conn.execute(text("SELECT current_schema()")).scalar_one()
        # Advisory locks are per database: the schema keeps two restock schemas (tests) apart.
        digest = hashlib.blake2b(f"restock:{schema}:{claim.kind}".encode(), digest_size=8).digest()
        self.key = int.from_bytes(digest, "big", signed=True)
        self.locked = False

    def try_acquire(self, at: datetime, remaining_s: float, lease_s: float) -> LockHolder | None:
        got = self.conn.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": self.key}).scalar_one()
        if not got:
            row = self.conn.execute(
                text(
                    "SELECT kind, holder, host, pid, started_at, heartbeat_at FROM job_locks "
                    "WHERE kind = :kind"
                ),
                {"kind": self.claim.kind},
            ).first()
            return _unknown_holder(self.claim.kind, at) if row is None else _holder_from_row(row)
        self.locked = True
        self.started_at = at
        # The row only tells waiters who holds the lock; the advisory lock is the lock.
        self.conn.execute(
            text(
                "INSERT INTO job_locks (kind, token, holder, host, pid, process_started, started_at, "
                "heartbeat_at) VALUES (:kind, :token, :holder, :host, :pid, :process_started, :at, :at) "
                "ON CONFLICT (kind) DO UPDATE SET token = excluded.token, holder = excluded.holder, "
                "host = excluded.host, pid = excluded.pid, process_started = excluded.process_started, "
                "started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at"
            ),
            _params(self.claim, at),
        )
        return None

    def held(self, at: datetime) -> LockHolder:
        started = self.started_at or at
        c = self.claim
        return LockHolder(c.kind, c.holder, c.host, c.pid, started, at)

    def release(self) -> None:
        if not self.locked:
            return
        try:
            self.conn.execute(
                text("DELETE FROM job_locks WHERE kind = :kind AND token = :token"),
                {"kind": self.claim.kind, "token": self.claim.token},
            )
        finally:
            self.conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": self.key})
            self.locked = False

    def close(self) -> None:
        with suppress(Exception):
            self.conn.close()


class _LeaseRow(_Backend):
    """SQLite: a row in `job_locks` written in a `BEGIN IMMEDIATE` transaction."""

    def __init__(self, engine: Engine, claim: _Claim) -> None:
        self.engine = engine
        self.claim = claim
        self.started_at: datetime | None = None
        self.locked = False

    def _attempt(self, work: Callable[[object], LockHolder | None], busy_ms: int) -> LockHolder | None:
        raw = self.engine.raw_connection()
        try:
            cursor = raw.cursor()
            cursor.execute(f"PRAGMA busy_timeout = {max(busy_ms, 1)}")
            cursor.execute("BEGIN IMMEDIATE")
            try:
                result = work(cursor)
                raw.commit()
                return result
            except BaseException:
                raw.rollback()
                raise
        finally:
            with suppress(Exception):
                raw.cursor().execute("PRAGMA busy_timeout = 30000")
            raw.close()

    def try_acquire(self, at: datetime, remaining_s: float, lease_s: float) -> LockHolder | None:
        import sqlite3

        claim = self.claim

        def take(cursor) -> LockHolder | None:  # type: ignore[no-untyped-def]
            cursor.execute(
                "SELECT kind, holder, host, pid, started_at, heartbeat_at, token, process_started "
                "FROM job_locks WHERE kind = ?",
                (claim.kind,),
            )
            row = cursor.fetchone()
            if row is not None and not _stale(row, at, lease_s):
                return _holder_from_row(row[:6])
            cursor.execute(
                "INSERT OR REPLACE INTO job_locks (kind, token, holder, host, pid, process_started, "
                "started_at, heartbeat_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    claim.kind,
                    claim.token,
                    claim.holder,
                    claim.host,
                    claim.pid,
                    claim.process_started,
                    _sqlite_time(at),
                    _sqlite_time(at),
                ),
            )
            return None

        # Another job may be writing (SQLite has one writer): wait for it within what is left.
        busy_ms = int(max(min(remaining_s, 30.0), 0.05) * 1000)
        try:
            holder = self._attempt(take, busy_ms)
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            return _unknown_holder(claim.kind, at)
        if holder is None:
            self.locked = True
            self.started_at = at
            with _held_guard:
                _held_here.add(claim.token)
        return holder

    def held(self, at: datetime) -> LockHolder:
        started = self.started_at or at
        c = self.claim
        return LockHolder(c.kind, c.holder, c.host, c.pid, started, at)

    def start_heartbeat(self, now: Callable[[], datetime], lease_s: float) -> _Heartbeat | None:
        def beat() -> None:
            def touch(cursor) -> None:  # type: ignore[no-untyped-def]
                cursor.execute(
                    "UPDATE job_locks SET heartbeat_at = ? WHERE kind = ? AND token = ?",
                    (_sqlite_time(now()), self.claim.kind, self.claim.token),
                )

            # A job holding SQLite's write lock for long blocks this: same-host waiters judge the
            # holder by its pid, so a missed beat is harmless there.
            with suppress(Exception):
                self._attempt(touch, 1000)

        return _Heartbeat(beat, interval_s=max(lease_s / 4, 0.05))

    def release(self) -> None:
        if not self.locked:
            return

        def drop(cursor) -> None:  # type: ignore[no-untyped-def]
            cursor.execute(
                "DELETE FROM job_locks WHERE kind = ? AND token = ?", (self.claim.kind, self.claim.token)
            )

        try:
            self._attempt(drop, 30_000)
        finally:
            with _held_guard:
                _held_here.discard(self.claim.token)
            self.locked = False

    def close(self) -> None:
        pass


class _Heartbeat:
    """Calls `beat` every `interval_s` seconds on a daemon thread until stopped."""

    def __init__(self, beat: Callable[[], None], interval_s: float) -> None:
        self._stop = threading.Event()
        self._beat = beat
        self._interval = interval_s
        self._thread = threading.Thread(target=self._run, name="job-lock-heartbeat", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self._beat()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def _stale(row: tuple, at: datetime, lease_s: float) -> bool:
    """Whether a lock row no longer stands for a live holder."""
    _, _, host, pid, _, heartbeat_at, token, process_started = row
    if host == socket.gethostname():
        if pid == os.getpid():
            with _held_guard:
                return token not in _held_here
        started = _process_started(pid)
        # Gone, or the pid now belongs to a process that started after the holder did.
        return started is None or (process_started and started > process_started + 1.0)
    return _aware(_parse_time(heartbeat_at)) < _aware(at) - timedelta(seconds=lease_s)


def _process_started(pid: int) -> float | None:
    """When process `pid` started (epoch seconds), or None when there is no such process."""
    import psutil

    try:
        return psutil.Process(pid).create_time()
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return None
    except psutil.AccessDenied:
        return 0.0


def _holder_from_row(row: tuple) -> LockHolder:
    kind, holder, host, pid, started_at, heartbeat_at = row
    return LockHolder(
        kind=kind,
        holder=holder,
        host=host,
        pid=int(pid),
        started_at=_parse_time(started_at),
        heartbeat_at=_parse_time(heartbeat_at),
    )


def _sqlite_time(at: datetime) -> str:
    # The format SQLAlchemy's SQLite DateTime reads back.
    return _aware(at).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _parse_time(value: object) -> datetime:
    if isinstance(value, datetime):
        return _aware(value)
    return _aware(datetime.fromisoformat(str(value)))


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
