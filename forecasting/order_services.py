"""Use cases over imported orders: flag brushing with the rules of `forecasting.brushing`, derive daily
sales from the orders (flagged units as `fraud_units`), and list the clusters with their evidence.

Each works inside the caller's session (the orders import runs them in its own transaction).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
from sqlalchemy import String, and_, case, delete, func, select, type_coerce, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from forecasting import brushing as rules
from forecasting.models import BrushingCluster, DailySales, Order, OrderFlag
from forecasting.settings import BrushingSettings
from kernel.catalog import Sku
from kernel.orm import minor_units


@dataclass(frozen=True)
class DemandRefresh:
    """What a refresh did over [first, last]: flagged lines, their orders and units, clusters, sales rows."""

    first: date | None = None
    last: date | None = None
    flagged_lines: int = 0
    flagged_orders: int = 0
    flagged_units: int = 0
    clusters: int = 0
    sales_rows: int = 0


def context_days(settings: BrushingSettings) -> int:
    """Days of orders before and after a range the rules need to judge the range's orders."""
    longest = max(settings.shared_address_days, settings.refund_window_days,
                  settings.basket_window_hours / 24.0, settings.burst_gap_minutes / 1440.0)
    return int(math.ceil(longest)) + 1


def load_orders_frame(session: Session, first: date, last: date) -> pd.DataFrame:
    """Order lines with business dates in [first, last] as the brushing rules read them
    (`business_date` as a datetime64 day).

    Read as plain driver values — times and dates as the driver gives them, the price as its exact
    count of fen — and converted column by column, not value by value: a block of a 10-million-line
    file holds hundreds of thousands of lines.
    """
    raw = type_coerce
    query = (
        select(Order.id, Order.order_id, Sku.code, raw(Order.ordered_at, String), Order.units,
               minor_units(Order.unit_price), Order.buyer_hash, Order.ip_hash, Order.address_hash,
               Order.status, raw(Order.business_date, String))
        .join(Sku, Sku.id == Order.sku_id)
        .where(Order.business_date >= first, Order.business_date <= last)
    )
    frame = pd.DataFrame(
        session.connection().execute(query).all(),  # plain rows: no ORM loading per row
        columns=[rules.ORDER_ROW, rules.ORDER_ID, rules.SKU, rules.AT, rules.UNITS, rules.PRICE,
                 rules.BUYER, rules.IP, rules.ADDRESS, rules.STATUS, "business_date"],
    )
    # SQLite keeps instants as UTC text without a zone; PostgreSQL's driver gives aware datetimes.
    frame[rules.AT] = pd.to_datetime(frame[rules.AT], utc=True, format="ISO8601")
    frame[rules.PRICE] = frame[rules.PRICE].astype(float) / 100.0
    frame["business_date"] = pd.to_datetime(frame["business_date"], format="ISO8601")
    return frame


def refresh_order_demand(session: Session, first: date, last: date, settings: BrushingSettings, *,
                         tz: str, now: datetime, block_days: int | None = None) -> DemandRefresh:
    """Re-run the brushing rules for orders of [first, last], replace those orders' flags and the
    clusters, and derive the daily sales of [first, last].

    The range is judged `block_days` at a time, each block with the context days the rules need on
    either side, so memory follows the orders of one block and its context, not of the whole range.
    By default a block is twice the context (at least 7 days): every order is then read about twice,
    not once per block its context reaches (a 30-day refund window around 7-day blocks read each
    order ten times).
    """
    margin = timedelta(days=context_days(settings))
    if block_days is None:
        block_days = max(7, 2 * margin.days)
    detected: list[pd.DataFrame] = []
    block_start = first
    while block_start <= last:
        block_end = min(last, block_start + timedelta(days=block_days - 1))
        frame = load_orders_frame(session, block_start - margin, block_end + margin)
        result = rules.detect_brushing(frame.drop(columns="business_date"), settings, tz)
        dates = frame["business_date"]
        in_block = frame.loc[(dates >= pd.Timestamp(block_start)) & (dates <= pd.Timestamp(block_end)),
                             rules.ORDER_ROW]
        flags = result.flags[result.flags[rules.ORDER_ROW].isin(set(in_block))]
        replaced = select(Order.id).where(Order.business_date >= block_start,
                                          Order.business_date <= block_end)
        session.execute(delete(OrderFlag).where(OrderFlag.order_row_id.in_(replaced)))
        if not flags.empty:
            session.execute(OrderFlag.__table__.insert(), [
                {"order_row_id": int(row[rules.ORDER_ROW]), "cluster": str(row["cluster"]),
                 "score": float(row["score"]), "rules": list(row["rules"]), "detected_at": now}
                for row in flags.to_dict("records")
            ])
            detected.append(result.clusters[result.clusters["cluster"].isin(set(flags["cluster"]))])
        block_start = block_end + timedelta(days=1)
    clusters = (pd.concat(detected, ignore_index=True) if detected
                else pd.DataFrame(columns=rules.CLUSTER_COLUMNS))
    _store_clusters(session, clusters, now)
    sales_rows = derive_daily_sales(session, first, last)
    stored = session.execute(
        select(func.count(OrderFlag.id), func.count(func.distinct(Order.order_id)),
               func.coalesce(func.sum(Order.units), 0), func.count(func.distinct(OrderFlag.cluster)))
        .join(Order, Order.id == OrderFlag.order_row_id)
        .where(Order.business_date >= first, Order.business_date <= last)
    ).one()
    return DemandRefresh(first, last, int(stored[0]), int(stored[1]), int(stored[2]), int(stored[3]),
                         sales_rows)


def _store_clusters(session: Session, detected: pd.DataFrame, now: datetime) -> None:
    """Clusters of the stored flags: counts recomputed from the stored lines, evidence from detection."""
    session.execute(delete(BrushingCluster).where(
        ~BrushingCluster.cluster.in_(select(OrderFlag.cluster).distinct())))
    evidence: dict[str, list[str]] = {}
    for row in detected.to_dict("records"):
        evidence.setdefault(row["cluster"], row["evidence"])
    if not evidence:
        return
    names = list(evidence)
    stored = session.execute(
        select(OrderFlag.cluster, func.min(Order.ordered_at), func.max(Order.ordered_at),
               func.count(func.distinct(Order.order_id)), func.sum(Order.units))
        .join(Order, Order.id == OrderFlag.order_row_id)
        .where(OrderFlag.cluster.in_(names))
        .group_by(OrderFlag.cluster)
    ).all()
    details = session.execute(
        select(OrderFlag.cluster, OrderFlag.rules, Sku.code)
        .join(Order, Order.id == OrderFlag.order_row_id).join(Sku, Sku.id == Order.sku_id)
        .where(OrderFlag.cluster.in_(names))
    ).all()
    skus: dict[str, set[str]] = {}
    rule_lines: dict[str, dict[str, int]] = {}
    for cluster, broke, sku in details:
        skus.setdefault(cluster, set()).add(sku)
        counts = rule_lines.setdefault(cluster, {})
        for rule in broke:
            counts[rule] = counts.get(rule, 0) + 1
    rows = [
        {"cluster": cluster, "first_at": first_at, "last_at": last_at, "orders": int(n_orders),
         "units": int(units), "skus": sorted(skus.get(cluster, ())),
         "rules": {rule: rule_lines[cluster][rule] for rule in rules.RULES if rule in rule_lines[cluster]},
         "evidence": list(evidence[cluster]), "detected_at": now}
        for cluster, first_at, last_at, n_orders, units in stored
    ]
    if not rows:
        return
    session.execute(delete(BrushingCluster).where(BrushingCluster.cluster.in_([r["cluster"] for r in rows])))
    session.execute(BrushingCluster.__table__.insert(), rows)


def derive_daily_sales(session: Session, first: date, last: date, *, chunk_days: int = 31) -> int:
    """Write daily sales of [first, last] for every SKU with orders there; return rows written.

    Per SKU and sale date: `units` = units of lines not cancelled; `revenue` = their units × price
    paid (summed in whole fen, exact); `fraud_units` = units of those lines the brushing rules
    flagged; `returned_units` = units of refunded lines not flagged. Days of the range without
    orders are set to zero for those SKUs (their recorded `stockout` is kept). Done `chunk_days`
    at a time, so memory follows a month of SKU-days, not the file's whole span.
    """
    sku_ids = sorted(int(sku_id) for sku_id in session.execute(
        select(Order.sku_id).where(Order.sale_date >= first, Order.sale_date <= last).distinct()
    ).scalars())
    if not sku_ids:
        return 0
    written = 0
    start = first
    while start <= last:
        end = min(last, start + timedelta(days=chunk_days - 1))
        written += _derive_daily_sales(session, sku_ids, start, end)
        start = end + timedelta(days=1)
    return written


def _derive_daily_sales(session: Session, sku_ids: list[int], first: date, last: date) -> int:
    """Daily sales of [first, last] for the SKUs `sku_ids` (those with orders in the whole range)."""
    live = Order.status != "cancelled"
    flagged = OrderFlag.id.is_not(None)
    fen = minor_units(Order.unit_price)
    query = (
        select(
            Order.sku_id, Order.sale_date,
            func.sum(case((live, Order.units), else_=0)),
            func.sum(case((live, Order.units * fen), else_=0)),
            func.sum(case((and_(Order.status == "refunded", ~flagged), Order.units), else_=0)),
            func.sum(case((and_(live, flagged), Order.units), else_=0)),
        )
        .outerjoin(OrderFlag, OrderFlag.order_row_id == Order.id)
        .where(Order.sale_date >= first, Order.sale_date <= last)
        .group_by(Order.sku_id, Order.sale_date)
    )
    rows = [
        {"sku_id": int(sku_id), "date": _as_date(day), "units": int(units),
         "revenue": Decimal(int(fen_total)) / 100, "returned_units": int(returned),
         "fraud_units": int(fraud), "stockout": False}
        for sku_id, day, units, fen_total, returned, fraud in session.execute(query).all()
    ]
    session.execute(
        update(DailySales)
        .where(DailySales.sku_id.in_(sku_ids), DailySales.date >= first, DailySales.date <= last)
        .values(units=0, revenue=Decimal("0.00"), returned_units=0, fraud_units=0)
    )
    dialect_insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = dialect_insert(DailySales.__table__)
    statement = statement.on_conflict_do_update(
        index_elements=["sku_id", "date"],
        set_={name: statement.excluded[name]
              for name in ("units", "revenue", "returned_units", "fraud_units")},
    )
    # One statement executed over many parameter sets (batched by the driver layer), not a
    # statement of thousands of VALUES tuples compiled anew for every chunk.
    if rows:
        session.connection().execute(statement, rows)
    return len(rows)


def _as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def suspicious_clusters(session: Session, since: date | None = None, *, tz: str = "Asia/Shanghai"
                        ) -> list[dict[str, Any]]:
    """Stored brushing clusters whose first order is on or after the business date `since` (in `tz`),
    newest first, with their evidence; times are returned in `tz`."""
    query = select(BrushingCluster).order_by(BrushingCluster.first_at.desc(), BrushingCluster.cluster)
    zone = ZoneInfo(tz)
    if since is not None:
        start = datetime.combine(since, time(), zone).astimezone(ZoneInfo("UTC"))
        if session.get_bind().dialect.name == "sqlite":
            start = start.replace(tzinfo=None)  # SQLite keeps UTC instants without their zone
        query = query.where(BrushingCluster.first_at >= start)
    return [
        {"cluster": c.cluster, "first_at": _local(c.first_at, zone), "last_at": _local(c.last_at, zone),
         "orders": c.orders,
         "units": c.units, "skus": list(c.skus), "rules": dict(c.rules), "evidence": list(c.evidence)}
        for c in session.execute(query).scalars()
    ]


def _local(value: datetime, zone: ZoneInfo) -> datetime:
    """A stored instant in the business zone (SQLite returns UTC without its zone)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo("UTC"))
    return value.astimezone(zone)


def load_deposits(session: Session, as_of: date) -> pd.DataFrame:
    """Pre-sale lines whose deposit was paid on or before `as_of` (by the order's business date),
    each with the event its deposit window belongs to (`forecasting.presale.event_of`)."""
    from forecasting.presale import DEPOSIT_COLUMNS, event_of

    rows = session.execute(
        select(Sku.code, Order.business_date, func.sum(Order.units))
        .join(Sku, Sku.id == Order.sku_id)
        .where(Order.presale.is_(True), Order.business_date <= as_of)
        .group_by(Sku.code, Order.business_date)
    ).all()
    records = []
    for code, day, units in rows:
        paid_on = _as_date(day)
        event = event_of(paid_on)
        if event is None or event[1] == paid_on:
            continue
        records.append((code, event[0], pd.Timestamp(event[1]), pd.Timestamp(paid_on), int(units)))
    return pd.DataFrame(records, columns=DEPOSIT_COLUMNS)
