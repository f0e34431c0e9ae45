"""`restock forecast` and `restock forecast accuracy` run end to end on a small SQLite database."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from restock.db import dispose_engines
from restock.settings import reset_settings

from .test_services import _seed


@pytest.fixture
def cli_env(sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("RESTOCK_DATABASE_URL", sqlite_engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("RESTOCK_FORECASTING__HORIZON_DAYS", "28")
    monkeypatch.setenv("RESTOCK_FORECASTING__BACKTEST_ORIGINS", "2")
    reset_settings()
    _seed(sqlite_engine)
    yield
    reset_settings()
    dispose_engines()


def test_forecast_then_accuracy_as_json(cli_env) -> None:  # type: ignore[no-untyped-def]
    from restock.cli.main import app

    runner = CliRunner()
    result = runner.invoke(app, ["forecast", "--executor", "serial", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["n_series"] == 4 and summary["as_of"] == "2026-08-30"
    report = runner.invoke(app, ["forecast", "accuracy", "--json"])
    assert report.exit_code == 0, report.output
    assert json.loads(report.output)["overall"]["series"] == 3
    table = runner.invoke(app, ["forecast", "accuracy"])
    assert table.exit_code == 0 and "accuracy by category" in table.output


def test_bad_executor_is_a_user_error(cli_env) -> None:  # type: ignore[no-untyped-def]
    from restock.cli.main import app

    result = CliRunner().invoke(app, ["forecast", "--executor", "threads"])
    assert result.exit_code != 0
    assert "--executor" in str(result.exception) or "--executor" in result.output


def test_sku_takes_several_codes_after_one_flag(cli_env) -> None:  # type: ignore[no-untyped-def]
    """`--sku K0 K1` (issue 9 item 9) forecasts both, as `--sku K0 --sku K1` and `--sku K0,K1` do;
    the next option and a sub-command name end the list."""
    from restock.cli.main import app

    runner = CliRunner()
    for args in (
        ["--sku", "K0", "K1"],
        ["--sku", "K0", "--sku", "K1"],
        ["--sku=K0", "K1"],
        ["--sku", "K0,K1"],
    ):
        result = runner.invoke(app, ["forecast", *args, "--executor", "serial", "--json"])
        assert result.exit_code == 0, (args, result.output)
        summary = json.loads(result.output)
        assert summary["scope"] == "partial" and summary["n_series"] == 2, (args, summary)
    listed = runner.invoke(app, ["forecast", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    assert [r["scope"] for r in json.loads(listed.output)] == ["partial"] * 4


def test_spread_values_stops_at_options_subcommands_and_double_dash() -> None:
    from restock.cli.multivalue import spread_values

    stop = {"list", "show"}
    assert spread_values(["--sku", "A", "B", "--json"], ["--sku"], stop) == [
        "--sku",
        "A",
        "--sku",
        "B",
        "--json",
    ]
    assert spread_values(["--sku=A", "B", "list"], ["--sku"], stop) == ["--sku=A", "--sku", "B", "list"]
    assert spread_values(["--as-of", "2026-08-30", "A"], ["--sku"], stop) == ["--as-of", "2026-08-30", "A"]
    assert spread_values(["--sku", "A", "--", "B"], ["--sku"], stop) == ["--sku", "A", "--", "B"]


def test_a_season_total_is_shown_with_its_parts_and_reasons_as_stored() -> None:
    from restock.cli.forecast import season_total_text

    stored = {"season_start": "2026-11-15", "season_end": "2027-02-28", "days": 106, "model_total": 7.3881,
              "last_season": 98.0, "season_before": 87.0, "trend": 1.0056, "naive_total": 98.5444,
              "weight": 0.1087, "total": 88.6378, "ratio_to_last_season": 0.9045, "past_seasons_scored": 2,
              "reasons": [{"code": "held_to_band", "unheld_total": 300.25, "band": [0.5, 2.0]},
                          {"code": "stockout_censored", "share_of_days": 0.25}]}
    # the stored total is the blend of its stored parts (stored rounded to 4 places)
    assert abs(stored["weight"] * stored["model_total"] + (1 - stored["weight"]) * stored["naive_total"]
               - stored["total"]) < 0.01
    text = season_total_text(stored)
    assert text.splitlines()[0] == ("season 2026-11-15 → 2027-02-28 (106 days): 88.6 units forecast; "
                                    "last season sold 98.0, the one before 87.0")
    assert "0.11 × the model's 7.4 + 0.89 × last season × the category's trend 1.006 (98.5)" in text
    assert "reason: held to 0.5–2.0× last season (was 300.2)" in text
    assert "reason: last season's sales cut by stockouts on 25% of its days" in text
    launch = {**stored, "last_season": float("nan"), "naive_total": float("nan"), "weight": 1.0,
              "reasons": [{"code": "launch", "detail": "no complete last season: model total only"}]}
    assert "last season sold —" in season_total_text(launch)
    assert "× the model" not in season_total_text(launch)
    # Stockout days re-estimated: last season's demand is shown and is what the blend carried.
    recounted = {**stored, "last_season_demand": 115.2, "naive_total": 115.8451, "total": 104.0544}
    assert abs(recounted["last_season_demand"] * recounted["trend"] - recounted["naive_total"]) < 0.01
    text = season_total_text(recounted)
    assert "last season's demand with its stockout days re-estimated from the category's days: 115.2" in text
    assert "0.89 × last season's demand 115.2 × the category's trend 1.006 (115.8)" in text
    assert "re-estimated" not in season_total_text({**stored, "last_season_demand": 98.0})
    # Split by the SKU's share of its category over two years: the split total is what was carried.
    split = {**recounted, "share_total": 96.1234, "own_trend": 0.9612, "total": 86.4779,
             "reasons": [{"code": "share_of_group", "naive_total": 115.85, "share_total": 96.12,
                          "own_trend": 0.961}]}
    assert abs(split["weight"] * split["model_total"] + (1 - split["weight"]) * split["share_total"]
               - split["total"]) < 0.01
    text = season_total_text(split)
    assert ("0.11 × the model's 7.4 + 0.89 × 96.1, the category's last season × its trend 1.006 split by "
            "this SKU's share of it over two years (own drift ×0.961/year; last season's demand 115.2 × "
            "the trend alone: 115.8)") in text
    assert ("reason: its share of the category over two years gives 96.1, against 115.8 from its last "
            "season × the trend (own drift ×0.961/year)") in text
