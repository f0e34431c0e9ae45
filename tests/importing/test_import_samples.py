"""The committed sample business imports cleanly, and a second import changes nothing (SQLite)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine

from restock.importing import IMPORT_ORDER, import_path

SAMPLES = Path(__file__).resolve().parents[2] / "data" / "samples"


def test_committed_samples_import_and_reimport_unchanged(sqlite_engine: Engine) -> None:
    now = datetime(2026, 8, 31, tzinfo=UTC)

    first = import_path(sqlite_engine, SAMPLES, actor="tester", now=now)
    again = import_path(sqlite_engine, SAMPLES, actor="tester", now=now)

    assert [file.kind for file in first.files] == list(IMPORT_ORDER)
    assert first.inserted == first.rows > 0
    assert again.unchanged == first.rows and again.inserted == again.updated == 0
