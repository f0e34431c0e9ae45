"""Backups: verified copies with checksum and manifest, retention, mirror; restores checked table by table."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import Engine, create_engine, text

from restock.backup import (
    BackupError,
    apply_retention,
    create_backup,
    fingerprint,
    restore_backup,
    retained,
    verify_checksum,
)
from restock.db import make_engine
from tests.conftest import PG_URL

NOW = datetime(2026, 8, 31, 3, 30, tzinfo=ZoneInfo("Asia/Shanghai"))


def _data_version(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT version FROM data_version")).scalar_one())


def prints(engine: Engine) -> dict:
    with engine.connect() as conn:
        return fingerprint(conn)


@pytest.fixture
def empty_target(small_engine: Engine, tmp_path: Path) -> Iterator[Engine]:
    """An empty database of the same kind as `small_engine`: a new SQLite file, or a new PostgreSQL
    database (the backup's schema is recreated there by the restore)."""
    if small_engine.dialect.name == "sqlite":
        target = make_engine(f"sqlite:///{tmp_path / 'restored.db'}")
        yield target
        target.dispose()
        return
    with small_engine.connect() as conn:
        schema = conn.execute(text("SELECT current_schema()")).scalar_one()
    name = f"i14_restore_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    target = make_engine(PG_URL.rsplit("/", 1)[0] + f"/{name}", schema=schema)
    try:
        yield target
    finally:
        target.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


def test_backup_then_restore_into_an_empty_database_is_equal(
    small_engine: Engine, empty_target: Engine, tmp_path: Path
) -> None:
    result = create_backup(small_engine, tmp_path / "backups", now=NOW)
    suffix = "sqlite3" if small_engine.dialect.name == "sqlite" else "pgdump"
    assert result.path.name == f"restock-{small_engine.dialect.name}-20260831T033000.{suffix}"
    assert (result.path.parent / (result.path.name + ".sha256")).read_text().split() == [
        result.sha256, result.path.name
    ]
    manifest = json.loads((result.path.parent / (result.path.name + ".json")).read_text())
    assert manifest["counts"]["skus"] == 15
    assert manifest["counts"]["daily_sales"] > 10_000
    source = prints(small_engine)
    assert manifest["counts"] == source["counts"]
    assert manifest["checksums"] == source["checksums"]

    restored = restore_backup(empty_target, result.path)
    assert restored.ok
    assert {c.table: c.restored_rows for c in restored.tables} == source["counts"]
    # the restored data comes back under a version no web app has cached anything for
    assert _data_version(empty_target) >= _data_version(small_engine) + 2**32
    assert all(c.checksum_ok for c in restored.tables if c.table in source["checksums"])
    after = prints(empty_target)
    assert after == source

    with pytest.raises(BackupError, match="not empty .*--force"):
        restore_backup(empty_target, result.path)
    again = restore_backup(empty_target, result.path, force=True)
    assert again.ok
    assert prints(empty_target) == source


def test_a_damaged_backup_is_refused_before_anything_is_touched(
    small_engine: Engine, empty_target: Engine, tmp_path: Path
) -> None:
    result = create_backup(small_engine, tmp_path / "backups", now=NOW)
    data = bytearray(result.path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    result.path.write_bytes(bytes(data))
    with pytest.raises(BackupError, match="checksum mismatch"):
        restore_backup(empty_target, result.path)
    assert prints(empty_target)["counts"].get("skus") is None


def test_a_restore_into_a_database_with_data_is_refused_without_force(
    small_engine: Engine, tmp_path: Path
) -> None:
    result = create_backup(small_engine, tmp_path / "backups", now=NOW)
    before = prints(small_engine)
    with pytest.raises(BackupError, match=r"not empty \(\d+ table\(s\) hold rows: daily_sales"):
        restore_backup(small_engine, result.path)
    assert prints(small_engine) == before


def test_the_mirror_gets_a_verified_copy_and_retention_applies_to_both(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    local, mirror = tmp_path / "backups", tmp_path / "offsite"
    made = []
    for days in range(5):
        made.append(create_backup(sqlite_engine, local, now=NOW + timedelta(days=days), mirror_dir=mirror,
                                  keep_daily=2, keep_weekly=1))
    last = made[-1]
    assert last.mirror == mirror / last.path.name
    assert verify_checksum(last.mirror)["sha256"] == last.sha256
    # 31 Aug … 4 Sep: keep the last 2 days (3 and 4 Sep) and the newest of the ISO week (4 Sep).
    expected = {made[3].path.name, made[4].path.name}
    for folder in (local, mirror):
        kept = {p.name for p in folder.iterdir() if p.suffix in (".sqlite3",)}
        assert kept == expected
        assert len(list(folder.iterdir())) == 3 * len(expected)  # + .sha256 and .json each


def test_a_missing_pg_dump_is_a_clear_error(pg_engine: Engine, tmp_path: Path) -> None:
    with pytest.raises(BackupError, match="not-a-pg-dump not found: install the PostgreSQL client"):
        create_backup(pg_engine, tmp_path, now=NOW, pg_dump="not-a-pg-dump")
    assert list(tmp_path.iterdir()) == []


@hypothesis_settings(max_examples=200, deadline=None)
@given(
    offsets=st.lists(st.integers(min_value=0, max_value=24 * 120), min_size=0, max_size=40, unique=True),
    keep_daily=st.integers(min_value=1, max_value=10),
    keep_weekly=st.integers(min_value=0, max_value=6),
)
def test_retention_keeps_the_newest_of_each_recent_day_and_week(
    offsets: list[int], keep_daily: int, keep_weekly: int
) -> None:
    start = datetime(2026, 1, 1)
    stamps = {Path(f"b{hours}"): start + timedelta(hours=hours) for hours in offsets}
    keep = retained(stamps, keep_daily, keep_weekly)
    days = sorted({t.date() for t in stamps.values()}, reverse=True)
    weeks = sorted({t.isocalendar()[:2] for t in stamps.values()}, reverse=True)
    newest_of = {}
    for path, t in stamps.items():
        for bucket in (t.date(), t.isocalendar()[:2]):
            if bucket not in newest_of or stamps[newest_of[bucket]] < t:
                newest_of[bucket] = path
    expected = {newest_of[d] for d in days[:keep_daily]} | {newest_of[w] for w in weeks[:keep_weekly]}
    assert keep == expected
    if stamps:
        assert max(stamps, key=stamps.__getitem__) in keep  # the newest backup is never deleted
    assert len(keep) <= keep_daily + keep_weekly


def test_retention_only_touches_restock_backups(tmp_path: Path) -> None:
    for day in range(1, 5):
        name = f"restock-sqlite-202608{day:02d}T033000.sqlite3"
        for suffix in ("", ".sha256", ".json"):
            (tmp_path / (name + suffix)).write_text("x")
    (tmp_path / "notes.txt").write_text("keep me")
    removed = apply_retention(tmp_path, keep_daily=1, keep_weekly=0)
    assert len(removed) == 9
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "notes.txt",
        "restock-sqlite-20260804T033000.sqlite3",
        "restock-sqlite-20260804T033000.sqlite3.json",
        "restock-sqlite-20260804T033000.sqlite3.sha256",
    ]
