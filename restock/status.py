"""What is in the database: row counts per table, date ranges of the history, the latest forecast run
(and whether its inputs changed since), last job runs."""

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
        "latest_forecast_run": _latest_run(engine),
        "last_job_runs": last_runs(engine),
    }


def _latest_run(engine: Engine) -> dict[str, Any] | None:
    """The newest succeeded forecast run and whether what it read is still what the database holds."""
    from forecasting.models import ForecastRun
    from forecasting.services import run_inputs

    with engine.connect() as conn:
        row = conn.execute(
            select(ForecastRun.id, ForecastRun.as_of, ForecastRun.started_at)
            .where(ForecastRun.status == "succeeded").order_by(ForecastRun.id.desc()).limit(1)
        ).first()
    if row is None:
        return None
    inputs = run_inputs(engine, row.id)
    return {"id": row.id, "as_of": row.as_of, "started_at": row.started_at,
            "inputs_changed": inputs.changed if inputs.known else None, "inputs": inputs.describe()}
