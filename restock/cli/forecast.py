"""CLI for forecasting: `restock forecast` (the nightly run) and `restock forecast accuracy`.

Thin adapter: parse options, call one service, render a summary.
"""

from __future__ import annotations

from typing import Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from kernel.errors import InvalidInput
from restock.cli.common import check_id, cli_waiting, console, parse_date_option, print_json

forecast_app = typer.Typer(
    help="Forecast demand for every SKU and store the run; `accuracy` reports how good it is.",
    invoke_without_command=True,
)


def register(app: typer.Typer) -> None:
    """Add the `forecast` command (and its `accuracy` sub-command) to the restock app."""
    app.add_typer(forecast_app, name="forecast")


@forecast_app.callback()
def run_command(
    ctx: typer.Context,
    as_of: str | None = typer.Option(
        None, "--as-of", help="Last business date of history (default: latest sales date)."),
    sku: list[str] | None = typer.Option(None, "--sku", help="Forecast only these SKU codes (repeatable)."),
    executor: str | None = typer.Option(
        None, "--executor", help="serial | process | dask (default from settings)."),
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
    chosen = executor or settings.forecasting.executor
    if chosen not in EXECUTORS:
        raise InvalidInput(f"--executor: expected one of {', '.join(EXECUTORS)}, got {chosen!r}")
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
                engine, day, settings.forecast_settings(), skus=sku or None, runner=runner,
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
    table = Table("model", "SKUs", title=f"forecast run {summary.run_id} as of {summary.as_of}")
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

