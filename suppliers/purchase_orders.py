"""Purchase orders restock raises: gapless per-year numbers, one PO per supplier and delivery date,
period purchases of rebate agreements moved when a PO is raised, and read-back for `restock po`.

Numbers come from `po_sequences` inside the caller's transaction (`PO-2026-000123`): a
rolled-back approval gives its numbers back, concurrent approvals queue on the year's row.
Period purchases move when the PO is raised (not when it is received): the tier a
merchandiser sees for the next proposal includes what was committed this week, which is
what the supplier counts once the order is placed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session, selectinload

from kernel.audit import record
from kernel.catalog import Sku
from kernel.errors import InvalidInput, NotFound
from kernel.orm import unit_of_work
from suppliers.models import (
    PO_STATUSES,
    PoSequence,
    PurchaseOrder,
    PurchaseOrderLine,
    RebateAgreement,
    Supplier,
    SupplierItem,
)

PO_PREFIX = "PO"
CENT = Decimal("0.01")


@dataclass(frozen=True)
class OrderLine:
    """One approved line to put on a PO: units of a SKU at a unit cost (CNY), arriving after the lead time."""

    sku: str
    supplier: str
    units: int
    unit_cost: Decimal
    case_pack: int
    lead_time_days: int


def format_po_number(year: int, number: int) -> str:
    """`PO-2026-000123`: the year and the number within it, six digits."""
    return f"{PO_PREFIX}-{year}-{number:06d}"


def allocate_po_numbers(session: Session, year: int, count: int) -> list[str]:
    """Take the next `count` numbers of `year` in the caller's transaction (no gap, no duplicate)."""
    if count <= 0:
        return []
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    session.execute(
        insert(PoSequence).values(year=year, last_number=0).on_conflict_do_nothing(index_elements=["year"])
    )
    session.execute(
        update(PoSequence).where(PoSequence.year == year).values(last_number=PoSequence.last_number + count)
    )
    last = session.execute(select(PoSequence.last_number).where(PoSequence.year == year)).scalar_one()
    return [format_po_number(year, n) for n in range(last - count + 1, last + 1)]


def raise_purchase_orders(
    session: Session,
    *,
    proposal_id: int,
    lines: Sequence[OrderLine],
    order_date: date,
    now: datetime,
    actor: str,
) -> list[PurchaseOrder]:
    """One PO per supplier and delivery date (order date + lead time), numbered in that order
    (supplier code, then date); lines by SKU code. Moves each agreement's period purchases and
    audits every PO. Returns the POs (flushed)."""
    groups: dict[tuple[str, date], list[OrderLine]] = {}
    for line in lines:
        groups.setdefault((line.supplier, order_date + timedelta(days=line.lead_time_days)), []).append(line)
    keys = sorted(groups)
    numbers = allocate_po_numbers(session, order_date.year, len(keys))
    suppliers = {
        s.code: s for s in session.scalars(select(Supplier).where(Supplier.code.in_({k[0] for k in keys})))
    }
    sku_rows = {s.code: s for s in session.scalars(select(Sku).where(Sku.code.in_({ln.sku for ln in lines})))}
    items = {
        (item.supplier_id, item.sku_id): item
        for item in session.scalars(
            select(SupplierItem).where(SupplierItem.sku_id.in_([s.id for s in sku_rows.values()]))
        )
    }
    orders: list[PurchaseOrder] = []
    for number, (supplier_code, delivery) in zip(numbers, keys, strict=True):
        supplier = suppliers.get(supplier_code)
        if supplier is None:
            raise InvalidInput(f"supplier {supplier_code}: no longer exists; the PO cannot be raised")
        order = PurchaseOrder(
            po_number=number,
            supplier_id=supplier.id,
            status="approved",
            order_date=order_date,
            expected_date=delivery,
            proposal_id=proposal_id,
            created_at=now,
            created_by=actor,
        )
        for line in sorted(groups[(supplier_code, delivery)], key=lambda ln: ln.sku):
            sku = sku_rows.get(line.sku)
            if sku is None:
                raise InvalidInput(f"SKU {line.sku}: no longer exists; the PO cannot be raised")
            item = items.get((supplier.id, sku.id))
            order.lines.append(
                PurchaseOrderLine(
                    sku_id=sku.id,
                    units=line.units,
                    received_units=0,
                    unit_cost=line.unit_cost,
                    sku_code=sku.code,
                    product_name=sku.name,
                    supplier_item_code=(item.supplier_item_code if item is not None else None) or sku.code,
                    case_pack=line.case_pack,
                )
            )
        session.add(order)
        orders.append(order)
    session.flush()
    for order in orders:
        record(
            session,
            at=now,
            actor=actor,
            action="raise_po",
            entity="purchase_order",
            entity_key=order.po_number,
            before=None,
            after=po_summary(order),
            note=f"from proposal {proposal_id}",
        )
    move_period_purchases(session, orders, now=now, actor=actor)
    return orders


def po_value(order: PurchaseOrder) -> Decimal:
    """Σ units × unit cost over the PO's lines, CNY to the fen."""
    return sum(
        ((ln.unit_cost * ln.units).quantize(CENT, rounding=ROUND_HALF_UP) for ln in order.lines), Decimal(0)
    )


def po_summary(order: PurchaseOrder) -> dict[str, Any]:
    """A PO as audited and listed: number, supplier, dates, lines, value."""
    return {
        "po_number": order.po_number,
        "supplier": order.supplier.code if order.supplier is not None else order.supplier_id,
        "status": order.status,
        "order_date": order.order_date.isoformat(),
        "expected_date": order.expected_date.isoformat(),
        "lines": len(order.lines),
        "units": sum(ln.units for ln in order.lines),
        "value": str(po_value(order)),
    }


def move_period_purchases(
    session: Session, orders: Sequence[PurchaseOrder], *, now: datetime, actor: str
) -> dict[str, Decimal]:
    """Add each raised PO line's value to the agreement it counts toward (supplier, period holding
    the order date, scope holding the SKU; the first such agreement by code, as the optimizer
    does). Audits the change per agreement; returns code → amount added (CNY)."""
    added: dict[str, Decimal] = {}
    agreements: dict[int, RebateAgreement] = {}
    for order in orders:
        candidates = sorted(
            session.scalars(
                select(RebateAgreement)
                .options(selectinload(RebateAgreement.scopes))
                .where(
                    RebateAgreement.supplier_id == order.supplier_id,
                    RebateAgreement.period_start <= order.order_date,
                    RebateAgreement.period_end >= order.order_date,
                )
            ),
            key=lambda a: a.code,
        )
        if not candidates:
            continue
        for line in order.lines:
            sku = session.get(Sku, line.sku_id)
            assert sku is not None
            for agreement in candidates:
                if _in_scope(agreement, sku):
                    value = (line.unit_cost * line.units).quantize(CENT, rounding=ROUND_HALF_UP)
                    added[agreement.code] = added.get(agreement.code, Decimal(0)) + value
                    agreements[agreement.id] = agreement
                    break
    for agreement in sorted(agreements.values(), key=lambda a: a.code):
        before = agreement.purchases_to_date
        agreement.purchases_to_date = before + added[agreement.code]
        record(
            session,
            at=now,
            actor=actor,
            action="period_purchases",
            entity="rebate_agreement",
            entity_key=agreement.code,
            before={"purchases_to_date": str(before)},
            after={"purchases_to_date": str(agreement.purchases_to_date)},
            note="purchase orders raised: " + ", ".join(o.po_number for o in orders),
        )
    session.flush()
    return added


def _in_scope(agreement: RebateAgreement, sku: Sku) -> bool:
    if not agreement.scopes:
        return True
    return any(
        (scope.sku_id is not None and scope.sku_id == sku.id)
        or (scope.category_id is not None and scope.category_id == sku.category_id)
        for scope in agreement.scopes
    )


# --- reading -------------------------------------------------------------------------------


def list_purchase_orders(
    engine: Engine, *, status: str | None = None, supplier: str | None = None, raised_only: bool = False
) -> list[dict[str, Any]]:
    """POs by number (restock's own and imported), each as `po_summary` plus its proposal and file."""
    with unit_of_work(engine) as session:
        return _list(session, status=status, supplier=supplier, raised_only=raised_only)


def _list(session: Session, *, status: str | None, supplier: str | None, raised_only: bool) -> list[dict]:
    if status is not None and status not in PO_STATUSES:
        raise InvalidInput(f"--status: expected one of {', '.join(PO_STATUSES)}, got {status!r}")
    query = (
        select(PurchaseOrder)
        .options(selectinload(PurchaseOrder.lines), selectinload(PurchaseOrder.supplier))
        .order_by(PurchaseOrder.po_number)
    )
    if status is not None:
        query = query.where(PurchaseOrder.status == status)
    if supplier is not None:
        query = query.join(Supplier).where(Supplier.code == supplier)
    if raised_only:
        query = query.where(PurchaseOrder.proposal_id.is_not(None))
    out = []
    for order in session.scalars(query):
        row = po_summary(order)
        row["proposal_id"] = order.proposal_id
        row["supplier_file_id"] = order.supplier_file_id
        out.append(row)
    return out


def get_purchase_order(engine: Engine, po_number: str) -> dict[str, Any]:
    """One PO with its lines (units, cases, unit cost, line value); `NotFound` names the number."""
    with unit_of_work(engine) as session:
        return _get(session, po_number)


def _get(session: Session, po_number: str) -> dict[str, Any]:
    order = session.scalar(
        select(PurchaseOrder)
        .options(selectinload(PurchaseOrder.lines), selectinload(PurchaseOrder.supplier))
        .where(PurchaseOrder.po_number == po_number)
    )
    if order is None:
        raise NotFound(f"purchase order {po_number} does not exist")
    row = po_summary(order)
    row["proposal_id"] = order.proposal_id
    row["created_by"] = order.created_by
    row["created_at"] = order.created_at.isoformat() if order.created_at else None
    row["supplier_name"] = order.supplier.name
    row["supplier_file_id"] = order.supplier_file_id
    codes = dict(
        session.execute(select(Sku.id, Sku.code).where(Sku.id.in_([ln.sku_id for ln in order.lines]))).all()
    )
    row["line_items"] = [
        {
            "sku": ln.sku_code or codes.get(ln.sku_id, str(ln.sku_id)),
            "supplier_item_code": ln.supplier_item_code,
            "product_name": ln.product_name,
            "units": ln.units,
            "cases": ln.units // ln.case_pack if ln.case_pack else None,
            "case_pack": ln.case_pack,
            "unit_cost": str(ln.unit_cost),
            "line_value": str((ln.unit_cost * ln.units).quantize(CENT, rounding=ROUND_HALF_UP)),
            "received_units": ln.received_units,
        }
        for ln in order.lines
    ]
    return row
