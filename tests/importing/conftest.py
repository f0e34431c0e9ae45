"""A database already holding the tiny literal business, shared by a module on SQLite and PostgreSQL.

Refused imports write nothing, so one loaded database serves every bad-input
case; each case compares a full snapshot before and after.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine

from restock.db import upgrade
from restock.importing import import_path
from tests.conftest import _pg_schema_engine, _sqlite_engine
from tests.importing.dataset import BASE_FILES, SEASONS, write_files


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def loaded_engine(request, tmp_path_factory) -> Iterator[Engine]:  # type: ignore[no-untyped-def]
    """A migrated database (SQLite, then PostgreSQL) with BASE_FILES imported."""
    directory = tmp_path_factory.mktemp("loaded")
    engines = _sqlite_engine(directory) if request.param == "sqlite" else _pg_schema_engine()
    for engine in engines:
        upgrade(engine)
        import_path(
            engine,
            write_files(directory / "base", BASE_FILES),
            actor="setup",
            now=datetime(2026, 8, 31, tzinfo=UTC),
            season_names=SEASONS,
        )
        yield engine
