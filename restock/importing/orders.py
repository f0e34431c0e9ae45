"""Importing `orders.csv` (order lines): validated, keys hashed on the way in, all or nothing, idempotent.

The file is streamed in chunks through the same reader and validator as every import
(`file:row:column: reason`), its buyer, IP and delivery-address values are replaced by keyed
BLAKE2b hashes before anything is staged (the raw values never reach a table, a temporary table
or a message), and the lines are upserted on (order id, SKU): a re-imported order with a new
status updates its line, never duplicates it. In the same transaction restock's brushing rules run
over the days the file touched and the daily sales of the SKUs with orders are derived from them
(`forecasting.order_services`).
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
from sqlalchemy import Engine, func, select

from forecasting.models import ORDER_STATUSES
from forecasting.order_services import DemandRefresh, refresh_order_demand
from forecasting.settings import BrushingSettings
from kernel.audit import record
from kernel.errors import ImportValidationError, InvalidInput
from kernel.installation import installation_secret
from kernel.orm import unit_of_work
from restock.db import ensure_ready
from restock.importing.reading import CsvFileReader, Problem
from restock.importing.schema import Column, ColumnType, FileSchema, RowRule, _at_most, _code, _int, _money
from restock.importing.staging import StagedFile
from restock.importing.validation import ValidatedChunk, validate_chunk

SALT_NAME = "order_key_salt"
MAX_PROBLEMS = 50
CHUNK_ROWS = 50_000

# Called as rows stream in: (file name, bytes read so far, file size in bytes).
OrdersProgress = Callable[[str, int, int], None]


def _time(name: str, description: str, example: str, **kw: object) -> Column:
    return Column(name, ColumnType.TIMESTAMP, description, example, unit="ISO 8601 + offset", **kw)


ORDERS_SCHEMA = FileSchema(
    kind="orders",
    noun="order line",
    description="Order lines (one row per order and SKU); buyer, IP and address are hashed on import.",
    table="orders",
    key=("order_id", "sku_code"),
    columns=(
        _code("order_id", "Order identifier from the shop platform", "TB-20261111-000123"),
        _time("order_time", "When the order was placed, with its zone", "2026-11-11T00:03:12+08:00"),
        _code("sku_code", "SKU", "HTX-009", references="skus", db_column="sku_id"),
        _int("units", "Units of the SKU in the order", "1", minimum=Decimal(1), unit="units"),
        _money("unit_price", "Price paid per unit after discounts", "199.00"),
        Column("buyer_key", ColumnType.TEXT, "Buyer account (hashed on import)", "u_83721", max_length=200),
        Column("ip", ColumnType.TEXT, "IP address the order came from (hashed on import)", "10.1.2.3",
               required=False, max_length=100),
        Column("address_key", ColumnType.TEXT, "Delivery address or its key (hashed on import)",
               "浙江省杭州市西湖区…", required=False, max_length=500),
        Column("channel", ColumnType.TEXT, "Sales channel", "tmall", max_length=64),
        Column("status", ColumnType.CHOICE, "Order status", "paid", choices=ORDER_STATUSES),
        Column("presale", ColumnType.BOOL, "Pre-sale order (deposit first, final payment at the event)",
               "false", required=False, default="0"),
        _money("deposit", "Deposit paid (pre-sale only)", "50.00", required=False),
        _time("deposit_time", "When the deposit was paid (pre-sale only)", "2026-10-24T20:01:00+08:00",
              required=False),
        _time("final_payment_time", "When the final payment was made (pre-sale; empty until then)",
              "2026-11-11T00:10:00+08:00", required=False),
    ),
    rules=(
        RowRule(("deposit_time", "final_payment_time"), "final_payment_time is before deposit_time",
                _at_most("deposit_time", "final_payment_time"), blame="final_payment_time"),
    ),
    notes=(
        "A pre-sale line needs deposit and deposit_time; a line that is not a pre-sale may not carry them.",
        "buyer_key, ip and address_key are replaced by keyed hashes (BLAKE2b, a salt generated once per "
        "installation) before anything is stored; address keys are compared after Unicode NFKC, "
        "case folding and collapsing spaces.",
        "Re-importing an order id and SKU updates that line (a new status, a final payment), never "
        "adds a second one.",
    ),
)

# The staged form: hashed keys and derived business dates, named as the `orders` table's columns.
_STAGE_SCHEMA = FileSchema(
    kind="orders",
    description="orders as staged",
    table="orders",
    key=("order_id", "sku_code"),
    columns=(
        Column("order_id", ColumnType.CODE, "", ""),
        Column("sku_code", ColumnType.CODE, "", "", references="skus", db_column="sku_id"),
        Column("ordered_at", ColumnType.TIMESTAMP, "", ""),
        Column("business_date", ColumnType.DATE, "", ""),
        Column("units", ColumnType.INT, "", ""),
        Column("unit_price", ColumnType.DECIMAL, "", ""),
        Column("buyer_hash", ColumnType.TEXT, "", ""),
        Column("ip_hash", ColumnType.TEXT, "", "", required=False),
        Column("address_hash", ColumnType.TEXT, "", "", required=False),
        Column("channel", ColumnType.TEXT, "", ""),
        Column("status", ColumnType.TEXT, "", ""),
        Column("presale", ColumnType.BOOL, "", ""),
        Column("deposit", ColumnType.DECIMAL, "", "", required=False),
        Column("deposit_at", ColumnType.TIMESTAMP, "", "", required=False),
        Column("final_paid_at", ColumnType.TIMESTAMP, "", "", required=False),
        Column("sale_date", ColumnType.DATE, "", "", required=False),
    ),
)


class KeyHasher:
    """Keyed BLAKE2b (128-bit, hex) of buyer, IP and address values with the installation's salt."""

    def __init__(self, salt: bytes) -> None:
        if len(salt) < 16:
            raise ValueError("the salt must have at least 16 bytes")
        self._salt = salt[:64]

    def hash(self, value: str | None, *, address: bool = False) -> str | None:
        """The hex hash of a value (None for an empty one); addresses are normalised first."""
        if value is None:
            return None
        text = value.strip()
        if address:
            text = " ".join(unicodedata.normalize("NFKC", text).casefold().split())
        if not text:
            return None
        return hashlib.blake2b(text.encode("utf-8"), key=self._salt, digest_size=16).hexdigest()

    def column(self, values: pa.Array, *, address: bool = False) -> pa.Array:
        return pa.array([self.hash(v, address=address) for v in values.to_pylist()], type=pa.string())


@dataclass(frozen=True)
class OrdersImportReport:
    """What importing an orders file did, and what the brushing rules and derived sales made of it."""

    file: str
    encoding: str
    rows: int
    inserted: int
    updated: int
    unchanged: int
    first_date: date | None
    last_date: date | None
    demand: DemandRefresh


def import_orders(
    engine: Engine,
    path: Path | str,
    *,
    actor: str,
    now: datetime,
    tz: str,
    brushing: BrushingSettings,
    progress: OrdersProgress | None = None,
    max_problems: int = MAX_PROBLEMS,
    chunk_rows: int = CHUNK_ROWS,
) -> OrdersImportReport:
    """Import one orders CSV in a single transaction; then flag brushing and derive daily sales.

    `tz` is the business time zone (an order's business date is its local date there). Raises
    `ImportValidationError` with every problem found (up to `max_problems`) and writes nothing
    when the file has one.
    """
    ensure_ready(engine, write=True)
    file_path = Path(path)
    if not file_path.is_file():
        raise InvalidInput(f"{file_path}: no such file")
    name = file_path.name
    problems: list[Problem] = []
    truncated = False
    with unit_of_work(engine) as session:
        hasher = KeyHasher(installation_secret(session, SALT_NAME))
        stage = StagedFile(session, _STAGE_SCHEMA, name)
        reader = CsvFileReader(file_path, ORDERS_SCHEMA, chunk_rows=chunk_rows)
        try:
            for chunk in reader.chunks():
                good, found = validate_chunk(chunk, ORDERS_SCHEMA, name, {})
                good, more = _presale_rules(good, name)
                problems += sorted(found + more, key=lambda p: p.line)
                stage.add(_staged(good, hasher, tz), False)
                if progress is not None:
                    progress(name, chunk.bytes_read, reader.size_bytes)
                if len(problems) >= max_problems:
                    truncated = True
                    break
            problems += reader.problems
            if progress is not None:
                progress(name, reader.size_bytes, reader.size_bytes)
            if not problems:
                problems += stage.duplicate_keys(max_problems) + stage.unknown_references({}, max_problems)
            if problems:
                truncated = truncated or len(problems) > max_problems
                raise ImportValidationError([str(p) for p in problems[:max_problems]], truncated)
            span = session.execute(
                select(func.min(stage.table.c.business_date), func.max(stage.table.c.business_date),
                       func.min(stage.table.c.sale_date), func.max(stage.table.c.sale_date))
            ).one()
            counts = stage.upsert()
        finally:
            if not problems:
                stage.drop()
        first = min((d for d in (span[0], span[2]) if d is not None), default=None)
        last = max((d for d in (span[1], span[3]) if d is not None), default=None)
        demand = (refresh_order_demand(session, _as_date(first), _as_date(last), brushing, tz=tz, now=now)
                  if first is not None and last is not None else DemandRefresh())
        report = OrdersImportReport(
            file=name, encoding=reader.encoding, rows=stage.rows, inserted=counts.inserted,
            updated=counts.updated, unchanged=counts.unchanged, first_date=_as_date(first),
            last_date=_as_date(last), demand=demand,
        )
        record(
            session, at=now, actor=actor, action="import", entity="orders", entity_key=name,
            after={"rows": report.rows, "inserted": report.inserted, "updated": report.updated,
                   "unchanged": report.unchanged, "encoding": report.encoding,
                   "flagged_orders": demand.flagged_orders, "flagged_units": demand.flagged_units,
                   "clusters": demand.clusters, "derived_sales_days": demand.sales_rows},
            note=str(file_path),
        )
    return report


def _as_date(value: object) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _presale_rules(good: ValidatedChunk, file_name: str) -> tuple[ValidatedChunk, list[Problem]]:
    """A pre-sale line needs its deposit and deposit time; other lines may not carry pre-sale fields."""
    if not len(good):
        return good, []
    presale = np.array([v == "1" for v in good.values["presale"].to_pylist()], dtype=bool)
    lines = good.lines.to_pylist()
    problems: list[Problem] = []
    bad = np.zeros(len(good), dtype=bool)
    for column in ("deposit", "deposit_time"):
        missing = np.array([v is None for v in good.values[column].to_pylist()], dtype=bool)
        for i in np.flatnonzero(presale & missing):
            problems.append(Problem(file_name, lines[i], column, "a pre-sale line needs a " + column))
            bad[i] = True
    for column in ("deposit", "deposit_time", "final_payment_time"):
        given = np.array([v is not None for v in good.values[column].to_pylist()], dtype=bool)
        for i in np.flatnonzero(~presale & given & ~bad):
            problems.append(Problem(file_name, lines[i], column,
                                    f"{column} is given but presale is false"))
            bad[i] = True
    if not bad.any():
        return good, problems
    kept = pa.array(~bad)
    values = {name: column.filter(kept) for name, column in good.values.items()}
    return ValidatedChunk(good.lines.filter(kept), values), problems


def _local_dates(utc_text: pa.Array, tz: str) -> pa.Array:
    """Business dates (ISO text, in `tz`) of normalised UTC time texts; None stays None."""
    times = pd.to_datetime(pd.Series(utc_text.to_numpy(zero_copy_only=False)), utc=True, format="ISO8601")
    local = times.dt.tz_convert(tz).dt.strftime("%Y-%m-%d")
    return pa.array(local.where(times.notna(), None).to_numpy(dtype=object), type=pa.string())


def _staged(good: ValidatedChunk, hasher: KeyHasher, tz: str) -> ValidatedChunk:
    """The chunk's good rows as the `orders` table stores them: hashed keys, business and sale dates."""
    values = good.values
    business = _local_dates(values["order_time"], tz)
    final_date = _local_dates(values["final_payment_time"], tz)
    presale = pa.array([v == "1" for v in values["presale"].to_pylist()], type=pa.bool_())
    sale = pa.array(
        [f if p else b for p, b, f in zip(presale.to_pylist(), business.to_pylist(), final_date.to_pylist(),
                                          strict=True)],
        type=pa.string(),
    )
    staged = {
        "order_id": values["order_id"],
        "sku_code": values["sku_code"],
        "ordered_at": values["order_time"],
        "business_date": business,
        "units": values["units"],
        "unit_price": values["unit_price"],
        "buyer_hash": hasher.column(values["buyer_key"]),
        "ip_hash": hasher.column(values["ip"]),
        "address_hash": hasher.column(values["address_key"], address=True),
        "channel": values["channel"],
        "status": values["status"],
        "presale": values["presale"],
        "deposit": values["deposit"],
        "deposit_at": values["deposit_time"],
        "final_paid_at": values["final_payment_time"],
        "sale_date": sale,
    }
    return ValidatedChunk(good.lines, staged)
