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
        sqlite_engine, WEEK, load_settings().proposal_settings(), now=CREATED, budget=Decimal("500000"),
        demand=demand_for,
    )
    monkeypatch.setattr("restock.db.get_engine", lambda url=None: sqlite_engine)
    runner = CliRunner()
    as_json = runner.invoke(app, ["proposal", "show", str(stored.proposal_id), "--format", "json"])
    assert as_json.exit_code == 0, as_json.output
    assert {ln["sku"] for ln in json.loads(as_json.stdout)["lines"]} == {"TEE", "JACKET"}
    as_csv = runner.invoke(app, ["proposal", "show", str(stored.proposal_id), "--format", "csv"])
    assert as_csv.stdout.splitlines()[0].startswith("sku,supplier,units,cases")
    as_table = runner.invoke(app, ["proposal", "show", str(stored.proposal_id)])
    assert as_table.exit_code == 0
    assert "JACKET" in as_table.stdout and "below margin floor" in as_table.stdout.replace("\n", " ")
