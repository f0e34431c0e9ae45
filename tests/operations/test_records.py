"""Records that stay true (issue 10 item 7), on SQLite and PostgreSQL: a proposal's forecast run is
a foreign key that cannot be deleted from under it, old runs are pruned around the ones proposals
use, and a run's fingerprint shows when a later import changed what it read."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine, func, select, text, update
from sqlalchemy.exc import IntegrityError

from forecasting.models import DailySales, ForecastRun
from forecasting.services import RunInUse, delete_run, prune_runs, run_forecast, run_inputs
from kernel.catalog import Sku
from kernel.orm import unit_of_work
from replenishment.models import Proposal
from restock.db import alembic_config
from tests.forecasting.test_services import AS_OF, NOW
from tests.forecasting.test_services import _seed as seed_sales
from tests.forecasting.test_services import _settings as forecast_settings
from tests.operations.conftest import Cli


def _proposal(run_id: int | None, version: int = 1) -> Proposal:
    return Proposal(
        week=date(2026, 8, 31), version=version, created_at=datetime(2026, 8, 31, 9, tzinfo=NOW.tzinfo),
        forecast_run_id=run_id, status="optimal", solver="highs", gap=0.0, solve_s=0.1, build_s=0.1,
        budget=None, spend=Decimal("0"), rebate=Decimal("0"), expected_profit=Decimal("0"),
        fill_rate=1.0, parameters={}, messages=[], problem="{}",
    )


def _run(engine: Engine) -> int:
    return run_forecast(engine, AS_OF, forecast_settings(horizon=14), skus=["K0", "K1"], now=NOW).run_id


def test_a_run_a_proposal_read_cannot_be_deleted_and_prune_keeps_it(engine: Engine) -> None:
    seed_sales(engine)
    runs = [_run(engine) for _ in range(4)]
    with unit_of_work(engine) as session:
        session.add(_proposal(runs[0]))
    with pytest.raises(RunInUse, match=f"forecast run {runs[0]} is used by proposals 1"):
        delete_run(engine, runs[0])
    # The database itself refuses it too (integer foreign key, not free text).
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(text("DELETE FROM forecast_values WHERE run_id = :r"), {"r": runs[0]})
        conn.execute(text("DELETE FROM forecast_series WHERE run_id = :r"), {"r": runs[0]})
        conn.execute(text("DELETE FROM forecast_runs WHERE id = :r"), {"r": runs[0]})
    report = prune_runs(engine, keep=1)
    assert report.kept_newest == [runs[3]]
    assert report.deleted == [runs[1], runs[2]]
    assert report.in_use == {runs[0]: "proposals 1"}
    with unit_of_work(engine) as session:
        left = sorted(session.scalars(select(ForecastRun.id)))
        assert left == [runs[0], runs[3]]
        assert session.scalar(text("SELECT count(*) FROM forecast_values WHERE run_id = :r"),
                              {"r": runs[1]}) == 0


def test_prune_from_the_command_line_names_what_it_kept(engine: Engine, cli: Cli) -> None:
    seed_sales(engine)
    runs = [_run(engine) for _ in range(3)]
    with unit_of_work(engine) as session:
        session.add(_proposal(runs[0]))
    refused = cli("forecast", "prune", "--keep", "0")
    assert refused.returncode == 2 and "--keep" in refused.stderr
    done = cli("forecast", "prune", "--keep", "1")
    assert done.returncode == 0, done.stderr
    assert f"deleted: {runs[1]}" in done.stdout
    assert f"kept run {runs[0]}: used by proposals 1" in done.stdout


def test_a_reimport_that_changes_what_a_run_read_is_visible(engine: Engine, cli: Cli) -> None:
    seed_sales(engine)
    run_id = _run(engine)
    assert run_inputs(engine, run_id).changed is False
    # Sales after the as-of date are not what the run read.
    with unit_of_work(engine) as session:
        k2 = session.scalar(select(Sku.id).where(Sku.code == "K2"))
        session.add(DailySales(sku_id=k2, date=date(2026, 8, 31), units=9, revenue=Decimal("891.00")))
    assert run_inputs(engine, run_id).changed is False
    status = cli("status")
    assert f"forecast run {run_id}'s inputs are unchanged" in status.stdout, status.stderr
    # A re-import changing one day of K0 is.
    with unit_of_work(engine) as session:
        k0 = session.scalar(select(Sku.id).where(Sku.code == "K0"))
        session.execute(
            update(DailySales).where(DailySales.sku_id == k0, DailySales.date == AS_OF).values(units=500)
        )
    inputs = run_inputs(engine, run_id)
    assert inputs.changed is True
    assert "inputs changed since it ran" in inputs.describe()
    status = cli("status")
    assert f"forecast run {run_id}'s inputs changed since it ran" in status.stdout, status.stderr
    # A new run reads the new data: its fingerprint differs and matches the database.
    again = _run(engine)
    with unit_of_work(engine) as session:
        first, second = (session.get(ForecastRun, r).inputs_fingerprint for r in (run_id, again))
    assert first and second and first != second
    assert run_inputs(engine, again).changed is False


def test_the_migration_turns_text_run_ids_into_references(empty_engine: Engine) -> None:
    cfg = alembic_config(empty_engine.url.render_as_string(hide_password=False))
    with empty_engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0009_i11_season_totals")
        conn.execute(text(
            "INSERT INTO forecast_runs (id, as_of, started_at, status, freq, horizon, quantiles, parameters, "
            "library_versions, effects, duration_s, n_series, n_fallbacks) VALUES (7, '2026-08-30', "
            "'2026-08-31 01:00:00+00', 'succeeded', 'D', 14, '[]', '{}', '{}', '[]', 1.0, 0, 0)"
        ))
        for pid, ref in ((1, "7"), (2, "99"), (3, None)):
            conn.execute(text(
                "INSERT INTO proposals (id, week, version, created_at, forecast_run_id, status, solver, "
                "solve_s, build_s, spend, rebate, expected_profit, fill_rate, parameters, messages, problem) "
                "VALUES (:id, '2026-08-31', :id, '2026-08-31 09:00:00+00', :ref, 'optimal', 'highs', 0, 0, "
                "0, 0, 0, 1, '{}', '[]', '{}')"
            ), {"id": pid, "ref": ref})
        command.upgrade(cfg, "heads")
    with unit_of_work(empty_engine) as session:
        refs = dict(session.execute(select(Proposal.id, Proposal.forecast_run_id)).tuples().all())
    assert refs == {1: 7, 2: None, 3: None}  # run 99 no longer exists: nothing to point at


def test_the_import_actor_comes_from_config_or_the_os_user_and_is_validated(
    engine: Engine, cli: Cli, tmp_path: Path
) -> None:
    from kernel.audit import read_audit
    from tests.importing.dataset import BASE_FILES, write_files

    files = write_files(tmp_path / "in", BASE_FILES)
    refused = cli("import", str(files), "--user", "[link=http://x]mei[/link]")
    assert refused.returncode == 2, refused.stderr
    assert "is not a valid user name" in refused.stderr
    assert read_audit(engine) == []
    done = cli("import", str(files), env={"RESTOCK_AUDIT__USER": "mei.chen"})
    assert done.returncode == 0, done.stderr
    actors = {e.actor for e in read_audit(engine)}
    assert actors == {"mei.chen"}


def test_the_orders_import_actor_is_validated_and_comes_from_config_or_the_os_user(
    engine: Engine, cli: Cli, tmp_path: Path
) -> None:
    from forecasting.models import Order
    from kernel.audit import read_audit
    from restock.importing import import_path
    from tests.importing.dataset import BASE_FILES, SEASONS, write_files
    from tests.orders.test_orders_import import GENUINE, HEADER

    import_path(engine, write_files(tmp_path / "base", BASE_FILES), actor="setup", now=NOW,
                season_names=SEASONS)
    orders = tmp_path / "orders.csv"
    orders.write_text(HEADER + GENUINE, encoding="utf-8")
    for hostile in ("[link=http://x]mei[/link]", "mei\u202echen", ""):
        refused = cli("orders", "import", str(orders), "--actor", hostile)
        assert refused.returncode == 2, refused.stderr
        assert "--user" in refused.stderr and "internal error" not in refused.stderr
    with unit_of_work(engine) as session:
        assert session.scalar(select(func.count()).select_from(Order)) == 0
    assert read_audit(engine, entity="orders") == []
    done = cli("orders", "import", str(orders), env={"RESTOCK_AUDIT__USER": "mei.chen"})
    assert done.returncode == 0, done.stderr
    assert {e.actor for e in read_audit(engine, entity="orders")} == {"mei.chen"}
    given = cli("orders", "import", str(orders), "--user", "li.wei")
    assert given.returncode == 0, given.stderr
    assert {e.actor for e in read_audit(engine, entity="orders")} <= {"mei.chen", "li.wei"}


def test_forecast_list_says_whether_each_runs_inputs_still_match_and_what_changed(
    engine: Engine, cli: Cli
) -> None:
    from forecasting.models import Promotion

    seed_sales(engine)
    old, run_id = _run(engine), _run(engine)
    with unit_of_work(engine) as session:  # a run stored before fingerprints were kept
        session.execute(update(ForecastRun).where(ForecastRun.id == old)
                        .values(inputs_fingerprint=None, inputs_parts=None))

    def listed() -> dict[int, str]:
        result = cli("forecast", "list", "--json")
        assert result.returncode == 0, result.stderr
        return {row["id"]: row["inputs"] for row in json.loads(result.stdout)}

    assert listed() == {run_id: "current", old: "not recorded"}
    with unit_of_work(engine) as session:
        k0 = session.scalar(select(Sku.id).where(Sku.code == "K0"))
        session.execute(
            update(DailySales).where(DailySales.sku_id == k0, DailySales.date == AS_OF).values(units=500)
        )
    assert listed()[run_id] == f"stale: sales up to {AS_OF}"
    with unit_of_work(engine) as session:
        session.execute(update(Promotion).where(Promotion.code == "P1").values(discount_rate=Decimal("0.2")))
    assert listed()[run_id] == f"stale: sales up to {AS_OF}, promotions"
    table = cli("forecast", "list")
    assert table.returncode == 0, table.stderr
    assert f"stale: sales up to {AS_OF}, promotions" in table.stdout
    assert "not recorded" in table.stdout
    assert "inputs changed since it ran (sales up to" in run_inputs(engine, run_id).describe()
    fresh = _run(engine)
    assert listed()[fresh] == "current"
    assert "inputs" not in cli("forecast", "list", "--no-check").stdout
