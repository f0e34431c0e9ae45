"""`restock optimize FILE` and `restock proposal show ID` render plans (thin adapters)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
import typer
from sqlalchemy import Engine
from typer.testing import CliRunner

from replenishment import save_problem
from replenishment.services import build_proposal
from restock.cli import propose as propose_cli
from restock.settings import load_settings
from tests.replenishment.builders import agreement, item, problem, sku
from tests.replenishment.test_services import CREATED, WEEK, demand_for, seed


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer()
    propose_cli.register(app)
    return app


def test_optimize_file_prints_the_plan_as_json(app: typer.Typer, tmp_path: Path) -> None:
    path = tmp_path / "problem.json"
    save_problem(
        problem(
            [sku("TEE", 200, 800)],
            [item("TEE", "A", 100, case=100)],
            [agreement("A", [(1_000_000, 0.02), (2_000_000, 0.035)], 1_900_000)],
        ),
        path,
    )
    result = CliRunner().invoke(app, ["optimize", str(path), "--json", "--solver", "cbc"])
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)
    assert plan["solver"] == "cbc"
    assert plan["lines"][0]["units"] == 1000


def test_optimize_refuses_a_malformed_file(app: typer.Typer, tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"version": 1, "week": "2026-08-31"}')
    result = CliRunner().invoke(app, ["optimize", str(path)])
    assert result.exit_code != 0
    assert "skus: missing" in str(result.exception)


def test_proposal_show_as_json_csv_and_table(
    app: typer.Typer, sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(sqlite_engine)
    stored = build_proposal(
        sqlite_engine,
        WEEK,
        load_settings().proposal_settings(),
        now=CREATED,
        budget=Decimal("500000"),
        demand=demand_for,
    )
    monkeypatch.setattr("restock.db.get_engine", lambda url=None: sqlite_engine)
    runner = CliRunner()
    as_json = runner.invoke(app, ["proposal", "show", str(stored.proposal_id), "--format", "json"])
    assert as_json.exit_code == 0, as_json.output
    assert {ln["sku"] for ln in json.loads(as_json.stdout)["lines"]} == {"TEE", "JACKET"}
    as_csv = runner.invoke(app, ["proposal", "show", str(stored.proposal_id), "--format", "csv"])
    assert as_csv.stdout.splitlines()[0].startswith("sku,name,supplier,units,cases")
    as_table = runner.invoke(app, ["proposal", "show", str(stored.proposal_id)])
    assert as_table.exit_code == 0
    assert "JACKET" in as_table.stdout and "below_margin_floor 1" in as_table.stdout


def test_proposal_show_reads_at_80_columns_and_wide_shows_every_number(
    app: typer.Typer, sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(sqlite_engine)
    stored = build_proposal(
        sqlite_engine,
        WEEK,
        load_settings().proposal_settings(),
        now=CREATED,
        budget=Decimal("500000"),
        demand=demand_for,
    )
    monkeypatch.setattr("restock.db.get_engine", lambda url=None: sqlite_engine)
    monkeypatch.setattr(propose_cli.console, "_width", 80)
    compact = CliRunner().invoke(app, ["proposal", "show", str(stored.proposal_id)])
    assert compact.exit_code == 0, compact.output
    rows = compact.stdout.splitlines()
    assert max(len(row) for row in rows) <= 80
    tee = next(ln for ln in stored.plan.lines if ln.sku == "TEE")
    # codes and amounts whole on one row, amounts as ¥ with two decimals
    (row,) = [r for r in rows if r.startswith("TEE ")]
    assert "T-shirt" in row and f"¥{tee.value:,.2f}" in row and f" {tee.units:,} " in row
    assert f"restock proposal show {stored.proposal_id} --wide" in compact.stdout
    wide = CliRunner().invoke(app, ["proposal", "show", str(stored.proposal_id), "--wide"])
    assert tee.reason.split(";")[0][:40] in wide.stdout.replace("\n", " ")


def test_propose_defaults_to_the_monday_after_the_sales_and_needs_a_complete_forecast(
    app: typer.Typer, sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(sqlite_engine)  # sales end Sunday 2026-08-30; no forecast run yet
    monkeypatch.setattr("restock.db.get_engine", lambda url=None: sqlite_engine)
    result = CliRunner().invoke(app, ["propose"])
    assert result.exit_code != 0
    message = str(result.exception)
    assert "no complete forecast run with as-of on or before 2026-08-31" in message
    assert "run `restock forecast` without --sku" in message
