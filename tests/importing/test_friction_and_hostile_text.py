"""Files as people really send them import with clear advice (semicolons, header case, extra columns,
Excel's empty rows, `Sales.csv`, Latin-1), and hostile text cannot make a second SKU — SQLite and
PostgreSQL. Refusals of the same kind are in the bad-input catalogue (test_bad_input.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine, func, select

from forecasting.models import DailySales
from forecasting.preparation import fill_zero_days
from kernel.catalog import Sku
from kernel.errors import ImportValidationError
from kernel.orm import unit_of_work
from restock.importing import import_path
from tests.importing.dataset import BASE_FILES, SEASONS, write_files

NOW = datetime(2026, 9, 1, tzinfo=UTC)
MASTER = {name: BASE_FILES[name] for name in ("categories.csv", "skus.csv")}


def _import(engine: Engine, directory: Path, **kw: object):  # type: ignore[no-untyped-def]
    return import_path(engine, directory, actor="tester", now=NOW, season_names=SEASONS, **kw)  # type: ignore[arg-type]


def _sku_names(engine: Engine) -> dict[str, str]:
    with unit_of_work(engine) as session:
        return dict(session.execute(select(Sku.code, Sku.name)).all())


def test_latin1_text_is_read_as_latin1_not_as_gb18030(engine: Engine, tmp_path: Path) -> None:
    files = {
        "categories.csv": MASTER["categories.csv"],
        "skus.csv": (
            "sku_code,name,category_code,price,abc_class,status,launch_date\n"
            "CB-002,Crème Brûlée Café,coffee,89.90,C,active,\n"
        ).encode("latin-1"),
    }
    report = _import(engine, write_files(tmp_path / "in", files))
    assert {f.file: f.encoding for f in report.files}["skus.csv"] == "cp1252"
    assert _sku_names(engine)["CB-002"] == "Crème Brûlée Café"


def test_an_ambiguous_file_imports_once_the_encoding_is_given(engine: Engine, tmp_path: Path) -> None:
    _import(engine, write_files(tmp_path / "master", {"categories.csv": MASTER["categories.csv"]}))
    files = {
        "skus.csv": "sku_code,name,category_code,price,abc_class,status\nX,安,coffee,1,A,active\n".encode(
            "gbk"
        ),
    }
    with pytest.raises(ImportValidationError, match="--encoding gb18030 or --encoding cp1252"):
        _import(engine, write_files(tmp_path / "in", files))
    _import(engine, write_files(tmp_path / "in", files), encoding="gb18030")
    assert _sku_names(engine)["X"] == "安"


@pytest.mark.parametrize(("delimiter", "shown"), [(";", "';'"), ("\t", "tab")])
def test_a_semicolon_or_tab_separated_file_is_recognised_and_said(
    engine: Engine, tmp_path: Path, delimiter: str, shown: str
) -> None:
    files = {name: text.replace(",", delimiter) for name, text in MASTER.items()}
    report = _import(engine, write_files(tmp_path / "in", files))
    assert _sku_names(engine)["DJ-002"] == "长款羽绒服"
    assert any(f"{shown}-separated" in warning for warning in report.warnings), report.warnings


def test_headers_match_whatever_their_case_and_spaces_and_extra_columns_are_warnings(
    engine: Engine, tmp_path: Path
) -> None:
    skus = (
        " SKU Code ,Name,Category-Code,PRICE,abc_class,Status,launch_date,Colour\n"
        "DJ-001,轻薄羽绒服,down_jackets,599.00,A,active,2025-09-01,red\n"
        ",,,,,,,\n"
        ",,,,,,,\n"
    )
    report = _import(engine, write_files(tmp_path / "in", {"categories.csv": MASTER["categories.csv"],
                                                          "Skus.CSV": skus}))
    assert _sku_names(engine) == {"DJ-001": "轻薄羽绒服"}
    assert [f.rows for f in report.files] == [2, 1]  # Excel's all-empty rows are no records
    assert any("'Colour'" in warning and "ignored, not imported" in warning for warning in report.warnings)


def test_a_code_with_an_invisible_or_full_width_character_is_the_same_sku(
    engine: Engine, tmp_path: Path
) -> None:
    _import(engine, write_files(tmp_path / "master", MASTER))
    sales = (
        "date,sku_code,units,revenue,returned_units,fraud_units,stockout\n"
        "2026-08-28,DJ-001\u200b,1,599.00,0,0,false\n"
        "2026-08-29,\u200fDJ-001,1,599.00,0,0,false\n"
        "2026-08-30,ＤＪ－００１,1,599.00,0,0,false\n"
    )
    _import(engine, write_files(tmp_path / "sales", {"sales.csv": sales}))
    assert set(_sku_names(engine)) == {"DJ-001", "DJ-002", "CB-001"}
    with unit_of_work(engine) as session:
        assert session.scalar(select(func.count()).select_from(DailySales)) == 3


def test_history_up_to_the_tolerance_after_today_is_accepted(engine: Engine, tmp_path: Path) -> None:
    _import(engine, write_files(tmp_path / "master", MASTER))
    sales = {"sales.csv": "date,sku_code,units,revenue,returned_units,fraud_units,stockout\n"
                          "2026-09-03,DJ-001,1,599.00,0,0,false\n"}
    with pytest.raises(ImportValidationError, match="sales.csv:2:date: 2026-09-03 is in the future"):
        _import(engine, write_files(tmp_path / "a", sales), future_tolerance_days=1)
    _import(engine, write_files(tmp_path / "b", sales), future_tolerance_days=2)


def test_days_before_a_skus_first_sales_row_are_unknown_not_zero() -> None:
    sales = pd.DataFrame({
        "unique_id": ["NEW", "NEW"],
        "ds": pd.to_datetime(["2026-08-01", "2026-08-03"]),
        "units": [4, 2], "returned_units": [0, 0], "fraud_units": [0, 0], "stockout": [False, False],
    })
    skus = pd.DataFrame({"unique_id": ["NEW"], "launch_date": [date(2025, 9, 1)]})
    filled = fill_zero_days(sales, skus, date(2026, 8, 4))
    assert filled["ds"].min() == pd.Timestamp("2026-08-01")  # not the launch date a year earlier
    assert filled["units"].tolist() == [4, 0, 2, 0]
