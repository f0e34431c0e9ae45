"""The approval commands end to end on SQLite: review, edit with a reason (impact shown), approve with
an override, POs listed, export twice (no byte changes), audit; refusals exit non-zero with the state."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from restock.cli.main import app
from tests.replenishment.approval_case import seed_business, store_proposal


@pytest.fixture
def cli(sqlite_engine: Engine, monkeypatch, tmp_path: Path):  # type: ignore[no-untyped-def]
    from restock.db import dispose_engines
    from restock.settings import reset_settings

    seed_business(sqlite_engine)
    store_proposal(sqlite_engine)
    monkeypatch.setenv("RESTOCK_DATABASE_URL", sqlite_engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("RESTOCK_AUDIT__USER", "ops.bot")
    reset_settings()
    dispose_engines()
    runner = CliRunner()

    def invoke(*args: str) -> tuple[int, str]:
        result = runner.invoke(app, list(args))
        return result.exit_code, result.output + (str(result.exception) if result.exception else "")

    yield invoke, tmp_path / "outbox"
    reset_settings()
    dispose_engines()


def test_the_approval_commands_end_to_end(cli) -> None:  # type: ignore[no-untyped-def]
    invoke, outbox = cli
    code, out = invoke(
        "proposal",
        "edit",
        "1",
        "P1",
        "--units",
        "581",
        "--reason",
        "promotion_plan_changed",
        "--user",
        "alice",
        "--json",
    )
    assert code == 0, out
    edited = json.loads(out)
    assert edited["rounding"] == "581 → 590 units (rounded up to 59 case(s) of 10)"
    assert edited["impact"][0].startswith("this edit drops A below tier 2")
    code, out = invoke("proposal", "approve", "1")
    assert code != 0 and "proposal 1 is draft: approve is allowed only from in_review" in out
    code, out = invoke("proposal", "review", "1", "--user", "bob")
    assert code == 0 and "P2 · A margin 29.44 %" in out and "--override P2='reason'" in out
    code, out = invoke("proposal", "approve", "1", "--user", "bob", "--json")
    assert code != 0 and "below the margin floor" in out
    code, out = invoke(
        "proposal",
        "approve",
        "1",
        "--user",
        "bob",
        "--override",
        "P2=launch",
        "--override",
        "P3=launch",
        "--order-date",
        "2026-08-31",
        "--json",
    )
    assert code == 0, out
    assert [p["po_number"] for p in json.loads(out)["purchase_orders"]] == [
        f"PO-2026-00000{n}" for n in range(1, 5)
    ]
    code, out = invoke("po", "show", "PO-2026-000001", "--json")
    assert code == 0 and json.loads(out)["line_items"][0]["units"] == 590
    code, out = invoke("export", "--pending", "--outbox", str(outbox))
    assert code == 0 and "wrote A_PO-2026-000001.csv" in out
    first = {p.name: p.read_bytes() for p in outbox.iterdir() if p.is_file()}
    code, out = invoke("export", "--pending", "--outbox", str(outbox))
    assert code == 0 and "nothing new to export" in out and "manifest.json unchanged" in out
    assert {p.name: p.read_bytes() for p in outbox.iterdir() if p.is_file()} == first
    code, out = invoke("proposal", "list", "--json")
    assert json.loads(out)[0]["state"] == "exported"
    code, out = invoke("audit", "--json")
    actions = [(e["actor"], e["action"]) for e in json.loads(out)]
    assert actions[:3] == [("alice", "edit_line"), ("bob", "review"), ("bob", "override_margin_floor")]
    assert ("ops.bot", "export") in actions and actions[-1] == ("ops.bot", "export")
    code, out = invoke("proposal", "reject", "1", "--reason", "budget")
    assert code != 0 and "is exported: reject is allowed only from draft or in_review" in out


def test_a_bad_user_name_is_refused(cli) -> None:  # type: ignore[no-untyped-def]
    invoke, _outbox = cli
    code, out = invoke("proposal", "review", "1", "--user", "bob\nroot")
    assert code != 0 and "--user: 'bob\\nroot' is not a valid user name" in out
