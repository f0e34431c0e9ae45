"""Upgrading a database that holds proposals and purchase orders keeps every child row (SQLite rebuilds
altered tables; with foreign keys on, dropping the old parent would cascade into its children)."""

from __future__ import annotations

import hashlib

from alembic import command
from sqlalchemy import Engine, text

from restock.db import alembic_config, upgrade


def test_upgrading_over_existing_proposals_and_orders_keeps_their_lines(empty_engine: Engine) -> None:
    cfg = alembic_config(empty_engine.url.render_as_string(hide_password=False))
    with empty_engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0006_i15_web")
    with empty_engine.begin() as conn:
        conn.execute(text("INSERT INTO categories (id, code, name, salvage_rate) VALUES (1, 'c', 'C', 0.5)"))
        conn.execute(
            text(
                "INSERT INTO skus (id, code, name, category_id, price, abc_class, status) "
                "VALUES (1, 'S', 'S', 1, 10, 'A', 'active')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO suppliers (id, code, name, min_order_value, export_format) "
                "VALUES (1, 'A', 'A', 0, 'csv')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO purchase_orders (id, po_number, supplier_id, status, order_date, expected_date) "
                "VALUES (1, 'PO-1', 1, 'open', '2026-08-01', '2026-08-20')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO purchase_order_lines (id, purchase_order_id, sku_id, units, received_units, "
                "unit_cost) VALUES (1, 1, 1, 5, 0, 2)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO proposals (id, week, version, created_at, status, solver, solve_s, build_s, "
                "spend, rebate, expected_profit, fill_rate, parameters, messages, problem) "
                "VALUES (1, '2026-08-31', 1, '2026-08-30 10:00:00', 'optimal', 'highs', 0, 0, 10, 0, 1, 1, "
                "'{}', '[]', '{}')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO proposal_lines (id, proposal_id, sku_code, supplier_code, units, cases, "
                "unit_cost, effective_unit_cost, value, margin_pct, stockout_probability_without, "
                "stockout_probability_with, reason) "
                "VALUES (1, 1, 'S', 'A', 5, 5, 2, 2, 10, 80, 0.5, 0.1, 'r')"
            )
        )
    upgrade(empty_engine)
    with empty_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM proposal_lines")).scalar_one() == 1
        assert conn.execute(text("SELECT count(*) FROM purchase_order_lines")).scalar_one() == 1
        assert conn.execute(text("SELECT state, lock_version FROM proposals")).one() == ("draft", 1)
        assert conn.execute(text("SELECT state, pinned FROM proposal_lines")).one()[0] == "proposed"
        # 0015 fills the problem's digest of an existing proposal (the parsed problem is kept by it)
        digest = conn.execute(text("SELECT problem_sha256 FROM proposals")).scalar_one()
        assert digest == hashlib.sha256(b"{}").hexdigest()
        if conn.dialect.name == "sqlite":
            assert conn.execute(text("PRAGMA foreign_keys")).scalar_one() == 1
            # ... and moves the (megabyte) problem text to the row's end
            columns = [row[1] for row in conn.execute(text("PRAGMA table_info(proposals)"))]
            assert columns[-1] == "problem"
