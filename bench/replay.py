"""Benchmark the policy replay on the committed sample: the last 52 weeks, every policy.

`python -m bench.replay [--quick] [--weeks 52] [--jobs N] [--out DIR]`: imports data/samples into
a temporary SQLite database, replays the 52 weeks ending on the last sales day with
forecasts refitted every week (`--refit-weeks 1`, the default: what the nightly run feeds each
proposal), then — the baseline, same script, same data — the first 8 weeks' forecasts refitted
every 4 weeks with a weekly level update, to say what the cheaper refit would save in time and
cost in forecast accuracy. Wall and CPU time are both recorded
(with the load average: the machine may be shared). Writes bench/results/replay.json
and .md (the shape in docs/design-notes.md#benchmarks). `--quick`: 1 week, 8 SKUs (a smoke test).
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bench._common import ROOT, RssSampler, write_results

WEEKS = 52
REFIT_WEEKS = 1
MONTHLY_REFIT_WEEKS = 4
ACCURACY_WEEKS = 8


def _setup(database: Path, weeks: int, skus: int | None) -> tuple[Any, Any]:
    from kernel.orm import unit_of_work
    from restock.cli.simulate import replay_setup
    from restock.demo import fresh_sqlite
    from restock.importing import import_path
    from restock.settings import load_settings
    from simulation.policies import policy_names

    settings = load_settings()
    engine = fresh_sqlite(database)
    import_path(
        engine,
        ROOT / "data" / "samples",
        actor="bench",
        now=datetime(2026, 9, 1).astimezone(),
        season_names=list(settings.seasons),
    )
    with unit_of_work(engine) as session:
        last = _last_day(session)
        start = last - timedelta(days=7 * weeks - 1)
        data, config = replay_setup(session, settings, start, last, policy_names())
    engine.dispose()
    if skus is not None:
        keep = sorted(data.skus["unique_id"])[:skus]
        data.skus = data.skus[data.skus["unique_id"].isin(keep)].reset_index(drop=True)
        data.sales = data.sales[data.sales["unique_id"].isin(keep)]
        data.items = [i for i in data.items if i.sku in keep]
    return data, config


def _last_day(session: Any) -> Any:
    from sqlalchemy import func, select

    from forecasting.models import DailySales

    return session.execute(select(func.max(DailySales.date))).scalar_one()


def _policy_figures(result: Any) -> dict[str, dict[str, Any]]:
    from simulation.metrics import policy_metrics, totals

    rows = totals(policy_metrics(result), list(result.runs))
    return {
        policy: {
            "gross_profit_after_rebate": str(row["gross_profit_after_rebate"]),
            "fill_rate": row["fill_rate"],
            "rebate_earned": str(row["rebate_earned"]),
            "avg_inventory_value": str(row["avg_inventory_value"]),
            "leftover_value": str(row["leftover_value"]),
            "lost_sales_value": str(row["lost_sales_value"]),
        }
        for policy, row in rows.iterrows()
    }


def _cpu_s() -> float:
    """CPU seconds (user + system) of this process and its finished children (the pool workers)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _refit_baseline(data: Any, config: Any, result: Any, weeks: int) -> dict[str, Any]:
    """The first `weeks` weeks' forecasts made the other way — refitted every 4 weeks with a weekly
    level update when the replay refits weekly, refitted weekly when it does not — scored on the same
    restock windows against the demand that came, with the time the other way takes."""
    from threadpoolctl import threadpool_limits

    from simulation.inputs import all_week_inputs, with_every_day
    from simulation.metrics import inputs_accuracy

    chosen = config.weeks()[:weeks]
    other_refit = MONTHLY_REFIT_WEEKS if config.refit_weeks == 1 else 1
    sample = replace(config, end=chosen[-1] + timedelta(days=6), refit_weeks=other_refit)
    cpu, started = _cpu_s(), time.perf_counter()
    with threadpool_limits(1):
        other = all_week_inputs(with_every_day(data), sample)
    wall, cpu = time.perf_counter() - started, _cpu_s() - cpu
    used = [result.inputs[w] for w in chosen]
    scored_to = result.config.end
    other_figures = {
        "inputs_wall_s": round(wall, 1),
        "inputs_cpu_s": round(cpu, 1),
        "restock_window_forecast": inputs_accuracy(other.values(), result.demand, config.start, scored_to),
    }
    used_figures = {"restock_window_forecast": inputs_accuracy(used, result.demand, config.start, scored_to)}
    weekly, monthly = (
        (used_figures, other_figures) if config.refit_weeks == 1 else (other_figures, used_figures)
    )
    return {
        "weeks": len(chosen),
        "replay_refit_weeks": config.refit_weeks,
        "weekly_refit": weekly,
        f"refit_every_{MONTHLY_REFIT_WEEKS}_weeks_weekly_level": monthly,
    }


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="1 week, 8 SKUs: a smoke test")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--weeks", type=int, default=WEEKS, help="weeks replayed, to the last sales day")
    parser.add_argument(
        "--accuracy-weeks", type=int, default=ACCURACY_WEEKS,
        help="first weeks whose forecasts are refitted weekly as well (the refit's accuracy cost)",
    )
    parser.add_argument("--refit-weeks", type=int, default=REFIT_WEEKS,
                        help="refit the forecasts every N weeks (1 = weekly, what the nightly run does)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    os.environ.setdefault("MPLCONFIGDIR", tempfile.mkdtemp(prefix="restock-mpl-"))
    from decimal import Decimal

    from simulation import replay
    from simulation.metrics import window_forecast_accuracy

    weeks, skus = (1, 8) if args.quick else (args.weeks, None)
    with tempfile.TemporaryDirectory(prefix="restock-bench-replay-") as tmp:
        data, config = _setup(Path(tmp) / "sample.db", weeks, skus)
    config = replace(config, refit_weeks=args.refit_weeks, jobs=args.jobs)
    load_before = os.getloadavg()
    with RssSampler() as rss:
        cpu = _cpu_s()
        started = time.perf_counter()
        result = replay(data, config)
        wall_s = time.perf_counter() - started
        cpu_s = _cpu_s() - cpu
    load_after = os.getloadavg()
    figures: dict[str, Any] = {
        "wall_s": round(wall_s, 1),
        "cpu_s": round(cpu_s, 1),
        "cpu_s_per_core_of_2": round(cpu_s / 2, 1),
        "forecast_and_inputs_s": round(result.inputs_s, 1),
        "policies_s": round(result.policies_s, 1),
        "policy_wall_s": {name: round(run.wall_s, 1) for name, run in result.runs.items()},
        "peak_rss_gib": rss.peak_gib,
        "weeks": len(config.weeks()),
        "skus": len(data.skus),
        "policies": len(config.policies),
        "restock_window_forecast": window_forecast_accuracy(result),
        "policy": _policy_figures(result),
        "restock_solver_statuses": result.runs["restock"].solver_statuses,
    }
    gp = {p: Decimal(v["gross_profit_after_rebate"]) for p, v in figures["policy"].items()}
    fill = {p: v["fill_rate"] for p, v in figures["policy"].items()}
    best_simple = max(("min_max", "seasonal_naive_out"), key=lambda p: gp[p])
    refit = _refit_baseline(data, config, result, min(args.accuracy_weeks, len(config.weeks())))
    baselines = {
        "refit_cost_first_weeks": refit,
        "best_simple_policy": {"name": best_simple, **figures["policy"][best_simple]},
    }
    weekly_wape = refit["weekly_refit"]["restock_window_forecast"]["wape"]
    monthly = refit[f"refit_every_{MONTHLY_REFIT_WEEKS}_weeks_weekly_level"]
    monthly_wape = monthly["restock_window_forecast"]["wape"]
    ratios = {
        "window_wape_monthly_vs_weekly_refit": round(monthly_wape / weekly_wape, 3)
        if monthly_wape and weekly_wape
        else None,
        "restock_gp_vs_best_simple": round(float(gp["restock"] / gp[best_simple]), 4)
        if gp[best_simple]
        else None,
        "restock_fill_minus_best_simple": round(fill["restock"] - fill[best_simple], 4),
        "restock_gp_vs_perfect_foresight": round(float(gp["restock"] / gp["perfect_foresight"]), 4)
        if gp["perfect_foresight"]
        else None,
    }
    params = {
        "from": config.start.isoformat(),
        "to": config.end.isoformat(),
        "weeks": weeks,
        "skus": len(data.skus),
        "refit_weeks": args.refit_weeks,
        "jobs": args.jobs,
        "policies": list(config.policies),
        "optimizer_time_limit_s": config.time_limit_s,
        "mip_gap": config.mip_gap,
        "budget_cny": str(config.budget),
        "quick": args.quick,
        "cpu_count": os.cpu_count(),
        "load_average_at_start": [round(x, 2) for x in load_before],
        "load_average_at_end": [round(x, 2) for x in load_after],
    }
    notes = [
        "wall_s: the whole replay after the data is read (every forecast refit and weekly level update, "
        "cleansing cut at each as-of date, every policy's weekly decisions and the day-by-day books).",
        "cpu_s: user + system CPU of the replay's process and its worker processes; on a shared machine "
        "(load average above) cpu_s / 2 is what the replay needs of 2 idle cores; wall_s is what it got.",
        "baseline refit_cost_first_weeks: the first weeks' forecasts refitted every week (the replay's "
        "setting, as the nightly run does) vs refitted every 4 weeks with a weekly level update (the "
        "cheaper setting), the same windows scored against the demand that came (WAPE, bias of the "
        "window means), with the time the cheaper setting takes.",
        "Money in CNY; gross profit after rebate = revenue − COGS − (salvaged stock at cost − salvage "
        "proceeds) + rebate.",
    ]
    return write_results(
        "replay",
        params=params,
        figures=figures,
        baselines=baselines,
        ratios=ratios,
        libraries=["statsforecast", "pulp", "highspy", "pandas", "numpy"],
        notes=notes,
        out_dir=args.out,
    )


if __name__ == "__main__":
    main()
