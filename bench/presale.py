"""bench/presale: Double 11 event-day forecast error 14, 7 and 3 days before, with and without deposits.

Run `python -m bench.presale [--quick] [--seeds 7 8 9]`. For each seed the sample business and its
orders are generated; for each held-out Double 11 with an earlier event to learn from (2024, 2025)
and each origin (14, 7, 3 days before), restock's engine forecasts the order-level categories'
SKUs from the history up to the origin ("without"), and `forecasting.presale` adjusts the event day
with the deposits paid up to the origin ("with"; ratios learnt only from events before it). Both
are scored against the event day's genuine units (units − fraud_units), which neither saw: WAPE
over SKUs, the error of the categories' total, and the share of actuals inside q10–q90.
"""

from __future__ import annotations

import argparse
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench._common import peak_rss_gib, write_results
from bench.forecast import SEASON_ANCHORS, seasons_frame
from forecasting.calendar import EVENT_NAMES
from forecasting.columns import DS, GROUP, MEAN, UNIQUE_ID, Y, quantile_column
from forecasting.engine import EngineConfig, forecast_panel
from forecasting.preparation import fill_zero_days, prepare_inputs
from forecasting.presale import DEPOSIT_COLUMNS, apply_presale_signal, event_of
from restock.sample_orders import ORDER_CATEGORIES, build_sample_orders
from restock.samples import build_sample_business

ORIGINS = (14, 7, 3)
EVENT_YEARS = (2024, 2025)
HORIZON = 28


def deposits_from_orders(orders: pd.DataFrame) -> pd.DataFrame:
    """Pre-sale lines of a generated orders file as `forecasting.presale` reads them."""
    part = orders[orders["presale"] == "true"]
    days = pd.to_datetime(part["order_time"].str[:10])
    rows = []
    for code, day, units in zip(part["sku_code"], days, part["units"].astype(int), strict=True):
        event = event_of(day.date())
        if event is not None and event[1] != day.date():
            rows.append((code, event[0], pd.Timestamp(event[1]), day, units))
    frame = pd.DataFrame(rows, columns=DEPOSIT_COLUMNS)
    return frame.groupby(DEPOSIT_COLUMNS[:4], as_index=False)["units"].sum()


def frames(seed: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(sales, skus, promotions, deposits) of the order-level categories of one seed's sample."""
    business = build_sample_business(seed)
    raw = business.frames["sales"]
    orders = build_sample_orders(raw, seed)
    skus = business.frames["skus"]
    skus = skus[skus["sku_code"].str[:3].isin(ORDER_CATEGORIES)].reset_index(drop=True)
    skus = skus.assign(sku_id=np.arange(len(skus)), launch_date=pd.to_datetime(skus["launch_date"])).rename(
        columns={"sku_code": UNIQUE_ID, "category_code": GROUP})
    sales = raw[raw["sku_code"].isin(skus[UNIQUE_ID])].rename(columns={"date": DS, "sku_code": UNIQUE_ID})
    sales = sales.assign(**{DS: pd.to_datetime(sales[DS]),
                            "stockout": sales["stockout"].astype(str).str.lower().isin(["true", "1"])})
    promotions = pd.DataFrame(columns=["start_date", "end_date", "sku_id", GROUP])
    return sales, skus, promotions, deposits_from_orders(orders.orders)


def evaluate(seed: int, years: tuple[int, ...], origins: tuple[int, ...]) -> list[dict[str, Any]]:
    sales, skus, promotions, deposits = frames(seed)
    actual = sales.assign(**{Y: sales["units"] - sales["fraud_units"]}).set_index([UNIQUE_ID, DS])[Y]
    rows = []
    for year in years:
        anchor = date(year, 11, 11)
        for days_before in origins:
            as_of = anchor - timedelta(days=days_before)
            window = fill_zero_days(sales[sales[DS] <= pd.Timestamp(as_of)], skus, as_of)
            config = EngineConfig(horizon=HORIZON, freq="D", events=EVENT_NAMES, chunk_size=500,
                                  season_anchors=SEASON_ANCHORS)
            active = skus[skus[UNIQUE_ID].isin(window[UNIQUE_ID])]
            prepared = prepare_inputs(window, active, promotions, as_of, config)
            started = time.perf_counter()
            result = forecast_panel(prepared.history, HORIZON, "D", future=prepared.future,
                                    events=prepared.events, groups=prepared.groups, config=config,
                                    seasons=seasons_frame(window[DS].min().year - 1, as_of.year + 1),
                                    censored=prepared.demand[[UNIQUE_ID, DS, "imputed"]])
            engine_s = time.perf_counter() - started
            started = time.perf_counter()
            adjusted, adjustments = apply_presale_signal(
                result.forecasts, deposits, prepared.demand[[UNIQUE_ID, DS, Y]], prepared.groups, as_of,
                tuple(result.quantiles))
            signal_s = time.perf_counter() - started
            day = pd.Timestamp(anchor)
            before = result.forecasts[result.forecasts[DS] == day].set_index(UNIQUE_ID)
            after = adjusted[adjusted[DS] == day].set_index(UNIQUE_ID)
            with_deposits = set(adjustments[UNIQUE_ID]) if not adjustments.empty else set()
            for uid in before.index:
                truth = actual.get((uid, day))
                if truth is None or not np.isfinite(truth):
                    continue
                rows.append({
                    "seed": seed, "year": year, "days_before": days_before, UNIQUE_ID: uid,
                    "has_deposits": uid in with_deposits, "actual": float(truth),
                    "without": float(before.at[uid, MEAN]), "with": float(after.at[uid, MEAN]),
                    "without_q10": float(before.at[uid, quantile_column(0.1)]),
                    "without_q90": float(before.at[uid, quantile_column(0.9)]),
                    "with_q10": float(after.at[uid, quantile_column(0.1)]),
                    "with_q90": float(after.at[uid, quantile_column(0.9)]),
                    "engine_s": engine_s, "signal_s": signal_s,
                })
            print(f"seed {seed} D11 {year} −{days_before} d: {len(with_deposits)} SKUs with deposits",
                  flush=True)
    return rows


def summary(frame: pd.DataFrame) -> dict[str, Any]:
    def wape(column: str, part: pd.DataFrame) -> float:
        return round(float((part[column] - part["actual"]).abs().sum() / max(part["actual"].sum(), 1e-9)), 4)

    def total_error(column: str, part: pd.DataFrame) -> float:
        per_event = part.groupby(["seed", "year"])[[column, "actual"]].sum()
        return round(float(((per_event[column] - per_event["actual"]).abs() / per_event["actual"]).mean()), 4)

    def coverage(prefix: str, part: pd.DataFrame) -> float:
        inside = (part["actual"] >= part[f"{prefix}_q10"]) & (part["actual"] <= part[f"{prefix}_q90"])
        return round(float(inside.mean()), 4)

    out: dict[str, Any] = {}
    for days_before, part in frame.groupby("days_before"):
        deposited = part[part["has_deposits"]]
        out[f"d{days_before}"] = {
            "sku_events": int(len(part)), "sku_events_with_deposits": int(len(deposited)),
            "wape_with": wape("with", part), "wape_without": wape("without", part),
            "wape_with_deposited_skus": wape("with", deposited),
            "wape_without_deposited_skus": wape("without", deposited),
            "total_abs_pct_error_with": total_error("with", part),
            "total_abs_pct_error_without": total_error("without", part),
            "q10_q90_coverage_with": coverage("with", part),
            "q10_q90_coverage_without": coverage("without", part),
            "q10_q90_coverage_with_deposited_skus": coverage("with", deposited),
            "q10_q90_coverage_without_deposited_skus": coverage("without", deposited),
        }
    return out


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, nargs="+", default=[7, 8, 9])
    parser.add_argument("--quick", action="store_true", help="seed 7, Double 11 2025, 7 days before")
    parser.add_argument("--out", type=Path, default=None, help="results directory (default bench/results)")
    args = parser.parse_args(argv)
    seeds, years, origins = ([7], (2025,), (7,)) if args.quick else (args.seeds, EVENT_YEARS, ORIGINS)
    out_dir = args.out
    started = time.perf_counter()
    rows = [row for seed in seeds for row in evaluate(seed, years, origins)]
    frame = pd.DataFrame(rows)
    table = summary(frame)
    figures: dict[str, Any] = {}
    baselines: dict[str, Any] = {}
    ratios: dict[str, Any] = {}
    for key, values in table.items():
        figures[f"wape_{key}"] = values["wape_with"]
        figures[f"wape_{key}_deposited_skus"] = values["wape_with_deposited_skus"]
        figures[f"total_abs_pct_error_{key}"] = values["total_abs_pct_error_with"]
        figures[f"q10_q90_coverage_{key}"] = values["q10_q90_coverage_with"]
        figures[f"q10_q90_coverage_{key}_deposited_skus"] = values["q10_q90_coverage_with_deposited_skus"]
        baselines[f"wape_{key}"] = values["wape_without"]
        baselines[f"wape_{key}_deposited_skus"] = values["wape_without_deposited_skus"]
        baselines[f"total_abs_pct_error_{key}"] = values["total_abs_pct_error_without"]
        baselines[f"q10_q90_coverage_{key}"] = values["q10_q90_coverage_without"]
        baselines[f"q10_q90_coverage_{key}_deposited_skus"] = values[
            "q10_q90_coverage_without_deposited_skus"]
        ratios[f"wape_{key}_with_vs_without"] = round(
            values["wape_with"] / max(values["wape_without"], 1e-9), 3)
        ratios[f"total_error_{key}_with_vs_without"] = round(
            values["total_abs_pct_error_with"] / max(values["total_abs_pct_error_without"], 1e-9), 3)
        figures[f"sku_events_{key}"] = values["sku_events"]
        figures[f"sku_events_with_deposits_{key}"] = values["sku_events_with_deposits"]
    figures["wall_s"] = round(time.perf_counter() - started, 1)
    per_origin = frame.groupby(["seed", "year", "days_before"])["signal_s"].first()
    figures["signal_s"] = round(float(per_origin.sum()), 3)
    figures["peak_rss_gib"] = peak_rss_gib()
    return write_results(
        "presale",
        params={"seeds": seeds, "event_years": list(years), "days_before": list(origins),
                "categories": list(ORDER_CATEGORIES), "horizon": HORIZON},
        figures=figures,
        baselines={"engine_without_deposits": baselines},
        ratios=ratios,
        libraries=["numpy", "pandas", "statsforecast", "scipy"],
        notes=["WAPE over every SKU of the categories on the event day; `deposited_skus` only those "
               "with deposits by the origin (the others are unchanged)",
               "total_abs_pct_error: |Σforecast − Σactual| / Σactual per event, averaged"],
        out_dir=out_dir,
    )


if __name__ == "__main__":
    main()
