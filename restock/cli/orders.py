"""`restock orders`: import order lines (brushing flagged, daily sales derived); list brushing clusters."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from restock.cli.common import (
    check_input_path,
    cli_waiting,
    console,
    err_console,
    parse_date_option,
    print_json,
    resolve_actor,
)


def register(app: typer.Typer) -> None:
    """Add the `orders` command group to the restock app."""
    group = typer.Typer(help="Order-level data: import, brushing clusters.", no_args_is_help=True)
    group.command("import")(import_command)
    group.command("suspicious")(suspicious_command)
    app.add_typer(group, name="orders")


def import_command(
    path: Path = typer.Argument(..., help="An orders CSV file (docs/data-formats.md lists its columns)."),
    user: str | None = typer.Option(
        None, "--user", "--actor",
        help="Who is importing, for the audit log (default: audit.user in config, else the OS user).",
    ),
) -> None:
    """Import order lines in one transaction, flag brushing and derive the daily sales of their SKUs."""
    from kernel.clock import now
    from restock.db import ensure_ready, get_engine
    from restock.importing.orders import import_orders
    from restock.settings import get_settings
    from scheduler.runner import recorded_cli_run

    check_input_path(path, "PATH")
    actor = resolve_actor(user)
    settings = get_settings()
    engine = get_engine()
    ensure_ready(engine, write=True)
    with recorded_cli_run(engine, "import", as_of=None, now=lambda: now(settings.tz), settings=settings,
                          lock_wait_s=settings.lock_wait_s, on_wait=cli_waiting) as job, Progress(
        TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TimeRemainingColumn(),
        console=err_console, transient=True,
    ) as bar:
        tasks: dict[str, int] = {}

        def progress(file_name: str, done: int, total: int) -> None:
            if file_name not in tasks:
                tasks[file_name] = bar.add_task(file_name, total=total)
            bar.update(tasks[file_name], completed=done)

        report = import_orders(engine, path, actor=actor, now=now(settings.tz), tz=settings.timezone,
                               brushing=settings.brushing, progress=progress)
        job.message = (f"{report.rows:,} order lines ({path}); {report.demand.flagged_orders:,} orders "
                       f"flagged as brushing in {report.demand.clusters:,} clusters")
        job.counts = {"rows": report.rows, "inserted": report.inserted, "updated": report.updated,
                      "flagged_orders": report.demand.flagged_orders}
    table = Table(title="orders import: nothing refused", title_justify="left")
    for heading in ("file", "rows", "inserted", "updated", "unchanged", "flagged orders", "flagged units",
                    "clusters", "sales days derived"):
        table.add_column(heading, justify="left" if heading == "file" else "right", no_wrap=True)
    demand = report.demand
    table.add_row(report.file, f"{report.rows:,}", f"{report.inserted:,}", f"{report.updated:,}",
                  f"{report.unchanged:,}", f"{demand.flagged_orders:,}", f"{demand.flagged_units:,}",
                  f"{demand.clusters:,}", f"{demand.sales_rows:,}")
    console.print(table)


def suspicious_command(
    since: str | None = typer.Option(None, "--since", help="Only clusters starting on or after YYYY-MM-DD."),
    as_json: bool = typer.Option(False, "--json", help="Print the clusters as JSON."),
    limit: int = typer.Option(50, "--limit", min=1, help="Show at most this many clusters (table only)."),
) -> None:
    """List the brushing clusters restock flagged, newest first, with the rules broken and the evidence."""
    from forecasting.order_services import suspicious_clusters
    from kernel.orm import unit_of_work
    from restock.db import ensure_ready, get_engine
    from restock.settings import get_settings

    settings = get_settings()
    start = parse_date_option(since, "--since")
    engine = get_engine()
    ensure_ready(engine)
    with unit_of_work(engine) as session:
        clusters = suspicious_clusters(session, start, tz=settings.timezone)
    if as_json:
        print_json(clusters)
        return
    if not clusters:
        console.print("no brushing clusters" + (f" since {start}" if start else ""))
        return
    orders = sum(c["orders"] for c in clusters)
    units = sum(c["units"] for c in clusters)
    console.print(
        f"{len(clusters):,} brushing clusters: {orders:,} orders, {units:,} units removed from demand",
        highlight=False,
    )
    for cluster in clusters[:limit]:
        rules = ", ".join(f"{rule} ({lines})" for rule, lines in cluster["rules"].items())
        console.print(
            f"[bold]{escape(cluster['cluster'])}[/]: {cluster['orders']} orders, {cluster['units']} units of "
            f"{escape(', '.join(cluster['skus']))}; rules: {rules}", highlight=False, markup=True,
        )
        for line in cluster["evidence"]:
            console.print(f"    {line}", highlight=False, markup=False)
    if len(clusters) > limit:
        console.print(f"… {len(clusters) - limit} more (--limit, --json)")
