"""Held-out accuracy of the forecasting engine on real public sales data nobody here wrote.

`python -m bench.forecast_external [--quick] [--sets cheese,tuna] [--limit N] [--jobs N]`. For each set in
`../shared/data/external/` (see its README and meta.csv): the last `h` periods of every series
are held out; restock's engine sees the rest (with the set's price/display columns as regressors,
their held-out values given as the planned future, and the event calendar off: the dates are
synthetic or not Chinese), each series forecast from its own end. In the same run and on the same
split, statsforecast's SeasonalNaive, Naive, AutoETS, AutoTheta and CrostonSBA are fitted to the
same training periods. Reported per set: MASE (mean over series of MAE / in-sample seasonal-naive
MAE, Hyndman & Koehler 2006), WAPE (Σ|error| / Σactual), coverage of q50/q80/q90/q95 (share of
held-out actuals at or below the quantile; AutoETS's own intervals beside restock's), coverage per
demand class, and the ratios of restock's MASE to AutoETS's and to the best baseline's.
restock also runs a second time with its global model (`forecasting.global_model`) off, on the
same split in the same run (`restock_no_global`): how often the global model is chosen, what it
costs per group fit, and what it changes in MASE per set.
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench._common import ROOT, RssSampler, write_results
from forecasting.columns import DS, MEAN, UNIQUE_ID, Y
from forecasting.engine import EngineConfig, forecast_panel
from forecasting.global_model import GLOBAL_MODEL

# ../shared/data/external beside the checkout (a worktree under wt/<branch>: two levels up);
# RESTOCK_EXTERNAL_DATA or --data elsewhere.
_CANDIDATES = [Path(os.environ["RESTOCK_EXTERNAL_DATA"])] if os.environ.get("RESTOCK_EXTERNAL_DATA") else []
_CANDIDATES += [base / "shared" / "data" / "external" for base in (ROOT.parent, ROOT.parent.parent)]
EXTERNAL = next((p for p in _CANDIDATES if (p / "meta.csv").exists()), _CANDIDATES[0])
SETS = ("cheese", "tuna", "aus_retail", "tourism", "m1")
QUANTILES = (0.5, 0.8, 0.9, 0.95)
BASELINES = ("SeasonalNaive", "Naive", "AutoETS", "AutoTheta", "CrostonSBA")
# restock with its global model off: same split, same run (not a baseline: not in "best baseline").
NO_GLOBAL = "restock_no_global"
NO_EVENTS = pd.DataFrame(columns=["event", DS])
LIBRARIES = ["numpy", "pandas", "statsforecast", "lightgbm", "mlforecast"]


@dataclass
class Split:
    """One frequency's part of a set: training history (+ regressors), held-out test, h, season."""

    name: str
    freq: str
    season_length: int
    h: int
    train: pd.DataFrame
    test: pd.DataFrame
    regressors: list[str]


def load_splits(directory: Path, name: str, limit: int | None = None) -> list[Split]:
    """The set's series with the last h of each held out (tourism: monthly and quarterly parts)."""
    meta = pd.read_csv(directory / "meta.csv").set_index("set")
    frame = pd.read_csv(directory / f"{name}.csv", parse_dates=[DS])
    frame[UNIQUE_ID] = frame[UNIQUE_ID].astype(str)
    regressors = [c for c in frame.columns if c not in (UNIQUE_ID, DS, Y)]
    if name == "tourism":
        horizons = pd.read_csv(directory / "tourism_h.csv")
        parts = [(f"{name}_{freq}", "MS" if freq == "monthly" else "QS", 12 if freq == "monthly" else 4,
                  int(rows["h"].iloc[0]), set(rows[UNIQUE_ID]))
                 for freq, rows in horizons.groupby("frequency")]
    else:
        row = meta.loc[name]
        parts = [(name, str(row["freq"]), int(row["season_length"]), int(row["h"]), set(frame[UNIQUE_ID]))]
    splits = []
    for label, freq, season, h, members in parts:
        ids = sorted(members)
        if limit:
            ids = ids[:: max(1, len(ids) // limit)][:limit]
        part = frame[frame[UNIQUE_ID].isin(ids)].sort_values([UNIQUE_ID, DS])
        position = part.groupby(UNIQUE_ID).cumcount(ascending=False)
        train, test = part[position >= h], part[position < h]
        splits.append(Split(label, freq, season, h, train.reset_index(drop=True),
                            test.reset_index(drop=True), regressors))
    return splits


def run_restock(split: Split, config: EngineConfig | None = None
                ) -> tuple[pd.DataFrame, pd.DataFrame, float, dict[str, Any]]:
    """restock's forecasts of the held-out periods, its per-series table, the wall seconds and the
    run's parameters (with the global model's fits per group and origin)."""
    config = config or EngineConfig(horizon=split.h, freq=split.freq, quantiles=QUANTILES, events=(),
                                    from_own_end=True)
    future = split.test[[UNIQUE_ID, DS, *split.regressors]] if split.regressors else None
    started = time.perf_counter()
    result = forecast_panel(split.train, split.h, split.freq, future=future, events=NO_EVENTS,
                            quantiles=QUANTILES, config=config)
    return result.forecasts, result.series, time.perf_counter() - started, result.params


def run_baselines(split: Split) -> tuple[pd.DataFrame, dict[str, float]]:
    """statsforecast's classical benchmarks on the same training periods (AutoETS with intervals)."""
    from statsforecast import StatsForecast
    from statsforecast.models import AutoETS, AutoTheta, CrostonSBA, Naive, SeasonalNaive

    frame = split.train[[UNIQUE_ID, DS, Y]]
    m = split.season_length
    timing: dict[str, float] = {}
    out = None
    for model in (SeasonalNaive(season_length=m), Naive(), AutoTheta(season_length=m), CrostonSBA()):
        started = time.perf_counter()
        part = StatsForecast(models=[model], freq=split.freq, n_jobs=1).forecast(df=frame, h=split.h)
        timing[str(model)] = time.perf_counter() - started
        out = part if out is None else out.merge(part, on=[UNIQUE_ID, DS])
    started = time.perf_counter()
    # Two-sided level L gives the (50 + L/2) % quantile as its upper bound.
    ets = StatsForecast(models=[AutoETS(season_length=m)], freq=split.freq, n_jobs=1).forecast(
        df=frame, h=split.h, level=[60, 80, 90])
    timing["AutoETS"] = time.perf_counter() - started
    ets = ets.rename(columns={"AutoETS-hi-60": "ets_q80", "AutoETS-hi-80": "ets_q90",
                              "AutoETS-hi-90": "ets_q95"})
    ets["ets_q50"] = ets["AutoETS"]
    assert out is not None
    # SeasonalNaive has no value for a position a short series never saw: the last value then.
    out["SeasonalNaive"] = out["SeasonalNaive"].fillna(out["Naive"])
    out = out.merge(ets[[UNIQUE_ID, DS, "AutoETS", "ets_q50", "ets_q80", "ets_q90", "ets_q95"]],
                    on=[UNIQUE_ID, DS])
    for name in BASELINES:
        out[name] = out[name].clip(lower=0)  # sales are never negative
    return out, timing


def mase_scales(train: pd.DataFrame, season: int) -> pd.Series:
    """In-sample MAE of the seasonal naive per series (lag 1 where a series is shorter than 2 seasons)."""
    scales = {}
    for uid, rows in train.groupby(UNIQUE_ID, sort=False):
        y = rows[Y].to_numpy(dtype=float)
        lag = season if y.size > 2 * season else 1
        diffs = np.abs(y[lag:] - y[:-lag])
        scale = float(np.nanmean(diffs)) if diffs.size else float("nan")
        scales[uid] = scale if scale > 0 else float(np.nanmean(np.abs(y))) or 1.0
    return pd.Series(scales)


def score(split: Split, forecasts: pd.DataFrame, series: pd.DataFrame, baselines: pd.DataFrame
          ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-period scored frame (actual, every model, quantiles) and per-series absolute errors."""
    merged = split.test[[UNIQUE_ID, DS, Y]].merge(
        forecasts[[UNIQUE_ID, DS, MEAN, *[f"q{int(q * 100)}" for q in QUANTILES]]], on=[UNIQUE_ID, DS],
        how="left").merge(baselines, on=[UNIQUE_ID, DS], how="left")
    missing = merged[MEAN].isna() | merged["AutoETS"].isna()
    if missing.any():
        raise RuntimeError(f"{split.name}: {int(missing.sum())} held-out periods without a forecast, "
                           f"e.g. {merged.loc[missing, [UNIQUE_ID, DS]].iloc[0].tolist()}")
    classes = series.set_index(UNIQUE_ID)["demand_class"]
    merged["demand_class"] = merged[UNIQUE_ID].map(classes)
    scales = mase_scales(split.train, split.season_length)
    models = {"restock": MEAN, **{name: name for name in (*BASELINES, NO_GLOBAL) if name in merged}}
    per_series = merged.groupby(UNIQUE_ID).apply(
        lambda rows: pd.Series({model: float(np.mean(np.abs(rows[col] - rows[Y]))) for model, col
                                in models.items()} | {"actual": float(rows[Y].abs().sum()),
                                                      "n": len(rows)}), include_groups=False)
    per_series["scale"] = scales.reindex(per_series.index)
    return merged, per_series


def summarise(name: str, merged: pd.DataFrame, per_series: pd.DataFrame) -> dict[str, Any]:
    """MASE, WAPE and coverage of restock and each baseline on one set."""
    models = ["restock", *BASELINES, *([NO_GLOBAL] if NO_GLOBAL in per_series else [])]
    mase = {m: float((per_series[m] / per_series["scale"]).mean()) for m in models}
    total = float(merged[Y].abs().sum())
    columns = {"restock": MEAN, **{b: b for b in (*BASELINES, NO_GLOBAL)}}
    wape = {m: float(np.abs(merged[columns[m]] - merged[Y]).sum() / total) for m in models}
    coverage = {f"q{int(q * 100)}": float((merged[Y] <= merged[f"q{int(q * 100)}"] + 1e-9).mean())
                for q in QUANTILES}
    ets_coverage = {f"q{int(q * 100)}": float((merged[Y] <= merged[f"ets_q{int(q * 100)}"] + 1e-9).mean())
                    for q in QUANTILES}
    by_class = {
        str(klass): {"periods": len(rows), **{f"q{int(q * 100)}": round(float(
            (rows[Y] <= rows[f"q{int(q * 100)}"] + 1e-9).mean()), 4) for q in QUANTILES}}
        for klass, rows in merged.groupby("demand_class")
    }
    best = min(BASELINES, key=lambda b: mase[b])
    return {
        "set": name, "series": len(per_series), "periods": len(merged),
        "mase": mase, "wape": wape, "coverage": coverage, "autoets_interval_coverage": ets_coverage,
        "coverage_by_class": by_class, "best_baseline": best,
        "mase_vs_autoets": mase["restock"] / mase["AutoETS"],
        "mase_vs_best_baseline": mase["restock"] / mase[best],
        "wape_vs_autoets": wape["restock"] / wape["AutoETS"],
    }


def evaluate_part(name: str, index: int, directory: Path = EXTERNAL, limit: int | None = None,
                  config: EngineConfig | None = None) -> dict[str, Any]:
    """Run restock and the baselines on one frequency part of a set and score them (picklable)."""
    split = load_splits(directory, name, limit)[index]
    part_config = None if config is None else EngineConfig(**{
        **config.__dict__, "horizon": split.h, "freq": split.freq, "quantiles": QUANTILES})
    part_config = part_config or EngineConfig(horizon=split.h, freq=split.freq, quantiles=QUANTILES,
                                              events=(), from_own_end=True)
    forecasts, series, restock_s, params = run_restock(split, part_config)
    baselines, baseline_s = run_baselines(split)
    if part_config.global_model is not None:
        plain, _, plain_s, _ = run_restock(split, replace(part_config, global_model=None))
        baselines = baselines.merge(plain[[UNIQUE_ID, DS, MEAN]].rename(columns={MEAN: NO_GLOBAL}),
                                    on=[UNIQUE_ID, DS], how="left")
        baseline_s[NO_GLOBAL] = plain_s
    merged, per_series = score(split, forecasts, series, baselines)
    return {"merged": merged, "per_series": per_series, "restock_s": restock_s,
            "baseline_s": baseline_s, "models": series["model"].value_counts().to_dict(),
            "global_fits": params.get(GLOBAL_MODEL, [])}


def combine_parts(name: str, parts: list[dict[str, Any]]) -> dict[str, Any]:
    """One set's summary from its scored parts (tourism: monthly and quarterly)."""
    timing = {"restock_s": 0.0, **{b + "_s": 0.0 for b in BASELINES}}
    models: dict[str, int] = {}
    for part in parts:
        timing["restock_s"] += part["restock_s"]
        for key, value in part["baseline_s"].items():
            timing[key + "_s"] = timing.get(key + "_s", 0.0) + value
        for model, count in part["models"].items():
            models[str(model)] = models.get(str(model), 0) + int(count)
    summary = summarise(name, pd.concat([p["merged"] for p in parts]),
                        pd.concat([p["per_series"] for p in parts]))
    summary["timing_s"] = {k: round(v, 2) for k, v in timing.items()}
    summary["models"] = dict(sorted(models.items(), key=lambda kv: (-kv[1], kv[0])))
    summary["global_model"] = global_summary(models, [f for p in parts for f in p.get("global_fits", [])])
    return summary


def global_summary(models: dict[str, int], fits: list[dict[str, Any]]) -> dict[str, Any]:
    """How often the global model was chosen (alone or in a combination) and what its fits cost."""
    fitted = [f for f in fits if f["skipped"] is None]
    skipped: dict[str, int] = {}
    for f in fits:
        if f["skipped"] is not None:
            kind = f["skipped"].split(" (")[0].split(" ", 1)[1]  # e.g. "series", "training rows after ..."
            skipped[kind] = skipped.get(kind, 0) + 1
    walls = [f["fit_s"] + f["predict_s"] for f in fitted]
    return {
        "chosen_alone": int(models.get(GLOBAL_MODEL, 0)),
        "chosen_in_combination": int(sum(n for m, n in models.items()
                                         if GLOBAL_MODEL in m and m != GLOBAL_MODEL)),
        "series": int(sum(models.values())),
        "group_fits": len(fitted), "group_fits_skipped": len(fits) - len(fitted),
        "skipped_reasons": skipped,
        "fit_wall_s_total": round(float(sum(walls)), 2),
        "fit_wall_s_per_group_fit_median": round(float(np.median(walls)), 3) if walls else None,
        "fit_wall_s_per_group_fit_max": round(float(max(walls)), 3) if walls else None,
        "train_rows_per_group_fit_median": int(np.median([f["rows"] for f in fitted])) if fitted else None,
    }


def evaluate(name: str, directory: Path = EXTERNAL, limit: int | None = None,
             config: EngineConfig | None = None) -> dict[str, Any]:
    """Run restock and the baselines on one set (all its frequency parts) and score them."""
    n_parts = len(load_splits(directory, name, limit))
    return combine_parts(name, [evaluate_part(name, k, directory, limit, config) for k in range(n_parts)])


def evaluate_all(names: list[str], directory: Path, limit: int | None, jobs: int) -> list[dict[str, Any]]:
    """Every set's summary; with jobs > 1 the set parts run in that many processes (same results:
    each part is scored on its own; only the wall times are measured under each other's load)."""
    units = [(name, k) for name in names for k in range(len(load_splits(directory, name, limit)))]
    if jobs <= 1:
        done = [evaluate_part(name, k, directory, limit) for name, k in units]
    else:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=jobs) as pool:
            futures = [pool.submit(evaluate_part, name, k, directory, limit) for name, k in units]
            done = [f.result() for f in futures]
    return [combine_parts(name, [d for (n, _), d in zip(units, done, strict=True) if n == name])
            for name in names]


def _table(results: list[dict[str, Any]]) -> list[str]:
    header = ("| set | series | restock MASE | without global model | AutoETS | best baseline "
              "| ratio vs AutoETS | ratio vs best | restock WAPE | AutoETS WAPE "
              "| q50 | q80 | q90 | q95 | AutoETS q90 |")
    lines = [header, "|---" * 15 + "|"]
    for r in results:
        best = r["best_baseline"]
        lines.append(
            f"| {r['set']} | {r['series']} | {r['mase']['restock']:.3f} "
            f"| {_maybe_mase(r, NO_GLOBAL)} | {r['mase']['AutoETS']:.3f} "
            f"| {best} {r['mase'][best]:.3f} | {r['mase_vs_autoets']:.3f} | {r['mase_vs_best_baseline']:.3f} "
            f"| {r['wape']['restock']:.3f} | {r['wape']['AutoETS']:.3f} "
            f"| {r['coverage']['q50']:.3f} | {r['coverage']['q80']:.3f} | {r['coverage']['q90']:.3f} "
            f"| {r['coverage']['q95']:.3f} | {r['autoets_interval_coverage']['q90']:.3f} |")
    return lines


def _maybe_mase(result: dict[str, Any], model: str) -> str:
    value = result["mase"].get(model)
    return "–" if value is None else f"{value:.3f}"


def _global_table(results: list[dict[str, Any]]) -> list[str]:
    lines = ["| set | series | chosen alone | chosen in a combination | MASE with / without | group fits "
             "(skipped) | fit+predict s per group fit, median (max) | training rows per fit, median |",
             "|---" * 8 + "|"]
    for r in results:
        g = r["global_model"]
        without = r["mase"].get(NO_GLOBAL)
        change = "–" if without is None else f"{r['mase']['restock']:.3f} / {without:.3f}"
        lines.append(f"| {r['set']} | {g['series']} | {g['chosen_alone']} | {g['chosen_in_combination']} "
                     f"| {change} | {g['group_fits']} ({g['group_fits_skipped']}) "
                     f"| {g['fit_wall_s_per_group_fit_median']} ({g['fit_wall_s_per_group_fit_max']}) "
                     f"| {g['train_rows_per_group_fit_median']} |")
    return lines


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a CI smoke run: 6 series per set")
    parser.add_argument("--sets", default=",".join(SETS), help="comma-separated sets (default all)")
    parser.add_argument("--limit", type=int, default=None, help="at most N series per set part")
    parser.add_argument("--data", type=Path, default=EXTERNAL)
    parser.add_argument("--out", type=Path, default=None, help="results directory (default bench/results)")
    parser.add_argument("--jobs", type=int, default=1,
                        help="run the sets' parts in this many processes (wall times then overlap)")
    args = parser.parse_args(argv)
    limit = 6 if args.quick else args.limit
    if not (args.data / "meta.csv").exists():
        parser.error(f"no external data sets at {args.data} (meta.csv missing): pass --data DIR "
                     "or set RESTOCK_EXTERNAL_DATA")
    names = [s for s in args.sets.split(",") if s]
    unknown = sorted(set(names) - set(SETS))
    if unknown:
        parser.error(f"unknown sets {unknown}; known: {list(SETS)}")
    load = os.getloadavg()
    with RssSampler() as sampler:
        results = evaluate_all(names, args.data, limit, args.jobs)
    figures: dict[str, Any] = {}
    baselines: dict[str, dict[str, Any]] = {b: {} for b in BASELINES}
    ratios: dict[str, Any] = {}
    for r in results:
        s = r["set"]
        figures[f"{s}_mase"] = r["mase"]["restock"]
        figures[f"{s}_wape"] = r["wape"]["restock"]
        for q, value in r["coverage"].items():
            figures[f"{s}_{q}_coverage"] = value
        figures[f"{s}_coverage_by_class"] = r["coverage_by_class"]
        figures[f"{s}_wall_s"] = r["timing_s"]["restock_s"]
        figures[f"{s}_models"] = r["models"]
        figures[f"{s}_global_model"] = r["global_model"]
        if NO_GLOBAL in r["mase"]:
            figures[f"{s}_mase_without_global_model"] = r["mase"][NO_GLOBAL]
            figures[f"{s}_wall_s_without_global_model"] = r["timing_s"].get(NO_GLOBAL + "_s")
            ratios[f"{s}_mase_vs_without_global_model"] = r["mase"]["restock"] / r["mase"][NO_GLOBAL]
        for b in BASELINES:
            baselines[b][f"{s}_mase"] = r["mase"][b]
            baselines[b][f"{s}_wape"] = r["wape"][b]
            baselines[b][f"{s}_wall_s"] = r["timing_s"].get(b + "_s")
        baselines["AutoETS"].update({f"{s}_interval_{q}_coverage": v
                                     for q, v in r["autoets_interval_coverage"].items()})
        ratios[f"{s}_mase_vs_autoets"] = r["mase_vs_autoets"]
        ratios[f"{s}_mase_vs_best_baseline"] = r["mase_vs_best_baseline"]
        ratios[f"{s}_best_baseline"] = r["best_baseline"]
        ratios[f"{s}_wape_vs_autoets"] = r["wape_vs_autoets"]
    figures["peak_rss_gib"] = sampler.peak_gib
    params = {"quick": args.quick, "limit": limit, "sets": names, "quantiles": list(QUANTILES),
              "events": "off", "series_end": "own", "cores": os.cpu_count(), "jobs": args.jobs,
              "load_average_at_start": [round(x, 2) for x in load],
              "load_average_at_end": [round(x, 2) for x in os.getloadavg()]}
    notes = ["MASE scale: in-sample seasonal-naive MAE (lag 1 where a series has under two seasons "
             "of training data). Baselines clipped at 0; SeasonalNaive falls back to the last value "
             "where a short series never saw a position. AutoETS q-columns are its own intervals.",
             f"machine load average at start {params['load_average_at_start']}, "
             f"at end {params['load_average_at_end']} (2 cores shared with other jobs)"]
    path = write_results("forecast_external", params=params, figures=_round(figures),
                         baselines={k: _round(v) for k, v in baselines.items()},
                         ratios=_round(ratios), libraries=LIBRARIES, notes=notes, out_dir=args.out)
    markdown = path.with_suffix(".md")
    markdown.write_text(markdown.read_text() + "\n## Per set\n\n" + "\n".join(_table(results))
                        + "\n\n## Global model (LightGBM per group and origin)\n\n"
                        + "\n".join(_global_table(results)) + "\n")
    return path


def _round(values: dict[str, Any]) -> dict[str, Any]:
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in values.items()}


if __name__ == "__main__":
    main()
