"""CLI for backups: `restock backup` (the backup job, run now) and `restock restore FILE`."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from restock.cli.common import console, print_json


def register(app: typer.Typer) -> None:
    """Add `backup` and `restore` to the restock app."""
    app.command("backup")(backup_command)
    app.command("restore")(restore_command)


def backup_command(as_json: bool = typer.Option(False, "--json", help="Print the outcome as JSON.")) -> None:
    """Back up the database now: verified copy, checksum and manifest, mirror, retention."""
    from kernel.clock import now
    from restock.db import ensure_ready, get_engine
    from restock.settings import get_settings
    from scheduler.runner import run_job

    settings = get_settings()
    engine = get_engine()
    ensure_ready(engine, write=True)  # a backup records its run
    result = run_job("backup", engine=engine, settings=settings, now=lambda: now(settings.tz),
                     force=True, trigger="cli")
    if as_json:
        print_json(result.__dict__)
        return
    console.print(f"backup: {result.message}", highlight=False)
    console.print(f"in {settings.project_path(settings.backup.dir)}", highlight=False)


def restore_command(
    file: Path = typer.Argument(..., help="A backup file written by `restock backup` (.sqlite3 or .pgdump)."),
    force: bool = typer.Option(False, "--force", help="Replace a database that already holds data."),
    as_json: bool = typer.Option(False, "--json", help="Print the verification as JSON."),
) -> None:
    """Restore a backup into the configured database (empty unless --force), then verify it.

    Every table is checked against the backup's manifest."""
    from restock.backup import restore_backup
    from restock.db import get_engine
    from restock.settings import get_settings

    settings = get_settings()
    result = restore_backup(get_engine(), file, force=force, pg_restore=settings.backup.pg_restore)
    if as_json:
        print_json(
            {
                "source": str(result.source),
                "database": result.database,
                "revision": result.revision,
                "ok": result.ok,
                "tables": [check.__dict__ | {"ok": check.ok} for check in result.tables],
            }
        )
        return
    table = Table("table", "rows in backup", "rows restored", "checksum", title=f"restored {file.name}")
    for check in result.tables:
        table.add_row(
            check.table,
            f"{check.expected_rows:,}",
            f"{check.restored_rows:,}",
            {True: "equal", False: "DIFFERENT", None: "—"}[check.checksum_ok],
        )
    console.print(table)
    console.print(
        f"verified: {len(result.tables)} tables, row counts equal, key-table checksums equal; "
        f"schema revision {result.revision}; into {result.database}",
        highlight=False,
    )
