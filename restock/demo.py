"""`restock demo`: a fresh SQLite database, the sample business imported, then every pipeline step."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console, Group
from rich.table import Table
from sqlalchemy import Engine, func, select

from restock.clock import now
from restock.db import make_engine, upgrade
from restock.settings import PROJECT_ROOT, Settings
from scheduler.runs import job_run


@dataclass
class DemoSummary:
    """What the demo did, step by step, for the closing table."""

    database: str
    steps: list[tuple[str, str]] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    def __rich__(self) -> Group:
        table = Table("step", "result", title="restock demo", show_lines=False)
        for step, result in self.steps:
            table.add_row(step, result)
        return Group(table, f"database: {self.database}  (try `restock status`)")


def fresh_sqlite(database_file: Path) -> Engine:
    """Delete the SQLite file (and its WAL companions) and create the schema anew."""
    path = database_file if database_file.is_absolute() else PROJECT_ROOT / database_file
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    return engine


def history_end(engine: Engine) -> date:
    """The last business date with sales in the database."""
    from forecasting.models import DailySales

    with engine.connect() as conn:
        last = conn.execute(select(func.max(DailySales.date))).scalar_one()
    if last is None:
        raise ValueError("no sales were imported")
    return last


def run_demo(settings: Settings, *, samples_dir: Path, database_file: Path, console: Console) -> DemoSummary:
    """Build the demo database and run each pipeline step in order; return the summary."""
    from restock.importing import import_path

    engine = fresh_sqlite(database_file)
    summary = DemoSummary(database=engine.url.render_as_string(hide_password=True))
    clock = lambda: now(settings.tz)  # noqa: E731 - the one clock, passed down
    samples = samples_dir if samples_dir.is_absolute() else PROJECT_ROOT / samples_dir

    with job_run(engine, "import", as_of=None, now=clock) as run:
        report = import_path(engine, samples, actor="demo", now=clock(), settings=settings)
        run.message = report.headline()
    summary.steps.append(("import", report.headline()))

    as_of = history_end(engine)
    week = as_of + timedelta(days=(7 - as_of.weekday()) % 7 or 7)
    summary.details.update(as_of=as_of, week=week)
    summary.steps.append(("history", f"sales up to {as_of}; proposal week starts Monday {week}"))
    return summary
