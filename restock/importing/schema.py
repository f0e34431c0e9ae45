"""The one description of every importable CSV file: columns, types, ranges, keys and target tables.

The validator, the upserts and docs/data-formats.md are all driven by `FILE_SCHEMAS`,
so the documented formats and what the importer accepts cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum
from typing import TYPE_CHECKING, Any

from forecasting.models import PROMOTION_KINDS
from kernel.catalog import ABC_CLASSES, SKU_STATUSES
from suppliers.models import EXPORT_FORMATS
from suppliers.rebates import AGREEMENT_KINDS

if TYPE_CHECKING:  # pandas is only needed when rules run, not to describe the files
    import pandas as pd

# PostgreSQL and SQLite INTEGER columns are 32-bit signed on PostgreSQL.
INT32_MAX = 2_147_483_647
TRUE_WORDS = ("true", "1", "yes")
FALSE_WORDS = ("false", "0", "no")
LIST_SEPARATOR = ";"


class ColumnType(Enum):
    """The value kinds a CSV cell can hold."""

    TEXT = "text"
    CODE = "code"  # an identifier: no surrounding spaces, no separator characters
    INT = "integer"
    DECIMAL = "decimal"
    DATE = "date"
    TIMESTAMP = "timestamp"  # an instant with its zone: ISO 8601 with an offset (or Z)
    BOOL = "boolean"
    CHOICE = "one of"
    CODE_LIST = "code list"


@dataclass(frozen=True)
class Column:
    """One CSV column: its type, whether it is required, its allowed range and what it means."""

    name: str
    type: ColumnType
    description: str
    example: str
    required: bool = True
    max_length: int | None = None
    minimum: Decimal | None = None
    maximum: Decimal | None = None
    # Exclusive bounds: `minimum` / `maximum` themselves are not allowed.
    exclusive_minimum: bool = False
    exclusive_maximum: bool = False
    max_decimals: int | None = None
    # Digits allowed before the decimal point (what the database column can hold).
    max_integer_digits: int | None = None
    choices: tuple[str, ...] = ()
    # Choices that come from settings at import time (e.g. "seasons").
    choices_from: str | None = None
    unit: str | None = None
    default: Any = None
    # (file kind, column in that file's natural key) this column refers to.
    references: str | None = None
    # Name of the column in the target table when it differs (references become `<x>_id`).
    db_column: str | None = None
    # A date of recorded history: it may not lie after the import's business date (+ tolerance).
    history: bool = False

    def range_text(self) -> str:
        """The allowed range as a person reads it, e.g. `> 0`, `0 .. 365`, `<= 200 characters`."""
        parts: list[str] = []
        if (
            self.minimum is not None
            and self.maximum is not None
            and not (self.exclusive_minimum or self.exclusive_maximum)
        ):
            parts.append(f"{self.minimum} .. {self.maximum}")
        else:
            if self.minimum is not None:
                parts.append(f"{'>' if self.exclusive_minimum else '>='} {self.minimum}")
            if self.maximum is not None:
                parts.append(f"{'<' if self.exclusive_maximum else '<='} {self.maximum}")
        if self.max_decimals is not None:
            parts.append(f"<= {self.max_decimals} decimals")
        if self.max_length is not None:
            parts.append(f"<= {self.max_length} characters")
        if self.choices:
            parts.append(" / ".join(self.choices))
        if self.choices_from:
            parts.append(f"a name from settings [{self.choices_from}.*]")
        if self.references:
            parts.append(f"must exist in {self.references}.csv or the database")
        if self.history:
            parts.append("not after today's business date (+ importing.future_tolerance_days)")
        return "; ".join(parts)


@dataclass(frozen=True)
class RowRule:
    """A check across columns of one row; `holds(frame)` is True where the row is valid."""

    columns: tuple[str, ...]
    reason: str
    holds: Callable[[pd.DataFrame], pd.Series]
    # The column named in the error (the one a user should fix).
    blame: str


@dataclass(frozen=True)
class FileSchema:
    """One importable file: its columns, natural key, target table and cross-column rules."""

    kind: str
    description: str
    table: str
    key: tuple[str, ...]
    columns: tuple[Column, ...]
    rules: tuple[RowRule, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)
    # What one row is called in messages ("unknown category 'x'").
    noun: str = "row"

    @property
    def file_name(self) -> str:
        return f"{self.kind}.csv"

    def column(self, name: str) -> Column:
        return next(column for column in self.columns if column.name == name)

    @property
    def required_names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns if column.required)


def _code(name: str, description: str, example: str, **kw: Any) -> Column:
    return Column(name, ColumnType.CODE, description, example, max_length=64, **kw)


def _money(name: str, description: str, example: str, **kw: Any) -> Column:
    kw.setdefault("minimum", Decimal("0"))
    return Column(
        name,
        ColumnType.DECIMAL,
        description,
        example,
        max_decimals=2,
        max_integer_digits=12,
        unit="CNY",
        **kw,
    )


def _int(name: str, description: str, example: str, **kw: Any) -> Column:
    kw.setdefault("maximum", Decimal(INT32_MAX))
    return Column(name, ColumnType.INT, description, example, **kw)


def _rate(name: str, description: str, example: str, **kw: Any) -> Column:
    return Column(
        name,
        ColumnType.DECIMAL,
        description,
        example,
        max_decimals=6,
        max_integer_digits=2,
        unit="fraction",
        **kw,
    )


def _date(name: str, description: str, example: str, **kw: Any) -> Column:
    return Column(name, ColumnType.DATE, description, example, unit="YYYY-MM-DD", **kw)


def _at_most(left: str, right: str) -> Callable[[pd.DataFrame], pd.Series]:
    def holds(frame: pd.DataFrame) -> pd.Series:
        return frame[left].isna() | frame[right].isna() | (frame[left] <= frame[right])

    return holds


FILE_SCHEMAS: tuple[FileSchema, ...] = (
    FileSchema(
        kind="categories",
        noun="category",
        description="Product categories and the selling season each one follows.",
        table="categories",
        key=("category_code",),
        columns=(
            _code("category_code", "Category identifier", "down_jackets", db_column="code"),
            Column("name", ColumnType.TEXT, "Display name", "羽绒服 Down jackets", max_length=200),
            Column(
                "season",
                ColumnType.CHOICE,
                "Selling season the category follows",
                "winter",
                required=False,
                choices_from="seasons",
                max_length=64,
            ),
            _int(
                "prebuild_days",
                "Days before the season starts that stock must be on the shelf; overrides the season's",
                "45",
                required=False,
                minimum=Decimal(0),
                maximum=Decimal(365),
                unit="days",
            ),
            _rate(
                "salvage_rate",
                "Share of unit cost recovered for season-end leftovers",
                "0.5",
                required=False,
                minimum=Decimal(0),
                maximum=Decimal(1),
                default="0.5",
            ),
        ),
    ),
    FileSchema(
        kind="skus",
        noun="sku",
        description="Stock-keeping units with their selling price and class.",
        table="skus",
        key=("sku_code",),
        columns=(
            _code("sku_code", "SKU identifier", "DJ-001", db_column="code"),
            Column("name", ColumnType.TEXT, "Display name", "轻薄羽绒服 Light down jacket", max_length=200),
            _code(
                "category_code",
                "Category of the SKU",
                "down_jackets",
                references="categories",
                db_column="category_id",
            ),
            _money(
                "price",
                "Selling price per unit",
                "599.00",
                minimum=Decimal(0),
                exclusive_minimum=True,
            ),
            Column("abc_class", ColumnType.CHOICE, "ABC class (service level)", "A", choices=ABC_CLASSES),
            Column(
                "status", ColumnType.CHOICE, "Whether the SKU is still sold", "active", choices=SKU_STATUSES
            ),
            _date("launch_date", "First day on sale", "2026-06-01", required=False),
        ),
    ),
    FileSchema(
        kind="suppliers",
        noun="supplier",
        description="Suppliers and the purchase-order file format each one asked for.",
        table="suppliers",
        key=("supplier_code",),
        columns=(
            _code("supplier_code", "Supplier identifier", "SUP-A", db_column="code"),
            Column("name", ColumnType.TEXT, "Display name", "杭州羽绒制品有限公司", max_length=200),
            _money("min_order_value", "Smallest purchase order the supplier accepts", "5000.00"),
            Column(
                "export_format",
                ColumnType.CHOICE,
                "PO file format",
                "csv",
                choices=EXPORT_FORMATS,
            ),
            Column(
                "contact_email",
                ColumnType.TEXT,
                "Where PO files go",
                "orders@example.com",
                required=False,
                max_length=200,
            ),
        ),
    ),
    FileSchema(
        kind="supplier_items",
        description="What a supplier charges for a SKU and how it must be ordered.",
        table="supplier_items",
        key=("supplier_code", "sku_code"),
        columns=(
            _code("supplier_code", "Supplier", "SUP-A", references="suppliers", db_column="supplier_id"),
            _code("sku_code", "SKU", "DJ-001", references="skus", db_column="sku_id"),
            Column(
                "unit_cost",
                ColumnType.DECIMAL,
                "Purchase price per unit",
                "231.5000",
                minimum=Decimal(0),
                exclusive_minimum=True,
                max_decimals=4,
                max_integer_digits=10,
                unit="CNY",
            ),
            _int("moq", "Minimum order quantity", "100", minimum=Decimal(1), unit="units"),
            _int(
                "case_pack", "Units per case; orders are whole cases", "10", minimum=Decimal(1), unit="units"
            ),
            _int(
                "lead_time_days",
                "Days from order to delivery",
                "30",
                minimum=Decimal(0),
                maximum=Decimal(365),
                unit="days",
            ),
            Column("active", ColumnType.BOOL, "Whether the item may be ordered", "true"),
        ),
    ),
    FileSchema(
        kind="rebate_agreements",
        noun="rebate agreement",
        description="Volume-rebate agreements; no scope means every purchase from the supplier counts.",
        table="rebate_agreements",
        key=("agreement_code",),
        columns=(
            _code("agreement_code", "Agreement identifier", "SUP-A-2026", db_column="code"),
            _code("supplier_code", "Supplier", "SUP-A", references="suppliers", db_column="supplier_id"),
            _date("period_start", "First day of the agreement period", "2026-01-01"),
            _date("period_end", "Last day of the agreement period (inclusive)", "2026-12-31"),
            Column(
                "kind", ColumnType.CHOICE, "How a reached tier pays", "retroactive", choices=AGREEMENT_KINDS
            ),
            _money("purchases_to_date", "Purchases counted in the period so far", "1900000.00"),
            _date("purchases_as_of", "Date purchases_to_date was taken", "2026-08-30", required=False),
            Column(
                "scope_categories",
                ColumnType.CODE_LIST,
                "Category codes whose purchases count, `;`-separated",
                "down_jackets;camping",
                required=False,
                references="categories",
            ),
            Column(
                "scope_skus",
                ColumnType.CODE_LIST,
                "SKU codes whose purchases count, `;`-separated",
                "DJ-001;DJ-002",
                required=False,
                references="skus",
            ),
        ),
        rules=(
            RowRule(
                ("period_start", "period_end"),
                "period_end is before period_start",
                _at_most("period_start", "period_end"),
                blame="period_end",
            ),
        ),
    ),
    FileSchema(
        kind="rebate_tiers",
        description="Tiers of each agreement: tier n pays `rate` once period purchases reach `threshold`.",
        table="rebate_tiers",
        key=("agreement_code", "tier"),
        columns=(
            _code(
                "agreement_code",
                "Agreement",
                "SUP-A-2026",
                references="rebate_agreements",
                db_column="agreement_id",
            ),
            _int("tier", "Tier number, 1..n without gaps per agreement", "1", minimum=Decimal(1)),
            _money(
                "threshold",
                "Period purchases that reach the tier",
                "1000000.00",
                minimum=Decimal(0),
                exclusive_minimum=True,
            ),
            _rate(
                "rate",
                "Rebate rate once reached",
                "0.02",
                minimum=Decimal(0),
                maximum=Decimal(1),
                exclusive_minimum=True,
                exclusive_maximum=True,
            ),
        ),
        notes=(
            "Thresholds and rates must strictly increase with the tier number, else the file is "
            'refused with "tier table out of order".',
            "The file carries each listed agreement's whole tier table: tiers of that agreement "
            "not in the file are deleted.",
        ),
    ),
    FileSchema(
        kind="promotions",
        description="Company promotions and platform events over an inclusive date range; "
        "scope is one SKU, one category, or (both empty) the whole shop.",
        table="promotions",
        key=("promotion_code",),
        columns=(
            _code("promotion_code", "Promotion identifier", "D11-2026", db_column="code"),
            Column("name", ColumnType.TEXT, "Display name", "双十一 Double 11", max_length=200),
            Column("kind", ColumnType.CHOICE, "Kind of promotion", "platform_event", choices=PROMOTION_KINDS),
            _date("start_date", "First day", "2026-11-01"),
            _date("end_date", "Last day (inclusive)", "2026-11-11"),
            _code(
                "category_code",
                "Category in scope",
                "down_jackets",
                required=False,
                references="categories",
                db_column="category_id",
            ),
            _code(
                "sku_code",
                "SKU in scope",
                "DJ-001",
                required=False,
                references="skus",
                db_column="sku_id",
            ),
            _rate(
                "discount_rate",
                "Discount off the price",
                "0.2",
                required=False,
                minimum=Decimal(0),
                maximum=Decimal(1),
                exclusive_maximum=True,
            ),
        ),
        rules=(
            RowRule(
                ("start_date", "end_date"),
                "end_date is before start_date",
                _at_most("start_date", "end_date"),
                blame="end_date",
            ),
        ),
    ),
    FileSchema(
        kind="sales",
        description="Daily sales per SKU (the large file; streamed in chunks).",
        table="daily_sales",
        key=("sku_code", "date"),
        columns=(
            _date("date", "Business date", "2026-08-30", history=True),
            _code("sku_code", "SKU", "DJ-001", references="skus", db_column="sku_id"),
            _int(
                "units",
                "All ordered units, including units flagged as fraud",
                "12",
                minimum=Decimal(0),
                unit="units",
            ),
            _money("revenue", "Revenue of the day", "7188.00"),
            _int("returned_units", "Units returned that day", "1", minimum=Decimal(0), unit="units"),
            _int(
                "fraud_units",
                "Units flagged as brushing/fake by the shop's anti-fraud check",
                "0",
                minimum=Decimal(0),
                unit="units",
            ),
            Column(
                "stockout",
                ColumnType.BOOL,
                "Out of stock part or all of the day (sales are censored)",
                "false",
            ),
        ),
        rules=(
            RowRule(
                ("fraud_units", "units"),
                "fraud_units exceeds units",
                _at_most("fraud_units", "units"),
                blame="fraud_units",
            ),
        ),
    ),
    FileSchema(
        kind="inventory",
        description="Stock of a SKU at the end of a business date.",
        table="inventory_snapshots",
        key=("sku_code", "date"),
        columns=(
            _date("date", "Business date", "2026-08-30", history=True),
            _code("sku_code", "SKU", "DJ-001", references="skus", db_column="sku_id"),
            _int("on_hand", "Units on hand", "340", minimum=Decimal(0), unit="units"),
            _int("committed", "Units reserved for unshipped orders", "12", minimum=Decimal(0), unit="units"),
        ),
    ),
    FileSchema(
        kind="open_purchase_orders",
        description="Purchase orders in transit, one row per PO line; imported with status `open`.",
        table="purchase_orders + purchase_order_lines",
        key=("po_number", "sku_code"),
        columns=(
            _code("po_number", "Purchase order number", "PO-2026-0815"),
            _code("supplier_code", "Supplier", "SUP-A", references="suppliers", db_column="supplier_id"),
            _code("sku_code", "SKU", "DJ-001", references="skus", db_column="sku_id"),
            _int("units", "Units ordered", "500", minimum=Decimal(0), exclusive_minimum=True, unit="units"),
            Column(
                "unit_cost",
                ColumnType.DECIMAL,
                "Purchase price per unit",
                "231.5000",
                minimum=Decimal(0),
                exclusive_minimum=True,
                max_decimals=4,
                max_integer_digits=10,
                unit="CNY",
            ),
            _date("order_date", "Day the order was placed", "2026-08-10", history=True),
            _date("expected_date", "Day delivery is expected", "2026-09-09"),
            _int(
                "received_units",
                "Units of the line already received",
                "0",
                required=False,
                minimum=Decimal(0),
                unit="units",
                default=0,
            ),
        ),
        rules=(
            RowRule(
                ("order_date", "expected_date"),
                "expected_date is before order_date",
                _at_most("order_date", "expected_date"),
                blame="expected_date",
            ),
            RowRule(
                ("received_units", "units"),
                "received_units exceeds units",
                _at_most("received_units", "units"),
                blame="received_units",
            ),
        ),
        notes=("All rows of one po_number must share supplier_code, order_date and expected_date.",),
    ),
)

SCHEMAS_BY_KIND: dict[str, FileSchema] = {schema.kind: schema for schema in FILE_SCHEMAS}
# References point backwards in this order, so files are imported in it.
IMPORT_ORDER: tuple[str, ...] = tuple(schema.kind for schema in FILE_SCHEMAS)


def schema_for(kind: str) -> FileSchema | None:
    """The schema of a file kind (`sales`), or None when restock knows no such kind."""
    return SCHEMAS_BY_KIND.get(kind)
