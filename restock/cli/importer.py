"""`restock import`: load CSV files into the database, or print the data formats they must follow."""

from __future__ import annotations

import getpass
from pathlib import Path

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from restock.cli.common import cli_waiting, console, err_console
from restock.importing.docs import render_formats
from restock.importing.schema import IMPORT_ORDER
from restock.importing.service import ImportReport, import_path


def register(app: typer.Typer) -> None:
    """Add the `import` command to the restock app."""
    app.command("import")(import_command)


def import_command(
    path: Path | None = typer.Argument(
        None, help="A CSV file, or a directory of them named by kind (sales.csv, skus.csv, ...)."
    ),
    kind: str | None = typer.Option(
        None, "--kind", help=f"Kind of a single file whose name does not say it: {', '.join(IMPORT_ORDER)}."
    ),
    formats: bool = typer.Option(False, "--formats", help="Print the data formats (markdown) and exit."),
    actor: str = typer.Option(getpass.getuser(), "--actor", help="Who is importing (for the audit log)."),
) -> None:
    """Validate and import CSV files in one transaction: any error refuses the whole import."""
    if formats:
        console.out(render_formats(), highlight=False)
        return
    if path is None:
        raise typer.BadParameter("give a file or directory to import (or --formats)")
    from kernel.clock import now
    from restock.db import ensure_ready, get_engine
    from restock.settings import get_settings
    from scheduler.runner import recorded_cli_run

    settings = get_settings()
    engine = get_engine()
    ensure_ready(engine)
    with recorded_cli_run(engine, "import", as_of=None, now=lambda: now(settings.tz), settings=settings,
                          on_wait=cli_waiting) as job, Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
    ) as bar:
        tasks: dict[str, int] = {}

        def progress(file_name: str, done: int, total: int) -> None:
            if file_name not in tasks:
                tasks[file_name] = bar.add_task(file_name, total=total)
            bar.update(tasks[file_name], completed=done)

        report = import_path(
            engine,
            path,
            kind,
            actor=actor,
            now=now(settings.tz),
            progress=progress,
            season_names=tuple(settings.seasons),
        )
        job.message = f"{report.rows:,} rows from {len(report.files)} file(s) ({path})"
        job.counts = {"files": len(report.files), "rows": report.rows, "inserted": report.inserted,
                      "updated": report.updated}
    console.print(_summary(report))


def _summary(report: ImportReport) -> Table:
    table = Table(title="import: nothing refused", title_justify="left")
    for heading in ("file", "encoding", "rows", "inserted", "updated", "unchanged"):
        table.add_column(
            heading, justify="left" if heading in ("file", "encoding") else "right", no_wrap=True
        )
    for file in report.files:
        table.add_row(
            file.file,
            file.encoding,
            f"{file.rows:,}",
            f"{file.inserted:,}",
            f"{file.updated:,}",
            f"{file.unchanged:,}",
        )
    table.add_row(
        "total",
        "",
        f"{report.rows:,}",
        f"{report.inserted:,}",
        f"{report.updated:,}",
        f"{report.unchanged:,}",
        style="bold",
    )
    return table
