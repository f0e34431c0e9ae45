"""Benchmark the forecasting engine: held-out accuracy on the sample business, and the nightly scale.

`python -m bench.forecast [--quick]`. Accuracy: 3 origins 91 days apart before the
sample's last date; at each, restock's whole engine sees only the history up to the
origin (its own backtests included) and is scored on the next 91 days, beside
statsforecast SeasonalNaive(7) and AutoETS(7) on the same cleansed history.
Scale: a generated panel of 10,000 SKUs × 3 years daily through cleansing,
backtest selection, final fit, quantiles and lead-time totals (process pool),
beside AutoETS(season_length=7) fit + forecast alone on 1,000 of the same SKUs.
"""

from __future__ import annotations

import argparse
import os
import time
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench._common import ROOT, RssSampler, write_results
from forecasting.calendar import EVENT_NAMES
from forecasting.cleansing import remove_fraud
from forecasting.columns import DS, GROUP, MEAN, UNIQUE_ID, Y
from forecasting.engine import EngineConfig, forecast_panel
from forecasting.execution import process_runner
from forecasting.global_model import GLOBAL_MODEL
from forecasting.preparation import prepare_inputs
from forecasting.totals import total_demand
from kernel.seasons import festival_date

SEED = 7
HORIZON = 91
ORIGINS = 3
SAMPLES = ROOT / "data" / "samples"
LIBRARIES = ["numpy", "pandas", "statsforecast", "statsmodels", "prophet", "holidays", "lunardate",
             "lightgbm", "mlforecast"]


# --------------------------------------------------------------------------- sample accuracy


def load_samples(directory: Path, limit: int | None = None
                 ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Sales, SKUs and promotions from the sample CSVs, in the preparation module's columns."""
    sales = pd.read_csv(directory / "sales.csv", parse_dates=["date"])
    skus = pd.read_csv(directory / "skus.csv")
    if limit:
        keep = sorted(skus["sku_code"])[:: max(1, len(skus) // limit)][:limit]
        skus = skus[skus["sku_code"].isin(keep)]
    skus = skus.assign(sku_id=np.arange(len(skus))).rename(
        columns={"sku_code": UNIQUE_ID, "category_code": GROUP})
    sales = sales.rename(columns={"date": DS, "sku_code": UNIQUE_ID})
    sales = sales[sales[UNIQUE_ID].isin(skus[UNIQUE_ID])]
    sales["stockout"] = sales["stockout"].astype(str).str.lower().isin(["true", "1"])
    promotions = pd.DataFrame(columns=["start_date", "end_date", "sku_id", GROUP])
    path = directory / "promotions.csv"
    if path.exists():
        raw = pd.read_csv(path, parse_dates=["start_date", "end_date"])
        ids = skus.set_index(UNIQUE_ID)["sku_id"]
        promotions = pd.DataFrame({
            "start_date": raw["start_date"].dt.date, "end_date": raw["end_date"].dt.date,
            "sku_id": raw["sku_code"].map(ids), GROUP: raw["category_code"],
        })
        # A promotion scoped to a SKU outside the (quick) subset is dropped, not widened.
        promotions = promotions[raw["sku_code"].isna() | promotions["sku_id"].notna()]
    return sales, skus, promotions


def _mase_scale(train: np.ndarray, lag: int = 7) -> float:
    diffs = np.abs(train[lag:] - train[:-lag])
    diffs = diffs[~np.isnan(diffs)]
    if diffs.size and diffs.mean() > 0:
        return float(diffs.mean())
    observed = train[~np.isnan(train)]
    return float(observed.mean()) if observed.size and observed.mean() > 0 else 1.0


def _statsforecast_baselines(history: pd.DataFrame, horizon: int, n_jobs: int = 1
                             ) -> tuple[pd.DataFrame, float, float]:
    from statsforecast import StatsForecast
    from statsforecast.models import AutoETS, SeasonalNaive

    frame = history[[UNIQUE_ID, DS, Y]].copy()
    started = time.perf_counter()
    naive = StatsForecast(models=[SeasonalNaive(season_length=7)], freq="D", n_jobs=1).forecast(
        df=frame, h=horizon)
    naive_s = time.perf_counter() - started
    started = time.perf_counter()
    ets = StatsForecast(models=[AutoETS(season_length=7)], freq="D", n_jobs=n_jobs).forecast(
        df=frame, h=horizon)
    ets_s = time.perf_counter() - started
    out = naive.merge(ets, on=[UNIQUE_ID, DS])
    out["AutoETS"] = out["AutoETS"].clip(lower=0)
    return out, naive_s, ets_s


def accuracy(sales: pd.DataFrame, skus: pd.DataFrame, promotions: pd.DataFrame,
             origins: int = ORIGINS, horizon: int = HORIZON) -> dict[str, Any]:
    """Held-out MASE / WAPE / q90 coverage of restock vs seasonal naive vs AutoETS over `origins`."""
    last = sales[DS].max()
    actual_all = remove_fraud(sales)
    actual_all.loc[actual_all["stockout"].astype(bool), Y] = np.nan  # censored: not scored
    actual = actual_all.set_index([UNIQUE_ID, DS])[Y]
    rows = []
    timing = {"restock_s": 0.0, "seasonal_naive_s": 0.0, "autoets_s": 0.0}
    global_fits: list[dict[str, Any]] = []
    for k in range(origins, 0, -1):
        cutoff = (last - pd.Timedelta(days=k * horizon)).date()
        window = sales[sales[DS] <= pd.Timestamp(cutoff)]
        config = EngineConfig(horizon=horizon, freq="D", events=EVENT_NAMES, chunk_size=500,
                              season_anchors=SEASON_ANCHORS)
        # SKUs still selling at the origin (discontinued ones are not forecast).
        last_sale = window.groupby(UNIQUE_ID)[DS].max()
        active = skus[skus[UNIQUE_ID].isin(last_sale[last_sale >= pd.Timestamp(cutoff)].index)]
        prepared = prepare_inputs(window[window[UNIQUE_ID].isin(active[UNIQUE_ID])], active,
                                  promotions, cutoff, config)
        started = time.perf_counter()
        # As the nightly run does: seasonal categories get per-SKU season totals.
        result = forecast_panel(prepared.history, horizon, "D", future=prepared.future,
                                events=prepared.events, groups=prepared.groups, config=config,
                                seasons=seasons_frame(window[DS].min().year - 1, cutoff.year + 1),
                                censored=prepared.demand[[UNIQUE_ID, DS, "imputed"]])
        timing["restock_s"] += time.perf_counter() - started
        global_fits += result.params.get(GLOBAL_MODEL, [])
        group_of = result.series.set_index(UNIQUE_ID)[GROUP]
        history = prepared.history
        long_enough = history.groupby(UNIQUE_ID)[Y].size()
        eligible = set(long_enough[long_enough >= 28].index)
        baselines, naive_s, ets_s = _statsforecast_baselines(history[history[UNIQUE_ID].isin(eligible)],
                                                             horizon)
        timing["seasonal_naive_s"] += naive_s
        timing["autoets_s"] += ets_s
        merged = result.forecasts.merge(baselines, on=[UNIQUE_ID, DS])
        merged["actual"] = actual.reindex(pd.MultiIndex.from_frame(merged[[UNIQUE_ID, DS]])).to_numpy()
        train = history.pivot(index=DS, columns=UNIQUE_ID, values=Y)
        for uid, part in merged.groupby(UNIQUE_ID):
            ok = part["actual"].notna()
            if not ok.any():
                continue
            scale = _mase_scale(train[uid].dropna().to_numpy())
            a = part.loc[ok, "actual"].to_numpy()
            rows.append({
                "origin": cutoff, UNIQUE_ID: uid, "scale": scale, "actual": a.sum(), "n": int(ok.sum()),
                "ae_restock": np.abs(part.loc[ok, MEAN].to_numpy() - a).sum(),
                "ae_naive": np.abs(part.loc[ok, "SeasonalNaive"].to_numpy() - a).sum(),
                "ae_ets": np.abs(part.loc[ok, "AutoETS"].to_numpy() - a).sum(),
                "covered_q90": int((a <= part.loc[ok, "q90"].to_numpy() + 1e-9).sum()),
                "covered_q50": int((a <= part.loc[ok, "q50"].to_numpy() + 1e-9).sum()),
                "covered_q99": int((a <= part.loc[ok, "q99"].to_numpy() + 1e-9).sum()),
                "model": part["model"].iloc[0], GROUP: group_of.get(uid),
            })
    scores = pd.DataFrame(rows)
    for name in ("restock", "naive", "ets"):
        scores[f"mase_{name}"] = scores[f"ae_{name}"] / scores["n"] / scores["scale"]
    n = scores["n"].sum()
    return {
        "series_origins": len(scores),
        "mase": float(scores["mase_restock"].mean()),
        "wape": float(scores["ae_restock"].sum() / scores["actual"].sum()),
        "q90_coverage": float(scores["covered_q90"].sum() / n),
        "q50_coverage": float(scores["covered_q50"].sum() / n),
        "q99_coverage": float(scores["covered_q99"].sum() / n),
        "naive_mase": float(scores["mase_naive"].mean()),
        "naive_wape": float(scores["ae_naive"].sum() / scores["actual"].sum()),
        "ets_mase": float(scores["mase_ets"].mean()),
        "ets_wape": float(scores["ae_ets"].sum() / scores["actual"].sum()),
        "models": scores["model"].value_counts().to_dict(),
        "global_model": global_model_use(scores, global_fits),
        **timing,
    }


def global_model_use(scores: pd.DataFrame, fits: list[dict[str, Any]]) -> dict[str, Any]:
    """Per category: SKU-origins whose chosen model is or contains the global model, out of all,
    their held-out MASE beside the others', and the group fits' wall seconds (fit + predict)."""
    out: dict[str, Any] = {}
    for group, part in scores.groupby(GROUP):
        uses = part["model"].str.contains(GLOBAL_MODEL, regex=False)
        walls = [f["fit_s"] + f["predict_s"] for f in fits if f["group"] == group and f["skipped"] is None]
        out[str(group)] = {
            "chosen": int(uses.sum()), "series_origins": len(part),
            "mase_where_chosen": (round(float(part.loc[uses, "mase_restock"].mean()), 4)
                                  if uses.any() else None),
            "group_fits": len(walls),
            "skipped": sorted({f["skipped"] for f in fits if f["group"] == group and f["skipped"]}),
            "fit_wall_s_median": round(float(np.median(walls)), 3) if walls else None,
        }
    return out


# --------------------------------------------------------------------------- seasonal peaks

# The sample categories' selling seasons (config/restock.toml [seasons]): fixed month-days, or
# days around a lunar festival. Kept here so the bench needs no settings file.
SEASONS: dict[str, tuple[str, Any, Any]] = {
    "down_jackets": ("fixed", (11, 15), (2, 28)),
    "swimwear": ("fixed", (6, 1), (8, 31)),
    "mooncakes": ("mid_autumn", -35, 0),
    "cny_gift_boxes": ("spring_festival", -40, 0),
}
# Festival categories' seasons are measured in weeks from their festival (EngineConfig.season_anchors),
# as forecasting.services does from the settings' `anchor`.
SEASON_ANCHORS = {category: kind for category, (kind, _, _) in SEASONS.items() if kind != "fixed"}
# One year before the demo's origin (2026-08-30) sees winter, Mid-Autumn and Spring Festival
# in its 182 days; summer needs an origin before June.
SEASON_ORIGINS = (date(2025, 8, 30), date(2025, 5, 30))
# The demo's own origin: its seasons are in the future, so only `ratio_last_year` is defined.
DEMO_ORIGIN = date(2026, 8, 30)
SEASON_HORIZON = 182


def season_window(category: str, year: int) -> tuple[date, date]:
    """The category's season starting in (fixed) or anchored on the festival of (lunar) `year`."""
    kind, a, b = SEASONS[category]
    if kind != "fixed":
        anchor = festival_date(kind, year)
        return anchor + pd.Timedelta(days=a), anchor + pd.Timedelta(days=b)
    end_year = year + 1 if b < a else year
    # "02-28" means the end of February, 29 Feb in leap years (config/restock.toml).
    end = (pd.Timestamp(end_year, 3, 1) - pd.Timedelta(days=1)).date() if b == (2, 28) else date(end_year, *b)
    return date(year, *a), end


def season_windows(category: str, first: date, last: date) -> list[tuple[int, date, date]]:
    """(year, start, end) of the category's season windows lying wholly inside [first, last]."""
    windows = []
    for year in range(first.year - 1, last.year + 1):
        start, end = season_window(category, year)
        if start >= first and end <= last:
            windows.append((year, start, end))
    return windows


def seasons_frame(first_year: int, last_year: int) -> pd.DataFrame:
    """Every seasonal category's season windows starting in first_year…last_year (engine input)."""
    rows = [{GROUP: cat, "season_start": pd.Timestamp(s), "season_end": pd.Timestamp(e)}
            for cat in SEASONS for year in range(first_year, last_year + 1)
            for s, e in [season_window(cat, year)]]
    return pd.DataFrame(rows)


# Year-back origins for the per-SKU season totals: one, three and two months before the seasons.
SEASON_TOTAL_ORIGINS = (date(2025, 8, 30), date(2025, 5, 30), date(2025, 10, 1))


def season_total_check(sales: pd.DataFrame, skus: pd.DataFrame, promotions: pd.DataFrame,
                       origins: tuple[date, ...] = SEASON_TOTAL_ORIGINS, horizon: int = SEASON_HORIZON
                       ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Per-SKU season totals forecast at year-back origins against what each SKU then sold.

    For each origin and seasonal category whose next season lies inside the horizon: restock's
    per-SKU season total (`result.season_totals`, history before the origin only) and the
    "same as last season" baseline (the SKU's sales over the same part of the previous season),
    both against the SKU's genuine sales (units − fraud) over the season. Returns per-SKU rows,
    per-(origin, category) WAPE = Σ|total − sold| / Σ sold, and per category over all origins.
    Sales on stockout days are censored demand: besides all SKUs, the WAPEs are also given over
    the SKUs whose season had no stockout day (`_uncensored`), where what sold is the demand a
    season total forecasts (the daily accuracy above leaves stockout days out of its scores too).
    The demo's origin (`DEMO_ORIGIN`), if given, is kept in the per-SKU rows only (no outcome).
    """
    genuine = remove_fraud(sales)
    config = EngineConfig(horizon=horizon, freq="D", events=EVENT_NAMES, chunk_size=500,
                          season_anchors=SEASON_ANCHORS)
    rows = []
    for origin in origins:
        window = sales[sales[DS] <= pd.Timestamp(origin)]
        last_sale = window.groupby(UNIQUE_ID)[DS].max()
        active = skus[skus[UNIQUE_ID].isin(last_sale[last_sale >= pd.Timestamp(origin)].index)]
        prepared = prepare_inputs(window[window[UNIQUE_ID].isin(active[UNIQUE_ID])], active,
                                  promotions, origin, config)
        seasons = seasons_frame(window[DS].min().year - 1, origin.year + 1)
        censored = prepared.demand[[UNIQUE_ID, DS, "imputed"]]
        result = forecast_panel(prepared.history, horizon, "D", future=prepared.future,
                                events=prepared.events, groups=prepared.groups, config=config,
                                seasons=seasons, censored=censored)
        totals = result.season_totals
        for row in totals.to_dict("records"):
            span = (row["season_start"], row["season_end"])
            if span[0] <= pd.Timestamp(origin) + pd.Timedelta(days=1):
                continue  # already in season at the origin: not a pre-build decision
            sold = genuine[genuine[UNIQUE_ID].astype(str).eq(row[UNIQUE_ID]) & genuine[DS].between(*span)]
            days = (span[1] - span[0]).days + 1
            if sold[DS].nunique() < days and origin != DEMO_ORIGIN:
                continue  # the season runs past the data's end: nothing to score
            rows.append({**row, "origin": origin, "sold": float(sold[Y].sum()),
                         "stockout_days": int(sold["stockout"].sum())})
    per_sku = pd.DataFrame(rows)
    if per_sku.empty:
        return per_sku, per_sku, per_sku
    scored = per_sku[per_sku["last_season"].notna() & (per_sku["origin"] != DEMO_ORIGIN)]

    def wape(part: pd.DataFrame, column: str) -> float:
        return float(np.abs(part[column] - part["sold"]).sum() / max(part["sold"].sum(), 1e-9))

    def uncensored(part: pd.DataFrame) -> dict[str, Any]:
        clean = part[part["stockout_days"] == 0]
        if clean.empty:
            return {"skus_uncensored": 0}
        return {"skus_uncensored": len(clean), "wape_uncensored": wape(clean, "total"),
                "wape_same_as_last_season_uncensored": wape(clean, "last_season"),
                "ratio_uncensored": wape(clean, "total") / max(wape(clean, "last_season"), 1e-9)}

    summary = pd.DataFrame([{
        "origin": origin, GROUP: cat, "skus": len(part), "sold": float(part["sold"].sum()),
        "wape": wape(part, "total"), "wape_model_alone": wape(part, "model_total"),
        "wape_same_as_last_season": wape(part, "last_season"),
        "ratio": wape(part, "total") / max(wape(part, "last_season"), 1e-9),
        "outside_band_without_reason": int(sum(
            1 for r in part.itertuples() if not 0.5 <= r.ratio_to_last_season <= 2.0 and not r.reasons)),
        **uncensored(part),
    } for (origin, cat), part in scored.groupby(["origin", GROUP])])
    # Each candidate alone, where it exists (else the total): which estimator wins where.
    scored = scored.assign(
        share_alone=scored["share_total"].where(scored["share_total"].notna(), scored["total"]),
        naive_alone=scored["naive_total"].where(scored["naive_total"].notna(), scored["total"]))

    def candidates(part: pd.DataFrame) -> dict[str, Any]:
        clean = part[part["stockout_days"] == 0]
        out: dict[str, Any] = {}
        for name, column in (("blend", "total"), ("model", "model_total"), ("share", "share_alone"),
                             ("naive", "naive_alone")):
            out[name] = wape(part, column) / max(wape(part, "last_season"), 1e-9)
            if len(clean):
                out[f"{name}_uncensored"] = wape(clean, column) / max(wape(clean, "last_season"), 1e-9)
        return out

    pooled = pd.DataFrame([{
        GROUP: cat, "skus": len(part), "wape": wape(part, "total"),
        "wape_model_alone": wape(part, "model_total"),
        "wape_same_as_last_season": wape(part, "last_season"),
        "ratio": wape(part, "total") / max(wape(part, "last_season"), 1e-9),
        "candidates": candidates(part),
        **uncensored(part),
    } for cat, part in scored.groupby(GROUP)])
    for frame in (summary, pooled):  # a category with a stockout in every SKU's season: NaN
        for column in ("wape_uncensored", "wape_same_as_last_season_uncensored", "ratio_uncensored"):
            if column not in frame:
                frame[column] = np.nan
    return per_sku, summary, pooled


SAMPLE_SEED = 7  # data/samples is `restock samples generate --seed 7`


def true_demand_floor(per_sku: pd.DataFrame, sales: pd.DataFrame, seed: int = SAMPLE_SEED
                      ) -> pd.DataFrame | None:
    """Per category: the season-total WAPE of a perfect demand forecast, beside same as last season.

    The sample's generator is replayed (`restock.samples.build_sample_business(seed)`) for each
    SKU's expected demand per day; the forecast that knows it exactly, Σ expected demand over the
    season, is scored like restock's total (all SKUs, and those without a stockout day). It is
    what no forecaster can beat on average: the rest is the outcome's own noise and, on all SKUs,
    the sales its stockouts cut. None when the replay's sales differ from `sales` (other data).
    """
    from restock.samples import build_sample_business, history_dates

    business = build_sample_business(seed)
    dates = history_dates()
    genuine = remove_fraud(sales).pivot_table(index=DS, columns=UNIQUE_ID, values=Y, aggfunc="sum",
                                              observed=True)
    expected: dict[str, np.ndarray] = {}
    for plan in business.plans:
        if plan.code not in genuine.columns:
            continue
        replayed = pd.Series((plan.units - plan.fraud_units).astype(float), index=dates)
        recorded = genuine[plan.code].reindex(dates)
        both = recorded.notna()
        if not np.array_equal(replayed[both].to_numpy(), recorded[both].to_numpy()):
            return None
        expected[plan.code] = plan.mean_units
    scored = per_sku[per_sku["last_season"].notna() & (per_sku["origin"] != DEMO_ORIGIN)].copy()
    if scored.empty or not set(scored[UNIQUE_ID]) <= set(expected):
        return None
    scored["true_demand"] = [
        float(expected[r.unique_id][(dates >= r.season_start) & (dates <= r.season_end)].sum())
        for r in scored.itertuples()]

    def wape(part: pd.DataFrame, column: str) -> float:
        return float(np.abs(part[column] - part["sold"]).sum() / max(part["sold"].sum(), 1e-9))

    def against_demand(frame: pd.DataFrame, column: str) -> float:
        error = np.abs(frame[column] - frame["true_demand"]).sum()
        return float(error / max(frame["true_demand"].sum(), 1e-9))

    rows = []
    for cat, part in scored.groupby(GROUP):
        clean = part[part["stockout_days"] == 0]
        rows.append({GROUP: cat, "wape": wape(part, "true_demand"),
                     # Scored against the expected demand itself (no sales noise, no stockout cut):
                     "restock_vs_true_demand": against_demand(part, "total"),
                     "same_as_last_season_vs_true_demand": against_demand(part, "last_season"),
                     "ratio": wape(part, "true_demand") / max(wape(part, "last_season"), 1e-9),
                     "wape_uncensored": wape(clean, "true_demand") if len(clean) else np.nan,
                     "ratio_uncensored": (wape(clean, "true_demand") / max(wape(clean, "last_season"), 1e-9)
                                          if len(clean) else np.nan)})
    return pd.DataFrame(rows)


def _total(frame: pd.DataFrame, column: str, span: tuple[pd.Timestamp, ...], members: set[str]) -> float:
    inside = frame[frame[DS].between(*span) & frame[UNIQUE_ID].isin(members)]
    return float(inside[column].sum())


def season_peak_check(sales: pd.DataFrame, skus: pd.DataFrame, promotions: pd.DataFrame,
                      origins: tuple[date, ...] = SEASON_ORIGINS, horizon: int = SEASON_HORIZON
                      ) -> pd.DataFrame:
    """Forecast every SKU from each origin (history before it only) and compare, per seasonal
    category, the forecast total over each season window inside the horizon with what happened.

    `genuine` = units − fraud_units as sold (censored by stockouts, so a floor on demand);
    `demand` = the cleansed series of the whole sample over the window (stockout days imputed),
    an estimate of uncensored demand. Ratios > 1 over-forecast.
    """
    genuine = remove_fraud(sales)
    config = EngineConfig(horizon=horizon, freq="D", events=EVENT_NAMES, chunk_size=500,
                          season_anchors=SEASON_ANCHORS)
    full = prepare_inputs(sales, skus, promotions, sales[DS].max().date(), config).history
    category = skus.set_index(UNIQUE_ID)[GROUP]
    rows = []
    for origin in origins:
        window = sales[sales[DS] <= pd.Timestamp(origin)]
        last_sale = window.groupby(UNIQUE_ID)[DS].max()
        active = skus[skus[UNIQUE_ID].isin(last_sale[last_sale >= pd.Timestamp(origin)].index)]
        prepared = prepare_inputs(window[window[UNIQUE_ID].isin(active[UNIQUE_ID])], active,
                                  promotions, origin, config)
        result = forecast_panel(prepared.history, horizon, "D", future=prepared.future,
                                events=prepared.events, groups=prepared.groups, config=config)
        fc = result.forecasts
        ids = set(fc[UNIQUE_ID])
        first, last = origin + pd.Timedelta(days=1), origin + pd.Timedelta(days=horizon)
        for cat in SEASONS:
            for year, start, end in season_windows(cat, first, last):
                span = (pd.Timestamp(start), pd.Timestamp(end))
                prior = tuple(pd.Timestamp(d) for d in season_window(cat, year - 1))
                members = ids & set(category.index[category == cat])
                sold = genuine[genuine[DS].between(*span) & genuine[UNIQUE_ID].isin(members)]
                rows.append({
                    "origin": origin, GROUP: cat, "start": start, "end": end,
                    "forecast": _total(fc, MEAN, span, members), "genuine": float(sold[Y].sum()),
                    "demand": _total(full, Y, span, members), "stockout_days": int(sold["stockout"].sum()),
                    # The season a year earlier, as sold: the yardstick where the future is unknown.
                    "last_year": _total(genuine, Y, prior, members),
                    "skus": len(members),
                })
    out = pd.DataFrame(rows)
    out["ratio_genuine"] = out["forecast"] / out["genuine"]
    out["ratio_demand"] = out["forecast"] / out["demand"]
    out["ratio_last_year"] = out["forecast"] / out["last_year"]
    future = out["genuine"] == 0  # seasons after the data's end: only last year compares
    out.loc[future, ["genuine", "demand", "ratio_genuine", "ratio_demand"]] = np.nan
    return out


# --------------------------------------------------------------------------- scale


def generate_sales(n_skus: int, days: int = 1096, seed: int = SEED,
                   end: date = date(2026, 8, 30)) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A deterministic synthetic shop: smooth seasonal, intermittent and new SKUs in 20 categories,
    with Double 11 / 618 / member-day jumps, a Spring Festival dip, stockouts and brushing."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range(end=pd.Timestamp(end), periods=days, freq="D")
    doy = dates.dayofyear.to_numpy()
    weekday = dates.dayofweek.to_numpy()
    event = np.ones(days)
    event[(dates.month == 11) & (dates.day == 11)] = 4.0
    event[(dates.month == 6) & (dates.day == 18)] = 2.5
    event[dates.day == 18] *= 1.3
    for year in range(dates[0].year, dates[-1].year + 1):
        spring = pd.Timestamp(festival_date("spring_festival", year))
        dip = (dates >= spring - pd.Timedelta(days=5)) & (dates <= spring + pd.Timedelta(days=10))
        event[dip] *= 0.5
    categories = 20
    peak = rng.uniform(0, 365, categories)
    amplitude = rng.uniform(0.0, 0.8, categories)
    category = rng.integers(0, categories, n_skus)
    level = np.exp(rng.normal(0.0, 1.3, n_skus)).clip(0.03, 200)
    trend = rng.normal(0, 0.15, n_skus) / 365
    weekly = 1 + rng.normal(0, 0.1, (n_skus, 7))
    start = np.where(rng.random(n_skus) < 0.05, rng.integers(days - 300, days - 20, n_skus), 0)
    units = np.zeros((n_skus, days), dtype=np.int32)
    t = np.arange(days)
    for i in range(n_skus):
        season = 1 + amplitude[category[i]] * np.cos(2 * np.pi * (doy - peak[category[i]]) / 365)
        mean = level[i] * season * weekly[i, weekday] * event * np.exp(trend[i] * (t - days))
        draws = rng.negative_binomial(2.0, 2.0 / (2.0 + mean))
        draws[: start[i]] = -1
        units[i] = draws
    sku_index, day_index = np.nonzero(units >= 0)
    values = units[sku_index, day_index]
    stockout = rng.random(values.size) < 0.01
    fraud = np.where(rng.random(values.size) < 0.002, rng.integers(1, 20, values.size), 0)
    codes = np.array([f"SKU{i:05d}" for i in range(n_skus)])
    sales = pd.DataFrame({
        UNIQUE_ID: pd.Categorical.from_codes(sku_index, categories=codes),
        DS: dates[day_index],
        "units": values + fraud,
        "returned_units": 0,
        "fraud_units": fraud,
        "stockout": stockout,
    })
    sales.loc[stockout, "units"] = (sales.loc[stockout, "units"] // 3).astype(np.int64)
    skus = pd.DataFrame({UNIQUE_ID: codes, "sku_id": np.arange(n_skus),
                         GROUP: [f"C{c:02d}" for c in category]})
    return sales, skus


def nightly_path(sales: pd.DataFrame, skus: pd.DataFrame, as_of: date, workers: int | None) -> dict[str, Any]:
    """Cleanse → backtest selection → final fit → quantiles → lead-time totals; timings per step."""
    config = EngineConfig(horizon=182, freq="D", events=EVENT_NAMES, chunk_size=250)
    started = time.perf_counter()
    prepared = prepare_inputs(sales, skus, pd.DataFrame(columns=["start_date", "end_date", "sku_id", GROUP]),
                              as_of, config)
    cleansed_s = time.perf_counter() - started
    result = forecast_panel(prepared.history, config.horizon, "D", events=prepared.events,
                            groups=prepared.groups, config=config, runner=process_runner(workers))
    forecast_s = time.perf_counter() - started - cleansed_s
    first = pd.Timestamp(as_of) + pd.Timedelta(days=1)
    windows = pd.DataFrame({UNIQUE_ID: skus[UNIQUE_ID], "window_start": first,
                            "window_end": first + pd.Timedelta(days=36)})
    totals = total_demand(result, windows)
    total_s = time.perf_counter() - started - cleansed_s - forecast_s
    fits = [f for f in result.params.get(GLOBAL_MODEL, []) if f["skipped"] is None]
    return {"cleanse_s": cleansed_s, "forecast_s": forecast_s, "totals_s": total_s,
            "global_model_fits": len(fits),
            "global_model_fit_s": sum(f["fit_s"] + f["predict_s"] for f in fits),
            "global_model_fit_s_per_group_max": max((f["fit_s"] + f["predict_s"] for f in fits), default=0.0),
            "global_model_chosen": int(result.series["model"].str.contains(GLOBAL_MODEL, regex=False).sum()),
            "series": len(result.series), "windows": len(totals),
            "models": result.series["model"].value_counts().to_dict(),
            "wall_s": time.perf_counter() - started}


def autoets_alone(sales: pd.DataFrame, n: int, horizon: int = 182) -> float:
    """Wall seconds of statsforecast AutoETS(season_length=7) fit + forecast on the first n SKUs (2 jobs)."""
    from statsforecast import StatsForecast
    from statsforecast.models import AutoETS

    codes = sales[UNIQUE_ID].cat.categories[:n]
    frame = sales[sales[UNIQUE_ID].isin(codes)].rename(columns={"units": Y})[[UNIQUE_ID, DS, Y]]
    frame[UNIQUE_ID] = frame[UNIQUE_ID].astype(str)
    frame[Y] = frame[Y].astype(float)
    started = time.perf_counter()
    StatsForecast(models=[AutoETS(season_length=7)], freq="D", n_jobs=min(2, os.cpu_count() or 1)
                  ).forecast(df=frame, h=horizon)
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small CI smoke run (< 60 s)")
    parser.add_argument("--out", type=Path, default=None, help="results directory (default bench/results)")
    parser.add_argument("--samples", type=Path, default=SAMPLES)
    parser.add_argument("--seasons-only", action="store_true",
                        help="print the seasonal-peak check on the sample and exit (no results written)")
    args = parser.parse_args(argv)
    if args.seasons_only:
        peaks = season_peak_check(*load_samples(args.samples), (*SEASON_ORIGINS, DEMO_ORIGIN))
        print(peaks.round(3).to_string(index=False))
        return args.out or Path()
    quick = args.quick
    n_scale = 60 if quick else 10_000
    n_autoets = 10 if quick else 1_000
    sample_limit = 8 if quick else None
    figures: dict[str, Any] = {}
    baselines: dict[str, dict[str, Any]] = {"seasonal_naive": {}, "autoets": {}}
    notes: list[str] = []
    floor_ratios: dict[str, Any] = {}
    if (args.samples / "sales.csv").exists():
        sales, skus, promotions = load_samples(args.samples, sample_limit)
        acc = accuracy(sales, skus, promotions, ORIGINS, HORIZON)
        figures.update(mase=acc["mase"], wape=acc["wape"], q90_coverage=acc["q90_coverage"],
                       q50_coverage=acc["q50_coverage"], q99_coverage=acc["q99_coverage"],
                       accuracy_series_origins=acc["series_origins"], accuracy_wall_s=acc["restock_s"])
        baselines["seasonal_naive"].update(mase=acc["naive_mase"], wape=acc["naive_wape"],
                                           wall_s=acc["seasonal_naive_s"])
        baselines["autoets"].update(mase=acc["ets_mase"], wape=acc["ets_wape"], wall_s=acc["autoets_s"])
        notes.append(f"models chosen on the sample (all origins): {acc['models']}")
        figures["global_model_by_category"] = acc["global_model"]
        peaks = season_peak_check(sales, skus, promotions, (*SEASON_ORIGINS, DEMO_ORIGIN))
        # Each category's first season after the one-year-back origins (mooncakes appear twice).
        back = peaks[peaks["origin"] != DEMO_ORIGIN].drop_duplicates(GROUP)
        # forecast / genuine sales over each seasonal category's next season, one year back
        # (genuine sales are censored by stockouts: ratio_demand uses imputed demand instead).
        figures["season_peak_bias_by_category"] = {
            row.group: round(float(row.ratio_genuine), 4) for row in back.itertuples()}
        figures["season_peak_bias_vs_imputed_demand_by_category"] = {
            row.group: round(float(row.ratio_demand), 4) for row in back.itertuples()}
        figures["season_peak_vs_last_year_at_demo_origin"] = {
            row.group: round(float(row.ratio_last_year), 4)
            for row in peaks[peaks["origin"] == DEMO_ORIGIN].itertuples()}
        for row in peaks.itertuples():
            notes.append(f"season check origin {row.origin} {row.group} {row.start}..{row.end}: "
                         f"forecast {row.forecast:.0f}, genuine {row.genuine:.0f} "
                         f"({row.stockout_days} stockout SKU-days), last year {row.last_year:.0f}")
        origins = SEASON_TOTAL_ORIGINS[:1] if quick else SEASON_TOTAL_ORIGINS
        per_sku, by_origin, pooled = season_total_check(sales, skus, promotions, (*origins, DEMO_ORIGIN))
        if not pooled.empty:
            figures["season_total_wape_by_category"] = {
                r.group: round(float(r.wape), 4) for r in pooled.itertuples()}
            figures["season_total_wape_model_alone_by_category"] = {
                r.group: round(float(r.wape_model_alone), 4) for r in pooled.itertuples()}
            baselines["same_as_last_season"] = {"season_total_wape_by_category": {
                r.group: round(float(r.wape_same_as_last_season), 4) for r in pooled.itertuples()}}
            figures["season_total_wape_uncensored_by_category"] = {
                r.group: round(float(r.wape_uncensored), 4) for r in pooled.itertuples()}
            figures["season_total_skus_uncensored_by_category"] = {
                r.group: f"{r.skus_uncensored} of {r.skus}" for r in pooled.itertuples()}
            baselines["same_as_last_season"]["season_total_wape_uncensored_by_category"] = {
                r.group: round(float(r.wape_same_as_last_season_uncensored), 4) for r in pooled.itertuples()}
            # WAPE ÷ same as last season of each candidate alone (blend = the stored total).
            figures["season_total_candidates_vs_same_as_last_season"] = {
                r.group: {k: round(float(v), 4) for k, v in r.candidates.items()}
                for r in pooled.itertuples()}
            figures["season_total_outside_band_without_reason"] = int(
                by_origin["outside_band_without_reason"].sum())
            for r in by_origin.itertuples():
                notes.append(f"season totals origin {r.origin} {r.group}: {r.skus} SKUs, WAPE {r.wape:.3f} "
                             f"(model alone {r.wape_model_alone:.3f}) vs same as last season "
                             f"{r.wape_same_as_last_season:.3f}; the {r.skus_uncensored} SKUs without a "
                             f"stockout day in the season: {r.wape_uncensored:.3f} vs "
                             f"{r.wape_same_as_last_season_uncensored:.3f}")
            floor = None if quick else true_demand_floor(per_sku, sales)
            if floor is not None:
                # What a forecast knowing each SKU's expected demand exactly would score (the sample's
                # generator replayed): the target's reach, not a model.
                baselines["true_expected_demand"] = {
                    "season_total_wape_by_category": {
                        r.group: round(float(r.wape), 4) for r in floor.itertuples()},
                    "season_total_wape_uncensored_by_category": {
                        r.group: round(float(r.wape_uncensored), 4) for r in floor.itertuples()}}
                figures["season_total_wape_against_true_demand_by_category"] = {
                    r.group: {"restock": round(float(r.restock_vs_true_demand), 4),
                              "same_as_last_season": round(float(r.same_as_last_season_vs_true_demand), 4)}
                    for r in floor.itertuples()}
                floor_ratios = {
                    "season_total_wape_true_demand_vs_same_as_last_season": {
                        r.group: round(float(r.ratio), 4) for r in floor.itertuples()},
                    "season_total_wape_uncensored_true_demand_vs_same_as_last_season": {
                        r.group: round(float(r.ratio_uncensored), 4) for r in floor.itertuples()}}
            demo = per_sku[per_sku["origin"] == DEMO_ORIGIN]
            figures["season_totals_at_demo_origin"] = {
                r.unique_id: {"total": round(float(r.total), 1),
                              "model_total": round(float(r.model_total), 1),
                              "last_season": _maybe(r.last_season),
                              "last_season_demand": _maybe(r.last_season_demand),
                              "season_before": _maybe(r.season_before),
                              "reasons": [reason["code"] for reason in r.reasons]}
                for r in demo.itertuples() if r.group == "down_jackets"}
    else:
        notes.append(f"no sample data at {args.samples}: accuracy part skipped")
    scale_sales, scale_skus = generate_sales(n_scale)
    as_of = scale_sales[DS].max().date()
    with RssSampler() as sampler:
        path = nightly_path(scale_sales, scale_skus, as_of, workers=None)
    # --quick keeps the keys (CI checks the shape); params.scale_skus says how many SKUs ran.
    figures["wall_s_10k"] = path["wall_s"]
    figures["peak_rss_gib_10k"] = sampler.peak_gib
    figures.update(cleanse_s=path["cleanse_s"], forecast_s=path["forecast_s"], totals_s=path["totals_s"])
    figures.update({f"{key}_10k": path[key] for key in (
        "global_model_fits", "global_model_fit_s", "global_model_fit_s_per_group_max",
        "global_model_chosen")})
    notes.append(f"models chosen on the generated panel: {path['models']}")
    ets_wall = autoets_alone(scale_sales, n_autoets)
    baselines["autoets"]["wall_s_per_1k"] = ets_wall * 1000 / n_autoets
    restock_per_1k = path["wall_s"] * 1000 / n_scale
    figures["wall_s_per_1k"] = restock_per_1k
    ratios: dict[str, Any] = {
        "wall_per_sku_vs_autoets": restock_per_1k / baselines["autoets"]["wall_s_per_1k"]}
    if "season_total_wape_by_category" in figures:
        ratios["season_total_wape_vs_same_as_last_season"] = {
            r.group: round(float(r.ratio), 4) for r in pooled.itertuples()}
        ratios["season_total_wape_uncensored_vs_same_as_last_season"] = {
            r.group: round(float(r.ratio_uncensored), 4) for r in pooled.itertuples()}
        ratios.update(floor_ratios)
    if "mase" in figures:
        ratios["mase_vs_seasonal_naive"] = figures["mase"] / baselines["seasonal_naive"]["mase"]
        ratios["mase_vs_autoets"] = figures["mase"] / baselines["autoets"]["mase"]
    params = {"quick": quick, "seed": SEED, "horizon_accuracy_days": HORIZON, "origins": ORIGINS,
              "scale_skus": n_scale, "scale_days": 1096, "scale_horizon_days": 182,
              "autoets_skus": n_autoets, "cores": os.cpu_count(), "sample_skus_limit": sample_limit}
    return write_results("forecast", params=params, figures=_rounded(figures),
                         baselines={k: _rounded(v) for k, v in baselines.items()},
                         ratios=_rounded(ratios), libraries=LIBRARIES, notes=notes, out_dir=args.out)


def _maybe(value: float) -> float | None:
    return None if value is None or not np.isfinite(value) else round(float(value), 1)


def _rounded(values: dict[str, Any]) -> dict[str, Any]:
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in values.items()}


if __name__ == "__main__":
    main()
