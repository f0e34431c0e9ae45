"""`restock simulate` on the committed sample (two weeks, the policies without forecasts): the table
fits 80 columns, CSV, JSON and PNG files are written, bad options are one clear message."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest

from restock.demo import fresh_sqlite
from restock.importing import import_path
from restock.settings import load_settings
from tests.test_cli import ROOT


def restock(*args: str, db: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The real `restock` entry point against SQLite file `db`; a replay reads three years of sales and
    cleanses them each week, so it gets more time than the shared helper's two minutes on a busy machine."""
    environment = {**os.environ, "RESTOCK_DATABASE_URL": f"sqlite:///{db}", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "restock.cli.main", *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=900,
    )


@pytest.fixture(scope="module")
def sample_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    database = tmp_path_factory.mktemp("simulate") / "sample.db"
    engine = fresh_sqlite(database)
    import_path(
        engine,
        Path("data/samples"),
        actor="test",
        now=datetime(2026, 9, 1).astimezone(),
        season_names=list(load_settings().seasons),
    )
    engine.dispose()
    return database


def test_simulate_prints_the_comparison_and_writes_csv_json_and_plots(
    sample_db: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    result = restock(
        "simulate",
        "--from",
        "2026-08-03",
        "--to",
        "2026-08-16",
        "--policy",
        "min_max",
        "--policy",
        "seasonal_naive_out",
        "--out",
        str(out),
        "--sku",
        "KIT-001",
        "--jobs",
        "1",
        db=sample_db,
        env={"COLUMNS": "80"},
    )
    assert result.returncode == 0, result.stderr
    assert "GP after rebate" in result.stdout and "min/max" in result.stdout and "SN-OUT" in result.stdout
    assert max(len(line) for line in result.stdout.splitlines()) <= 80
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "fill_vs_inventory.png",
        "gross_profit.png",
        "inventory_KIT-001.png",
        "metrics.csv",
        "orders.csv",
        "replay.json",
        "weekly.csv",
    ]
    for png in out.glob("*.png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    metrics = pd.read_csv(out / "metrics.csv")
    assert set(metrics["policy"]) == {"min_max", "seasonal_naive_out"}
    document = json.loads((out / "replay.json").read_text(encoding="utf-8"))
    assert document["weeks"] == 2
    shop = {row["policy"]: row for row in document["metrics"] if row["category"] == "(all)"}
    # money is exact decimal text in JSON, and the CSV agrees with it
    csv_shop = metrics[metrics["category"] == "(all)"].set_index("policy")
    for policy, row in shop.items():
        assert row["gross_profit_after_rebate"] == f"{csv_shop.at[policy, 'gross_profit_after_rebate']:.2f}"


def test_simulate_names_an_unknown_policy(sample_db: Path) -> None:
    result = restock(
        "simulate", "--from", "2026-08-03", "--to", "2026-08-16", "--policy", "hope", db=sample_db
    )
    assert result.returncode == 2
    assert "unknown policy 'hope'" in result.stderr and "min_max" in result.stderr


def test_simulate_refuses_a_replay_past_the_stored_sales(sample_db: Path) -> None:
    result = restock(
        "simulate", "--from", "2026-08-03", "--to", "2026-09-20", "--policy", "min_max", db=sample_db
    )
    assert result.returncode == 2
    assert "after the last day of stored sales 2026-08-30" in result.stderr
