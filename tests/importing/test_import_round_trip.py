"""Importing the tiny literal business: values land exactly, re-import changes nothing, upserts update."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from forecasting.models import DailySales, Promotion
from kernel.audit import AuditEntry
from kernel.catalog import Category, Sku
from kernel.errors import InvalidInput
from kernel.orm import unit_of_work
from replenishment.models import InventorySnapshot
from restock.importing import import_path
from suppliers.models import (
    PurchaseOrder,
    RebateAgreement,
    RebateTier,
    SupplierItem,
)
from tests.importing.dataset import BASE_FILES, SEASONS, snapshot, write_files

NOW = datetime(2026, 8, 31, 1, 0, tzinfo=UTC)


def _import(engine: Engine, path: Path, **kw):  # type: ignore[no-untyped-def]
    return import_path(engine, path, actor="tester", now=NOW, season_names=SEASONS, **kw)


def test_import_of_a_directory_stores_every_value_exactly(engine: Engine, tmp_path: Path) -> None:
    report = _import(engine, write_files(tmp_path / "in", BASE_FILES))

    assert [file.file for file in report.files] == [
        "categories.csv",
        "skus.csv",
        "suppliers.csv",
        "supplier_items.csv",
        "rebate_agreements.csv",
        "rebate_tiers.csv",
        "promotions.csv",
        "sales.csv",
        "inventory.csv",
        "open_purchase_orders.csv",
    ]
    assert report.inserted == 24 and report.updated == 0 and report.unchanged == 0
    with unit_of_work(engine) as session:
        jacket = session.scalars(select(Sku).where(Sku.code == "DJ-001")).one()
        assert (jacket.name, jacket.price, jacket.abc_class, jacket.launch_date) == (
            "轻薄羽绒服",
            Decimal("599.00"),
            "A",
            date(2025, 9, 1),
        )
        assert jacket.category.code == "down_jackets" and jacket.category.season == "winter"
        coffee = session.scalars(select(Category).where(Category.code == "coffee")).one()
        # Empty optional cells take the column's default.
        assert (coffee.season, coffee.prebuild_days, coffee.salvage_rate) == (None, None, Decimal("0.5"))
        item = session.scalars(select(SupplierItem).where(SupplierItem.unit_cost > 300)).one()
        assert (item.unit_cost, item.moq, item.case_pack, item.active) == (Decimal("350.1234"), 50, 5, True)
        day = session.scalars(select(DailySales).where(DailySales.date == date(2026, 8, 29))).one()
        assert (day.units, day.revenue, day.fraud_units, day.stockout) == (3, Decimal("1797.00"), 1, False)
        assert session.scalar(select(func.count()).where(DailySales.stockout.is_(True))) == 1
        agreement = session.scalars(select(RebateAgreement).where(RebateAgreement.code == "A-2026")).one()
        assert [(tier.tier, tier.threshold, tier.rate) for tier in agreement.tiers] == [
            (1, Decimal("1000000.00"), Decimal("0.020000")),
            (2, Decimal("2000000.00"), Decimal("0.035000")),
        ]
        assert [scope.category_id for scope in agreement.scopes] == [jacket.category_id]
        order = session.scalars(select(PurchaseOrder)).one()
        assert (order.po_number, order.status, order.expected_date) == ("PO-1", "open", date(2026, 9, 9))
        assert sorted((line.units, line.received_units) for line in order.lines) == [(100, 20), (500, 0)]
        promotion = session.scalars(select(Promotion).where(Promotion.code == "D11-2026")).one()
        assert (promotion.category_id, promotion.sku_id, promotion.name) == (None, None, "双十一")
        stock = session.scalars(select(InventorySnapshot).where(InventorySnapshot.on_hand == 340)).one()
        assert stock.committed == 12
        audits = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
        assert [(entry.action, entry.entity_key) for entry in audits][:2] == [
            ("import", "categories.csv"),
            ("import", "skus.csv"),
        ]
        assert len(audits) == 10 and audits[7].after["inserted"] == 3


def test_reimporting_the_same_files_changes_nothing(engine: Engine, tmp_path: Path) -> None:
    directory = write_files(tmp_path / "in", BASE_FILES)
    _import(engine, directory)
    before = snapshot(engine)

    again = _import(engine, directory)

    after = snapshot(engine)
    assert again.inserted == 0 and again.updated == 0 and again.unchanged == again.rows == 24
    # Only the audit log grows: one entry per file imported.
    assert len(after.pop("audit_log")) == len(before.pop("audit_log")) + 10
    assert after == before


def test_a_changed_price_is_an_update_of_that_row_only(engine: Engine, tmp_path: Path) -> None:
    _import(engine, write_files(tmp_path / "in", BASE_FILES))
    changed = BASE_FILES["skus.csv"].replace(
        "DJ-002,长款羽绒服,down_jackets,899.5", "DJ-002,长款羽绒服,down_jackets,949.00"
    )
    tier_dropped = "agreement_code,tier,threshold,rate\nA-2026,1,1000000,0.025\n"

    report = _import(
        engine, write_files(tmp_path / "again", {"skus.csv": changed, "rebate_tiers.csv": tier_dropped})
    )

    skus, tiers = report.files
    assert (skus.inserted, skus.updated, skus.unchanged) == (0, 1, 2)
    assert (tiers.inserted, tiers.updated, tiers.unchanged, tiers.deleted) == (0, 1, 0, 1)
    with unit_of_work(engine) as session:
        prices = dict(session.execute(select(Sku.code, Sku.price)).all())
        assert prices == {
            "DJ-001": Decimal("599.00"),
            "DJ-002": Decimal("949.00"),
            "CB-001": Decimal("89.90"),
        }
        a_tiers = session.execute(
            select(RebateTier.tier, RebateTier.rate)
            .join(RebateAgreement)
            .where(RebateAgreement.code == "A-2026")
        ).all()
        assert a_tiers == [(1, Decimal("0.025000"))]


def test_a_single_file_imports_by_kind_whatever_its_name(engine: Engine, tmp_path: Path) -> None:
    _import(engine, write_files(tmp_path / "in", BASE_FILES))
    export = tmp_path / "shop-export-0901.csv"
    export.write_text(
        "date,sku_code,units,revenue,returned_units,fraud_units,stockout\n"
        "2026-08-31,DJ-002,2,1799.00,0,0,false\n"
        "2026-08-30,CB-001,11,988.90,1,0,no\n",
        encoding="utf-8",
    )

    report = _import(engine, export, kind="sales")

    assert [(f.kind, f.inserted, f.updated) for f in report.files] == [("sales", 1, 1)]
    with unit_of_work(engine) as session:
        assert session.scalar(select(func.count()).select_from(DailySales)) == 4
        assert session.scalar(select(DailySales.units).where(DailySales.revenue == Decimal("988.90"))) == 11


def test_optional_columns_may_be_left_out_of_the_header(engine: Engine, tmp_path: Path) -> None:
    files = {"categories.csv": "category_code,name\nbeans,Beans\n"}

    _import(engine, write_files(tmp_path / "in", files))

    with unit_of_work(engine) as session:
        beans = session.scalars(select(Category)).one()
        assert (beans.season, beans.salvage_rate) == (None, Decimal("0.5"))


def test_kind_must_be_known_and_only_names_a_single_file(engine: Engine, tmp_path: Path) -> None:
    directory = write_files(tmp_path / "in", BASE_FILES)

    with pytest.raises(InvalidInput, match="unknown kind 'stock'"):
        _import(engine, directory / "sales.csv", kind="stock")
    with pytest.raises(InvalidInput, match="single file"):
        _import(engine, directory, kind="sales")
    with pytest.raises(InvalidInput, match="no such file"):
        _import(engine, tmp_path / "missing.csv")


def test_an_import_cannot_overwrite_a_purchase_order_restock_raised(engine: Engine, tmp_path: Path) -> None:
    from kernel.errors import ImportValidationError

    _import(engine, write_files(tmp_path / "in", BASE_FILES))
    with unit_of_work(engine) as session:
        order = session.scalars(select(PurchaseOrder).where(PurchaseOrder.po_number == "PO-1")).one()
        order.proposal_id = 7  # as if restock had raised PO-1 from proposal 7
    before = snapshot(engine)
    changed = BASE_FILES["open_purchase_orders.csv"].replace(",500,", ",900,")
    path = write_files(tmp_path / "again", {"open_purchase_orders.csv": changed})
    with pytest.raises(ImportValidationError) as refused:
        _import(engine, path)
    assert refused.value.problems[0].startswith("open_purchase_orders.csv:2:po_number: purchase order PO-1")
    assert "proposal 7" in refused.value.problems[0]
    assert snapshot(engine) == before
