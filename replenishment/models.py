"""Tables the replenishment package owns: inventory snapshots (and proposals with their lines)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import CheckConstraint, Date, ForeignKey, Integer, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from restock.orm import Base


class InventorySnapshot(Base):
    """Stock of one SKU at the end of a business date: on hand, and committed to unshipped orders."""

    __tablename__ = "inventory_snapshots"
    __table_args__ = (
        UniqueConstraint("sku_id", "date"),
        CheckConstraint("on_hand >= 0", name="on_hand_nonneg"),
        CheckConstraint("committed >= 0", name="committed_nonneg"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"), index=True)
    date: Mapped[date] = mapped_column(Date, index=True)
    on_hand: Mapped[int] = mapped_column(Integer)
    committed: Mapped[int] = mapped_column(Integer, default=0)
