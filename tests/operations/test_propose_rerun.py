"""Re-running `restock propose` for a week says which version is current and why a new one was made
(issue 10 item 7): unchanged inputs store nothing, changed inputs list the changes, `--force` always
stores — on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from sqlalchemy import Engine, select, update
from typer.testing import CliRunner, Result

import replenishment.services as services
from forecasting import FrameDemand
from forecasting.models import ForecastRun
from kernel.catalog import Sku
from kernel.orm import unit_of_work
from replenishment.inputs import input_changes, proposal_inputs
from replenishment.models import InventorySnapshot, Proposal
from restock.cli import propose as propose_cli
from scheduler.models import JobRun
from tests.operations.conftest import ROOT, database_url
from tests.replenishment.test_services import CREATED, SALES_END, WEEK, seed, window_demand


def _forecast_run(engine: Engine) -> int:
    """A stored (complete) forecast run row for the proposal to reference."""
    with unit_of_work(engine) as session:
        run = ForecastRun(
            as_of=SALES_END, started_at=CREATED, status="succeeded", horizon=28, quantiles=[],
            parameters={}, library_versions={}, duration_s=0.0,
        )
        session.add(run)
        session.flush()
        return int(run.id)


@pytest.fixture
def propose(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> tuple[list[int], object]:
    """`propose(*args)` runs `restock propose --week WEEK` in process against `engine`, reading
    demand from the forecast run `runs[-1]`."""
    seed(engine)
    runs = [_forecast_run(engine)]
    monkeypatch.setattr("restock.db.get_engine", lambda url=None: engine)
    monkeypatch.setattr(
        services, "complete_forecast",
        lambda session, week: FrameDemand(window_demand, run_id=runs[-1], as_of=SALES_END),
    )
    app = typer.Typer()
    propose_cli.register(app)

    def run(*args: str) -> Result:
        result = CliRunner().invoke(app, ["propose", "--week", str(WEEK), *args])
        assert result.exit_code == 0, (result.output, result.exception)
        return result

    return runs, run


def _versions(engine: Engine) -> list[int]:
    with unit_of_work(engine) as session:
        return sorted(session.scalars(select(Proposal.version).where(Proposal.week == WEEK)))


def test_propose_again_stores_a_version_only_when_its_inputs_changed_or_forced(
    engine: Engine, propose: tuple[list[int], object]
) -> None:
    runs, run = propose
    first = run("--budget", "500000")
    assert f"proposal 1 (week {WEEK}, version 1) stored: the first for this week" in first.stdout

    same = run("--budget", "500000")
    assert same.stdout.strip() == (
        f"proposal 1 (week {WEEK}, version 1) is current and its inputs are unchanged: "
        "nothing stored; --force stores a new version"
    )
    assert _versions(engine) == [1]
    with unit_of_work(engine) as session:  # the job history says so too
        last = session.scalars(
            select(JobRun).where(JobRun.job == "propose").order_by(JobRun.id.desc())
        ).first()
        assert last is not None and last.status == "skipped" and "nothing stored" in (last.message or "")

    runs.append(_forecast_run(engine))
    changed = run("--budget", "400000")
    assert (
        f"proposal 2 (week {WEEK}, version 2) stored, superseding version 1; inputs changed since "
        f"version 1: forecast run {runs[0]} → {runs[1]}; budget ¥500,000.00 → ¥400,000.00"
    ) in changed.stdout
    assert _versions(engine) == [1, 2]

    with unit_of_work(engine) as session:
        tee = session.scalar(select(Sku.id).where(Sku.code == "TEE"))
        session.execute(
            update(InventorySnapshot).where(InventorySnapshot.sku_id == tee, InventorySnapshot.on_hand == 100)
            .values(on_hand=80)
        )
    stock = run("--budget", "400000")
    assert (
        "version 3) stored, superseding version 2; inputs changed since version 2: TEE on hand 100 → 80"
    ) in stock.stdout

    forced = run("--budget", "400000", "--force")
    assert (
        f"proposal 4 (week {WEEK}, version 4) stored with --force, superseding version 3; "
        "inputs unchanged since version 3"
    ) in forced.stdout
    assert _versions(engine) == [1, 2, 3, 4]
    again = run("--budget", "400000")
    assert "version 4) is current and its inputs are unchanged: nothing stored" in again.stdout
    assert _versions(engine) == [1, 2, 3, 4]


def test_a_version_stored_before_fingerprints_counts_as_changed(
    engine: Engine, propose: tuple[list[int], object]
) -> None:
    _, run = propose
    run("--budget", "500000")
    with unit_of_work(engine) as session:  # as an older restock stored it
        proposal = session.scalars(select(Proposal)).one()
        proposal.parameters = {k: v for k, v in proposal.parameters.items() if k != "inputs_fingerprint"}
    rerun = run("--budget", "500000")
    assert "superseding version 1; inputs changed since version 1: version 1 was stored without a record" in (
        rerun.stdout
    )
    assert _versions(engine) == [1, 2]


def test_input_changes_name_each_difference() -> None:
    base = {
        "week": "2026-08-31", "budget": "500000.00", "forecast_run_id": "4", "margin_floor": 0.3,
        "skus": [{"code": "TEE", "on_hand": 100, "on_order": 50, "demand_quantiles": [1, 2]}],
        "items": [{"sku": "TEE", "supplier": "A", "unit_cost": "40.00", "moq": 1}],
        "agreements": [{"code": "A-2026", "purchases_to_date": "1900000.00", "tiers": []}],
        "suppliers": [], "exclusions": [],
    }
    old = proposal_inputs(json.dumps(base), (1, 1), None)
    changed = {
        **base, "budget": "400000.00", "forecast_run_id": "5", "margin_floor": 0.25,
        "skus": [{"code": "TEE", "on_hand": 100, "on_order": 60, "demand_quantiles": [1, 3]},
                 {"code": "MUG", "on_hand": 0, "on_order": 0, "demand_quantiles": [0, 0]}],
        "items": [{"sku": "TEE", "supplier": "A", "unit_cost": "42.50", "moq": 1}],
        "agreements": [{"code": "A-2026", "purchases_to_date": "1950000.00", "tiers": []}],
    }
    new = proposal_inputs(json.dumps(changed), None, "cbc")
    assert input_changes(old, new) == [
        "forecast run 4 → 5",
        "budget ¥500,000.00 → ¥400,000.00",
        "margin floor 0.3 → 0.25",
        "SKU added: MUG",
        "TEE on order 50 → 60",
        "TEE demand quantiles",
        "TEE/A unit cost ¥40.00 → ¥42.50",
        "A-2026 purchases to date ¥1,900,000.00 → ¥1,950,000.00",
        "open proposal of an earlier week proposal 1 v1 → none",
        "solver asked for none → cbc",
    ]
    assert input_changes(old, old) == []


def test_two_propose_commands_started_together_store_one_version_and_the_other_says_why(
    engine: Engine, tmp_path: Path
) -> None:
    from forecasting.services import run_forecast
    from tests.forecasting.test_services import AS_OF, NOW
    from tests.forecasting.test_services import _seed as seed_sales
    from tests.forecasting.test_services import _settings as forecast_settings

    seed_sales(engine)
    run_forecast(engine, AS_OF, forecast_settings(horizon=14), now=NOW)
    environment = {**os.environ, "RESTOCK_DATABASE_URL": database_url(engine), "COLUMNS": "200"}
    command = [sys.executable, "-m", "restock.cli.main", "propose", "--week", str(WEEK), "--allow-stale"]
    started = [subprocess.Popen(command, cwd=ROOT, env=environment, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for _ in range(2)]
    said = [process.communicate(timeout=300) for process in started]
    assert [p.returncode for p in started] == [0, 0], said
    outs = sorted(out for out, _ in said)
    assert _versions(engine) == [1]
    first = f"proposal 1 (week {WEEK}, version 1) stored: the first for this week"
    assert any(first in o for o in outs), said
    assert any(
        f"proposal 1 (week {WEEK}, version 1) is current and its inputs are unchanged: nothing stored" in o
        for o in outs
    ), said
    assert all("internal error" not in err for _, err in said)
