"""The audit log is append-only (no code path changes an entry; PostgreSQL's trigger refuses UPDATE and
DELETE), the actor is validated, and `restock audit` reads it back with filters."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from kernel.audit import AuditEntry, AuditLogIsAppendOnly, read_audit, record, validate_actor
from kernel.errors import InvalidInput
from kernel.orm import unit_of_work
from tests.replenishment.approval_case import NOW


def _seed(engine: Engine) -> None:
    with unit_of_work(engine) as s:
        record(
            s,
            at=NOW,
            actor="alice",
            action="review",
            entity="proposal",
            entity_key="1",
            before={"state": "draft"},
            after={"state": "in_review"},
        )
        record(
            s,
            at=NOW + timedelta(days=2),
            actor="bob",
            action="raise_po",
            entity="purchase_order",
            entity_key="PO-2026-000001",
            after={"value": "10.00"},
            note="from proposal 1",
        )


def test_the_application_cannot_change_or_delete_an_entry(engine: Engine) -> None:
    _seed(engine)
    with pytest.raises(AuditLogIsAppendOnly), unit_of_work(engine) as s:
        entry = s.get(AuditEntry, 1)
        entry.actor = "mallory"  # type: ignore[union-attr]
    with pytest.raises(AuditLogIsAppendOnly), unit_of_work(engine) as s:
        s.delete(s.get(AuditEntry, 2))
    assert [e.actor for e in read_audit(engine)] == ["alice", "bob"]


@pytest.mark.postgres
def test_postgresql_refuses_update_and_delete_on_the_audit_log(pg_engine: Engine) -> None:
    _seed(pg_engine)
    for statement in ("UPDATE audit_log SET actor = 'mallory'", "DELETE FROM audit_log WHERE id = 1"):
        with pytest.raises(DBAPIError, match="audit_log is append-only"), pg_engine.begin() as conn:
            conn.execute(text(statement))
    assert [e.actor for e in read_audit(pg_engine)] == ["alice", "bob"]


def test_reading_by_entity_key_and_since(engine: Engine) -> None:
    _seed(engine)
    assert [e.action for e in read_audit(engine, entity="purchase_order")] == ["raise_po"]
    assert [e.action for e in read_audit(engine, entity="proposal", entity_key="1")] == ["review"]
    assert [e.action for e in read_audit(engine, since=NOW + timedelta(days=1))] == ["raise_po"]


@pytest.mark.parametrize("name", ["alice", "li.wei@shop", "王芳", "Li Wei", "ops-bot+1"])
def test_valid_actor_names(name: str) -> None:
    assert validate_actor(f"  {name} ") == name


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "a user name is required"),
        ("   ", "a user name is required"),
        ("a" * 101, "at most 100 characters"),
        ("bob\nadmin", "not a valid user name"),
        ("bob\x00", "not a valid user name"),
        ("[red]x", "not a valid user name"),
        ("a  b", "not a valid user name"),
    ],
)
def test_invalid_actor_names_are_refused_naming_the_source(name: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=f"--user: .*{message}|--user: {message}"):
        validate_actor(name, "--user")


def test_restock_audit_prints_every_entry_with_before_and_after(sqlite_engine: Engine, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from restock.cli.main import app
    from restock.db import dispose_engines
    from restock.settings import reset_settings

    _seed(sqlite_engine)
    monkeypatch.setenv("RESTOCK_DATABASE_URL", sqlite_engine.url.render_as_string(hide_password=False))
    reset_settings()
    dispose_engines()
    runner = CliRunner()
    result = runner.invoke(app, ["audit", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [(r["actor"], r["action"], r["before"], r["after"]) for r in rows] == [
        ("alice", "review", {"state": "draft"}, {"state": "in_review"}),
        ("bob", "raise_po", None, {"value": "10.00"}),
    ]
    text_out = runner.invoke(app, ["audit", "--entity", "proposal"]).output
    assert "alice review proposal 1" in text_out and "state=draft → state=in_review" in text_out
    assert "raise_po" not in text_out
    since = runner.invoke(app, ["audit", "--since", (NOW + timedelta(days=1)).date().isoformat(), "--json"])
    assert [r["action"] for r in json.loads(since.output)] == ["raise_po"]
    bad = runner.invoke(app, ["audit", "--since", "yesterday"])
    assert bad.exit_code != 0
    reset_settings()
    dispose_engines()
    assert isinstance(NOW, datetime)
