"""CLI for proposals: `restock propose`, `restock optimize FILE`, `restock proposal show ID`.

Thin adapters: parse, call one service or core function, render.
"""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from kernel.errors import InvalidInput
from restock.cli.common import (
    check_id,
    check_input_path,
    check_output_path,
    cli_waiting,
    console,
    note,
    parse_date_option,
    print_json,
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


@contextmanager
def _stdout_to_stderr() -> Iterator[None]:
    # highspy prints its banner straight to file descriptor 1; keep stdout clean for JSON.
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        os.dup2(2, 1)
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def _parse_week(value: str | None) -> date:
    if value is None:
        from kernel.clock import business_today
        from restock.settings import get_settings

        today = business_today(get_settings().tz)
        return today - timedelta(days=today.weekday())
    week = parse_date_option(value, "--week")
    assert week is not None
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
    week: str | None = typer.Option(None, "--week", help="Monday of the proposal week (default: this week)."),
    budget: str | None = typer.Option(None, "--budget", help="Open-to-buy in CNY (default: settings)."),
    save_problem: Path | None = typer.Option(
        None, "--save-problem", help="Also write the problem JSON here."
    ),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing --save-problem file."),
) -> None:
    """Build, store and show this week's purchase proposal."""
    from kernel.clock import now
    from replenishment.problem import save_problem as write_problem
    from replenishment.services import build_proposal
    from restock.db import ensure_ready, get_engine, retry_transient
    from restock.settings import get_settings
    from scheduler.runner import recorded_cli_run

    chosen_week = _parse_week(week)
    chosen_budget = _parse_budget(budget)
    if save_problem is not None:
        check_output_path(save_problem, "--save-problem", force=force)
    settings = get_settings()
    engine = get_engine()
    ensure_ready(engine, write=True)
    with recorded_cli_run(engine, "propose", as_of=chosen_week, now=lambda: now(settings.tz),
                          settings=settings, lock_wait_s=settings.lock_wait_s, on_wait=cli_waiting) as job:
        result = retry_transient(
            lambda: build_proposal(
                engine, chosen_week, settings.proposal_settings(), now=now(settings.tz), budget=chosen_budget
            )
        )
        job.message = (f"proposal {result.proposal_id} (week {chosen_week}, v{result.version}): "
                       f"{len(result.plan.lines)} lines, ¥{result.plan.spend:,.2f}")
        job.counts = {"proposal_id": result.proposal_id, "version": result.version,
                      "lines": len(result.plan.lines), "spend_cny": str(result.plan.spend)}
    if save_problem is not None:
        write_problem(result.problem, save_problem)
    console.print(f"proposal {result.proposal_id} (week {result.plan.week}, version {result.version})")
    _render_plan(result.plan.to_dict(), limit=15)


def optimize_file(
    file: Path = typer.Argument(..., help="A problem file written by `restock propose --save-problem`."),
    solver: str | None = typer.Option(None, "--solver", help="highs | cbc (default: the file's)."),
    as_json: bool = typer.Option(False, "--json", help="Print the plan as JSON only."),
) -> None:
    """Solve a saved problem file and print the plan (nothing is stored)."""
    from replenishment import load_problem, optimize

    if solver is not None and solver not in ("highs", "cbc"):
        raise InvalidInput(f"--solver: expected highs or cbc, got {solver!r}")
    check_input_path(file, "FILE")
    problem = load_problem(file)
    if as_json:
        with _stdout_to_stderr():
            plan = optimize(problem, solver=solver)
        print_json(plan.to_dict())
        return
    _render_plan(optimize(problem, solver=solver).to_dict(), limit=None)


@proposal_app.command("show")
def show(
    proposal_id: int = typer.Argument(..., help="Proposal id."),
    output: str = typer.Option("table", "--format", help="table | csv | json"),
) -> None:
    """Show a stored proposal: lines with reasons, left-out SKUs, supplier summary."""
    from kernel.csvsafe import SafeDictWriter
    from replenishment.services import get_proposal
    from restock.db import ensure_ready, get_engine

    if output not in ("table", "csv", "json"):
        raise InvalidInput(f"--format: expected table, csv or json, got {output!r}")
    check_id(proposal_id, "proposal id")
    engine = get_engine()
    ensure_ready(engine)
    stored = get_proposal(engine, proposal_id)
    if output == "json":
        print_json(stored)
    elif output == "csv":
        buffer = io.StringIO()
        columns = list(stored["lines"][0]) if stored["lines"] else ["sku", "supplier", "units", "reason"]
        writer = SafeDictWriter(buffer, columns)
        writer.writeheader()
        writer.writerows(stored["lines"])
        sys.stdout.write(buffer.getvalue())
    else:
        console.print(
            f"proposal {stored['id']} · week {stored['week']} v{stored['version']} · {stored['status']} "
            f"({stored['solver']}, gap {_pct(stored['gap'])}, {stored['solve_s']:.1f} s)"
        )
        _render_plan(stored, limit=None)


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2%}"


def _render_plan(plan: dict[str, Any], limit: int | None) -> None:
    console.print(
        f"status {plan['status']} · spend ¥{Decimal(plan['spend']):,} · "
        f"rebate gain ¥{Decimal(plan['rebate_gain']):,} · "
        f"expected profit ¥{Decimal(plan['expected_profit']):,} · fill rate {plan['fill_rate']:.1%}"
    )
    for message in plan.get("messages", []):
        console.print(note("note", message), highlight=False)
    lines = plan["lines"]
    table = Table(title=f"lines ({len(lines)})", show_lines=False)
    for column in (
        "SKU",
        "supplier",
        "units",
        "cases",
        "unit ¥",
        "eff. ¥",
        "margin",
        "cover d",
        "P(out) w/o→with",
        "reason",
    ):
        table.add_column(column, overflow="fold")
    shown = sorted(lines, key=lambda ln: -float(ln["value"]))[:limit] if limit else lines
    for ln in shown:
        cover = "" if ln["days_of_cover"] is None else f"{ln['days_of_cover']:.0f}"
        table.add_row(
            ln["sku"],
            ln["supplier"],
            f"{ln['units']:,}",
            str(ln["cases"]),
            f"{Decimal(ln['unit_cost']):,.2f}",
            f"{Decimal(ln['effective_unit_cost']):,.2f}",
            f"{ln['margin_pct']:.1f}%",
            cover,
            f"{ln['stockout_probability_without']:.0%}→{ln['stockout_probability_with']:.0%}",
            ln["reason"],
        )
    console.print(table)
    if limit and len(lines) > limit:
        console.print(f"… {len(lines) - limit} more lines (restock proposal show ID)")
    suppliers = Table(title="suppliers")
    for column in ("supplier", "value ¥", "lines", "agreement", "tier", "rebate gain ¥", "margin"):
        suppliers.add_column(column)
    for s in plan["suppliers"]:
        suppliers.add_row(
            s["supplier"],
            f"{Decimal(s['value']):,}",
            str(s["lines"]),
            s["agreement"] or "",
            str(s["tier_reached"]),
            f"{Decimal(s['rebate_gain']):,}",
            f"{s['margin_pct']:.1f}%",
        )
    console.print(suppliers)
    exclusions = plan["exclusions"]
    if exclusions:
        left_out = Table(title=f"left out ({len(exclusions)})")
        left_out.add_column("SKU")
        left_out.add_column("supplier")
        left_out.add_column("reason", overflow="fold")
        for e in exclusions[:limit] if limit else exclusions:
            left_out.add_row(e["sku"], e["supplier"] or "", e["reason"])
        console.print(left_out)
