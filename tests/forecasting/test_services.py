"""The nightly run reads the database, stores one run in one transaction and reads it back."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Engine, func, select

from forecasting import total_demand
from forecasting.models import DailySales, ForecastRun, ForecastSeries, ForecastValue, Promotion
from forecasting.services import (
    accuracy_report,
    latest_run,
    load_run,
    record_failed_run,
    run_forecast,
    season_anchors,
)
from kernel.catalog import Category, Sku
from kernel.errors import NotFound
from kernel.orm import unit_of_work
from restock.settings import load_settings

AS_OF = date(2026, 8, 30)
NOW = datetime(2026, 8, 31, 1, 30, tzinfo=UTC)


def _settings(horizon: int = 35):  # type: ignore[no-untyped-def]
    return load_settings(
        forecasting={"horizon_days": horizon, "backtest_origins": 2, "executor": "serial"}
    ).forecast_settings()


def _seed(engine: Engine) -> None:
    rng = np.random.default_rng(1)
    days = pd.date_range(end=pd.Timestamp(AS_OF), periods=420)
    with unit_of_work(engine) as session:
        kitchen = Category(code="kitchen", name="Kitchen", salvage_rate=Decimal("0.5"))
        session.add(kitchen)
        session.flush()
        skus = [Sku(code=f"K{i}", name=f"Pan {i}", category_id=kitchen.id, price=Decimal("99.00"))
                for i in range(3)]
        skus.append(Sku(code="NEW", name="New pan", category_id=kitchen.id, price=Decimal("99.00"),
                        launch_date=AS_OF))
        session.add_all(skus)
        session.flush()
        rows = []
        for k, sku in enumerate(skus[:3]):
            level = [12.0, 3.0, 0.3][k]
            for day in days:
                units = int(rng.poisson(level * (1.6 if day.dayofweek >= 5 else 1.0)))
                fraud = 2 if k == 0 and day.day == 3 else 0
                rows.append(DailySales(sku_id=sku.id, date=day.date(), units=units + fraud,
                                       revenue=Decimal(units) * Decimal("99.00"), returned_units=0,
                                       fraud_units=fraud,
                                       stockout=bool(k == 0 and day.day == 20)))
        session.add_all(rows)
        session.add(Promotion(code="P1", name="Kitchen week", kind="threshold_discount",
                              start_date=date(2026, 9, 10), end_date=date(2026, 9, 14),
                              category_id=kitchen.id, discount_rate=Decimal("0.1")))


def test_a_run_is_persisted_and_read_back(engine: Engine) -> None:
    _seed(engine)
    summary = run_forecast(engine, AS_OF, _settings(), now=NOW)
    assert summary.n_series == 4
    assert summary.classes["new"] == 1
    with unit_of_work(engine) as session:
        run = session.get(ForecastRun, summary.run_id)
        assert run.status == "succeeded" and run.as_of == AS_OF
        assert run.library_versions["statsforecast"]
        assert run.parameters["engine"]["horizon"] == 35
        assert session.scalar(select(func.count()).select_from(ForecastSeries)) == 4
        assert session.scalar(select(func.count()).select_from(ForecastValue)) == 4 * 35
    loaded = load_run(engine, summary.run_id)
    latest = latest_run(engine)
    assert latest.params["run_id"] == summary.run_id
    assert set(loaded.forecasts["unique_id"]) == {"K0", "K1", "K2", "NEW"}
    assert loaded.forecasts["ds"].min() == pd.Timestamp("2026-08-31")
    assert (loaded.forecasts["q10"] <= loaded.forecasts["q90"]).all()
    k0 = loaded.series.set_index("unique_id").loc["K0"]
    assert k0["backtest_errors"].shape == (2, 35)
    windows = pd.DataFrame({"unique_id": ["K0", "NEW"], "window_start": ["2026-08-31"] * 2,
                            "window_end": ["2026-09-20"] * 2})
    totals = total_demand(loaded, windows)
    assert totals.loc[0, "mean"] == pytest.approx(
        loaded.forecasts[(loaded.forecasts["unique_id"] == "K0")
                         & (loaded.forecasts["ds"] <= "2026-09-20")]["mean"].sum(), rel=1e-6)
    assert (totals["q90"] >= totals["mean"]).all()
    report = accuracy_report(loaded)
    assert report["overall"]["series"] == 3
    assert set(report["by_category"]) == {"kitchen"}
    assert report["overall"]["seasonal_naive_mase"] is not None


def test_only_named_skus_are_forecast_and_an_unknown_one_is_refused(engine: Engine) -> None:
    _seed(engine)
    summary = run_forecast(engine, AS_OF, _settings(), skus=["K1"], now=NOW)
    assert summary.n_series == 1
    with pytest.raises(NotFound, match="NOPE"):
        run_forecast(engine, AS_OF, _settings(), skus=["NOPE"], now=NOW)


def test_a_failed_run_is_recorded_and_never_loaded(sqlite_engine: Engine) -> None:
    run_id = record_failed_run(sqlite_engine, AS_OF, NOW, "boom", _settings())
    with pytest.raises(NotFound, match="failed: boom"):
        load_run(sqlite_engine, run_id)
    with pytest.raises(NotFound, match="no succeeded forecast run"):
        latest_run(sqlite_engine)


def test_a_run_past_the_last_sales_day_is_refused(sqlite_engine: Engine) -> None:
    from forecasting.services import ForecastFailed

    _seed(sqlite_engine)
    with pytest.raises(ForecastFailed, match="before the as-of date"):
        run_forecast(sqlite_engine, date(2026, 9, 5), _settings(), now=NOW)


def test_festival_categories_get_their_season_anchor(sqlite_engine: Engine) -> None:
    with unit_of_work(sqlite_engine) as session:
        session.add_all([
            Category(code="mooncakes", name="Mooncakes", season="mid_autumn", salvage_rate=Decimal("0.1")),
            Category(code="jackets", name="Jackets", season="winter", salvage_rate=Decimal("0.4")),
            Category(code="pans", name="Pans", salvage_rate=Decimal("0.5")),
        ])
        session.flush()
        settings = load_settings(seasons={
            "mid_autumn": {"anchor": "mid_autumn", "start_offset_days": -35, "end_offset_days": 0},
            "winter": {"start": "11-15", "end": "02-28"},
        }).forecast_settings()
        assert season_anchors(session, settings) == {"mooncakes": "mid_autumn"}


def test_season_totals_are_stored_with_the_run_and_read_back(sqlite_engine: Engine) -> None:
    from forecasting.services import season_total_of

    rng = np.random.default_rng(5)
    days = pd.date_range(end=pd.Timestamp(AS_OF), periods=800)
    winter = ((days.month == 12) | (days.month <= 2) | ((days.month == 11) & (days.day >= 15)))
    with unit_of_work(sqlite_engine) as session:
        jackets = Category(code="jackets", name="Jackets", season="winter", salvage_rate=Decimal("0.4"))
        pans = Category(code="pans", name="Pans", salvage_rate=Decimal("0.5"))
        session.add_all([jackets, pans])
        session.flush()
        skus = [Sku(code="J1", name="Jacket", category_id=jackets.id, price=Decimal("899.00")),
                Sku(code="P1", name="Pan", category_id=pans.id, price=Decimal("99.00"))]
        session.add_all(skus)
        session.flush()
        for sku, means in ((skus[0], np.where(winter, 3.0, 0.05)), (skus[1], np.full(len(days), 2.0))):
            session.add_all([DailySales(sku_id=sku.id, date=day.date(), units=int(units), revenue=Decimal(0),
                                        returned_units=0, fraud_units=0, stockout=False)
                             for day, units in zip(days, rng.poisson(means), strict=True)])
    settings = load_settings(forecasting={"horizon_days": 182, "backtest_origins": 2, "executor": "serial"},
                             seasons={"winter": {"start": "11-15", "end": "02-28", "prebuild_days": 30}}
                             ).forecast_settings()
    summary = run_forecast(sqlite_engine, AS_OF, settings, now=NOW)
    loaded = load_run(sqlite_engine, summary.run_id)
    assert season_total_of(loaded, "P1") is None  # no season: no season total
    total = season_total_of(loaded, "J1")
    assert total is not None
    assert total["season_start"] == pd.Timestamp("2026-11-15")
    assert total["season_end"] == pd.Timestamp("2027-02-28")  # also the horizon's last day
    assert total["last_season"] > 0 and 0.5 <= total["total"] / total["last_season"] <= 2.0
    stored = loaded.forecasts[(loaded.forecasts["unique_id"] == "J1")
                              & loaded.forecasts["ds"].between("2026-11-15", "2027-02-28")]["mean"].sum()
    assert stored == pytest.approx(total["total"], rel=1e-3)
