"""CLI for deciding on proposals and reading what came of it: `restock proposal list | review | edit |
approve | reject | reoptimize`, `restock po list | show`, `restock audit`.

Thin adapters: resolve the actor and the clock, call one service function, render. Every
command takes non-interactive flags and `--user` (default: audit.user in config, else the
OS user).
"""

from __future__ import annotations

from datetime import datetime, time
from decimal import Decimal
from typing import Any

import typer
from rich.table import Table
from rich.text import Text

from kernel.errors import InvalidInput
from restock.cli.common import console, parse_date_option, print_json, resolve_actor

po_app = typer.Typer(help="Purchase orders restock raised (and imported open orders).", no_args_is_help=True)

USER_HELP = "Who does this (default: audit.user in config, else the OS user)."


def register(app: typer.Typer) -> None:
    """Add the proposal decisions to the `proposal` group, and the `po` and `audit` commands."""
    from restock.cli.propose import proposal_app

    proposal_app.command("list")(list_command)
    proposal_app.command("review")(review_command)
    proposal_app.command("edit")(edit_command)
    proposal_app.command("approve")(approve_command)
    proposal_app.command("reject")(reject_command)
    proposal_app.command("reoptimize")(reoptimize_command)
    app.add_typer(po_app, name="po")
    app.command("audit")(audit_command)


def _who(user: str | None) -> Any:
    from kernel.clock import now
    from replenishment.approval import Who
    from restock.settings import get_settings

    return Who(actor=resolve_actor(user), now=now(get_settings().tz))


def _engine(write: bool = False) -> Any:
    """The configured database, checked before any work; `write`: a read-only one is refused
    (`DatabaseReadOnly`, exit 9) before anything is computed."""
    from restock.db import ensure_ready, get_engine

    engine = get_engine()
    ensure_ready(engine, write=write)
    return engine


def _reason_codes() -> list[str]:
    from restock.settings import get_settings

    return get_settings().approval.reason_codes


def list_command(
    week: str | None = typer.Option(None, "--week", help="Only this week (Monday, YYYY-MM-DD)."),
    state: str | None = typer.Option(None, "--state", help="Only proposals in this state."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON only."),
) -> None:
    """List stored proposals with their lifecycle state, newest first."""
    from replenishment.approval import list_proposals

    rows = list_proposals(_engine(), week=parse_date_option(week, "--week"), state=state)
    if as_json:
        print_json(rows)
        return
    table = Table(
        "id", "week", "v", "state", "solver status", "lines", "spend ¥", "rebate ¥", "last change by"
    )
    for r in rows:
        table.add_row(
            str(r["id"]),
            r["week"],
            str(r["version"]),
            r["state"],
            r["status"],
            str(r["lines"]),
            f"{Decimal(r['spend']):,.2f}",
            f"{Decimal(r['rebate']):,.2f}",
            r["state_changed_by"] or "",
        )
    console.print(table)


def review_command(
    proposal_id: int = typer.Argument(..., help="Proposal id."),
    start: bool = typer.Option(
        True, "--start/--no-start", help="Put a draft in review (default) or only show."
    ),
    user: str | None = typer.Option(None, "--user", help=USER_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print JSON only."),
) -> None:
    """Put a draft in review and show it: decisions per line, tiers, floor breaches, impact of the edits."""
    from replenishment.approval import review_proposal

    view = review_proposal(_engine(write=start), proposal_id, _who(user) if start else None)
    if as_json:
        print_json(view)
        return
    _render_review(view)


def _render_review(view: dict[str, Any]) -> None:
    console.print(
        Text.assemble(f"proposal {view['id']} · week {view['week']} v{view['version']} · ",
                      (view["state"], "bold"), " · ")
        + f"version {view['lock_version']} · spend ¥{Decimal(view['spend']):,.2f}"
        + (f" of budget ¥{Decimal(view['budget']):,.2f}" if view["budget"] else "")
        + f" · rebate ¥{Decimal(view['rebate']):,.2f}"
        + f" · expected profit ¥{Decimal(view['expected_profit']):,.2f}",
        highlight=False,
    )
    agreements = Table(
        "agreement", "supplier", "so far ¥", "this proposal ¥", "period ¥", "tier", "rebate ¥ (period)"
    )
    for a in view["agreements"]:
        agreements.add_row(
            a["agreement"],
            a["supplier"],
            f"{Decimal(a['purchases_before']):,.2f}",
            f"{Decimal(a['proposal_value']):,.2f}",
            f"{Decimal(a['period_total']):,.2f}",
            str(a["tier_reached"]),
            f"{Decimal(a['rebate_for_period']):,.2f}",
        )
    console.print(agreements)
    changed = [ln for ln in view["lines"] if ln["state"] != "proposed"]
    if changed:
        table = Table("SKU", "supplier", "units", "decision", "v", "reason", "by", title="edited lines")
        for ln in changed:
            table.add_row(
                ln["sku"],
                ln["supplier"],
                f"{ln['units']:,}",
                ln["state"],
                str(ln["version"]),
                (ln["reason_code"] or "") + (f": {ln['reason_note']}" if ln["reason_note"] else ""),
                ln["changed_by"] or "",
            )
        console.print(table)
    for item in view["below_floor"]:
        console.print(
            Text(f"below floor {view['margin_floor']:.0%}: ", style="yellow")
            + f"{item['sku']} · {item['supplier']} "
            f"margin {item['margin_pct']} % — approval needs --override {item['sku']}='reason'",
            highlight=False,
        )
    console.print("impact of the edits against the optimizer's proposal:", highlight=False)
    for line in view["impact"]:
        console.print(f"  • {line}", highlight=False)
    console.print(f"{len(view['lines'])} lines (restock proposal show {view['id']} lists them all)")


def edit_command(
    proposal_id: int = typer.Argument(..., help="Proposal id."),
    sku: str = typer.Argument(..., help="SKU code of the line."),
    reason: str | None = typer.Option(None, "--reason", help="Reason code (see approval.reason_codes)."),
    note: str | None = typer.Option(None, "--note", help="Reason text (required with --reason other)."),
    units: int | None = typer.Option(None, "--units", help="New units (rounded up to whole cases)."),
    supplier: str | None = typer.Option(
        None, "--supplier", help="The line's supplier, when the SKU has two."
    ),
    supplier_to: str | None = typer.Option(None, "--supplier-to", help="Switch the line to this supplier."),
    reject: bool = typer.Option(False, "--reject", help="Reject the line."),
    add: bool = typer.Option(False, "--add", help="Add the SKU the optimizer left out (with --units)."),
    expect_version: int | None = typer.Option(
        None, "--expect-version", help="Line version you reviewed (proposal version with --add)."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show the impact, save nothing."),
    user: str | None = typer.Option(None, "--user", help=USER_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print JSON only."),
) -> None:
    """Edit one line (units, supplier, reject) or add a SKU, with a reason; shows the impact."""
    from replenishment.approval import add_line, edit_line

    who = _who(user)
    if add:
        if units is None or reject or supplier_to:
            raise InvalidInput(
                "--add: give --units (and optionally --supplier), not --reject or --supplier-to"
            )
        outcome = add_line(
            _engine(write=not dry_run),
            proposal_id,
            sku,
            units,
            who,
            reason_codes=_reason_codes(),
            reason_code=reason,
            note=note,
            supplier=supplier,
            expected_version=expect_version,
            dry_run=dry_run,
        )
    else:
        outcome = edit_line(
            _engine(write=not dry_run),
            proposal_id,
            sku,
            who,
            reason_codes=_reason_codes(),
            reason_code=reason,
            note=note,
            supplier=supplier,
            units=units,
            switch_to=supplier_to,
            reject=reject,
            expected_version=expect_version,
            dry_run=dry_run,
        )
    if as_json:
        print_json(
            {
                "proposal_id": outcome.proposal_id,
                "action": outcome.action,
                "saved": outcome.saved,
                "line": outcome.line,
                "rounding": outcome.rounding,
                "impact": outcome.impact,
                "findings": [{"code": f.code, "params": f.params} for f in outcome.findings],
                "below_floor": outcome.below_floor,
                "proposal_version": outcome.proposal_version,
            }
        )
        return
    line = outcome.line
    verb = "would be" if not outcome.saved else "is now"
    console.print(
        f"{line['sku']} · {line['supplier']} {verb} {line['state']}: {line['units']:,} units "
        f"(line version {line['version']}, proposal version {outcome.proposal_version})",
        highlight=False,
    )
    if outcome.rounding:
        console.print(f"rounding: {outcome.rounding}", highlight=False)
    console.print("impact:", highlight=False)
    for text in outcome.impact:
        console.print(f"  • {text}", highlight=False)
    if outcome.below_floor:
        console.print(f"below the margin floor now: {', '.join(outcome.below_floor)}", highlight=False)
    if not outcome.saved:
        console.print("dry run: nothing was saved")


def approve_command(
    proposal_id: int = typer.Argument(..., help="Proposal id."),
    override: list[str] = typer.Option(
        [], "--override", help="SKU=reason: approve this line below the margin floor (repeatable)."
    ),
    expect_version: int | None = typer.Option(
        None, "--expect-version", help="Proposal version you reviewed."
    ),
    order_date: str | None = typer.Option(
        None,
        "--order-date",
        help="Date on the POs (default: today); at most a week before the proposal's week.",
    ),
    user: str | None = typer.Option(None, "--user", help=USER_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print JSON only."),
) -> None:
    """Approve a proposal in review and raise its purchase orders (one per supplier and delivery date)."""
    from replenishment.approval import approve_proposal
    from restock.settings import get_settings

    overrides: dict[str, str] = {}
    for item in override:
        sku, sep, why = item.partition("=")
        if not sep or not sku.strip() or not why.strip():
            raise InvalidInput(f"--override: expected SKU=reason, got {item!r}")
        overrides[sku.strip()] = why.strip()
    outcome = approve_proposal(
        _engine(write=True),
        proposal_id,
        _who(user),
        tz=get_settings().tz,
        overrides=overrides,
        expected_version=expect_version,
        order_date=parse_date_option(order_date, "--order-date"),
    )
    if as_json:
        print_json(
            {
                "proposal_id": outcome.proposal_id,
                "state": outcome.state,
                "created": outcome.created,
                "purchase_orders": outcome.purchase_orders,
                "superseded": outcome.superseded,
                "overrides": outcome.overrides,
            }
        )
        return
    if outcome.created:
        console.print(f"proposal {outcome.proposal_id} approved → {outcome.state}", highlight=False)
    else:
        console.print(
            f"proposal {outcome.proposal_id} was already approved ({outcome.state}): no new purchase order",
            highlight=False,
        )
    _render_pos(outcome.purchase_orders)
    if outcome.superseded:
        console.print(f"superseded: proposal(s) {', '.join(map(str, outcome.superseded))}", highlight=False)


def reject_command(
    proposal_id: int = typer.Argument(..., help="Proposal id."),
    reason: str | None = typer.Option(None, "--reason", help="Reason code (see approval.reason_codes)."),
    note: str | None = typer.Option(None, "--note", help="Reason text (required with --reason other)."),
    expect_version: int | None = typer.Option(
        None, "--expect-version", help="Proposal version you reviewed."
    ),
    user: str | None = typer.Option(None, "--user", help=USER_HELP),
) -> None:
    """Reject a draft or in-review proposal, with a reason."""
    from replenishment.approval import reject_proposal

    state = reject_proposal(
        _engine(write=True),
        proposal_id,
        _who(user),
        reason_codes=_reason_codes(),
        reason_code=reason,
        note=note,
        expected_version=expect_version,
    )
    console.print(f"proposal {proposal_id} {state}", highlight=False)


def reoptimize_command(
    proposal_id: int = typer.Argument(..., help="Proposal id."),
    expect_version: int | None = typer.Option(
        None, "--expect-version", help="Proposal version you reviewed."
    ),
    solver: str | None = typer.Option(None, "--solver", help="highs | cbc (default: the proposal's)."),
    user: str | None = typer.Option(None, "--user", help=USER_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print JSON only."),
) -> None:
    """Keep the edited lines fixed and re-solve the rest of the proposal."""
    from replenishment.approval import reoptimize_proposal
    from restock.cli.common import stdout_to_stderr

    if solver is not None and solver not in ("highs", "cbc"):
        raise InvalidInput(f"--solver: expected highs or cbc, got {solver!r}")
    who = _who(user)
    with stdout_to_stderr():
        outcome = reoptimize_proposal(
            _engine(write=True), proposal_id, who, expected_version=expect_version, solver=solver
        )
    if as_json:
        print_json(outcome.__dict__)
        return
    console.print(
        f"proposal {outcome.proposal_id} re-optimised around {outcome.pinned} pinned line(s): "
        f"{outcome.replaced} line(s) re-solved → {outcome.lines} lines, {outcome.status}, "
        f"{outcome.solve_s:.2f} s (proposal version {outcome.proposal_version})",
        highlight=False,
    )
    for text in outcome.impact:
        console.print(f"  • {text}", highlight=False)


def _render_pos(orders: list[dict[str, Any]]) -> None:
    table = Table("PO", "supplier", "status", "ordered", "delivery", "lines", "units", "value ¥")
    for o in orders:
        table.add_row(
            o["po_number"],
            str(o["supplier"]),
            o["status"],
            o["order_date"],
            o["expected_date"],
            str(o["lines"]),
            f"{o['units']:,}",
            f"{Decimal(o['value']):,.2f}",
        )
    console.print(table)


@po_app.command("list")
def po_list(
    status: str | None = typer.Option(None, "--status", help="open | approved | exported | received | ..."),
    supplier: str | None = typer.Option(None, "--supplier", help="Only this supplier's POs."),
    raised: bool = typer.Option(False, "--raised", help="Only POs restock raised from proposals."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON only."),
) -> None:
    """List purchase orders by number."""
    from suppliers.purchase_orders import list_purchase_orders

    rows = list_purchase_orders(_engine(), status=status, supplier=supplier, raised_only=raised)
    if as_json:
        print_json(rows)
        return
    _render_pos(rows)


@po_app.command("show")
def po_show(
    po_number: str = typer.Argument(..., help="PO number, e.g. PO-2026-000001."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON only."),
) -> None:
    """Show one purchase order with its lines."""
    from suppliers.purchase_orders import get_purchase_order

    po = get_purchase_order(_engine(), po_number)
    if as_json:
        print_json(po)
        return
    console.print(
        f"{po['po_number']} · {po['supplier']} {po['supplier_name']} · {po['status']} · ordered "
        f"{po['order_date']} · delivery {po['expected_date']} · ¥{Decimal(po['value']):,.2f}"
        + (f" · from proposal {po['proposal_id']} by {po['created_by']}" if po["proposal_id"] else ""),
        highlight=False,
    )
    table = Table("SKU", "supplier item", "product", "units", "cases", "unit ¥", "value ¥")
    for ln in po["line_items"]:
        table.add_row(
            ln["sku"],
            ln["supplier_item_code"] or "",
            ln["product_name"] or "",
            f"{ln['units']:,}",
            "" if ln["cases"] is None else str(ln["cases"]),
            f"{Decimal(ln['unit_cost']):,.4f}",
            f"{Decimal(ln['line_value']):,.2f}",
        )
    console.print(table)


def _parse_since(value: str | None) -> datetime | None:
    if value is None:
        return None
    from restock.settings import get_settings

    tz = get_settings().tz
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise InvalidInput(f"--since: expected YYYY-MM-DD or YYYY-MM-DDTHH:MM, got {value!r}") from exc
    if len(value) == 10:
        moment = datetime.combine(moment.date(), time(0))
    return moment if moment.tzinfo else moment.replace(tzinfo=tz)


def audit_command(
    entity: str | None = typer.Option(
        None,
        "--entity",
        help="proposal | proposal_line | purchase_order | supplier_file | rebate_agreement | ...",
    ),
    key: str | None = typer.Option(None, "--key", help="Only this record (e.g. a proposal id or PO number)."),
    since: str | None = typer.Option(None, "--since", help="From this date or time (configured time zone)."),
    limit: int | None = typer.Option(None, "--limit", help="At most this many entries.", min=1),
    as_json: bool = typer.Option(False, "--json", help="Print JSON only."),
) -> None:
    """Read the append-only audit log, oldest first: who, when, what, before → after, why."""
    from kernel.audit import read_audit

    entries = read_audit(_engine(), entity=entity, entity_key=key, since=_parse_since(since), limit=limit)
    if as_json:
        print_json([e.as_dict() for e in entries])
        return
    for e in entries:
        console.print(
            Text.assemble((f"#{e.id}", "bold"), f" {e.at:%Y-%m-%d %H:%M:%S} ", (e.actor, "bold"),
                          f" {e.action} {e.entity} {e.entity_key or ''}"),
            highlight=False,
        )
        console.print(f"    {_brief(e.before)} → {_brief(e.after)}", highlight=False)
        if e.note:
            console.print(f"    reason: {e.note}", highlight=False)


def _brief(value: Any) -> str:
    if value is None:
        return "∅"
    if isinstance(value, dict):
        return ", ".join(f"{k}={_brief(v) if isinstance(v, dict) else v}" for k, v in value.items())
    return str(value)
