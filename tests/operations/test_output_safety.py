"""Text from files is data: codes that look like Rich markup, emoji codes or spreadsheet formulas print
and export as written; the demo never replaces a database it did not create."""

from __future__ import annotations

import csv
import io
import sqlite3
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
import typer
from sqlalchemy import Engine, update
from typer.testing import CliRunner

from forecasting.handoff import FrameDemand
from kernel.catalog import Sku
from kernel.errors import OutputExists
from kernel.orm import unit_of_work
from replenishment.services import build_proposal
from restock.cli import admin as admin_cli
from restock.cli import propose as propose_cli
from restock.demo import fresh_sqlite
from tests.replenishment.test_services import (
    CREATED,
    SALES_END,
    WEEK,
    proposal_settings,
    seed,
    window_demand,
)

HOSTILE = {
    "TEE": "=HYPERLINK(\"http://evil.example\",\"x\")",
    "JACKET": "0[/x]",
    "MUG": "[link=http://evil.example]LINK[/link]",
    "ORPHAN": "ABC:fire:1",
}


def _hostile_proposal(engine: Engine) -> int:
    seed(engine)
    with unit_of_work(engine) as session:
        for code, hostile in HOSTILE.items():
            session.execute(update(Sku).where(Sku.code == code).values(code=hostile))
    plain = {hostile: code for code, hostile in HOSTILE.items()}

    def demand(windows: pd.DataFrame) -> pd.DataFrame:
        frame = window_demand(windows.assign(unique_id=windows["unique_id"].map(plain)))
        return frame.assign(unique_id=frame["unique_id"].map(HOSTILE))

    result = build_proposal(
        engine, WEEK, proposal_settings(), now=CREATED, budget=Decimal("500000"),
        demand=FrameDemand(demand, as_of=SALES_END),
    )
    assert result.proposal_id is not None
    return result.proposal_id


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer()
    propose_cli.register(app)
    admin_cli.register(app)
    return app


def test_codes_that_look_like_markup_or_emoji_print_as_written(
    app: typer.Typer, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    from restock.cli.common import console

    proposal_id = _hostile_proposal(engine)
    monkeypatch.setattr("restock.db.get_engine", lambda url=None: engine)
    monkeypatch.setattr(console, "width", 400)  # no cell folded across lines
    result = CliRunner().invoke(app, ["proposal", "show", str(proposal_id)])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "0[/x]" in out
    assert "[link=http://evil.example]LINK[/link]" in out
    assert "ABC:fire:1" in out and "🔥" not in out
    assert "\x1b]8;" not in out  # no terminal hyperlink escape


def test_proposal_csv_cells_that_look_like_formulas_open_as_text(
    app: typer.Typer, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    proposal_id = _hostile_proposal(engine)
    monkeypatch.setattr("restock.db.get_engine", lambda url=None: engine)
    result = CliRunner().invoke(app, ["proposal", "show", str(proposal_id), "--format", "csv"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout, newline="")))
    skus = {row["sku"] for row in rows}
    assert "'" + HOSTILE["TEE"] in skus
    assert HOSTILE["JACKET"] in skus
    for row in rows:
        for cell in row.values():
            assert not cell.startswith(("=", "+", "@", "\t", "\r")), cell
            assert not cell.startswith("-") or float(cell) <= 0


def test_the_demo_refuses_a_file_it_did_not_create(tmp_path: Path) -> None:
    text_file = tmp_path / "notes.txt"
    text_file.write_text("my notes")
    with pytest.raises(OutputExists, match="is not a restock database"):
        fresh_sqlite(text_file)
    assert text_file.read_text() == "my notes"

    mine = tmp_path / "restock.db"
    conn = sqlite3.connect(mine)
    conn.execute("CREATE TABLE skus (code TEXT)")
    conn.execute("INSERT INTO skus VALUES ('MY-OWN-SKU')")
    conn.commit()
    conn.close()
    with pytest.raises(OutputExists, match="was not created by `restock demo`"):
        fresh_sqlite(mine)
    assert sqlite3.connect(mine).execute("SELECT code FROM skus").fetchall() == [("MY-OWN-SKU",)]

    fresh_sqlite(mine, force=True).dispose()  # --force replaces it


def test_the_demo_replaces_its_own_database_but_not_once_data_was_added(tmp_path: Path) -> None:
    demo_db = tmp_path / "demo.db"
    fresh_sqlite(demo_db).dispose()
    fresh_sqlite(demo_db).dispose()  # its own, untouched: replaced without asking
    conn = sqlite3.connect(demo_db)
    conn.execute(
        "INSERT INTO audit_log (at, actor, action, entity) VALUES ('2026-09-01', 'alice', 'import', 'skus')"
    )
    conn.commit()
    conn.close()
    with pytest.raises(OutputExists, match="holds data added after the demo"):
        fresh_sqlite(demo_db)


def test_the_demo_uses_its_own_file_by_default() -> None:
    import inspect

    default = inspect.signature(admin_cli.demo).parameters["database"].default.default
    assert default == Path("var/demo.db")
