"""The demo's order-level steps: import the sample's orders (brushing clusters removed from demand) and
replay the last Double 11 a week ahead, with and without the pre-sale deposit signal."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text
from sqlalchemy import Engine, func, select

from restock.settings import Settings

ORDERS_FILE = Path("orders") / "orders.csv"
REPLAY_DAYS_BEFORE = 7


def import_sample_orders(engine: Engine, settings: Settings, samples: Path, now: datetime
                         ) -> tuple[str, Group] | None:
    """Import `samples/orders/orders.csv` (None when the sample has none); return the step's text and
    the brushing clusters it removed, largest first, with the rules each broke and their evidence."""
    from forecasting.order_services import suspicious_clusters
    from kernel.orm import unit_of_work
    from restock.importing.orders import import_orders

    path = samples / ORDERS_FILE
    if not path.is_file():
        return None
    report = import_orders(engine, path, actor="demo", now=now, tz=settings.timezone,
                           brushing=settings.brushing)
    with unit_of_work(engine) as session:
        clusters = suspicious_clusters(session, tz=settings.timezone)
    demand = report.demand
    rules: dict[str, int] = {}
    for cluster in clusters:
        for rule, lines in cluster["rules"].items():
            rules[rule] = rules.get(rule, 0) + lines
    text = (f"{report.rows:,} order lines ({ORDERS_FILE.as_posix()}); brushing: {demand.flagged_orders:,} "
            f"orders, {demand.flagged_units:,} units removed from demand in {demand.clusters} clusters "
            f"(lines per rule: {', '.join(f'{r} {n}' for r, n in rules.items())}); "
            f"{demand.sales_rows:,} SKU-days of sales derived — see `restock orders suspicious`")
    parts: list[Any] = [Text("brushing clusters removed (largest first)", style="bold")]
    for cluster in sorted(clusters, key=lambda c: (-c["units"], c["cluster"]))[:5]:
        line = Text(f"{cluster['cluster']}: ", style="bold")
        broke = ", ".join(f"{rule} ({n})" for rule, n in cluster["rules"].items())
        line.append(f"{cluster['orders']} orders, {cluster['units']} units of {', '.join(cluster['skus'])}; "
                    f"rules broken: {broke}; {cluster['evidence'][0]}", style="default")
        parts.append(line)
    return text, Group(*parts)


def presale_replay(engine: Engine, settings: Settings, history_end: date, now: Callable[[], datetime]
                   ) -> tuple[str, Group] | None:
    """Forecast the last Double 11 before `history_end` as of a week ahead for the SKUs with deposits:
    the model's event-day forecast, the one with the deposit signal, and what was sold.

    Also says whether the next Double 11 is in the nightly forecast's horizon and when its deposits
    should open. None when the sample has no pre-sale orders.
    """
    from forecasting.execution import make_runner
    from forecasting.models import DailySales, Order
    from forecasting.services import load_run, run_forecast
    from kernel.catalog import Sku
    from kernel.orm import unit_of_work

    anchor = date(history_end.year, 11, 11)
    if anchor >= history_end:
        anchor = date(history_end.year - 1, 11, 11)
    as_of = anchor - timedelta(days=REPLAY_DAYS_BEFORE)
    with unit_of_work(engine) as session:
        codes = sorted(session.execute(
            select(Sku.code).join(Order, Order.sku_id == Sku.id).where(
                Order.presale.is_(True), Order.sale_date == anchor, Order.business_date <= as_of)
        ).scalars().unique())
        first_deposit = session.execute(
            select(func.min(Order.business_date)).where(Order.presale.is_(True), Order.sale_date == anchor)
        ).scalar_one()
        if not codes:
            return None
        actual = dict(session.execute(
            select(Sku.code, DailySales.units - DailySales.fraud_units)
            .join(Sku, Sku.id == DailySales.sku_id)
            .where(DailySales.date == anchor, Sku.code.in_(codes))
        ).all())
    summary = run_forecast(engine, as_of, settings.forecast_settings(), skus=codes,
                           runner=make_runner("serial"), now=now())
    import pandas as pd

    stored = load_run(engine, summary.run_id)
    adjustments = stored.params.get("presale", [])
    event_day = stored.forecasts[stored.forecasts["ds"] == pd.Timestamp(anchor)].set_index("unique_id")
    table = Table("SKU", "deposits", "without deposits", "with deposits", "q10–q90 with", "sold",
                  title=f"Double 11 {anchor.year} forecast as of {as_of} ({REPLAY_DAYS_BEFORE} days ahead), "
                  f"forecast run {summary.run_id}", title_justify="left")
    total_without = total_with = total_sold = 0.0
    for row in sorted(adjustments, key=lambda r: r["unique_id"]):
        sold = float(actual.get(row["unique_id"], 0))
        total_without += row["model_mean"]
        total_with += row["mean"]
        total_sold += sold
        q10, q90 = (float(event_day.at[row["unique_id"], column]) for column in ("q10", "q90"))
        table.add_row(row["unique_id"], str(row["deposits"]), f"{row['model_mean']:.1f}",
                      f"{row['mean']:.1f}", f"{q10:.1f}–{q90:.1f}", f"{sold:.0f}")
    error_without = abs(total_without - total_sold) / total_sold if total_sold else float("nan")
    error_with = abs(total_with - total_sold) / total_sold if total_sold else float("nan")
    next_year = history_end.year if history_end < date(history_end.year, 11, 11) else history_end.year + 1
    next_anchor = date(next_year, 11, 11)
    in_horizon = (next_anchor - history_end).days <= settings.forecasting.horizon_days
    lead = (anchor - first_deposit).days if first_deposit is not None else None
    text = (f"Double 11 {anchor.year} replayed as of {as_of}: {len(adjustments)} SKUs with deposits, "
            f"forecast {total_without:.0f} units without the deposit signal ({error_without:.0%} off), "
            f"{total_with:.0f} with it ({error_with:.0%} off); sold {total_sold:.0f}. "
            f"Double 11 {next_anchor.year} is {'in' if in_horizon else 'beyond'} the nightly "
            "forecast's horizon"
            + (f"; its deposits should open about {next_anchor - timedelta(days=lead)} (last year "
               f"{lead} days ahead), and from then each night's forecast uses them"
               if lead is not None else ""))
    return text, Group(table)
