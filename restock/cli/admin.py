"""Operator commands: `restock init`, `restock status`, `restock demo`."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from restock.cli.common import console, note, print_json, stdout_to_stderr


def register(app: typer.Typer) -> None:
    """Add the operator commands to the main app."""
    app.command("init")(init)
    app.command("status")(status)
    app.command("demo")(demo)


def init() -> None:
    """Create the database schema, or upgrade it to the latest version."""
    from kernel.errors import DatabaseNotReady
    from restock.db import ensure_ready, get_engine, upgrade
    from restock.settings import get_settings

    settings = get_settings()
    engine = get_engine(settings.resolved_database_url())
    try:
        # A newer or unreachable database stops here with its own message.
        ensure_ready(engine)
    except DatabaseNotReady:
        upgrade(engine)
    console.print(f"database ready: {engine.url.render_as_string(hide_password=True)}")


def status(as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts.")) -> None:
    """Row counts, history date ranges and the last job runs."""
    from restock.db import get_engine
    from restock.status import database_status

    report = database_status(get_engine())
    if as_json:
        print_json(report)
        return
    console.print(note("database", report["database"], "bold"))
    counts = Table("table", "rows", title="rows per table")
    for name, count in report["counts"].items():
        counts.add_row(name, f"{count:,}")
    console.print(counts)
    for name, span in report["date_ranges"].items():
        console.print(f"{name}: {span['first']} → {span['last']}")
    latest = report["latest_forecast_run"]
    if latest is not None:
        style = "yellow" if latest["inputs_changed"] else "default"
        console.print(note(f"forecast run {latest['id']} (as of {latest['as_of']})", latest["inputs"], style))
    runs = Table("id", "job", "as of", "status", "started", "message", title="last job runs")
    for run in report["last_job_runs"]:
        runs.add_row(
            str(run["id"]),
            run["job"],
            str(run["as_of"] or ""),
            run["status"],
            str(run["started_at"])[:19],
            (run["message"] or "")[:80],
        )
    console.print(runs)


def demo(
    samples: Path = typer.Option(Path("data/samples"), help="Directory of sample CSVs to load."),
    database: Path = typer.Option(
        Path("var/demo.db"), help="SQLite file of the demo (its own, not the configured database)."
    ),
    force: bool = typer.Option(
        False, "--force", help="Replace --database even if it was not created by the demo."
    ),
) -> None:
    """Fresh demo database, import the samples, run every pipeline step, print a summary."""
    from restock.demo import run_demo
    from restock.settings import get_settings

    with stdout_to_stderr():
        summary = run_demo(
            get_settings(), samples_dir=samples, database_file=database, console=console, force=force
        )
    console.print(summary)
