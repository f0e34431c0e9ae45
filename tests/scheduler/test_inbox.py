"""The import inbox: good files to processed/, bad ones to failed/ with their report, database untouched."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, MetaData, func, select

from restock.inbox import import_inbox, kind_of, pending_files

NOW = datetime(2026, 8, 31, 2, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
SEASONS = ("winter", "summer", "mid_autumn", "spring_festival")


def snapshot(engine: Engine) -> dict[str, list[tuple]]:
    """Every row of every table except the audit log, sorted."""
    metadata = MetaData()
    metadata.reflect(engine)
    with engine.connect() as conn:
        return {
            name: sorted(map(tuple, conn.execute(select(table)).all()), key=repr)
            for name, table in metadata.tables.items()
        }


def test_file_names_say_their_kind() -> None:
    assert kind_of("sales.csv") == "sales"
    assert kind_of("sales-2026-08-30.csv") == "sales"
    assert kind_of("rebate_tiers_2026.csv") == "rebate_tiers"
    assert kind_of("open_purchase_orders.20260831T020000.csv") == "open_purchase_orders"
    assert kind_of("salesreport.csv") is None
    assert kind_of("notes.txt") is None


def test_pending_files_are_in_import_order_and_half_written_ones_wait(tmp_path: Path) -> None:
    for name in ("sales-2.csv", "skus.csv", "sales-1.csv", "categories.csv", ".hidden.csv", "sales.csv.part"):
        (tmp_path / name).write_text("x\n", encoding="utf-8")
    assert [p.name for p in pending_files(tmp_path)] == [
        "categories.csv", "skus.csv", "sales-1.csv", "sales-2.csv"
    ]
    assert pending_files(tmp_path / "missing") == []


def test_a_corrupt_file_goes_to_failed_with_its_report_and_the_database_is_unchanged(
    small_engine: Engine, tmp_path: Path
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "sales-2026-08-31.csv").write_text(
        "date,sku_code,units,revenue,returned_units,fraud_units,stockout\n"
        "2026-08-31,HTX-001,3,2847.00,0,0,false\n"
        "2026-08-31,HTX-002,three,100.00,0,0,false\n"
        "2026-08-31,NOPE-1,1,10.00,0,0,false\n",
        encoding="utf-8",
    )
    (inbox / "mystery.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    before = snapshot(small_engine)
    report = import_inbox(small_engine, inbox, actor="scheduler", now=NOW, season_names=SEASONS)
    assert snapshot(small_engine) == before
    assert [(f.name, f.status) for f in report.files] == [
        ("sales-2026-08-31.csv", "failed"),
        ("mystery.csv", "failed"),
    ]
    assert sorted(p.name for p in inbox.iterdir()) == ["failed"]
    failed = inbox / "failed"
    assert (failed / "sales-2026-08-31.csv").read_text(encoding="utf-8").startswith("date,sku_code")
    errors = (failed / "sales-2026-08-31.csv.errors.txt").read_text(encoding="utf-8").splitlines()
    assert errors[0] == "sales-2026-08-31.csv: refused 2026-08-31T02:00:00+08:00, nothing was written"
    assert any(line.startswith("sales-2026-08-31.csv:3:units:") for line in errors)
    assert any(line.startswith("sales-2026-08-31.csv:4:sku_code:") for line in errors)
    mystery = (failed / "mystery.csv.errors.txt").read_text(encoding="utf-8")
    assert "mystery.csv:1:-: unknown file name" in mystery


def test_good_files_are_imported_and_filed_under_processed(small_engine: Engine, tmp_path: Path) -> None:
    from forecasting.models import DailySales

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    day = (
        "date,sku_code,units,revenue,returned_units,fraud_units,stockout\n"
        "2026-08-31,HTX-001,3,2847.00,0,0,false\n"
    )
    (inbox / "sales.csv").write_text(day, encoding="utf-8")
    (processed := inbox / "processed").mkdir()
    (processed / "sales.csv").write_text("yesterday's file\n", encoding="utf-8")
    with small_engine.connect() as conn:
        before = conn.execute(select(func.count()).select_from(DailySales)).scalar_one()
    report = import_inbox(small_engine, inbox, actor="scheduler", now=NOW, season_names=SEASONS)
    [done] = report.files
    assert (done.status, done.rows, done.inserted) == ("imported", 1, 1)
    # A file of the same name already filed keeps its place; the new one gets the time in its name.
    assert done.moved_to == processed / "sales.20260831T020000.csv"
    assert (processed / "sales.csv").read_text(encoding="utf-8") == "yesterday's file\n"
    assert "1 inserted" in done.report.read_text(encoding="utf-8")
    with small_engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(DailySales)).scalar_one() == before + 1
    # Dropped again (e.g. after a crash between commit and move): nothing changes twice.
    (inbox / "sales.csv").write_text(day, encoding="utf-8")
    [again] = import_inbox(small_engine, inbox, actor="scheduler", now=NOW, season_names=SEASONS).files
    assert (again.status, again.inserted, again.updated) == ("imported", 0, 0)
    with small_engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(DailySales)).scalar_one() == before + 1
