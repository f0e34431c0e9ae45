"""A tiny literal business (two categories, three SKUs, one supplier, ...) as CSV text, and helpers."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, select

from restock.db import load_all_models

BASE_FILES: dict[str, str] = {
    "categories.csv": (
        "category_code,name,season,prebuild_days,salvage_rate\n"
        "down_jackets,羽绒服,winter,45,0.4\n"
        "coffee,咖啡豆 Coffee beans,,,\n"
    ),
    "skus.csv": (
        "sku_code,name,category_code,price,abc_class,status,launch_date\n"
        "DJ-001,轻薄羽绒服,down_jackets,599.00,A,active,2025-09-01\n"
        "DJ-002,长款羽绒服,down_jackets,899.5,B,active,\n"
        "CB-001,Beans,coffee,89.90,C,discontinued,2024-01-15\n"
    ),
    "suppliers.csv": (
        "supplier_code,name,min_order_value,export_format,contact_email\n"
        "SUP-A,杭州羽绒制品有限公司,5000.00,csv,orders@example.com\n"
        "SUP-B,Beans Ltd,0,edifact,\n"
    ),
    "supplier_items.csv": (
        "supplier_code,sku_code,unit_cost,moq,case_pack,lead_time_days,active\n"
        "SUP-A,DJ-001,231.5,100,10,30,true\n"
        "SUP-A,DJ-002,350.1234,50,5,45,yes\n"
        "SUP-B,CB-001,40,20,20,7,0\n"
    ),
    "rebate_agreements.csv": (
        "agreement_code,supplier_code,period_start,period_end,kind,purchases_to_date,"
        "purchases_as_of,scope_categories,scope_skus\n"
        "A-2026,SUP-A,2026-01-01,2026-12-31,retroactive,1900000.00,2026-08-30,down_jackets,\n"
        "B-2026,SUP-B,2026-01-01,2026-12-31,incremental,0,,,CB-001\n"
    ),
    "rebate_tiers.csv": (
        "agreement_code,tier,threshold,rate\n"
        "A-2026,1,1000000,0.02\n"
        "A-2026,2,2000000,0.035\n"
        "B-2026,1,50000,0.01\n"
    ),
    "promotions.csv": (
        "promotion_code,name,kind,start_date,end_date,category_code,sku_code,discount_rate\n"
        "D11-2026,双十一,platform_event,2026-11-01,2026-11-11,,,\n"
        "BEANS-9,Beans week,threshold_discount,2026-09-01,2026-09-07,coffee,CB-001,0.1\n"
    ),
    "sales.csv": (
        "date,sku_code,units,revenue,returned_units,fraud_units,stockout\n"
        "2026-08-29,DJ-001,3,1797.00,0,1,false\n"
        "2026-08-30,DJ-001,0,0,0,0,true\n"
        "2026-08-30,CB-001,10,899.00,1,0,0\n"
    ),
    "inventory.csv": ("date,sku_code,on_hand,committed\n2026-08-30,DJ-001,340,12\n2026-08-30,CB-001,0,0\n"),
    "open_purchase_orders.csv": (
        "po_number,supplier_code,sku_code,units,unit_cost,order_date,expected_date,received_units\n"
        "PO-1,SUP-A,DJ-001,500,231.5,2026-08-10,2026-09-09,\n"
        "PO-1,SUP-A,DJ-002,100,350.1234,2026-08-10,2026-09-09,20\n"
    ),
}

SEASONS = ("winter", "summer", "mid_autumn", "spring_festival")


def write_files(directory: Path, files: dict[str, str | bytes], encoding: str = "utf-8") -> Path:
    """Write each file (text encoded with `encoding`, bytes as they are) into `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        data = content if isinstance(content, bytes) else content.encode(encoding)
        (directory / name).write_bytes(data)
    return directory


def snapshot(engine: Engine) -> dict[str, list[tuple]]:
    """Every row of every restock table, ordered by id: equal snapshots mean nothing changed.
    The data version is left out: on PostgreSQL a statement that changes no row still moves it
    (restock.data_version), which costs the web app's cache a miss and changes no data."""
    metadata = load_all_models().metadata
    with engine.connect() as connection:
        return {
            table.name: [tuple(row) for row in connection.execute(select(table).order_by(*table.primary_key))]
            for table in metadata.sorted_tables
            if table.name not in ("data_version", "data_version_pending")
        }
