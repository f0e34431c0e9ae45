"""Tables the suppliers package owns: suppliers, their items and terms, rebate agreements, purchase orders."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kernel.orm import MONEY, RATE, UNIT_COST, Base
from suppliers.rebates import AGREEMENT_KINDS, RETROACTIVE

EXPORT_FORMATS = ("csv", "xlsx", "edifact")
PO_STATUSES = ("open", "received", "cancelled", "draft", "approved", "exported")
# Purchase orders whose undelivered units count as on order for the next proposal: imported
# open orders, and the POs restock raised from an approved proposal (exported or not yet).
ON_ORDER_STATUSES = ("open", "approved", "exported")
SUPPLIER_FILE_STATES = ("writing", "written")


class Supplier(Base):
    """A supplier and the PO file format it asked for."""

    __tablename__ = "suppliers"
    __table_args__ = (
        CheckConstraint("min_order_value >= 0", name="min_order_nonneg"),
        CheckConstraint("export_format IN ('csv', 'xlsx', 'edifact')", name="format_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    # A purchase order to this supplier must reach this value (CNY) or not be placed.
    min_order_value: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))
    export_format: Mapped[str] = mapped_column(String(16), default="csv")
    contact_email: Mapped[str | None] = mapped_column(String(200))

    items: Mapped[list[SupplierItem]] = relationship(back_populates="supplier")


class SupplierItem(Base):
    """What one supplier charges for one SKU, and how it must be ordered."""

    __tablename__ = "supplier_items"
    __table_args__ = (
        UniqueConstraint("supplier_id", "sku_id"),
        CheckConstraint("unit_cost > 0", name="cost_positive"),
        CheckConstraint("moq >= 1", name="moq_positive"),
        CheckConstraint("case_pack >= 1", name="case_pack_positive"),
        CheckConstraint("lead_time_days >= 0 AND lead_time_days <= 365", name="lead_time_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    supplier_id: Mapped[int] = mapped_column(ForeignKey("suppliers.id"), index=True)
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"), index=True)
    unit_cost: Mapped[Decimal] = mapped_column(UNIT_COST)
    moq: Mapped[int] = mapped_column(Integer, default=1)
    case_pack: Mapped[int] = mapped_column(Integer, default=1)
    lead_time_days: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # The supplier's own article number, printed on PO files (our SKU code when not given).
    supplier_item_code: Mapped[str | None] = mapped_column(String(64))

    supplier: Mapped[Supplier] = relationship(back_populates="items")


class RebateAgreement(Base):
    """A volume-rebate agreement over an inclusive period; purchases so far are as of `purchases_as_of`.

    Scope: the categories and SKUs listed in `rebate_agreement_scopes`; none
    listed means every purchase from the supplier counts.
    """

    __tablename__ = "rebate_agreements"
    __table_args__ = (
        CheckConstraint("period_end >= period_start", name="period_ordered"),
        CheckConstraint(f"kind IN ({', '.join(repr(kind) for kind in AGREEMENT_KINDS)})", name="kind_known"),
        CheckConstraint("purchases_to_date >= 0", name="purchases_nonneg"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    supplier_id: Mapped[int] = mapped_column(ForeignKey("suppliers.id"), index=True)
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(16), default=RETROACTIVE)
    purchases_to_date: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))
    purchases_as_of: Mapped[date | None] = mapped_column(Date)

    tiers: Mapped[list[RebateTier]] = relationship(
        back_populates="agreement", order_by="RebateTier.tier", cascade="all, delete-orphan"
    )
    scopes: Mapped[list[RebateAgreementScope]] = relationship(
        back_populates="agreement", cascade="all, delete-orphan"
    )


class RebateTier(Base):
    """Tier `tier` pays `rate` once period purchases reach `threshold` (CNY)."""

    __tablename__ = "rebate_tiers"
    __table_args__ = (
        UniqueConstraint("agreement_id", "tier"),
        CheckConstraint("tier >= 1", name="tier_positive"),
        CheckConstraint("threshold > 0", name="threshold_positive"),
        CheckConstraint("rate > 0 AND rate < 1", name="rate_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    agreement_id: Mapped[int] = mapped_column(
        ForeignKey("rebate_agreements.id", ondelete="CASCADE"), index=True
    )
    tier: Mapped[int] = mapped_column(Integer)
    threshold: Mapped[Decimal] = mapped_column(MONEY)
    rate: Mapped[Decimal] = mapped_column(RATE)

    agreement: Mapped[RebateAgreement] = relationship(back_populates="tiers")


class RebateAgreementScope(Base):
    """One category or one SKU whose purchases count toward an agreement."""

    __tablename__ = "rebate_agreement_scopes"
    __table_args__ = (
        UniqueConstraint("agreement_id", "category_id", "sku_id"),
        CheckConstraint("(category_id IS NULL) <> (sku_id IS NULL)", name="one_target"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    agreement_id: Mapped[int] = mapped_column(
        ForeignKey("rebate_agreements.id", ondelete="CASCADE"), index=True
    )
    category_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id"))
    sku_id: Mapped[int | None] = mapped_column(ForeignKey("skus.id"))

    agreement: Mapped[RebateAgreement] = relationship(back_populates="scopes")


class PurchaseOrder(Base):
    """A purchase order: imported open orders in transit, or one restock raised from a proposal.

    restock's own POs (status approved, then exported) carry `proposal_id`; one per supplier
    and delivery date, and (`proposal_id`, `supplier_id`, `expected_date`) is unique, so an
    approval that is repeated or replayed after a crash never raises a second PO.
    `supplier_file_id` names the file the PO went out in.
    """

    __tablename__ = "purchase_orders"
    __table_args__ = (
        UniqueConstraint("proposal_id", "supplier_id", "expected_date"),
        CheckConstraint(
            "status IN ('open', 'received', 'cancelled', 'draft', 'approved', 'exported')",
            name="status_known",
        ),
        CheckConstraint("expected_date >= order_date", name="dates_ordered"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    po_number: Mapped[str] = mapped_column(String(64), unique=True)
    supplier_id: Mapped[int] = mapped_column(ForeignKey("suppliers.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="open")
    order_date: Mapped[date] = mapped_column(Date)
    expected_date: Mapped[date] = mapped_column(Date)
    proposal_id: Mapped[int | None] = mapped_column(Integer, index=True)
    created_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str | None] = mapped_column(String(100))
    supplier_file_id: Mapped[int | None] = mapped_column(ForeignKey("supplier_files.id"), index=True)

    supplier: Mapped[Supplier] = relationship()
    lines: Mapped[list[PurchaseOrderLine]] = relationship(
        back_populates="order", cascade="all, delete-orphan", order_by="PurchaseOrderLine.id"
    )


class PurchaseOrderLine(Base):
    """Units of one SKU on a purchase order; `received_units` of them have arrived."""

    __tablename__ = "purchase_order_lines"
    __table_args__ = (
        UniqueConstraint("purchase_order_id", "sku_id"),
        CheckConstraint("units > 0", name="units_positive"),
        CheckConstraint("received_units >= 0 AND received_units <= units", name="received_range"),
        CheckConstraint("unit_cost > 0", name="cost_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    purchase_order_id: Mapped[int] = mapped_column(
        ForeignKey("purchase_orders.id", ondelete="CASCADE"), index=True
    )
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"), index=True)
    units: Mapped[int] = mapped_column(Integer)
    received_units: Mapped[int] = mapped_column(Integer, default=0)
    unit_cost: Mapped[Decimal] = mapped_column(UNIT_COST)
    # Copied when restock raises the PO, so its file reads the same however master data changes.
    sku_code: Mapped[str | None] = mapped_column(String(64))
    product_name: Mapped[str | None] = mapped_column(String(200))
    supplier_item_code: Mapped[str | None] = mapped_column(String(64))
    case_pack: Mapped[int | None] = mapped_column(Integer)

    order: Mapped[PurchaseOrder] = relationship(back_populates="lines")


class PoSequence(Base):
    """The last PO number used in a year: numbers come from here, one by one, without gaps.

    The row is incremented inside the approving transaction, so a rolled-back approval
    gives its numbers back and two concurrent approvals queue on the row (PostgreSQL row
    lock, SQLite write lock).
    """

    __tablename__ = "po_sequences"
    __table_args__ = (CheckConstraint("last_number >= 0", name="last_number_nonneg"),)

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_number: Mapped[int] = mapped_column(Integer)


class SupplierFile(Base):
    """One file written to the outbox for a supplier: its name, format, SHA-256 and the POs in it.

    `state` writing: the POs are marked and the file may not be on disk yet (a crash in
    between is repaired by the next export, which writes the same bytes); written: on disk
    with this digest. `resends` counts deliberate re-sends (each one is audited).
    """

    __tablename__ = "supplier_files"
    __table_args__ = (
        CheckConstraint("state IN ('writing', 'written')", name="state_known"),
        CheckConstraint("export_format IN ('csv', 'xlsx', 'edifact')", name="format_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    file_name: Mapped[str] = mapped_column(String(255), unique=True)
    supplier_id: Mapped[int] = mapped_column(ForeignKey("suppliers.id"), index=True)
    export_format: Mapped[str] = mapped_column(String(16))
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(Integer)
    po_numbers: Mapped[list] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(100))
    written_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resends: Mapped[int] = mapped_column(Integer, default=0)
    # How the file was rendered (columns, labels, encoding, EDIFACT sender, timestamp): a crash
    # repair or a resend renders the same bytes from the same POs whatever the settings say now.
    options: Mapped[dict] = mapped_column(JSON)
