"""`restock import`: load CSV files into the database, or print the data formats they must follow."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from kernel.errors import InvalidInput
from restock.cli.common import check_input_path, cli_waiting, console, err_console, note, resolve_actor
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
    user: str | None = typer.Option(
        None, "--user", "--actor",
        help="Who is importing, for the audit log (default: audit.user in config, else the OS user).",
    ),
    encoding: str | None = typer.Option(
        None, "--encoding", help="Encoding of every file (e.g. utf-8, gb18030, cp1252); default: detected."
    ),
    delimiter: str | None = typer.Option(
        None, "--delimiter", help="Field separator of every file: ',', ';', tab or '|' (default: detected)."
    ),
) -> None:
    """Validate and import CSV files in one transaction: any error refuses the whole import."""
    if formats:
        console.out(render_formats(), highlight=False)
        return
    if path is None:
        raise typer.BadParameter("give a file or directory to import (or --formats)")
    from kernel.clock import now
    from restock.db import ensure_ready, get_engine, retry_transient
    from restock.settings import get_settings
    from scheduler.runner import recorded_cli_run

    check_input_path(path, "PATH")
    actor = resolve_actor(user)
    if encoding is not None:
        import codecs

        try:
            encoding = codecs.lookup(encoding).name
        except LookupError as exc:
            raise InvalidInput(f"--encoding: unknown encoding {encoding!r}") from exc
    if delimiter is not None:
        delimiter = {"tab": "\t", "\\t": "\t"}.get(delimiter, delimiter)
        if delimiter not in (",", ";", "\t", "|"):
            raise InvalidInput(f"--delimiter: expected ',', ';', tab or '|', got {delimiter!r}")
    settings = get_settings()
    engine = get_engine()
    ensure_ready(engine, write=True)
    with recorded_cli_run(engine, "import", as_of=None, now=lambda: now(settings.tz), settings=settings,
                          lock_wait_s=settings.lock_wait_s, on_wait=cli_waiting) as job, Progress(
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

        report = retry_transient(
            lambda: import_path(
                engine,
                path,
                kind,
                actor=actor,
                now=now(settings.tz),
                progress=progress,
                season_names=tuple(settings.seasons),
                encoding=encoding,
                delimiter=delimiter,
                future_tolerance_days=settings.importing.future_tolerance_days,
            )
        )
        job.message = f"{report.rows:,} rows from {len(report.files)} file(s) ({path})"
        job.counts = {"files": len(report.files), "rows": report.rows, "inserted": report.inserted,
                      "updated": report.updated}
    for warning in report.warnings:
        err_console.print(note("warning", warning), soft_wrap=True)
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
