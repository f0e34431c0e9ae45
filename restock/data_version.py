"""The data version: one counter the database itself bumps on every committed change to the data
the web app's cached responses read, so a cached response is keyed by it (`restock.web.cache`).

Triggers do the bumping, so a write from any process counts: the web app's workers, CLI imports,
scheduler jobs, raw SQL. Every table gets the trigger except `EXCLUDED_TABLES`, the ones written
on every request or heartbeat and never shown by a cached response.

- SQLite: row triggers (after insert, update, delete) that add one to the counter. SQLite has
  one writer at a time, so the counter's row lock costs no concurrency.
- PostgreSQL: a statement trigger on each table notes, once per transaction, that the
  transaction changed data (a transaction-local setting, and one row in `data_version_pending`
  whose deferred constraint trigger bumps the counter at COMMIT). Bumping at the first write
  instead would hold the counter's row lock for the rest of the transaction: a 40-second
  proposal job would make every web edit wait for it, and two writers could deadlock. A
  statement trigger fires even when the statement changes no row (an import that finds
  everything unchanged): that costs the cache a miss, never a stale answer. Row triggers would
  not, but would run once per row of every bulk insert.

Either way the bump is part of the writer's transaction: it is visible exactly when the data
is, and a rolled-back transaction leaves no bump behind (nor any change to cache under it).
The counter starts, and moves after a restore, by a random jump (`jump`), so an older copy of the
data never comes back under a version a running web app has cached responses for.

**A new table gets its trigger** in the migration that creates it:
`data_version.add_triggers(op.get_bind(), "new_table")` (or list it in `EXCLUDED_TABLES` with
the reason). On SQLite a migration that recreates a table (`batch_alter_table` with a copy)
drops its triggers with the old table: call `add_triggers` again after the batch.
`tests/test_data_version.py` fails for any table of the metadata that lacks them.
"""

from __future__ import annotations

import secrets

from sqlalchemy import BigInteger, Connection, Engine, Integer, inspect, text
from sqlalchemy.orm import Mapped, Session, mapped_column

from kernel.orm import Base

# Tables written while serving (or by heartbeats) that no cached response reads. A table named
# here must never be read by a cached endpoint: its writes do not change the version.
EXCLUDED_TABLES = frozenset(
    {
        "data_version",  # the counter itself
        "data_version_pending",  # PostgreSQL's per-transaction note (deleted at commit)
        "web_sessions",  # log in / log out
        "login_failures",  # the login rate limit
        "audit_log",  # written with every change; `/api/v1/audit` is not cached
        "job_locks",  # a running job's heartbeat (SQLite)
        "apscheduler_jobs",  # the scheduler's next run times
        "alembic_version",
    }
)

# PostgreSQL: the function every table's statement trigger runs, and the one the deferred
# constraint trigger runs at commit. Names are unqualified: they live in the schema of the
# search path, as the tables do.
_PG_FUNCTIONS = (
    """
    CREATE OR REPLACE FUNCTION restock_data_changed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        -- once per transaction (the setting is local to it, and undone with a rolled-back
        -- savepoint together with the row below)
        IF current_setting('restock.data_changed', true) IS DISTINCT FROM 'y' THEN
            PERFORM set_config('restock.data_changed', 'y', true);
            INSERT INTO data_version_pending DEFAULT VALUES;
        END IF;
        RETURN NULL;
    END $$
    """,
    """
    CREATE OR REPLACE FUNCTION restock_bump_data_version() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE data_version SET version = version + 1 WHERE id = 1;
        DELETE FROM data_version_pending WHERE id = NEW.id;
        RETURN NULL;
    END $$
    """,
    """
    CREATE CONSTRAINT TRIGGER data_version_bump AFTER INSERT ON data_version_pending
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION restock_bump_data_version()
    """,
)
_SQLITE_EVENTS = ("insert", "update", "delete")


class DataVersion(Base):
    """The one row (id 1) holding the data version."""

    __tablename__ = "data_version"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, nullable=False)


class DataVersionPending(Base):
    """PostgreSQL: a transaction that changed data, until its commit bumps the version (empty
    outside transactions; unused on SQLite)."""

    __tablename__ = "data_version_pending"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)


def trigger_name(table: str, event: str | None = None) -> str:
    """The bump trigger's name on `table` (SQLite: one per event; trigger names are global)."""
    return f"{table}_data_version" + (f"_{event}" if event else "")


def install(bind: Connection) -> None:
    """Create the functions and the commit trigger (PostgreSQL; nothing to do on SQLite)."""
    if bind.dialect.name == "postgresql":
        for statement in _PG_FUNCTIONS:
            bind.execute(text(statement))


def add_triggers(bind: Connection, table: str) -> None:
    """Make every insert, update and delete on `table` (and truncate, PostgreSQL) bump the data
    version at commit."""
    if table in EXCLUDED_TABLES:
        raise ValueError(f"{table} is excluded from the data version (EXCLUDED_TABLES)")
    quoted = bind.dialect.identifier_preparer.quote(table)
    if bind.dialect.name == "postgresql":
        bind.execute(
            text(
                f"CREATE TRIGGER {trigger_name(table)} AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
                f"ON {quoted} FOR EACH STATEMENT EXECUTE FUNCTION restock_data_changed()"
            )
        )
        return
    for event in _SQLITE_EVENTS:
        bind.execute(
            text(
                f"CREATE TRIGGER {trigger_name(table, event)} AFTER {event.upper()} ON {quoted} "
                "BEGIN UPDATE data_version SET version = version + 1 WHERE id = 1; END"
            )
        )


def drop_triggers(bind: Connection, table: str) -> None:
    """Remove `table`'s bump triggers (a downgrade)."""
    quoted = bind.dialect.identifier_preparer.quote(table)
    if bind.dialect.name == "postgresql":
        bind.execute(text(f"DROP TRIGGER IF EXISTS {trigger_name(table)} ON {quoted}"))
        return
    for event in _SQLITE_EVENTS:
        bind.execute(text(f"DROP TRIGGER IF EXISTS {trigger_name(table, event)}"))


def tables_without_triggers(engine: Engine, tables: set[str]) -> list[str]:
    """Those of `tables` (less the exclusions) lacking a bump trigger for some event, sorted."""
    wanted = set(tables) - EXCLUDED_TABLES
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            rows = conn.execute(
                text(
                    "SELECT c.relname, t.tgname, t.tgtype FROM pg_trigger t "
                    "JOIN pg_class c ON c.oid = t.tgrelid "
                    "WHERE c.relnamespace = current_schema()::regnamespace AND NOT t.tgisinternal "
                    "AND t.tgenabled <> 'D'"
                )
            ).all()
            # tgtype bits: 1 row-level, 4 insert, 8 delete, 16 update, 32 truncate
            covered = {
                table
                for table, name, kind in rows
                if name == trigger_name(table) and kind & 1 == 0 and kind & 60 == 60
            }
        else:
            rows = conn.execute(
                text("SELECT tbl_name, name, sql FROM sqlite_master WHERE type = 'trigger'")
            ).all()
            found: dict[str, set[str]] = {}
            for table, name, sql in rows:
                for event in _SQLITE_EVENTS:
                    if name == trigger_name(table, event) and "update data_version" in sql.lower():
                        found.setdefault(table, set()).add(event)
            covered = {table for table, events in found.items() if events == set(_SQLITE_EVENTS)}
    return sorted(wanted - covered)


def jump(bind: Connection) -> None:
    """Move the version by a random 2^32..2^33, past any value it held before (when the table
    exists). A restore brings back an older counter, and writes after it would count up through
    values a running web app has cached responses under, built from the data before the
    restore; the same goes for a database made again from scratch. The migration starts the
    counter this way, and `restock.backup.restore_backup` calls it after restoring."""
    if "data_version" not in inspect(bind).get_table_names():
        return  # a backup from before migration 0016: `upgrade` creates the table with a jump
    step = 2**32 + secrets.randbelow(2**32)
    bind.execute(text("UPDATE data_version SET version = version + :step WHERE id = 1"), {"step": step})


def current(session: Session) -> int:
    """The committed data version as this session sees it now (read it BEFORE the data a
    response is built from: the data read after it is at least as new)."""
    # the driver's SQL on the session's connection: no statement to compile on every request
    found = session.connection().exec_driver_sql("SELECT version FROM data_version WHERE id = 1")
    return int(found.scalar_one())
