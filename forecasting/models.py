"""Tables the forecasting package owns: demand history, promotions and forecast runs."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from kernel.orm import MONEY, RATE, Base

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
    # No index of its own: the unique (sku_id, date) index serves lookups by SKU.
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"))
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


RUN_STATUSES = ("succeeded", "failed")


class ForecastRun(Base):
    """One nightly forecast: its as-of date, scope, parameters, library versions, duration, outcome.

    A succeeded run and all its rows are written in one transaction; a failed run
    is recorded alone with its message.
    """

    __tablename__ = "forecast_runs"
    __table_args__ = (
        CheckConstraint("status IN ('succeeded', 'failed')", name="status_known"),
        CheckConstraint("scope IN ('complete', 'partial')", name="scope_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    as_of: Mapped[date] = mapped_column(Date, index=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(16))
    freq: Mapped[str] = mapped_column(String(16), default="D")
    horizon: Mapped[int] = mapped_column(Integer)
    quantiles: Mapped[list[float]] = mapped_column(JSON)
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON)
    library_versions: Mapped[dict[str, Any]] = mapped_column(JSON)
    # Learnt event-window multipliers per category, so every forecast can be explained.
    effects: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    duration_s: Mapped[float] = mapped_column(Float)
    n_series: Mapped[int] = mapped_column(Integer, default=0)
    n_fallbacks: Mapped[int] = mapped_column(Integer, default=0)
    message: Mapped[str | None] = mapped_column(Text)
    # complete: every SKU active when the run was made was forecast; partial (`--sku`): kept
    # for inspection, never read by a proposal (forecasting.handoff).
    scope: Mapped[str] = mapped_column(String(16), default="complete", server_default="complete")
    # sha256 of what the run read (`forecasting.services.inputs_fingerprint`): sales up to as_of,
    # the SKUs' catalogue rows, promotions and the parameters. None for runs before it was kept.
    inputs_fingerprint: Mapped[str | None] = mapped_column(String(64))
    # sha256 of each part (`forecasting.services.part_digests`: sales, skus, promotions,
    # parameters), so a stale run says what changed. None for runs before they were kept.
    inputs_parts: Mapped[dict[str, str] | None] = mapped_column(JSON)


class ForecastSeries(Base):
    """Per SKU in a run: demand class, chosen model, backtest scores, fallback reason, coverage.

    `backtest_errors` / `backtest_forecasts` (origins × days, actual − forecast)
    are what lead-time totals are calibrated on.
    """

    __tablename__ = "forecast_series"
    __table_args__ = (UniqueConstraint("run_id", "sku_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("forecast_runs.id", ondelete="CASCADE"), index=True)
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"), index=True)
    demand_class: Mapped[str] = mapped_column(String(16))
    model: Mapped[str] = mapped_column(String(100))
    score: Mapped[float | None] = mapped_column(Float)
    scores: Mapped[dict[str, Any]] = mapped_column(JSON)
    fallback_reason: Mapped[str | None] = mapped_column(Text)
    coverage: Mapped[dict[str, Any]] = mapped_column(JSON)
    n_obs: Mapped[int] = mapped_column(Integer)
    level: Mapped[float] = mapped_column(Float)
    backtest_errors: Mapped[list[Any] | None] = mapped_column(JSON)
    backtest_forecasts: Mapped[list[Any] | None] = mapped_column(JSON)
    # Seasonal SKUs: the total over the next season and how it was reached (forecasting.seasons).
    season_total: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class ForecastValue(Base):
    """One SKU's forecast for one business date: mean units and quantiles ({"q10": ..., ...})."""

    __tablename__ = "forecast_values"
    __table_args__ = (UniqueConstraint("run_id", "sku_id", "date"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("forecast_runs.id", ondelete="CASCADE"), index=True)
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"))
    date: Mapped[date] = mapped_column(Date)
    mean: Mapped[float] = mapped_column(Float)
    quantiles: Mapped[dict[str, float]] = mapped_column(JSON)


ORDER_STATUSES = ("paid", "cancelled", "refunded")


class Order(Base):
    """One line of a shop order (an order id and a SKU), imported from `orders.csv`.

    Buyer, IP and delivery address are stored only as keyed hashes (hex, per-installation salt);
    the raw values never reach the database. Times are instants (UTC); `business_date` is the
    order time's date in the configured zone and `sale_date` the date its units count as sold
    (the final payment's date for a pre-sale, NULL while only the deposit is paid).
    """

    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("order_id", "sku_id"),
        CheckConstraint("units > 0", name="units_positive"),
        CheckConstraint("unit_price >= 0", name="price_nonneg"),
        CheckConstraint("status IN ('paid', 'cancelled', 'refunded')", name="status_known"),
        CheckConstraint("deposit IS NULL OR deposit >= 0", name="deposit_nonneg"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[str] = mapped_column(String(64))
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"), index=True)
    ordered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    business_date: Mapped[date] = mapped_column(Date, index=True)
    units: Mapped[int] = mapped_column(Integer)
    unit_price: Mapped[Decimal] = mapped_column(MONEY)
    buyer_hash: Mapped[str] = mapped_column(String(32))
    ip_hash: Mapped[str | None] = mapped_column(String(32))
    address_hash: Mapped[str | None] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    presale: Mapped[bool] = mapped_column(Boolean, default=False)
    deposit: Mapped[Decimal | None] = mapped_column(MONEY)
    deposit_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    final_paid_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sale_date: Mapped[date | None] = mapped_column(Date, index=True)


class OrderFlag(Base):
    """An order line restock's brushing rules flagged: the rules it broke, its score and cluster.

    `rules` lists rule codes (forecasting.brushing.RULES); `cluster` groups the orders one
    evidence trail links (same IP, address, basket…). Flagged units leave demand like
    `fraud_units` do.
    """

    __tablename__ = "order_flags"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_row_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), unique=True)
    cluster: Mapped[str] = mapped_column(String(100), index=True)
    score: Mapped[float] = mapped_column(Float)
    rules: Mapped[list[str]] = mapped_column(JSON)
    detected_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class BrushingCluster(Base):
    """One cluster of flagged orders with its evidence, as computed at detection (for `orders suspicious`)."""

    __tablename__ = "brushing_clusters"

    id: Mapped[int] = mapped_column(primary_key=True)
    cluster: Mapped[str] = mapped_column(String(100), unique=True)
    first_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    last_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    orders: Mapped[int] = mapped_column(Integer)
    units: Mapped[int] = mapped_column(Integer)
    skus: Mapped[list[str]] = mapped_column(JSON)
    rules: Mapped[dict[str, int]] = mapped_column(JSON)
    evidence: Mapped[list[str]] = mapped_column(JSON)
    detected_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
