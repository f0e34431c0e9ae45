"""CLI for forecasting: `restock forecast` (the nightly run), `accuracy`, `show SKU` and `list`.

Thin adapter: parse options, call one service, render a summary.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Any

import typer
from rich import box
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from kernel.errors import InvalidInput
from restock.cli.common import (
    check_id,
    check_output_path,
    cli_waiting,
    console,
    parse_date_option,
    print_json,
)
from restock.cli.multivalue import MultiValueGroup

forecast_app = typer.Typer(
    help="Forecast demand for every SKU and store the run; `accuracy` reports how good it is.",
    invoke_without_command=True,
    cls=MultiValueGroup,
)


class Executor(StrEnum):
    """Where the forecast chunks run."""

    serial = "serial"
    process = "process"
    dask = "dask"


def register(app: typer.Typer) -> None:
    """Add the `forecast` command (and its `accuracy` sub-command) to the restock app."""
    app.add_typer(forecast_app, name="forecast")


@forecast_app.callback()
def run_command(
    ctx: typer.Context,
    as_of: str | None = typer.Option(
        None, "--as-of", help="Last business date of history (default: latest sales date)."),
    sku: list[str] | None = typer.Option(
        None, "--sku", help="Forecast only these SKU codes: --sku A B, --sku A --sku B or --sku A,B. "
        "Such a run is partial and never feeds a proposal."),
    executor: Executor | None = typer.Option(
        None, "--executor", help="How to run the chunks (default from settings)."),
    address: str | None = typer.Option(
        None, "--address", help="Dask scheduler address (default: a local cluster)."),
    workers: int | None = typer.Option(None, "--workers", help="Worker processes (default: CPU count)."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Read sales, cleanse, forecast every active SKU and store the run (one transaction)."""
    if ctx.invoked_subcommand is not None:
        return
    from forecasting.execution import EXECUTORS, make_runner
    from forecasting.services import latest_sales_date, record_failed_run, run_forecast
    from kernel.clock import now
    from restock.db import ensure_ready, get_engine, retry_transient
    from restock.settings import get_settings
    from scheduler.runner import recorded_cli_run

    settings = get_settings()
    chosen = executor.value if executor is not None else settings.forecasting.executor
    if chosen not in EXECUTORS:
        raise InvalidInput(f"--executor: expected one of {', '.join(EXECUTORS)}, got {chosen!r}")
    codes = [code.strip() for value in sku or [] for code in value.split(",") if code.strip()]
    if address and chosen != "dask":
        raise InvalidInput("--address only applies to --executor dask")
    if workers is not None and not 1 <= workers <= 256:
        raise InvalidInput(f"--workers: expected 1 to 256 worker processes, got {workers}")
    chosen_day = parse_date_option(as_of, "--as-of")
    engine = get_engine()
    ensure_ready(engine, write=True)
    day = chosen_day or latest_sales_date(engine)
    started_at = now(settings.tz)
    runner = make_runner(chosen, address, workers)
    with (
        recorded_cli_run(engine, "forecast", as_of=day, now=lambda: now(settings.tz), settings=settings,
                         lock_wait_s=settings.lock_wait_s, on_wait=cli_waiting) as job,
        Progress(TextColumn("forecasting"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                 console=console, transient=True, disable=as_json) as progress,
    ):
        task = progress.add_task("forecast", total=None)
        try:
            summary = retry_transient(lambda: run_forecast(
                engine, day, settings.forecast_settings(), skus=codes or None, runner=runner,
                on_start=lambda n: progress.update(task, total=n, completed=0),
                progress=lambda n: progress.advance(task, n), now=started_at,
            ), attempts=2)
        except Exception as exc:
            record_failed_run(
                engine, day, started_at, f"{type(exc).__name__}: {exc}", settings.forecast_settings()
            )
            raise
        job.message = f"forecast run {summary.run_id}: {summary.n_series} SKUs as of {day}"
        job.counts = {"forecast_run_id": summary.run_id, "skus_forecast": summary.n_series,
                      "fallbacks": summary.n_fallbacks}
    if as_json:
        print_json(summary.__dict__)
        return
    _render_summary(summary)


def _render_summary(summary: Any) -> None:
    scope = "" if summary.scope == "complete" else " — PARTIAL (--sku): for inspection, never proposed from"
    table = Table("model", "SKUs", title=f"forecast run {summary.run_id} as of {summary.as_of}{scope}")
    for model, count in sorted(summary.models.items(), key=lambda kv: -kv[1]):
        table.add_row(model, str(count))
    console.print(table)
    classes = ", ".join(f"{k} {v}" for k, v in sorted(summary.classes.items()))
    console.print(f"{summary.n_series} SKUs ({classes}) in {summary.duration_s:.1f} s")
    if summary.n_fallbacks:
        console.print(f"{summary.n_fallbacks} SKUs with a fallback or note:")
        for reason, count in sorted(summary.fallback_reasons.items(), key=lambda kv: -kv[1]):
            console.print(f"  {count:5d}  {reason}")
    else:
        console.print("no fallbacks")


@forecast_app.command("accuracy")
def accuracy_command(
    run: int | None = typer.Option(None, "--run", help="Forecast run id (default: the latest)."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Backtest MASE, WAPE, bias and quantile coverage by category and by model, next to seasonal naive."""
    from forecasting.services import accuracy_report, latest_run, load_run
    from restock.db import ensure_ready, get_engine

    if run is not None:
        check_id(run, "--run")
    engine = get_engine()
    ensure_ready(engine)
    result = load_run(engine, run) if run is not None else latest_run(engine)
    report = accuracy_report(result)
    if as_json:
        print_json(report)
        return
    for title, key in (("by category", "by_category"), ("by model", "by_model")):
        table = Table(title.split()[-1], "SKUs", "MASE", "naive MASE", "WAPE", "naive WAPE", "bias",
                      "q50 cov", "q90 cov",
                      title=f"run {report['run_id']} (as of {report['as_of']}) accuracy {title}")
        for name, row in [*report[key].items(), ("all", report["overall"])]:
            table.add_row(name, str(row["series"]), _fmt(row["mase"]), _fmt(row["seasonal_naive_mase"]),
                          _fmt(row["wape"]), _fmt(row["seasonal_naive_wape"]), _fmt(row["bias"]),
                          _fmt(row.get("coverage_q50")), _fmt(row.get("coverage_q90")))
        console.print(table)
    console.print("MASE per series vs seasonal naive on the same backtest origins; "
                  "coverage = share of backtest actuals at or below the quantile.")


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"



@forecast_app.command("show")
def show_command(
    sku: str = typer.Argument(..., help="SKU code."),
    run: int | None = typer.Option(None, "--run", help="Forecast run id (default: latest with this SKU)."),
    weeks: int = typer.Option(12, "--weeks", min=1, help="Weeks of sales history in the table."),
    plot: Path | None = typer.Option(None, "--plot", help="Also write a PNG chart of history and forecast."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing --plot file."),
    as_json: bool = typer.Option(False, "--json", help="Print history and forecast as JSON."),
) -> None:
    """One SKU's weekly sales history and forecast (mean, 10/50/90 % quantiles) as a table or chart."""
    from forecasting.sku_view import plot_sku_forecast, sku_forecast_view
    from kernel.orm import unit_of_work
    from restock.db import ensure_ready, get_engine

    if run is not None:
        check_id(run, "--run")
    if plot is not None:
        check_output_path(plot, "--plot", force=force)
    engine = get_engine()
    ensure_ready(engine)
    with unit_of_work(engine) as session:
        view = sku_forecast_view(session, sku, run_id=run, history_weeks=max(weeks, 52))
    if plot is not None:
        plot_sku_forecast(view, str(plot))
    if as_json:
        print_json({
            "sku": view.sku, "name": view.name, "run_id": view.run_id, "as_of": view.as_of.isoformat(),
            "scope": view.scope, "model": view.model, "demand_class": view.demand_class,
            "fallback_reason": view.fallback_reason,
            "history": [{"week": r.week.isoformat(), "units": int(r.units)}
                        for r in view.history.itertuples(index=False)],
            "forecast": [{"week": r.week.isoformat(), "mean": r.mean, "q10": r.q10, "q50": r.q50,
                          "q90": r.q90} for r in view.forecast.itertuples(index=False)],
            "season_total": view.season_total,
        })
        return
    console.print(f"{view.sku} {view.name} · run {view.run_id} ({view.scope}) as of {view.as_of} · "
                  f"model {view.model} ({view.demand_class})", highlight=False)
    if view.fallback_reason:
        console.print(f"note: {view.fallback_reason}", highlight=False)
    table = Table("week", "sold", "mean", "q10", "q50", "q90", title="units per week (Monday to Sunday)",
                  title_justify="left", box=box.SIMPLE_HEAD)
    for row in view.history.tail(weeks).itertuples(index=False):
        table.add_row(row.week.isoformat(), f"{int(row.units):,}", "", "", "", "")
    for row in view.forecast.itertuples(index=False):
        table.add_row(row.week.isoformat(), "", f"{row.mean:,.1f}", f"{row.q10:,.1f}", f"{row.q50:,.1f}",
                      f"{row.q90:,.1f}")
    console.print(table)
    if view.season_total:
        console.print(season_total_text(view.season_total), highlight=False)
    if plot is not None:
        console.print(f"chart written to {plot}", highlight=False)


_SEASON_REASONS = {
    "launch": "launch ({detail})",
    "no_sales_last_season": "nothing sold last season",
    "category_trend": "the category's trend ×{trend}",
    "own_trend": "its own trend (last season {last_season:,.0f} after {season_before:,.0f})",
    "stockout_censored": "last season's sales cut by stockouts on {share_of_days:.0%} of its days",
    "held_to_band": "held to {band[0]}–{band[1]}× last season (was {unheld_total:,.1f})",
    "share_of_group": ("its share of the category over two years gives {share_total:,.1f}, against "
                       "{naive_total:,.1f} from its last season × the trend (own drift ×{own_trend}/year)"),
}


def season_total_text(total: dict[str, Any]) -> str:
    """The stored season total of a seasonal SKU in words, every number the stored one."""
    def units(value: float | None) -> str:
        return "—" if value is None or value != value else f"{value:,.1f}"

    lines = [
        f"season {total['season_start']} → {total['season_end']} ({total['days']} days): "
        f"{units(total['total'])} units forecast; last season sold {units(total['last_season'])}, "
        f"the one before {units(total['season_before'])}"
    ]
    naive = total.get("naive_total")
    demand = total.get("last_season_demand")
    # Runs stored before stockout days were re-estimated have no last_season_demand.
    recounted = demand is not None and demand == demand and abs(demand - total["last_season"]) >= 0.05
    if recounted:
        lines.append(f"  last season's demand with its stockout days re-estimated from the category's "
                     f"days: {units(demand)}")
    split = total.get("share_total")
    carried = f"last season's demand {units(demand)}" if recounted else "last season"
    if split is not None and split == split and naive is not None and naive == naive:
        # Runs stored before the split have no share_total: they carried last season × trend.
        lines.append(
            f"  = {total['weight']:.2f} × the model's {units(total['model_total'])} + "
            f"{1 - total['weight']:.2f} × {units(split)}, the category's last season × its trend "
            f"{total['trend']:.3f} split by this SKU's share of it over two years (own drift "
            f"×{total.get('own_trend', 1.0):.3f}/year; {carried} × the trend alone: {units(naive)}), "
            f"weights from {total['past_seasons_scored']} past season(s) scored"
        )
    elif naive is not None and naive == naive:
        lines.append(
            f"  = {total['weight']:.2f} × the model's {units(total['model_total'])} + "
            f"{1 - total['weight']:.2f} × {carried} × the category's trend {total['trend']:.3f} "
            f"({units(naive)}), weights from {total['past_seasons_scored']} past season(s) scored"
        )
    for reason in total.get("reasons") or []:
        template = _SEASON_REASONS.get(reason.get("code", ""))
        try:
            text = template.format(**reason) if template else str(reason)
        except (KeyError, IndexError, ValueError):
            text = str(reason)
        lines.append(f"  reason: {text}")
    return "\n".join(lines)


@forecast_app.command("list")
def list_command(
    limit: int = typer.Option(20, "--limit", min=1, help="How many runs (newest first)."),
    as_json: bool = typer.Option(False, "--json", help="Print the list as JSON."),
    check: bool = typer.Option(
        True, "--check/--no-check",
        help="Read each run's inputs again and say whether they still match (default) or skip it.",
    ),
) -> None:
    """Stored forecast runs, newest first; a partial run (--sku) is labelled: it never feeds a proposal.

    The inputs column says whether what each run read (sales up to its as-of, the SKU catalogue,
    promotions, its settings) is still what the database holds: current, or stale and what changed."""
    from forecasting.services import list_runs, runs_inputs
    from restock.db import ensure_ready, get_engine

    engine = get_engine()
    ensure_ready(engine)
    rows = list_runs(engine, limit=limit)
    if check:
        checked = runs_inputs(engine, [row["id"] for row in rows if row["status"] == "succeeded"])
        for row in rows:
            found = checked.get(row["id"])
            row["inputs"] = found.state() if found is not None else "—"
    if as_json:
        print_json(rows)
        return
    from datetime import datetime

    from restock.settings import get_settings

    tz = get_settings().tz
    table = Table(title=f"forecast runs (times in {tz.key})", title_justify="left", box=None, pad_edge=False,
                  header_style="bold underline")
    columns = ["run", "as of", "started", "status", "scope", "SKUs", "s"] + (["inputs"] if check else [])
    for column in columns:
        table.add_column(column, no_wrap=column != "inputs",
                         justify="right" if column in ("run", "SKUs", "s") else "left")
    for row in rows:
        moment = datetime.fromisoformat(row["started_at"])
        # SQLite drops the offset and keeps the wall time restock wrote, in the configured zone
        moment = moment if moment.tzinfo else moment.replace(tzinfo=tz)
        started = moment.astimezone(tz).isoformat(sep=" ", timespec="minutes")
        table.add_row(str(row["id"]), row["as_of"], started, row["status"],
                      "complete" if row["scope"] == "complete" else "PARTIAL", str(row["n_series"]),
                      f"{row['duration_s']:.0f}", *([row["inputs"]] if check else []))
    console.print(table)
    if any(row["scope"] != "complete" for row in rows):
        console.print("PARTIAL: made with --sku; kept for inspection, never read by a proposal")
    if check and any(str(row.get("inputs", "")).startswith("stale") for row in rows):
        console.print("stale: what the run read was imported again since; `restock forecast` makes a run "
                      "from the data as it is now", highlight=False)


@forecast_app.command("prune")
def prune_command(
    keep: int = typer.Option(..., "--keep", help="How many of the newest runs to keep (at least 1)."),
    as_json: bool = typer.Option(False, "--json", help="Print what was done as JSON."),
) -> None:
    """Delete all but the newest N forecast runs; runs that proposals read are kept and listed."""
    from forecasting.services import prune_runs
    from restock.db import ensure_ready, get_engine

    if not 1 <= keep <= 1_000_000:
        raise InvalidInput(f"--keep: expected 1 to 1000000 runs, got {keep}")
    engine = get_engine()
    ensure_ready(engine, write=True)
    report = prune_runs(engine, keep)
    if as_json:
        print_json(report.__dict__)
        return
    deleted = ", ".join(map(str, report.deleted)) or "none"
    console.print(f"kept the {len(report.kept_newest)} newest run(s); deleted: {deleted}", highlight=False)
    for run_id, used_by in report.in_use.items():
        console.print(f"kept run {run_id}: used by {used_by}", highlight=False)
