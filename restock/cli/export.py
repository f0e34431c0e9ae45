"""CLI for supplier files: `restock export [--po NUMBER | --pending] [--outbox DIR] [--resend]`."""

from __future__ import annotations

from pathlib import Path

import typer

from restock.cli.common import console, note, print_json

USER_HELP = "Who does this (default: audit.user in config, else the OS user)."


def register(app: typer.Typer) -> None:
    """Add `export` to the restock app."""
    app.command("export")(export_command)


def export_command(
    po: str | None = typer.Option(None, "--po", help="Export this purchase order (e.g. PO-2026-000001)."),
    pending: bool = typer.Option(False, "--pending", help="Export every PO not exported yet."),
    outbox: Path | None = typer.Option(
        None, "--outbox", help="Directory for the files (default: export.outbox)."
    ),
    resend: bool = typer.Option(False, "--resend", help="Write an exported PO's file again (audited)."),
    user: str | None = typer.Option(None, "--user", help=USER_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print JSON only."),
) -> None:
    """Write each supplier's purchase orders to the outbox in its format, with a manifest.

    Each supplier's format (CSV, XLSX or EDIFACT) is set on the supplier."""
    from kernel.clock import now
    from replenishment.approval import Who, mark_proposals_exported
    from restock.cli.approval import _engine, resolve_actor
    from restock.settings import PROJECT_ROOT, get_settings
    from suppliers.export import export_purchase_orders

    settings = get_settings()
    who = Who(actor=resolve_actor(user), now=now(settings.tz))
    target = outbox or Path(settings.export.outbox)
    if not target.is_absolute():
        target = (Path.cwd() if outbox is not None else PROJECT_ROOT) / target
    report = export_purchase_orders(
        _engine(write=True),
        actor=who.actor,
        now=who.now,
        tz=settings.tz,
        outbox=target,
        style_for=settings.export.style,
        po_number=po,
        pending=pending,
        resend=resend,
        on_exported=lambda session, ids: mark_proposals_exported(session, ids, who),
    )
    if as_json:
        print_json(report.__dict__)
        return
    for item in report.recovered:
        console.print(f"completed after an interrupted run: {item}", highlight=False)
    for item in report.written:
        console.print(
            f"wrote {item['file']} ({item['format']}, {item['supplier']}): {', '.join(item['po_numbers'])}",
            highlight=False,
        )
    for item in report.resent:
        console.print(f"re-sent {item}", highlight=False)
    for item in report.skipped:
        console.print(f"skipped: {item}", highlight=False)
    for item in report.damaged:
        console.print(note("warning", str(item)), highlight=False)
    if not (report.written or report.recovered or report.resent):
        console.print("nothing new to export", highlight=False)
    console.print(
        f"outbox {report.outbox} · manifest.json {'updated' if report.manifest_written else 'unchanged'}",
        highlight=False,
    )
