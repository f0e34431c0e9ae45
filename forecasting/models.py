"""Tables the forecasting package owns: demand history, promotions (and forecast runs)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import Boolean, CheckConstraint, Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from restock.orm import MONEY, RATE, Base

PROMOTION_KINDS = ("threshold_discount", "pre_sale", "gift", "flash_sale", "platform_event")


class DailySales(Base):
    """One SKU's sales on one business date.

    `units` counts every ordered unit including those the shop's anti-fraud check
    flagged (`fraud_units`, brushing/fake orders); `returned_units` are units
    returned that day; `stockout` marks a day the SKU was out of stock for part
    or all of the day, so its sales are censored demand.
    """

    __tablename__ = "daily_sales"
    __table_args__ = (
        UniqueConstraint("sku_id", "date"),
        CheckConstraint("units >= 0", name="units_nonneg"),
        CheckConstraint("returned_units >= 0", name="returned_nonneg"),
        CheckConstraint("fraud_units >= 0 AND fraud_units <= units", name="fraud_within_units"),
        CheckConstraint("revenue >= 0", name="revenue_nonneg"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"), index=True)
    date: Mapped[date] = mapped_column(Date, index=True)
    units: Mapped[int] = mapped_column(Integer)
    revenue: Mapped[Decimal] = mapped_column(MONEY)
    returned_units: Mapped[int] = mapped_column(Integer, default=0)
    fraud_units: Mapped[int] = mapped_column(Integer, default=0)
    stockout: Mapped[bool] = mapped_column(Boolean, default=False)


class Promotion(Base):
    """A company promotion or platform event over an inclusive date range.

    Scope: one SKU, one category, or (both empty) the whole shop.
    """

    __tablename__ = "promotions"
    __table_args__ = (
        CheckConstraint("end_date >= start_date", name="dates_ordered"),
        CheckConstraint(
            "kind IN ('threshold_discount', 'pre_sale', 'gift', 'flash_sale', 'platform_event')",
            name="kind_known",
        ),
        CheckConstraint(
            "discount_rate IS NULL OR (discount_rate >= 0 AND discount_rate < 1)", name="discount_range"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32))
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date] = mapped_column(Date)
    category_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id"))
    sku_id: Mapped[int | None] = mapped_column(ForeignKey("skus.id"))
    discount_rate: Mapped[Decimal | None] = mapped_column(RATE)
