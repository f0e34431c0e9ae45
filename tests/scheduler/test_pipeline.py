"""The scheduler on the sample: the nightly chain and the weekly proposal run at their times (controlled
clock) and store the same forecast and proposal as the CLI commands; the CLI runs are in the history too."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, select

from forecasting.models import ForecastRun, ForecastSeries, ForecastValue
from kernel.catalog import Sku
from replenishment.models import Proposal, ProposalLine
from restock.db import make_engine, upgrade
from scheduler.runs import last_runs
from tests.scheduler.conftest import ManualClock, config_file, make_settings
from tests.scheduler.test_schedule import run_until, running_scheduler

ROOT = Path(__file__).resolve().parents[2]
SHANGHAI = ZoneInfo("Asia/Shanghai")


def restock_cli(*args: str, config: Path) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "restock.cli.main", "--config", str(config), *args],
        cwd=ROOT, env={**os.environ}, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return done


def stored(engine: Engine) -> dict[str, object]:
    """The latest forecast run's values and the latest proposal's lines, by SKU code."""
    with engine.connect() as conn:
        run_id = conn.execute(select(ForecastRun.id).order_by(ForecastRun.id.desc())).scalars().first()
        values = conn.execute(
            select(Sku.code, ForecastValue.date, ForecastValue.mean, ForecastValue.quantiles)
            .join(Sku, Sku.id == ForecastValue.sku_id)
            .where(ForecastValue.run_id == run_id)
            .order_by(Sku.code, ForecastValue.date)
        ).all()
        models = conn.execute(
            select(Sku.code, ForecastSeries.model).join(Sku, Sku.id == ForecastSeries.sku_id)
            .where(ForecastSeries.run_id == run_id).order_by(Sku.code)
        ).all()
        proposal = conn.execute(
            select(Proposal.id, Proposal.week, Proposal.spend, Proposal.status).order_by(Proposal.id.desc())
        ).first()
        lines = conn.execute(
            select(ProposalLine.sku_code, ProposalLine.supplier_code, ProposalLine.units, ProposalLine.value,
                   ProposalLine.reason)
            .where(ProposalLine.proposal_id == proposal.id).order_by(ProposalLine.sku_code)
        ).all()
        return {
            "values": [tuple(v) for v in values],
            "models": [tuple(m) for m in models],
            "proposal": (proposal.week, proposal.spend, proposal.status),
            "lines": [tuple(line) for line in lines],
        }


def test_the_nightly_chain_and_weekly_proposal_match_the_cli(tmp_path: Path, sample_slice: Path) -> None:
    # The scheduler: the sample dropped into the inbox on Sunday night; the clock runs to Monday 07:00.
    scheduled = make_engine(f"sqlite:///{tmp_path / 'scheduled.db'}")
    upgrade(scheduled)
    settings = make_settings(tmp_path / "s", schedules={"nightly": "0 2 * * *", "propose": "0 6 * * MON"})
    inbox = settings.project_path(settings.scheduler.inbox_dir)
    shutil.copytree(sample_slice, inbox)
    clock = ManualClock(datetime(2026, 8, 30, 23, 0, tzinfo=SHANGHAI))
    with running_scheduler(scheduled, settings, clock) as sched:
        run_until(sched, clock, datetime(2026, 8, 31, 7, 0, tzinfo=SHANGHAI))
    runs = last_runs(scheduled)
    assert [(r["job"], r["status"], r["as_of"], r["trigger"]) for r in runs] == [
        ("propose", "succeeded", date(2026, 8, 31), "scheduler"),
        ("nightly", "succeeded", date(2026, 8, 30), "scheduler"),
    ]
    nightly = runs[1]
    assert nightly["counts"]["files_imported"] == 10
    assert nightly["counts"]["files_failed"] == 0
    assert sorted(p.name for p in inbox.iterdir()) == ["processed"]
    assert runs[0]["started_at"] == datetime(2026, 8, 31, 6, 0, tzinfo=SHANGHAI)

    # The same work through the CLI, on a second database.
    config = config_file(tmp_path / "c", f"sqlite:///{tmp_path / 'cli.db'}", {})
    restock_cli("init", config=config)
    restock_cli("import", str(sample_slice), config=config)
    restock_cli("forecast", "--as-of", "2026-08-30", config=config)
    restock_cli("propose", "--week", "2026-08-31", config=config)
    by_cli = make_engine(f"sqlite:///{tmp_path / 'cli.db'}")

    scheduler_result, cli_result = stored(scheduled), stored(by_cli)
    assert len(scheduler_result["values"]) == 32 * 182 - 182  # 31 forecast SKUs × horizon
    assert scheduler_result == cli_result
    assert [(r["job"], r["status"], r["trigger"]) for r in last_runs(by_cli)] == [
        ("propose", "succeeded", "cli"),
        ("forecast", "succeeded", "cli"),
        ("import", "succeeded", "cli"),
    ]
    scheduled.dispose()
    by_cli.dispose()
