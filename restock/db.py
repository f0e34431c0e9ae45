"""Database engine, sessions (one unit of work per use case), retries of transient conflicts,
schema migrations and the revision check every command makes before any work."""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import TypeVar

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.exc import DBAPIError

from kernel.errors import (
    ConcurrentUpdate,
    DatabaseNewer,
    DatabaseNotReady,
    DatabaseReadOnly,
    DatabaseUnavailable,
)
from kernel.orm import Base

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def load_all_models() -> type[Base]:
    """Import every package's `models` module so `Base.metadata` knows every table."""
    import forecasting.models  # noqa: F401
    import kernel.audit  # noqa: F401
    import kernel.catalog  # noqa: F401
    import kernel.installation  # noqa: F401
    import kernel.locks  # noqa: F401
    import replenishment.models  # noqa: F401
    import restock.accounts  # noqa: F401
    import restock.data_version  # noqa: F401
    import scheduler.models  # noqa: F401
    import suppliers.models  # noqa: F401

    return Base


# Connections kept open for reuse. The web app serves many requests at once (up to the thread
# pool's 40): with SQLAlchemy's default of 5 (+10 overflow) every request past the fifth opened
# a connection and closed it again, and a new connection is expensive (SQLite parses the whole
# schema on its first statement; PostgreSQL starts a backend process) — that churn doubled the
# API's CPU per request under 20 concurrent clients. The pool opens connections only when they
# are needed, so a command that uses one keeps one.
POOL = {"pool_size": 20, "max_overflow": 20}


def make_engine(url: str, schema: str | None = None) -> Engine:
    """Create an engine (connecting lazily); SQLite gets foreign keys on, WAL and a busy timeout.

    `schema` (PostgreSQL only) puts every table in that schema via the search path.
    Nothing is created on disk here: `upgrade` creates a missing SQLite file, and
    `ensure_ready` refuses one that does not exist, so a mistyped path stays absent.
    """
    if url.startswith("sqlite"):
        engine = create_engine(url, future=True, **POOL)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    connect_args = {"options": f"-csearch_path={schema}"} if schema else {}
    return create_engine(url, future=True, pool_pre_ping=True, connect_args=connect_args, **POOL)


_engines: dict[str, Engine] = {}


def get_engine(url: str | None = None) -> Engine:
    """The process-wide engine for `url` (default: the settings' database), created on first use."""
    if url is None:
        from restock.settings import get_settings

        url = get_settings().resolved_database_url()
    if url not in _engines:
        _engines[url] = make_engine(url)
    return _engines[url]


def dispose_engines() -> None:
    """Close every pooled connection (tests, after a fork)."""
    for engine in _engines.values():
        engine.dispose()
    _engines.clear()


T = TypeVar("T")

# PostgreSQL SQLSTATEs worth a retry: deadlock detected, serialization failure.
_TRANSIENT_SQLSTATES = frozenset({"40P01", "40001"})


def is_transient(exc: BaseException) -> bool:
    """Whether `exc` is a conflict that the same work may not meet again: a PostgreSQL deadlock
    or serialization failure, or SQLite's "database is locked" (busy, or a stale read snapshot)."""
    if not isinstance(exc, DBAPIError) or exc.orig is None:
        return False
    state = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    if state in _TRANSIENT_SQLSTATES:
        return True
    import sqlite3

    return isinstance(exc.orig, sqlite3.OperationalError) and "locked" in str(exc.orig)


def retry_transient(work: Callable[[], T], *, attempts: int = 4, max_wait_s: float = 5.0) -> T:
    """Run `work` (one whole unit of work) and run it again after a transient conflict.

    Waits grow exponentially with jitter (0.2 s, 0.4 s, … up to `max_wait_s`);
    after `attempts` tries the last conflict is raised as `ConcurrentUpdate`
    (exit 11) naming it. Any other error is raised at once, unchanged.
    """
    from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

    retrying = Retrying(
        retry=retry_if_exception(is_transient),
        stop=stop_after_attempt(attempts),
        wait=wait_exponential_jitter(initial=0.2, max=max_wait_s),
        reraise=True,
    )
    try:
        return retrying(work)
    except DBAPIError as exc:
        if not is_transient(exc):
            raise
        reason = str(exc.orig).strip().splitlines()[0]
        raise ConcurrentUpdate(
            f"gave up after {attempts} attempts, each met a conflicting job: {reason}; try again"
        ) from exc


def alembic_config(url: str):  # type: ignore[no-untyped-def]
    """An Alembic Config pointing at restock's migrations and the given database."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(engine: Engine) -> None:
    """Create or upgrade the schema to the latest revision of every branch."""
    from alembic import command

    path = sqlite_path(engine)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # SQLite alters a table by copying it and dropping the old one; with foreign keys on,
            # that drop would cascade into the child rows (a proposal's lines, a PO's lines). The
            # pragma only takes effect outside a transaction; integrity is checked before commit.
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()
        try:
            with connection.begin():
                cfg.attributes["connection"] = connection
                command.upgrade(cfg, "heads")
                if sqlite:
                    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        raise DatabaseNotReady(f"migration left rows with broken foreign keys: {broken[:5]}")
        finally:
            if sqlite:
                connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                connection.commit()


def sqlite_path(engine: Engine) -> Path | None:
    """The file of a SQLite engine (None for PostgreSQL and in-memory SQLite)."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or database in (None, "", ":memory:"):
        return None
    if engine.url.query.get("uri") == "true" and database.startswith("file:"):
        database = database[len("file:") :]
    return Path(database)


def _sqlite_opened_read_only(engine: Engine) -> bool:
    return engine.url.query.get("mode") == "ro" or engine.url.query.get("immutable") == "1"


@lru_cache(maxsize=1)
def expected_revisions() -> tuple[frozenset[str], frozenset[str]]:
    """(the head revisions this restock's migrations end at, every revision it knows)."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    return frozenset(script.get_heads()), frozenset(rev.revision for rev in script.walk_revisions())


def _shown(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


def refused_as_read_only(exc: DBAPIError) -> bool:
    """Whether a driver error is the database refusing a write because it is read-only
    (SQLite opened read-only or on a read-only file; PostgreSQL SQLSTATE 25006, e.g. a hot standby)."""
    orig = exc.orig
    if getattr(orig, "sqlstate", None) == "25006":
        return True
    return "readonly database" in str(orig).lower()


def ensure_ready(engine: Engine, *, write: bool = False) -> None:
    """Check the database before any work; raise a named error saying what to do.

    - `DatabaseNotReady` (exit 6): no such SQLite file, no schema, or a schema behind this
      restock ("run `restock init`"); a missing SQLite file is not created;
    - `DatabaseNewer` (exit 12): migrated by a newer restock;
    - `DatabaseUnavailable` (exit 8): cannot connect;
    - `DatabaseReadOnly` (exit 9, with `write`): the command would have to write.
    """
    path = sqlite_path(engine)
    if path is not None:
        if not path.exists():
            raise DatabaseNotReady(f"no restock database at {path}: run `restock init` to create it")
        if not path.is_file():
            raise DatabaseUnavailable(f"{path} is not a database file")
    try:
        with engine.connect() as conn:
            has_schema = inspect(conn).has_table("alembic_version")
            current = (
                frozenset(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())
                if has_schema
                else frozenset()
            )
            read_only = (
                engine.dialect.name == "postgresql"
                and conn.execute(text("SHOW transaction_read_only")).scalar_one() == "on"
            )
    except DBAPIError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc)
        raise DatabaseUnavailable(f"cannot use the database {_shown(engine)}: {reason}") from exc
    if not has_schema or not current:
        raise DatabaseNotReady(f"no restock schema in {_shown(engine)}: run `restock init`")
    heads, known = expected_revisions()
    if current != heads:
        at = ", ".join(sorted(current))
        expects = ", ".join(sorted(heads))
        if not current <= known:
            raise DatabaseNewer(
                f"database is at revision {at}, newer than this restock (which expects {expects}): "
                "upgrade restock, or use a database this version created"
            )
        raise DatabaseNotReady(
            f"database is at revision {at}, this restock expects {expects}: run `restock init`"
        )
    if write:
        if path is not None and (
            _sqlite_opened_read_only(engine)
            or not (os.access(path, os.W_OK) and os.access(path.parent, os.W_OK))
        ):
            raise DatabaseReadOnly(f"{path} is read-only: this command writes to the database")
        if read_only:
            raise DatabaseReadOnly(f"{_shown(engine)} is read-only: this command writes to the database")
