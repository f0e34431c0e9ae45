"""The data version: every table but the named exclusions bumps it on a committed change, from
any connection, and a rolled-back change leaves it as it was (SQLite and PostgreSQL)."""

from __future__ import annotations

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from restock import data_version
from restock.db import load_all_models


def _version(engine: Engine) -> int:
    with Session(engine) as session:
        return data_version.current(session)


def test_every_table_of_the_metadata_but_the_exclusions_has_the_bump_trigger(engine: Engine) -> None:
    tables = set(load_all_models().metadata.tables)
    assert data_version.tables_without_triggers(engine, tables) == []
    # the exclusions are real tables, named on purpose
    assert data_version.EXCLUDED_TABLES - {"alembic_version"} <= tables


def test_a_table_without_its_trigger_is_reported(engine: Engine) -> None:
    with engine.begin() as conn:
        data_version.drop_triggers(conn, "skus")
    assert data_version.tables_without_triggers(engine, {"skus", "suppliers", "web_sessions"}) == ["skus"]


def test_insert_update_delete_each_bump_the_version_once_committed(engine: Engine) -> None:
    start = _version(engine)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO categories (code, name, salvage_rate) VALUES ('t1', 'Test', 0.5)"))
    after_insert = _version(engine)
    assert after_insert > start
    with engine.begin() as conn:
        conn.execute(text("UPDATE categories SET name = 'Renamed' WHERE code = 't1'"))
    after_update = _version(engine)
    assert after_update > after_insert
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM categories WHERE code = 't1'"))
    assert _version(engine) > after_update


def test_a_change_is_invisible_to_others_until_commit_and_a_rollback_leaves_no_bump(engine: Engine) -> None:
    start = _version(engine)
    with engine.connect() as writer:
        writer.execute(text("INSERT INTO categories (code, name, salvage_rate) VALUES ('t2', 'Test', 0.5)"))
        assert _version(engine) == start  # another connection: not committed yet
        writer.rollback()
    assert _version(engine) == start
    with engine.connect() as writer:
        writer.execute(text("INSERT INTO categories (code, name, salvage_rate) VALUES ('t2', 'Test', 0.5)"))
        writer.commit()
    assert _version(engine) > start


def test_writes_to_excluded_tables_leave_the_version(engine: Engine) -> None:
    start = _version(engine)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO login_failures (user_name, client, at) "
                "VALUES ('nobody', 'test', CURRENT_TIMESTAMP)"
            )
        )
    assert _version(engine) == start


def test_postgresql_holds_the_counter_only_at_commit_so_writers_do_not_queue_behind_a_long_job(
    pg_engine: Engine,
) -> None:
    """A long transaction (a forecast or proposal job) that changed data must not make another
    writer wait for the counter's row lock until the job commits."""
    start = _version(pg_engine)
    with pg_engine.connect() as job:
        job.execute(text("INSERT INTO categories (code, name, salvage_rate) VALUES ('job', 'Job', 0.5)"))
        with pg_engine.connect() as editor:
            editor.execute(text("SET lock_timeout = '3s'"))
            editor.execute(text("INSERT INTO categories (code, name, salvage_rate) VALUES ('ed', 'Ed', 0.5)"))
            editor.commit()  # would wait for the job (then fail on the lock timeout) with an eager bump
        assert _version(pg_engine) == start + 1
        job.commit()
    assert _version(pg_engine) == start + 2


def test_a_jump_moves_the_version_past_every_value_it_held(engine: Engine) -> None:
    start = _version(engine)
    assert start >= 2**32  # the migration starts the counter with a jump
    with engine.begin() as conn:
        data_version.jump(conn)
    assert 2**32 <= _version(engine) - start < 2**33
