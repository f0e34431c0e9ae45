"""Money is stored exactly on SQLite as on PostgreSQL (issue 10 item 7): sums in SQL do not drift,
imported amounts keep every fen, and the migration turns existing float amounts into fen."""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine, func, select, text

from forecasting.models import DailySales
from kernel.catalog import Category, Sku
from kernel.orm import unit_of_work
from restock.db import alembic_config, make_engine
from restock.importing import import_path
from tests.importing.dataset import BASE_FILES, SEASONS, write_files
from tests.operations.test_concurrency import NOW


def _amounts(n: int) -> list[Decimal]:
    rng = random.Random(7)
    return [Decimal(rng.randrange(1, 10_000_000)).scaleb(-2) for _ in range(n)]


def test_sums_of_money_in_sql_are_exact(engine: Engine) -> None:
    amounts = _amounts(3000)
    with unit_of_work(engine) as session:
        category = Category(code="c", name="C", salvage_rate=Decimal("0.5"))
        session.add(category)
        session.flush()
        sku = Sku(code="S", name="S", category_id=category.id, price=Decimal("0.10"))
        session.add(sku)
        session.flush()
        start = date(2018, 1, 1)
        session.add_all(
            DailySales(sku_id=sku.id, date=start + timedelta(days=k), units=1, revenue=amount)
            for k, amount in enumerate(amounts)
        )
    exact = sum(amounts, Decimal(0))
    with unit_of_work(engine) as session:
        assert session.scalar(select(func.sum(DailySales.revenue))) == exact
        revenues = session.scalars(select(DailySales.revenue).order_by(DailySales.date)).all()
        assert revenues == amounts
        assert session.scalar(select(Sku.price)) == Decimal("0.10")
    with engine.connect() as conn:
        raw = conn.execute(text("SELECT sum(revenue) FROM daily_sales")).scalar_one()
    # What any SQL client reads: an exact NUMERIC on PostgreSQL, an integer count of fen on SQLite.
    if engine.dialect.name == "sqlite":
        assert isinstance(raw, int) and Decimal(raw).scaleb(-2) == exact
    else:
        assert raw == exact


def test_imported_amounts_keep_every_fen(engine: Engine, tmp_path: Path) -> None:
    files = write_files(tmp_path / "in", BASE_FILES)
    import_path(engine, files, actor="test", now=NOW, season_names=SEASONS)
    with unit_of_work(engine) as session:
        revenue = session.scalar(select(func.sum(DailySales.revenue)))
        rows = session.scalars(select(DailySales.revenue)).all()
    assert revenue == sum(rows, Decimal(0))
    assert all(r == r.quantize(Decimal("0.01")) for r in rows)
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            kinds = set(conn.execute(text("SELECT DISTINCT typeof(revenue) FROM daily_sales")).scalars())
            assert kinds == {"integer"}


@pytest.fixture
def sqlite_empty(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    yield engine  # type: ignore[misc]
    engine.dispose()


def test_the_migration_turns_float_amounts_into_fen(sqlite_empty: Engine) -> None:
    cfg = alembic_config(sqlite_empty.url.render_as_string(hide_password=False))
    with sqlite_empty.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0012_i10_run_records")
        conn.execute(text("INSERT INTO categories (id, code, name, salvage_rate) VALUES (1, 'c', 'C', 0.5)"))
        conn.execute(text(
            "INSERT INTO skus (id, code, name, category_id, price, abc_class, status) "
            "VALUES (1, 'S', 'S', 1, 1797.3, 'C', 'active')"
        ))
        conn.execute(text(
            "INSERT INTO daily_sales (sku_id, date, units, revenue, returned_units, fraud_units, stockout) "
            "VALUES (1, '2026-08-30', 3, 77238698.73, 0, 0, 0), (1, '2026-08-29', 1, 0.1, 0, 0, 0)"
        ))
        command.upgrade(cfg, "heads")
    with unit_of_work(sqlite_empty) as session:
        assert session.scalar(select(Sku.price)) == Decimal("1797.30")
        revenues = sorted(session.scalars(select(DailySales.revenue)))
        assert revenues == [Decimal("0.10"), Decimal("77238698.73")]
        assert session.scalar(select(func.sum(DailySales.revenue))) == Decimal("77238698.83")
