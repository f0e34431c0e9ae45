"""CLI for the policy replay: `restock simulate --from DATE --to DATE [--policy NAME ...] [--out DIR]`.

Thin adapter: resolve settings (seasons, forecasting and replenishment sections),
read the stored business through `simulation.services`, call the pure replay and
hand the result to `simulation.report`.
"""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import typer

from kernel.errors import InvalidInput
from restock.cli.common import console, err_console, parse_date_option


def register(app: typer.Typer) -> None:
    """Add `simulate` to the restock app."""
    app.command("simulate")(simulate)


def season_specs(settings: Any, first_year: int, last_year: int) -> dict[str, Any]:
    """Each configured season's windows for the years a replay can touch (one year either side)."""
    from kernel.seasons import season_window
    from simulation.data import SeasonSpec

    return {
        name: SeasonSpec(
            name,
            spec.prebuild_days,
            {year: season_window(spec, year) for year in range(first_year - 4, last_year + 3)},
        )
        for name, spec in settings.seasons.items()
    }


def replay_setup(
    session: Any, settings: Any, start: date, end: date, policies: list[str], **overrides: Any
) -> tuple[Any, Any]:
    """The stored business as `ReplayData` and the `ReplayConfig` the settings give (plus `overrides`)."""
    from forecasting.services import engine_config, season_anchors
    from simulation.data import ReplayConfig
    from simulation.services import load_replay_data

    data = load_replay_data(session, season_specs(settings, start.year, end.year))
    section = settings.replenishment
    forecast_settings = settings.forecast_settings()
    anchors = season_anchors(session, forecast_settings)
    engine = replace(engine_config(forecast_settings), season_anchors=anchors)
    config = ReplayConfig(
        start=start,
        end=end,
        policies=tuple(policies),
        engine=engine,
        margin_floor=section.margin_floor,
        service_levels=dict(section.service_levels),
        holding_cost_rate_per_year=section.holding_cost_rate_per_year,
        review_period_days=section.review_period_days,
        budget=Decimal(str(section.budget_cny)),
        solver=section.solver,
        mip_gap=section.mip_gap,
        returns_as_demand=settings.forecasting.returns_as_demand,
        use_promotions=settings.calendar.promotions,
    )
    return data, replace(config, **overrides) if overrides else config


def simulate(
    start: str = typer.Option(..., "--from", help="First day replayed (YYYY-MM-DD)."),
    end: str = typer.Option(..., "--to", help="Last day replayed (YYYY-MM-DD, inclusive)."),
    policy: list[str] = typer.Option(  # noqa: B008 - Typer reads defaults at definition
        [], "--policy", help="A policy to replay (repeatable; default all). See --list-policies."
    ),
    out: Path | None = typer.Option(None, "--out", help="Directory for CSV, JSON and PNG plots."),
    sku: str | None = typer.Option(None, "--sku", help="SKU whose stock the inventory plot shows."),
    refit_weeks: int = typer.Option(
        1, "--refit-weeks",
        help="Refit forecasts every N weeks (1 = weekly, default; 4 is cheaper: bench/results/replay.md).",
    ),
    jobs: int = typer.Option(2, "--jobs", help="Processes for forecasts and policies."),
    time_limit: float = typer.Option(20.0, "--time-limit", help="Optimizer seconds per weekly proposal."),
    list_policies: bool = typer.Option(False, "--list-policies", help="List the policies and exit."),
) -> None:
    """Replay past weeks under each policy on the same demand and compare money and fill rate."""
    from simulation.policies import POLICIES

    if list_policies:
        for name, cls in POLICIES.items():
            console.print(f"{name:<26} {cls.description}", highlight=False)
        return
    first, last = parse_date_option(start, "--from"), parse_date_option(end, "--to")
    assert first is not None and last is not None
    chosen = policy or list(POLICIES)
    unknown = [p for p in chosen if p not in POLICIES]
    if unknown:
        raise InvalidInput(f"--policy: unknown policy {unknown[0]!r}; known: {', '.join(POLICIES)}")
    if last < first:
        raise InvalidInput(f"--to: {last} is before --from {first}")
    if refit_weeks < 1 or jobs < 1:
        raise InvalidInput("--refit-weeks and --jobs must be at least 1")
    os.environ.setdefault("MPLCONFIGDIR", _mpl_dir())

    from kernel.orm import unit_of_work
    from restock.cli.common import stdout_to_stderr
    from restock.db import ensure_ready, get_engine
    from restock.settings import get_settings
    from simulation import replay
    from simulation.report import print_tables, write_outputs

    settings = get_settings()
    engine = get_engine()
    ensure_ready(engine)
    with unit_of_work(engine) as session:
        data, config = replay_setup(
            session,
            settings,
            first,
            last,
            chosen,
            refit_weeks=refit_weeks,
            jobs=jobs,
            time_limit_s=time_limit,
        )
    if last > data.last_day:
        raise InvalidInput(f"--to: {last} is after the last day of stored sales {data.last_day}")
    # the solver library prints its banner straight to file descriptor 1: keep stdout for the tables
    with (
        stdout_to_stderr(),
        err_console.status(f"replaying {len(config.weeks())} weeks × {len(chosen)} policies…"),
    ):
        result = replay(data, config, progress=lambda text: err_console.print(text, highlight=False))
    print_tables(result, console)
    if out is not None:
        written = write_outputs(result, out, sku=sku)
        console.print(f"wrote {len(written)} files to {out}: " + ", ".join(p.name for p in written))


def _mpl_dir() -> str:
    import tempfile

    return tempfile.mkdtemp(prefix="restock-mpl-")
