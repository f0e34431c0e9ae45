"""Shared fixtures: a migrated database on SQLite and on the real PostgreSQL, one per test.

PostgreSQL tests run in a schema of their own in database `test` at
127.0.0.1:5432 (override with RESTOCK_TEST_PG_URL), dropped afterwards. Where
PostgreSQL cannot be reached they are skipped locally, and fail under CI=true.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, text

from restock.db import make_engine, upgrade

PG_URL = os.environ.get("RESTOCK_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

_pg_state: dict[str, str | None] = {}


def postgres_unavailable_reason() -> str | None:
    """None when PostgreSQL answers, otherwise why not (checked once per session)."""
    if "reason" not in _pg_state:
        try:
            probe = create_engine(PG_URL, connect_args={"connect_timeout": 3})
            with probe.connect() as conn:
                conn.execute(text("SELECT 1"))
            probe.dispose()
            _pg_state["reason"] = None
        except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
            _pg_state["reason"] = f"PostgreSQL at {PG_URL} unreachable: {type(exc).__name__}: {exc}"
    return _pg_state["reason"]


def require_postgres() -> None:
    """Skip (locally) or fail (CI=true) when PostgreSQL cannot be reached."""
    reason = postgres_unavailable_reason()
    if reason is None:
        return
    if IN_CI:
        pytest.fail(reason + " — PostgreSQL tests may not be skipped under CI=true")
    pytest.skip(reason)


def _pg_schema_engine() -> Iterator[Engine]:
    require_postgres()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = make_engine(PG_URL, schema=schema)
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _sqlite_engine(tmp_path) -> Iterator[Engine]:  # type: ignore[no-untyped-def]
    engine = make_engine(f"sqlite:///{tmp_path / 'restock-test.db'}")
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_engine(request, tmp_path) -> Iterator[Engine]:  # type: ignore[no-untyped-def]
    """An engine on an empty database (no tables yet), SQLite and PostgreSQL in turn."""
    if request.param == "sqlite":
        yield from _sqlite_engine(tmp_path)
    else:
        yield from _pg_schema_engine()


@pytest.fixture
def engine(empty_engine: Engine) -> Engine:
    """An engine on a database migrated to the latest schema, SQLite and PostgreSQL in turn."""
    upgrade(empty_engine)
    return empty_engine


@pytest.fixture
def sqlite_engine(tmp_path) -> Iterator[Engine]:  # type: ignore[no-untyped-def]
    """A migrated SQLite database only (for tests that need no PostgreSQL twin)."""
    for engine in _sqlite_engine(tmp_path):
        upgrade(engine)
        yield engine


@pytest.fixture
def pg_engine() -> Iterator[Engine]:
    """A migrated PostgreSQL schema only."""
    for engine in _pg_schema_engine():
        upgrade(engine)
        yield engine
