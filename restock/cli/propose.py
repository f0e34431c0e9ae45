"""CLI for proposals: `restock propose`, `restock optimize FILE`, `restock proposal show ID|list`.

Thin adapters: parse, call one service or core function, render.
"""

from __future__ import annotations

import io
import sys
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from kernel.errors import InvalidInput
from replenishment.reasons import Reason, ReasonCode, fmt_money, render_short
from restock.cli.common import (
    check_id,
    check_input_path,
    check_output_path,
    cli_waiting,
    console,
    err_console,
    note,
    parse_date_option,
    print_json,
    stdout_to_stderr,
)

# What a MONEY column holds (Numeric(14, 2)): up to 999,999,999,999.99 CNY.
MAX_BUDGET = Decimal("999999999999.99")
# Weeks restock plans for: season windows and lunar festivals are computed for these years.
FIRST_WEEK = date(2000, 1, 3)
LAST_WEEK = date(2099, 12, 28)

proposal_app = typer.Typer(help="Stored weekly proposals.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add `propose`, `optimize` and the `proposal` group to the restock app."""
    app.command("propose")(propose)
    app.command("optimize")(optimize_file)
    app.add_typer(proposal_app, name="proposal")


class OutputFormat(StrEnum):
    """How `proposal show` prints."""

    table = "table"
    csv = "csv"
    json = "json"


class Solver(StrEnum):
    """MILP solver for `restock optimize`."""

    highs = "highs"
    cbc = "cbc"


def _parse_week(value: str | None) -> date | None:
    """The --week given (a Monday within the years restock plans for), None when not given."""
    week = parse_date_option(value, "--week")
    if week is None:
        return None
    if week.weekday() != 0:
        raise InvalidInput(f"--week: a proposal week starts on a Monday, got {week} ({week:%A})")
    if not FIRST_WEEK <= week <= LAST_WEEK:
        raise InvalidInput(f"--week: expected a Monday between {FIRST_WEEK} and {LAST_WEEK}, got {week}")
    return week


def _parse_budget(value: str | None) -> Decimal | None:
    """An amount in CNY: finite, ≥ 0, at most 2 decimals and what a money column holds."""
    if value is None:
        return None
    try:
        budget = Decimal(value.strip().replace(",", "").replace("_", ""))
    except InvalidOperation as exc:
        raise InvalidInput(f"--budget: expected an amount in CNY, got {value!r}") from exc
    if not budget.is_finite():
        raise InvalidInput(f"--budget: expected a finite amount in CNY, got {value!r}")
    if budget < 0:
        raise InvalidInput(f"--budget: must be ≥ 0 CNY, got {value}")
    if budget > MAX_BUDGET:
        raise InvalidInput(f"--budget: at most ¥{MAX_BUDGET:,}, got {value}")
    if budget != budget.quantize(Decimal("0.01")):
        raise InvalidInput(f"--budget: at most 2 decimals (fen), got {value}")
    return budget


def propose(
    week: str | None = typer.Option(
        None, "--week", help="Monday of the proposal week (default: the Monday after the last sales date)."
    ),
    budget: str | None = typer.Option(None, "--budget", help="Open-to-buy in CNY (default: settings)."),
    allow_stale: bool = typer.Option(
        False,
        "--allow-stale",
        help="Propose even when inventory, sales or the forecast are older than the configured limits "
        "(the proposal then carries a warning).",
    ),
    save_problem: Path | None = typer.Option(
        None, "--save-problem", help="Also write the problem JSON here."
    ),
    force: bool = typer.Option(
        False,
        "--force",
        help="Store a new version even when the week's current one has the same inputs; "
        "overwrite an existing --save-problem file.",
    ),
) -> None:
    """Build, store and show this week's purchase proposal.

    When the week's current version was built from the same inputs (forecast run, stock, on
    order, supplier terms, agreements, budget, settings) nothing is stored and one line names
    it (exit 0); otherwise the new version says which one it supersedes and what changed."""
    from kernel.clock import now
    from replenishment.problem import save_problem as write_problem
    from replenishment.services import build_proposal, default_week, get_proposal
    from restock.db import ensure_ready, get_engine, retry_transient
    from restock.settings import get_settings
    from scheduler.runner import recorded_cli_run

    given_week = _parse_week(week)
    amount = _parse_budget(budget)
    if save_problem is not None:
        check_output_path(save_problem, "--save-problem", force=force)
    settings = get_settings()
    engine = get_engine()
    ensure_ready(engine, write=True)
    chosen = given_week if given_week is not None else default_week(engine)
    with (
        recorded_cli_run(
            engine,
            "propose",
            as_of=chosen,
            now=lambda: now(settings.tz),
            settings=settings,
            lock_wait_s=settings.lock_wait_s,
            on_wait=cli_waiting,
        ) as job,
        stdout_to_stderr(),
    ):
        result = retry_transient(
            lambda: build_proposal(
                engine,
                chosen,
                settings.proposal_settings(),
                now=now(settings.tz),
                budget=amount,
                allow_stale=allow_stale,
                force=force,
            )
        )
        outcome = result.outcome()
        job.message = outcome
        job.counts = {"proposal_id": result.proposal_id, "version": result.version, "stored": result.stored}
        if result.plan is not None:
            job.counts |= {"lines": len(result.plan.lines), "spend_cny": str(result.plan.spend)}
        if not result.stored:
            job.status = "skipped"
    if save_problem is not None:
        write_problem(result.problem, save_problem)
    if not result.stored:
        console.print(outcome, highlight=False, soft_wrap=True)
        return
    if result.problem.forecast_run_id is not None:
        from forecasting.services import run_inputs

        inputs = run_inputs(engine, int(result.problem.forecast_run_id))
        if inputs.changed:
            err_console.print(note("warning", inputs.describe()), soft_wrap=True)
    stored = get_proposal(engine, int(result.proposal_id or 0))
    console.print(outcome, highlight=False, soft_wrap=True)
    _render(stored, wide=False, limit=15)


def optimize_file(
    file: Path = typer.Argument(..., help="A problem file written by `restock propose --save-problem`."),
    solver: Solver | None = typer.Option(None, "--solver", help="MILP solver (default: the file's)."),
    as_json: bool = typer.Option(False, "--json", help="Print the plan as JSON only."),
    wide: bool = typer.Option(False, "--wide", help="Every column and the full reasons."),
) -> None:
    """Solve a saved problem file and print the plan (nothing is stored)."""
    from replenishment import load_problem, optimize

    check_input_path(file, "FILE")
    problem = load_problem(file)
    with stdout_to_stderr():
        plan = optimize(problem, solver=solver.value if solver else None)
    if as_json:
        print_json(plan.to_dict())
        return
    names = {s.code: s.name for s in problem.skus}
    data = plan.to_dict()
    for line, source in zip(data["lines"], plan.lines, strict=True):
        line["reasons"] = [r.to_json() for r in source.reasons]
    for exclusion, source in zip(data["exclusions"], plan.exclusions, strict=True):
        exclusion["reason"] = source.reason
    data["sku_names"] = names
    _render(data, wide=wide, limit=None)


@proposal_app.command("show")
def show(
    proposal_id: int = typer.Argument(..., help="Proposal id (see `restock proposal list`)."),
    output: OutputFormat = typer.Option(OutputFormat.table, "--format", help="Output format."),
    wide: bool = typer.Option(
        False, "--wide", help="Every column (cases, costs, margin, cover, stockout odds) and full reasons."
    ),
) -> None:
    """Show a stored proposal: summary, lines, SKUs left out with their reasons, suppliers."""
    from kernel.csvsafe import SafeDictWriter
    from replenishment.services import get_proposal
    from restock.db import ensure_ready, get_engine

    check_id(proposal_id, "proposal id")
    engine = get_engine()
    ensure_ready(engine)
    stored = get_proposal(engine, proposal_id)
    if output is OutputFormat.json:
        print_json(stored)
    elif output is OutputFormat.csv:
        buffer = io.StringIO()
        columns = [c for c in (stored["lines"][0] if stored["lines"] else {"sku": 0}) if c != "reasons"]
        if "sku" in columns:
            columns.insert(1, "name")
        writer = SafeDictWriter(buffer, columns)
        writer.writeheader()
        for line in stored["lines"]:
            row = {**line, "name": stored["sku_names"].get(line["sku"], "")}
            writer.writerow({c: row.get(c) for c in columns})
        sys.stdout.write(buffer.getvalue())
    else:
        console.print(
            f"proposal {stored['id']} · week {stored['week']} v{stored['version']} · "
            f"created {_local_time(stored['created_at'])} · forecast run {stored['forecast_run_id']}",
            highlight=False,
        )
        _render(stored, wide=wide, limit=None)


def _local_time(iso: str, with_zone_name: bool = True) -> str:
    """An instant in the configured time zone with its UTC offset, e.g. "2026-08-31 06:00+08:00
    (Asia/Shanghai)". SQLite drops the offset and keeps the wall time restock wrote, which is
    in the configured zone."""
    from restock.settings import get_settings

    tz = get_settings().tz
    moment = datetime.fromisoformat(iso)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    local = moment.astimezone(tz).isoformat(sep=" ", timespec="minutes")
    return f"{local} ({tz.key})" if with_zone_name else local


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2%}"


def _reason_objects(raw: list[dict[str, Any]]) -> list[Reason]:
    return [Reason.from_json(r) for r in raw]


def _render(plan: dict[str, Any], wide: bool, limit: int | None) -> None:
    """Summary, messages, lines, suppliers and every SKU left out. The default view fits 80
    columns (code, name, supplier, units, value, a short reason); `wide` shows every column and
    the full reasons. Anything shortened or cut says how to see it."""
    gap = _pct(plan.get("gap"))
    console.print(
        f"{plan['status']} ({plan['solver']}, gap {gap}) · spend {fmt_money(plan['spend'])} · "
        f"rebate gain {fmt_money(plan['rebate_gain'])} · "
        f"expected profit {fmt_money(plan['expected_profit'])} · "
        f"fill rate {plan['fill_rate']:.1%}",
        highlight=False,
    )
    for message in plan.get("messages", []):
        style = "bold red" if message.startswith(("STALE", "proposal ")) else "yellow"
        console.print(note("note", message, style=style), soft_wrap=False, highlight=False)
    names: dict[str, str] = plan.get("sku_names", {})
    lines = plan["lines"]
    shown = sorted(lines, key=lambda ln: -Decimal(ln["value"]))[:limit] if limit else lines
    rows: list[list[str]] = []
    for ln in shown:
        reasons = _reason_objects(ln.get("reasons") or [])
        row = [ln["sku"], names.get(ln["sku"], ""), ln["supplier"], f"{ln['units']:,}"]
        if wide:
            row += [
                f"{ln['cases']:,}",
                fmt_money(ln["unit_cost"]),
                fmt_money(ln["effective_unit_cost"]),
            ]
        row.append(fmt_money(ln["value"]))
        if wide:
            cover = "" if ln["days_of_cover"] is None else f"{ln['days_of_cover']:.0f}"
            row += [
                fmt_money(ln.get("rebate_share") or 0),
                f"{ln['margin_pct']:.1f}%",
                cover,
                f"{ln['stockout_probability_without']:.0%}→{ln['stockout_probability_with']:.0%}",
            ]
        row.append(ln["reason"] if wide or not reasons else render_short(reasons))
        rows.append(row)
    columns = ["SKU", "name", "supplier", "units"]
    columns += ["cases", "unit ¥", "eff. ¥"] if wide else []
    columns += ["value"]
    columns += ["rebate share", "margin", "cover d", "P(out) w/o→with"] if wide else []
    columns += ["reason"]
    _table(f"lines ({len(lines)})", columns, rows, wide, text_columns={"SKU", "supplier"})
    hint_id = plan.get("id")
    where = f"restock proposal show {hint_id}" if hint_id is not None else "the same command"
    if limit and len(lines) > limit:
        console.print(f"… {len(lines) - limit} more lines: {where}", highlight=False)
    if not wide:
        console.print(f"reasons shortened; every number of every reason: {where} --wide", highlight=False)

    suppliers = Table(title="suppliers", title_justify="left", pad_edge=False)
    for column in ("supplier", "value", "lines", "agreement", "tier", "rebate gain", "margin"):
        suppliers.add_column(
            column, no_wrap=True, justify="left" if column in ("supplier", "agreement") else "right"
        )
    for s in plan["suppliers"]:
        suppliers.add_row(
            s["supplier"],
            fmt_money(s["value"]),
            str(s["lines"]),
            s["agreement"] or "",
            str(s["tier_reached"]),
            fmt_money(s["rebate_gain"]),
            f"{s['margin_pct']:.1f}%",
        )
    console.print(suppliers)
    for a in plan.get("agreements") or []:
        console.print(
            f"{a['agreement']} ({a['supplier']}): period purchases {fmt_money(a['purchases_before'])} → "
            f"{fmt_money(a['purchases_after'])}, tier {a['tier_before']} → {a['tier_after']}; period rebate "
            f"at tier {a['tier_after']} {fmt_money(a['period_rebate'])}; this proposal's gain "
            f"{fmt_money(a['gain'])} (each line's share: --wide)",
            highlight=False,
        )

    exclusions = plan["exclusions"]
    if exclusions:
        by_code: dict[str, int] = {}
        for e in exclusions:
            by_code[e.get("code") or "?"] = by_code.get(e.get("code") or "?", 0) + 1
        title = f"no line ({len(exclusions)}): " + ", ".join(
            f"{code} {n}" for code, n in sorted(by_code.items(), key=lambda kv: -kv[1])
        )
        rows = []
        for e in exclusions:
            code = e.get("code")
            text = e["reason"]
            if code and not wide:
                text = render_short([Reason(ReasonCode(code), e.get("params") or {})])
            rows.append([e["sku"], names.get(e["sku"], ""), e["supplier"] or "", text])
        _table(title, ["SKU", "name", "supplier", "reason"], rows, wide, {"SKU", "supplier"})


NUMERIC = {
    "units",
    "cases",
    "unit ¥",
    "eff. ¥",
    "value",
    "rebate share",
    "margin",
    "cover d",
    "P(out) w/o→with",
}


def _table(title: str, columns: list[str], rows: list[list[str]], wide: bool, text_columns: set[str]) -> None:
    """Print a table whose codes and numbers never wrap or shrink (each column as wide as its
    widest value). Default: the name is cut at 14 characters and the reason takes what is
    left of the terminal, cut with "…". `wide`: full names, the reason folds at 70 characters,
    and the table is as wide as it needs (pipe it to `less -S` in a narrow terminal)."""
    table = Table(title=title, title_justify="left", pad_edge=False, box=None, header_style="bold underline")
    widths = [max([len(column), *(len(row[i]) for row in rows)]) for i, column in enumerate(columns)]
    if "name" in columns and not wide:
        widths[columns.index("name")] = min(widths[columns.index("name")], 14)
    gutters = 2 * (len(columns) - 1)  # one space of padding on each side between columns
    fixed = sum(w for column, w in zip(columns, widths, strict=True) if column != "reason") + gutters
    room = max(16, console.width - fixed - 1) if not wide else 70
    for column, width in zip(columns, widths, strict=True):
        if column == "reason":
            overflow = "fold" if wide else "ellipsis"
            table.add_column(column, no_wrap=not wide, overflow=overflow, width=min(width, room))
        else:
            justify = "right" if column in NUMERIC else "left"
            table.add_column(column, justify=justify, no_wrap=True, width=width)
    for row in rows:
        table.add_row(*row)
    reason = widths[columns.index("reason")] if "reason" in columns else 0
    needed = fixed + min(reason, room) + 1
    if needed > console.width:
        Console(file=console.file, width=needed, highlight=False).print(table)
    else:
        console.print(table)
