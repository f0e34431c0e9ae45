"""What is in the database: row counts per table, date ranges of the history, last job runs."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, func, inspect, select

from restock.db import ensure_ready, load_all_models
from scheduler.runs import last_runs


def database_status(engine: Engine) -> dict[str, Any]:
    """Counts of every restock table, sales and inventory date ranges, and the last 10 job runs."""
    ensure_ready(engine)
    metadata = load_all_models().metadata
    existing = set(inspect(engine).get_table_names())
    counts: dict[str, int] = {}
    with engine.connect() as conn:
        for name in sorted(metadata.tables):
            if name in existing:
                counts[name] = conn.execute(
                    select(func.count()).select_from(metadata.tables[name])
                ).scalar_one()
        ranges = {}
        for table_name in ("daily_sales", "inventory_snapshots"):
            table = metadata.tables[table_name]
            first, last = conn.execute(select(func.min(table.c.date), func.max(table.c.date))).one()
            ranges[table_name] = {"first": first, "last": last}
    return {
        "database": engine.url.render_as_string(hide_password=True),
        "counts": counts,
        "date_ranges": ranges,
        "last_job_runs": last_runs(engine),
    }
