"""How well any forecaster can do on per-SKU season totals of the sample's kind of data: a bound.

`bench/forecast.py` scores restock's per-SKU season totals against "same as last season" at
year-back origins (issue 11's target: WAPE ≤ 0.8 × same as last season). How low can that ratio
go at all? The sample is generated (`restock.samples`): a SKU's expected demand on day d is

    level × shape_d × exp(log(1 + r) · t_d),   sales_d ~ NegativeBinomial(mean, k)

with shape = category season × weekdays × platform events × promotions × launch ramp, a yearly
drift r ~ N(0, 0.08²) per SKU and the category's dispersion k. This bench replays that process
for the sample's seasonal SKUs — their own levels, shapes and k — with fresh drifts and noise,
`--replicates` times, and scores at the bench's year-back origins, on the SKUs the bench scores
(a complete last season in the history), against the simulated sales over the season:

- **same as last season**: the SKU's sales over last season's window. Stockouts are replayed as the
  sample has them (`stockouts`); as in the bench's `_uncensored` figures only SKUs without a
  stockout day in the scored season count; last season's stockout days are re-filled by the
  cleansing's `impute_stockouts`, as the bench's baseline reads the cleansed history (outlier
  capping is left out);
- **Bayes from history**: knows the process exactly except each SKU's level and drift — every
  factor of the shape, the drift's prior and k — and reads the SKU's whole daily history before
  the origin, stockout days left out; the posterior median of the season's expected demand (a
  grid over drift × level, flat prior on log level). No forecaster that learns level and drift
  from the history can do better than this on average (the median is WAPE's optimum up to the
  outcome's own noise; the lower bound a stockout day's sales put on its demand is not used);
- **oracle**: the season's expected demand itself (knows level and drift): the floor of
  `bench/forecast.py`'s `true_demand_floor`;
- **restock's own carry**, run on the simulated histories through `forecasting.seasons`: the
  two-year share split (`share_split` of `share_levels`, the group's last season × trend), the
  same without the trend, and last season × trend alone (before the split) — restock's season
  total is these blended with the model's total, which gets little weight on these categories.
  The simulation shows in expectation what one realisation (the sample) cannot.

Ratios to same as last season are pooled per category over replicates, with the 10th–90th
percentile of the per-replicate ratio. restock's own measured ratio (SKUs without a stockout day,
from `bench/results/forecast.json`) is shown beside them.

    python -m bench.season_bound [--replicates 40] [--seed 11]
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from bench._common import RESULTS_DIR, write_results
from bench.forecast import SEASON_TOTAL_ORIGINS, SEASONS, season_window
from forecasting.cleansing import impute_stockouts
from forecasting.columns import DS, IMPUTED, STOCKOUT, UNIQUE_ID, Y
from forecasting.seasons import SeasonPart, carried_trend, decensored_sums, share_levels, share_split
from restock.samples import (
    _active_mask,
    _launch_ramp,
    build_sample_business,
    history_dates,
    platform_event_multiplier,
    promotion_effect,
    seasonal_profile,
)

DRIFT_SD = 0.08  # restock.samples: drift = _growth(dates, rng.normal(0.0, 0.08))
DRIFT_GRID = np.linspace(-4 * DRIFT_SD, 4 * DRIFT_SD, 41)
LEVEL_GRID_POINTS = 61
SAMPLE_SEED = 7
METHODS = ("restock_split", "restock_split_without_trend", "last_season_times_trend", "bayes_from_history",
           "oracle")


@dataclass(frozen=True)
class Case:
    """One SKU scored at one origin: its shape and the windows that matter."""

    category: str
    code: str
    origin: date
    level: float
    dispersion: float
    shape: np.ndarray  # expected demand per day ÷ level, before drift
    years: np.ndarray  # t_d: years to the history's last day (the drift is 1 there)
    history: np.ndarray  # bool: days up to the origin
    last: np.ndarray  # bool: last season's window
    before: np.ndarray  # bool: the season before it (all False outside the history)
    target: np.ndarray  # bool: the season being forecast
    spans: tuple[tuple[pd.Timestamp, pd.Timestamp], ...]  # target, last, before


def cases(seed: int = SAMPLE_SEED) -> list[Case]:
    """The sample's seasonal SKUs at each year-back origin whose next season the history holds."""
    business = build_sample_business(seed)
    dates = history_dates()
    events = platform_event_multiplier(dates)
    years = (dates - dates[-1]).days.to_numpy() / 365.0
    out: list[Case] = []
    for plan in business.plans:
        spec = plan.category
        if spec.code not in SEASONS:
            continue
        weekly = np.asarray(spec.weekly)[dates.dayofweek.to_numpy()]
        lift, _ = promotion_effect(plan, dates)
        shape = (seasonal_profile(spec.code, dates) * weekly * events**spec.event_elasticity * lift
                 * _launch_ramp(plan, dates))
        shape = np.where(_active_mask(plan, dates), shape, 0.0)
        for origin in SEASON_TOTAL_ORIGINS:
            target = _next_season(spec.code, origin)
            if target is None or pd.Timestamp(target[1]) > dates[-1]:
                continue
            last = _window(spec.code, target[0].year - 1)
            before = _window(spec.code, target[0].year - 2)
            if pd.Timestamp(last[0]) < dates[0] or plan.launch_date > last[0]:
                continue  # no complete last season in the history: a launch, not scored
            spans = tuple((pd.Timestamp(a), pd.Timestamp(b)) for a, b in (target, last, before))
            out.append(Case(
                category=spec.code, code=plan.code, origin=origin, level=float(plan.base_units),
                dispersion=float(spec.dispersion), shape=shape, years=years,
                history=np.asarray(dates <= pd.Timestamp(origin)),
                last=np.asarray((dates >= pd.Timestamp(last[0])) & (dates <= pd.Timestamp(last[1]))),
                before=np.asarray((dates >= spans[2][0]) & (dates <= spans[2][1])),
                spans=spans,
                target=np.asarray((dates >= pd.Timestamp(target[0])) & (dates <= pd.Timestamp(target[1]))),
            ))
    return out


def _window(category: str, year: int) -> tuple[date, date]:
    start, end = season_window(category, year)
    return pd.Timestamp(start).date(), pd.Timestamp(end).date()


def _next_season(category: str, origin: date) -> tuple[date, date] | None:
    """The first season starting more than a day after the origin (a pre-build decision)."""
    for year in (origin.year, origin.year + 1):
        start, end = _window(category, year)
        if start > origin + pd.Timedelta(days=1):
            return start, end
    return None


def bayes_total(y: np.ndarray, shape: np.ndarray, years: np.ndarray, k: float,
                target_shape: np.ndarray, target_years: np.ndarray) -> float:
    """Posterior median of Σ expected demand over the target days, given the daily history y.

    Grid over the drift (prior N(0, DRIFT_SD²)) and the log level (flat prior); negative binomial
    likelihood with dispersion k, the shape known.
    """
    live = shape > 0
    y, shape, years = y[live], shape[live], years[live]
    if not live.any() or shape.sum() <= 0:
        return 0.0
    growth = np.exp(np.log1p(DRIFT_GRID)[:, None] * years[None, :])  # drift × day
    a = shape[None, :] * growth  # expected demand ÷ level
    level_hat = max(y.sum(), 0.5) / a.sum(axis=1)  # Poisson MLE per drift
    spread = 4.0 / np.sqrt(max(y.sum(), 1.0)) + 0.05
    offsets = np.linspace(-spread, spread, LEVEL_GRID_POINTS)
    log_levels = np.log(level_hat)[:, None] + offsets[None, :]  # drift × level
    mean = np.exp(log_levels)[:, :, None] * a[:, None, :]  # drift × level × day
    loglik = (y * np.log(mean) - (y + k) * np.log(mean + k)).sum(axis=2)
    log_prior = -0.5 * (DRIFT_GRID / DRIFT_SD) ** 2
    log_post = loglik + log_prior[:, None]
    weights = np.exp(log_post - log_post.max())
    weights /= weights.sum()
    target_growth = np.exp(np.log1p(DRIFT_GRID)[:, None] * target_years[None, :])
    future = (target_shape[None, :] * target_growth).sum(axis=1)
    totals = np.exp(log_levels) * future[:, None]
    order = np.argsort(totals, axis=None)
    cumulative = np.cumsum(weights.ravel()[order])
    return float(totals.ravel()[order][np.searchsorted(cumulative, 0.5)])


def simulate(all_cases: list[Case], replicates: int, seed: int) -> pd.DataFrame:
    """One row per replicate × case without a stockout day in its season.

    Columns: sold; same as last season (its cleansed sales: stockout days re-filled by
    `impute_stockouts`, as the bench's baseline reads them); restock's split (`share_total` of
    `forecasting.seasons`: the group's last season × trend split by two-year shares, over every
    simulated SKU of the category at that origin, history before the origin only), the same
    without the group's trend, and last season (stockout days re-estimated) × trend, the carry
    restock used before the split; Bayes; oracle.
    """
    rng = np.random.default_rng(seed)
    dates = history_dates()
    groups: dict[tuple[str, date], list[int]] = {}
    for n, case in enumerate(all_cases):
        groups.setdefault((case.category, case.origin), []).append(n)
    rows = []
    for rep in range(replicates):
        drawn = []
        for case in all_cases:
            drift = float(rng.normal(0.0, DRIFT_SD))
            mean = case.level * case.shape * np.exp(np.log1p(drift) * case.years)
            k = case.dispersion
            sales = rng.negative_binomial(k, k / (k + mean)).astype(float)
            drawn.append((mean, sales, stockouts(rng, sales, mean)))
        frame = pd.DataFrame({
            UNIQUE_ID: np.repeat([str(n) for n in range(len(all_cases))], len(dates)),
            DS: np.tile(dates, len(all_cases)),
            Y: np.concatenate([sales for _, sales, _ in drawn]),
            STOCKOUT: np.concatenate([out for *_, out in drawn]),
        })
        cleansed = impute_stockouts(frame)
        demand = cleansed[Y].to_numpy().reshape(len(all_cases), len(dates))
        for members in groups.values():
            first = all_cases[members[0]]
            origin = pd.Timestamp(first.origin)
            ids = [str(n) for n in members]
            part = cleansed[cleansed[UNIQUE_ID].isin(ids) & (cleansed[DS] <= origin)]
            history, imputed = part[[UNIQUE_ID, DS, Y]], part[[UNIQUE_ID, DS, IMPUTED]]
            target, last, before = first.spans
            last_d = decensored_sums(history, imputed, ids, last)
            before_d = (decensored_sums(history, imputed, ids, before) if before[0] >= dates[0]
                        else last_d * np.nan)
            levels = share_levels(history, imputed, ids, origin, target[0] + (target[1] - target[0]) / 2)
            season = SeasonPart(first.category, target[0], target[1], (last, before))
            trend = carried_trend(history, ids, season, origin, last_d, before_d)
            split = share_split(last_d * trend, levels["level"])
            for n in members:
                case, (mean, sales, out) = all_cases[n], drawn[n]
                if out[case.target].any():
                    continue  # scored as the bench's `_uncensored` figures: no stockout day in the season
                h = case.history & ~out  # the Bayes forecast leaves flagged stockout days out
                rows.append({
                    "replicate": rep, "category": case.category, "origin": case.origin, "sku": case.code,
                    "sold": float(sales[case.target].sum()),
                    "same_as_last_season": float(demand[n][case.last].sum()),
                    "restock_split": float(split[str(n)]),
                    "restock_split_without_trend": float(split[str(n)]) / trend,
                    "last_season_times_trend": float(last_d[str(n)]) * trend,
                    "bayes_from_history": bayes_total(sales[h], case.shape[h], case.years[h], case.dispersion,
                                                      case.shape[case.target], case.years[case.target]),
                    "oracle": float(mean[case.target].sum()),
                })
    return pd.DataFrame(rows)


def stockouts(rng: np.random.Generator, sales: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """Censor `sales` in place as `restock.samples.apply_stockouts` does; the flagged days.

    Four SKUs in ten get 2–7 episodes of 3–18 days starting where demand is high; 40 % of the
    first day's sales and 3 % of the rest's survive.
    """
    out = np.zeros(len(sales), dtype=bool)
    active = np.flatnonzero(mean > 0)
    if len(active) < 60 or rng.random() > 0.4:
        return out
    weights = mean[active] / mean[active].sum()
    last_stop = len(sales) - 7
    for _ in range(int(rng.integers(2, 8))):
        start = int(rng.choice(active, p=weights))
        stop = min(start + int(rng.integers(3, 19)), last_stop)
        if stop > start:
            out[start:stop] = True
            sales[start] = rng.binomial(int(sales[start]), 0.4)
            sales[start + 1:stop] = rng.binomial(sales[start + 1:stop].astype(np.int64), 0.03)
    return out


def _wape(part: pd.DataFrame, column: str) -> float:
    return float((part[column] - part["sold"]).abs().sum() / max(part["sold"].sum(), 1e-9))


def summarise(scores: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Per category: pooled WAPEs, ratios to same as last season and their 10–90 % spread."""
    out: dict[str, dict[str, float]] = {}
    for category, part in scores.groupby("category"):
        naive = _wape(part, "same_as_last_season")
        per_rep = part.groupby("replicate").apply(
            lambda p: pd.Series({m: _wape(p, m) / max(_wape(p, "same_as_last_season"), 1e-9)
                                 for m in METHODS}),
            include_groups=False)
        out[str(category)] = {
            "skus_per_replicate": int(len(part) / part["replicate"].nunique()),
            "wape_same_as_last_season": round(naive, 4),
            "wape_restock_split": round(_wape(part, "restock_split"), 4),
            "wape_bayes_from_history": round(_wape(part, "bayes_from_history"), 4),
            "wape_oracle": round(_wape(part, "oracle"), 4),
            "ratio_restock_split": round(_wape(part, "restock_split") / naive, 4),
            "ratio_restock_split_p10": round(float(per_rep["restock_split"].quantile(0.1)), 4),
            "ratio_restock_split_p90": round(float(per_rep["restock_split"].quantile(0.9)), 4),
            "ratio_bayes_from_history": round(_wape(part, "bayes_from_history") / naive, 4),
            "ratio_last_season_times_trend": round(_wape(part, "last_season_times_trend") / naive, 4),
            "ratio_restock_split_without_trend": round(_wape(part, "restock_split_without_trend") / naive, 4),
            "ratio_bayes_p10": round(float(per_rep["bayes_from_history"].quantile(0.1)), 4),
            "ratio_bayes_p90": round(float(per_rep["bayes_from_history"].quantile(0.9)), 4),
            "ratio_oracle": round(_wape(part, "oracle") / naive, 4),
        }
    return out


def _restock_measured() -> dict[str, float]:
    """restock's season-total ratio on SKUs without a stockout day (bench/results/forecast.json)."""
    path = RESULTS_DIR / "forecast.json"
    if not path.exists():
        return {}
    ratios = json.loads(path.read_text()).get("ratios", {})
    return dict(ratios.get("season_total_wape_uncensored_vs_same_as_last_season", {}))


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=_positive, default=40)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--out", type=Path, default=None, help="results folder (default bench/results)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    all_cases = cases()
    scores = simulate(all_cases, args.replicates, args.seed)
    summary = summarise(scores)
    measured = _restock_measured()
    figures: dict[str, object] = {f"{cat}_{key}": value
                                  for cat, row in summary.items() for key, value in row.items()}
    figures["wall_s"] = round(time.perf_counter() - started, 1)
    ratios = {f"{cat}_bayes_from_history_vs_same_as_last_season": row["ratio_bayes_from_history"]
              for cat, row in summary.items()}
    ratios.update({f"{cat}_oracle_vs_same_as_last_season": row["ratio_oracle"]
                   for cat, row in summary.items()})
    ratios.update({f"{cat}_restock_measured_uncensored_vs_same_as_last_season": value
                   for cat, value in measured.items()})
    lines = [f"{cat}: best from history {row['ratio_bayes_from_history']:.3f} × same as last season "
             f"(10–90 % of replicates {row['ratio_bayes_p10']:.3f}–{row['ratio_bayes_p90']:.3f}), "
             f"oracle {row['ratio_oracle']:.3f}, restock measured "
             f"{measured.get(cat, float('nan')):.3f} (SKUs without a stockout day)"
             for cat, row in summary.items()]
    return write_results(
        "season_bound",
        params={"replicates": args.replicates, "seed": args.seed, "sample_seed": SAMPLE_SEED,
                "origins": [o.isoformat() for o in SEASON_TOTAL_ORIGINS], "drift_sd": DRIFT_SD,
                "drift_grid": len(DRIFT_GRID), "level_grid": LEVEL_GRID_POINTS, "cases": len(all_cases)},
        figures=figures,
        baselines={"same_as_last_season": {cat: row["wape_same_as_last_season"]
                                           for cat, row in summary.items()}},
        ratios=ratios,
        libraries=["numpy", "pandas"],
        notes=lines,
        out_dir=args.out,
    )


if __name__ == "__main__":
    print(main())
