"""A small shop of one's own (tests/fixtures/own_shop: 5 SKUs, 2 suppliers, one year of daily sales)
goes through import → forecast → proposal as a new user would run it."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import typer
from sqlalchemy import Engine
from typer.testing import CliRunner

from forecasting.engine import serial_runner
from forecasting.handoff import complete_forecast
from forecasting.services import load_run, run_forecast
from kernel.errors import NotFound
from kernel.orm import unit_of_work
from replenishment.reasons import ReasonCode
from replenishment.services import StaleInputs, build_proposal, default_week, get_proposal
from restock.cli import forecast as forecast_cli
from restock.importing import import_path
from restock.settings import load_settings

SHOP = Path(__file__).parent / "fixtures" / "own_shop"
AS_OF = date(2026, 8, 30)
NOW = datetime(2026, 8, 30, 22, 0, tzinfo=UTC)
ACTIVE = {"OWN-JKT-1", "OWN-JKT-2", "OWN-SCF-1", "OWN-TEA-1", "OWN-MUG-1"}


@pytest.fixture
def shop(engine: Engine) -> Engine:
    settings = load_settings()
    import_path(engine, SHOP, actor="test", now=NOW, season_names=list(settings.seasons))
    return engine


def forecast(engine: Engine, skus: list[str] | None = None) -> int:
    return run_forecast(
        engine, AS_OF, load_settings().forecast_settings(), skus=skus, runner=serial_runner, now=NOW
    ).run_id


def test_a_partial_run_never_reaches_a_proposal_and_a_complete_one_accounts_for_every_sku(
    shop: Engine,
) -> None:
    partial = forecast(shop, ["OWN-JKT-1"])
    week = default_week(shop)
    assert week == date(2026, 8, 31)  # the Monday after the last sales date
    with pytest.raises(NotFound, match=f"run\\(s\\) {partial} are partial"):
        build_proposal(shop, week, load_settings().proposal_settings(), now=NOW)

    complete = forecast(shop)
    result = build_proposal(shop, week, load_settings().proposal_settings(), now=NOW)
    assert result.problem.forecast_run_id == str(complete)
    stored = get_proposal(shop, result.proposal_id)
    with_line = {line["sku"] for line in stored["lines"]}
    reasons = [e["sku"] for e in stored["exclusions"] if e["supplier"] is None]
    assert len(reasons) == len(set(reasons)) and with_line.isdisjoint(reasons)
    assert with_line | set(reasons) == ACTIVE
    # a later partial run does not displace the complete one
    forecast(shop, ["OWN-TEA-1"])
    with unit_of_work(shop) as session:
        assert complete_forecast(session, week).run_id == complete


def test_a_stale_proposal_is_refused_with_the_dates(shop: Engine) -> None:
    forecast(shop)
    with pytest.raises(StaleInputs) as error:
        build_proposal(shop, date(2026, 9, 21), load_settings().proposal_settings(), now=NOW)
    assert "inventory snapshot as of 2026-08-30 is 22 days before the week 2026-09-21 (limit 7)" in str(
        error.value
    )
    assert "forecast run as of 2026-08-30 is 22 days before" in str(error.value)


def test_a_skus_forecast_does_not_depend_on_which_other_skus_are_in_the_run(shop: Engine) -> None:
    alone = load_run(shop, forecast(shop, ["OWN-JKT-1"]))
    with_one = load_run(shop, forecast(shop, ["OWN-JKT-1", "OWN-TEA-1"]))
    full = load_run(shop, forecast(shop))

    def of(run, column: str):  # type: ignore[no-untyped-def]
        rows = run.forecasts[run.forecasts["unique_id"] == "OWN-JKT-1"]
        return rows[column].round(6).tolist()

    models = [run.series.set_index("unique_id").loc["OWN-JKT-1", "model"] for run in (alone, with_one, full)]
    assert models[0] == models[1] == models[2]
    assert of(alone, "mean") == of(with_one, "mean") == of(full, "mean")
    assert of(alone, "q90") == of(full, "q90")


def test_every_reason_on_the_own_shop_is_a_known_code(shop: Engine) -> None:
    forecast(shop)
    stored = get_proposal(shop, build_proposal(shop, date(2026, 8, 31), load_settings(), now=NOW).proposal_id)
    for line in stored["lines"]:
        assert line["reasons"][0]["code"] in {c.value for c in ReasonCode}
    for exclusion in stored["exclusions"]:
        assert ReasonCode(exclusion["code"])


def test_forecast_show_prints_history_and_forecast_and_draws_a_chart(
    shop: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    partial = forecast(shop, ["OWN-JKT-1"])
    monkeypatch.setattr("restock.db.get_engine", lambda url=None: shop)
    app = typer.Typer()
    forecast_cli.register(app)
    chart = tmp_path / "jacket.png"
    shown = CliRunner().invoke(app, ["forecast", "show", "OWN-JKT-1", "--plot", str(chart), "--json"])
    assert shown.exit_code == 0, shown.output
    view = json.loads(shown.stdout)
    assert (view["run_id"], view["scope"]) == (partial, "partial")
    assert len(view["history"]) == 52 and view["history"][-1]["week"] == "2026-08-24"
    assert view["forecast"][0]["week"] == "2026-08-31"
    first = view["forecast"][0]
    assert first["q10"] <= first["q50"] <= first["q90"]
    assert "season_total" in view
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    listed = CliRunner().invoke(app, ["forecast", "list"])
    assert "PARTIAL" in listed.stdout and "never read by a proposal" in listed.stdout
    table = CliRunner().invoke(app, ["forecast", "show", "OWN-JKT-1", "--weeks", "4"])
    assert "2026-08-24" in table.stdout and "2026-08-31" in table.stdout
