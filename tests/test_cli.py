"""The shell's CLI: init creates the schema, status reports it, errors are one line with an exit code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def restock(*args: str, db: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real `restock` entry point in a subprocess against the SQLite file `db`."""
    environment = {**os.environ, "RESTOCK_DATABASE_URL": f"sqlite:///{db}", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "restock.cli.main", *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_init_then_status_json_reports_empty_tables(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    assert restock("init", db=db).returncode == 0
    result = restock("status", "--json", db=db)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["counts"]["skus"] == 0
    assert report["counts"]["daily_sales"] == 0
    assert report["last_job_runs"] == []


def test_status_on_a_database_without_schema_says_run_init_without_a_traceback(tmp_path: Path) -> None:
    result = restock("status", db=tmp_path / "missing.db")
    assert result.returncode == 6
    assert "restock init" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_bad_setting_is_one_clear_message(tmp_path: Path) -> None:
    result = restock("status", db=tmp_path / "x.db", env={"RESTOCK_REPLENISHMENT__MARGIN_FLOOR": "2"})
    assert result.returncode == 2
    assert "replenishment.margin_floor" in result.stderr
    assert "Traceback" not in result.stderr


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    result = restock("--debug", "status", db=tmp_path / "missing.db")
    assert result.returncode != 0
    assert "Traceback" in result.stderr


@pytest.mark.parametrize("command", [[], ["init"], ["status"], ["demo"]])
def test_every_command_has_help(tmp_path: Path, command: list[str]) -> None:
    result = restock(*command, "--help", db=tmp_path / "x.db")
    assert result.returncode == 0
    assert "Usage" in result.stdout


def test_user_add_and_token_are_audited_with_who_did_it_never_the_secrets(tmp_path: Path) -> None:
    import sqlite3

    db = tmp_path / "r.db"
    assert restock("init", db=db).returncode == 0
    added = subprocess.run(
        [sys.executable, "-m", "restock.cli.main", "user", "add", "mei", "--role", "merchandiser",
         "--password-stdin", "--user", "ada"],
        cwd=ROOT, env={**os.environ, "RESTOCK_DATABASE_URL": f"sqlite:///{db}"},
        input="correct-horse-battery\n", capture_output=True, text=True, timeout=120,
    )
    assert added.returncode == 0, added.stderr
    issued = restock("user", "token", "mei", "--label", "nightly", "--user", "ada", db=db)
    assert issued.returncode == 0, issued.stderr
    secret = issued.stdout.strip()
    assert secret.startswith("rst_")
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT actor, action, entity, entity_key, after FROM audit_log ORDER BY id"
        ).fetchall()
    assert [(a, act, e, k, json.loads(after)) for a, act, e, k, after in rows] == [
        ("ada", "user_add", "user", "mei", {"role": "merchandiser", "language": "en"}),
        ("ada", "token_create", "user", "mei", {"token": "nightly"}),
    ]
    assert "correct-horse-battery" not in str(rows) and secret not in str(rows)
