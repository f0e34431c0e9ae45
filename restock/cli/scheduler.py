"""CLI for unattended operation: `restock scheduler [status]`, `restock jobs`, `restock run JOB`.

Thin adapters over `scheduler.service` and `scheduler.runner`: `restock run`
takes the same path as a scheduled run (lock, idempotency key, history).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import typer
from rich.padding import Padding
from rich.text import Text

from kernel.errors import InvalidInput
from restock.cli.common import console, parse_date_option, print_json

scheduler_app = typer.Typer(
    help="Run the scheduled jobs (nightly import + forecast, weekly proposal, PO export, backup).",
    invoke_without_command=True,
)


def register(app: typer.Typer) -> None:
    """Add `scheduler`, `jobs` and `run` to the restock app."""
    app.add_typer(scheduler_app, name="scheduler")
    app.command("jobs")(jobs_command)
    app.command("run")(run_command)


@scheduler_app.callback()
def scheduler_command(
    ctx: typer.Context,
    start_at: str | None = typer.Option(
        None,
        "--start-at",
        help="Rehearse: the scheduler's clock starts at this local time (YYYY-MM-DDTHH:MM[:SS]) "
        "and runs in real time from there.",
    ),
) -> None:
    """Start the scheduler in the foreground; SIGTERM or Ctrl-C stops it after the running job."""
    if ctx.invoked_subcommand is not None:
        return
    from restock.db import ensure_ready, get_engine
    from restock.settings import get_settings
    from scheduler.service import OffsetClock, serve

    settings = get_settings()
    engine = get_engine()
    ensure_ready(engine, write=True)  # every job records its run, and writes its work
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    clock = None
    if start_at is not None:
        clock = OffsetClock(_parse_local(start_at, settings.tz))
    raise typer.Exit(serve(engine, settings, clock))


def _parse_local(value: str, tz: Any) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise InvalidInput(f"--start-at: expected YYYY-MM-DDTHH:MM, got {value!r}") from exc
    return parsed.replace(tzinfo=tz) if parsed.tzinfo is None else parsed.astimezone(tz)


@scheduler_app.command("status")
def status_command(as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts.")) -> None:
    """When each job last succeeded, how its last run ended, when it runs next, and who runs it now."""
    from kernel.clock import now
    from restock.db import ensure_ready, get_engine
    from restock.settings import get_settings
    from scheduler.service import scheduler_status

    settings = get_settings()
    engine = get_engine()
    ensure_ready(engine)
    rows = scheduler_status(engine, settings, now(settings.tz))
    if as_json:
        print_json(rows)
        return
    console.print(f"scheduler jobs (times in {settings.timezone})", style="bold", highlight=False)
    for row in rows:
        success, last = row["last_success"], row["last_run"]
        console.print(Text.assemble((f"{row['job']:<8}", "bold"), f" {row['function']} — {row['summary']}"),
                      highlight=False)
        next_run = (f"{_when(row['next_run'])} (from the {row['next_run_source']})"
                    if row["next_run"] else "—")
        fields = [
            ("schedule", f"{row['schedule']}   next {next_run}" if row["schedule"] else "not scheduled"),
            ("last ok", "never" if success is None else
             f"{_when(success['finished_at'], settings.tz)} for {success['key'] or success['as_of']}"),
            ("last run", "—" if last is None else
             f"{last['status']} {_when(last['finished_at'] or last['started_at'], settings.tz)} "
             f"for {last['key'] or last['as_of'] or '—'}: {(last['message'] or '')[:200]}"),
            ("running", row["running"] or "no"),
        ]
        for label, value in fields:
            console.print(Padding(Text(f"{label:<9} {value}"), (0, 0, 0, 2)), highlight=False)


def _when(value: datetime | None, tz: Any = None, short: bool = False) -> str:
    if value is None:
        return "—"
    if tz is not None:
        from datetime import UTC

        value = (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(tz)
    return f"{value:%m-%d %H:%M}" if short else f"{value:%Y-%m-%d %H:%M %a}"


def jobs_command(
    as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
    job: str | None = typer.Option(None, "--job", help="Only this job."),
    limit: int = typer.Option(20, "--limit", min=1, help="How many runs, newest first."),
) -> None:
    """The job-run history: job, business date, start, end, status, message and counts."""
    from restock.db import ensure_ready, get_engine
    from restock.settings import get_settings
    from scheduler.runs import last_runs

    settings = get_settings()
    engine = get_engine()
    ensure_ready(engine)
    runs = last_runs(engine, limit=limit, job=job)
    if as_json:
        print_json(runs)
        return
    # One line per run and its message indented below it: readable at any terminal width.
    console.print(f"job runs, newest first (times in {settings.timezone})", style="bold", highlight=False)
    styles = {"succeeded": "green", "failed": "bold red", "skipped": "yellow", "running": "cyan"}
    for run in runs:
        started, finished = run["started_at"], run["finished_at"]
        took = "" if finished is None else f"{(finished - started).total_seconds():.0f} s"
        line = Text(f"#{run['id']:<5} {run['job']:<9} {run['key'] or '—':<17} {run['trigger']:<9} "
                    f"{_when(started, settings.tz, short=True)}  {took:>6}  ")
        line.append(run["status"], style=styles.get(run["status"], ""))
        console.print(line, highlight=False)
        if run["message"]:
            console.print(Padding(Text(run["message"][:400], style="dim"), (0, 0, 0, 7)), highlight=False)


def run_command(
    job: str = typer.Argument(..., help="nightly | propose | export | backup"),
    day: str | None = typer.Option(
        None, "--date", help="Business date (default: the one the job would run for now)."),
    force: bool = typer.Option(False, "--force", help="Run even if it already succeeded for that date."),
    as_json: bool = typer.Option(False, "--json", help="Print the outcome as JSON."),
) -> None:
    """Run one job now, by hand, through the same path as the scheduler (lock, date key, history)."""
    from kernel.clock import now
    from restock.db import ensure_ready, get_engine
    from restock.settings import get_settings
    from scheduler.runner import get_job, run_job

    settings = get_settings()
    get_job(job)
    business_date = parse_date_option(day, "--date")
    engine = get_engine()
    ensure_ready(engine, write=True)  # every job records its run, and writes its work
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("restock.scheduler").setLevel(logging.INFO)
    result = run_job(job, engine=engine, settings=settings, now=lambda: now(settings.tz),
                     business_date=business_date, force=force, trigger="manual")
    if as_json:
        print_json(result.__dict__)
        return
    console.print(
        Text.assemble(f"{result.job} for {result.key}: ", (result.status, "bold"), f" — {result.message}"),
        highlight=False,
    )
