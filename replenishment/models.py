"""Tables the replenishment package owns: inventory snapshots, proposals with their lines and lifecycle."""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from forecasting import ForecastRun  # the table proposals refer to (loads its model)
from kernel.orm import MONEY, UNIT_COST, Base
from replenishment.lifecycle import DRAFT, LINE_PROPOSED, LINE_STATES, STATES

# Columns the proposal grid sorts by (replenishment.browse.LINE_SORTS), indexed with the id.
LINE_SORT_COLUMNS = (
    "sku_code",
    "supplier_code",
    "units",
    "value",
    "margin_pct",
    "days_of_cover",
    "stockout_probability_without",
)


def problem_digest(text: str) -> str:
    """The SHA-256 (hex) of a proposal's saved problem JSON."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _quoted(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{v}'" for v in values)


class InventorySnapshot(Base):
    """Stock of one SKU at the end of a business date: on hand, and committed to unshipped orders."""

    __tablename__ = "inventory_snapshots"
    __table_args__ = (
        UniqueConstraint("sku_id", "date"),
        CheckConstraint("on_hand >= 0", name="on_hand_nonneg"),
        CheckConstraint("committed >= 0", name="committed_nonneg"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # No index of its own: the unique (sku_id, date) index serves lookups by SKU.
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"))
    date: Mapped[date] = mapped_column(Date, index=True)
    on_hand: Mapped[int] = mapped_column(Integer)
    committed: Mapped[int] = mapped_column(Integer, default=0)


class Proposal(Base):
    """One weekly purchase proposal, versioned per week, with how it was solved.

    `problem` holds the saved problem JSON (restock optimize can replay it);
    `parameters` the settings and budget used; money in CNY.
    """

    __tablename__ = "proposals"
    __table_args__ = (
        UniqueConstraint("week", "version"),
        CheckConstraint("version >= 1", name="version_positive"),
        CheckConstraint(f"state IN ({_quoted(STATES)})", name="state_known"),
        CheckConstraint("lock_version >= 1", name="lock_version_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    week: Mapped[date] = mapped_column(Date, index=True)
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # The forecast run the proposal read; a run a proposal used cannot be deleted.
    forecast_run_id: Mapped[int | None] = mapped_column(
        ForeignKey(ForecastRun.id, ondelete="RESTRICT"), index=True
    )
    status: Mapped[str] = mapped_column(String(16))
    solver: Mapped[str] = mapped_column(String(16))
    gap: Mapped[float | None] = mapped_column(Float)
    solve_s: Mapped[float] = mapped_column(Float)
    build_s: Mapped[float] = mapped_column(Float)
    budget: Mapped[Decimal | None] = mapped_column(MONEY)
    spend: Mapped[Decimal] = mapped_column(MONEY)
    rebate: Mapped[Decimal] = mapped_column(MONEY)
    expected_profit: Mapped[Decimal] = mapped_column(MONEY)
    fill_rate: Mapped[float] = mapped_column(Float)
    parameters: Mapped[dict] = mapped_column(JSON)
    messages: Mapped[list] = mapped_column(JSON)
    # per agreement: purchases and tier before/after, period rebate at the tier reached, gain
    agreements: Mapped[list | None] = mapped_column(JSON)
    # Lifecycle (replenishment.lifecycle). `approved_week` is set to `week` on approval and is
    # unique, so the database itself refuses a second approved version of the same week.
    state: Mapped[str] = mapped_column(String(20), default=DRAFT, server_default=DRAFT)
    lock_version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    approved_week: Mapped[date | None] = mapped_column(Date, unique=True)
    state_changed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    state_changed_by: Mapped[str | None] = mapped_column(String(100))
    # SHA-256 of `problem`, set whenever it is: readers keep the parsed problem by this digest
    # and need not read the (megabyte) text again (None only for a row the migration missed).
    problem_sha256: Mapped[str | None] = mapped_column(String(64))
    # Last in the row (migration 0015): on SQLite a read of the columns before it does not walk
    # the text's overflow pages. Columns added later land after it: keep big texts last.
    problem: Mapped[str] = mapped_column(Text)

    lines: Mapped[list[ProposalLine]] = relationship(
        back_populates="proposal", cascade="all, delete-orphan", order_by="ProposalLine.id"
    )
    exclusions: Mapped[list[ProposalExclusion]] = relationship(
        back_populates="proposal", cascade="all, delete-orphan", order_by="ProposalExclusion.id"
    )
    supplier_summaries: Mapped[list[ProposalSupplierSummary]] = relationship(
        back_populates="proposal", cascade="all, delete-orphan", order_by="ProposalSupplierSummary.id"
    )

    @validates("problem")
    def _digest_problem(self, _key: str, text: str) -> str:
        self.problem_sha256 = problem_digest(text)
        return text


class ProposalLine(Base):
    """Buy `units` of a SKU from a supplier, with the numbers and the reason shown to the buyer."""

    __tablename__ = "proposal_lines"
    __table_args__ = (
        UniqueConstraint("proposal_id", "sku_code", "supplier_code"),
        CheckConstraint("units > 0", name="units_positive"),
        CheckConstraint("cases > 0", name="cases_positive"),
        CheckConstraint(f"state IN ({_quoted(LINE_STATES)})", name="state_known"),
        CheckConstraint("lock_version >= 1", name="lock_version_positive"),
        # The grid's sort keys (replenishment.browse.LINE_SORTS), each with the id that breaks
        # ties, so a page is read in index order (either direction) instead of sorting them all.
        *(Index(f"ix_proposal_lines_sort_{key}", "proposal_id", key, "id") for key in LINE_SORT_COLUMNS),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id", ondelete="CASCADE"), index=True)
    sku_code: Mapped[str] = mapped_column(String(64))
    supplier_code: Mapped[str] = mapped_column(String(64))
    units: Mapped[int] = mapped_column(Integer)
    cases: Mapped[int] = mapped_column(Integer)
    unit_cost: Mapped[Decimal] = mapped_column(UNIT_COST)
    effective_unit_cost: Mapped[Decimal] = mapped_column(UNIT_COST)
    value: Mapped[Decimal] = mapped_column(MONEY)
    margin_pct: Mapped[float] = mapped_column(Float)
    days_of_cover: Mapped[float | None] = mapped_column(Float)
    stockout_probability_without: Mapped[float] = mapped_column(Float)
    stockout_probability_with: Mapped[float] = mapped_column(Float)
    reason: Mapped[str] = mapped_column(Text)
    # [{"code": ..., "params": {...}}] (replenishment.reasons); `reason` is their words when stored
    reasons: Mapped[list | None] = mapped_column(JSON)
    # this line's share of its agreement's gain from this proposal (CNY)
    rebate_share: Mapped[Decimal | None] = mapped_column(MONEY)
    # The user's decision on the line: proposed (as optimised), edited, added, rejected. Edited,
    # added and rejected lines are pinned: `proposal reoptimize` keeps them and re-solves the rest.
    state: Mapped[str] = mapped_column(String(16), default=LINE_PROPOSED, server_default=LINE_PROPOSED)
    pinned: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    lock_version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    # What the optimizer proposed before the first edit (None for an added line).
    proposed_units: Mapped[int | None] = mapped_column(Integer)
    proposed_supplier_code: Mapped[str | None] = mapped_column(String(64))
    reason_code: Mapped[str | None] = mapped_column(String(40))
    reason_note: Mapped[str | None] = mapped_column(Text)
    changed_by: Mapped[str | None] = mapped_column(String(100))
    changed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Approving a line below the margin floor needs an explicit override with a reason.
    override_reason: Mapped[str | None] = mapped_column(Text)
    override_by: Mapped[str | None] = mapped_column(String(100))

    proposal: Mapped[Proposal] = relationship(back_populates="lines")


class ProposalExclusion(Base):
    """A SKU (or one supplier's terms for it) left out of a proposal, and why."""

    __tablename__ = "proposal_exclusions"

    id: Mapped[int] = mapped_column(primary_key=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id", ondelete="CASCADE"), index=True)
    sku_code: Mapped[str] = mapped_column(String(64))
    supplier_code: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    code: Mapped[str | None] = mapped_column(String(40))
    params: Mapped[dict | None] = mapped_column(JSON)

    proposal: Mapped[Proposal] = relationship(back_populates="exclusions")


class ProposalSupplierSummary(Base):
    """One supplier's share of a proposal: value, tier reached, rebate earned (CNY), margin."""

    __tablename__ = "proposal_supplier_summaries"
    __table_args__ = (UniqueConstraint("proposal_id", "supplier_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id", ondelete="CASCADE"), index=True)
    supplier_code: Mapped[str] = mapped_column(String(64))
    value: Mapped[Decimal] = mapped_column(MONEY)
    lines: Mapped[int] = mapped_column(Integer)
    agreement_code: Mapped[str | None] = mapped_column(String(64))
    tier_reached: Mapped[int] = mapped_column(Integer)
    rebate_earned: Mapped[Decimal] = mapped_column(MONEY)
    margin_pct: Mapped[float] = mapped_column(Float)

    proposal: Mapped[Proposal] = relationship(back_populates="supplier_summaries")
