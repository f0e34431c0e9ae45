"""Master data every package reads: product categories (with their season) and SKUs."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import CheckConstraint, Date, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kernel.orm import MONEY, RATE, Base

SKU_STATUSES = ("active", "discontinued")
ABC_CLASSES = ("A", "B", "C")


class Category(Base):
    """A product category; `season` names a season in the settings (winter, summer, ...)."""

    __tablename__ = "categories"
    __table_args__ = (
        CheckConstraint(
            "prebuild_days IS NULL OR (prebuild_days >= 0 AND prebuild_days <= 365)", name="prebuild_range"
        ),
        CheckConstraint("salvage_rate >= 0 AND salvage_rate <= 1", name="salvage_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    season: Mapped[str | None] = mapped_column(String(64))
    # Overrides the season's pre-build days for this category when set.
    prebuild_days: Mapped[int | None]
    # Share of unit cost recovered for stock left at season end (markdown / clearance).
    salvage_rate: Mapped[Decimal] = mapped_column(RATE, default=Decimal("0.5"))

    skus: Mapped[list[Sku]] = relationship(back_populates="category")


class Sku(Base):
    """A stock-keeping unit with its selling price (CNY) and ABC class."""

    __tablename__ = "skus"
    __table_args__ = (
        CheckConstraint("price > 0", name="price_positive"),
        CheckConstraint("abc_class IN ('A', 'B', 'C')", name="abc_class_known"),
        CheckConstraint("status IN ('active', 'discontinued')", name="status_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id"), index=True)
    price: Mapped[Decimal] = mapped_column(MONEY)
    abc_class: Mapped[str] = mapped_column(String(1), default="B")
    status: Mapped[str] = mapped_column(String(16), default="active")
    launch_date: Mapped[date | None] = mapped_column(Date)

    category: Mapped[Category] = relationship(back_populates="skus")
