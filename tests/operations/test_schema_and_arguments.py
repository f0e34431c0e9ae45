"""Every command checks the database's revision and its own arguments before any work, and answers
with one line and a documented exit code (docs/exit-codes.md) — on SQLite and PostgreSQL."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, text

from kernel.errors import DatabaseNewer, DatabaseNotReady, DatabaseReadOnly
from restock.db import ensure_ready, expected_revisions, make_engine, upgrade
from tests.importing.dataset import BASE_FILES, write_files
from tests.operations.conftest import Cli, database_url, run_restock

HEAD = sorted(expected_revisions()[0])[0]


def _set_revision(engine: Engine, revision: str) -> None:
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = :r"), {"r": revision})


def _count(engine: Engine, table: str) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(text(table))).scalar_one()


def test_a_database_from_a_newer_restock_stops_every_command_before_any_work(
    engine: Engine, cli: Cli, tmp_path: Path
) -> None:
    _set_revision(engine, "9999_from_the_future")
    files = write_files(tmp_path / "in", BASE_FILES)
    for args in (["status"], ["import", str(files)], ["propose", "--week", "2026-08-31"]):
        result = cli(*args)
        assert result.returncode == 12, (args, result.stderr)
        assert "database is at revision 9999_from_the_future, newer than this restock" in result.stderr
        assert "internal error" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert _count(engine, "skus") == 0
    with pytest.raises(DatabaseNewer):
        ensure_ready(engine)


def test_a_database_behind_this_restock_says_run_init_and_forecast_does_no_work(
    engine: Engine, cli: Cli
) -> None:
    from alembic import command

    from restock.db import alembic_config

    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, "0004_merge")
    result = cli("forecast", "--executor", "serial")
    assert result.returncode == 6, result.stderr
    assert f"database is at revision 0004_merge, this restock expects {HEAD}: run `restock init`" in (
        result.stderr
    )
    assert _count(engine, "forecast_runs") == 0
    with pytest.raises(DatabaseNotReady, match="run `restock init`"):
        ensure_ready(engine)
    assert cli("init").returncode == 0
    ensure_ready(engine, write=True)


def test_a_read_only_postgresql_database_is_refused_before_any_work(
    pg_engine: Engine, tmp_path: Path
) -> None:
    url = database_url(pg_engine) + "%20-cdefault_transaction_read_only%3Don"
    read_only = make_engine(url)
    try:
        with pytest.raises(DatabaseReadOnly):
            ensure_ready(read_only, write=True)
        ensure_ready(read_only)  # reading is fine
    finally:
        read_only.dispose()
    result = run_restock("import", str(write_files(tmp_path / "in", BASE_FILES)), url=url)
    assert result.returncode == 9, result.stderr
    assert "read-only" in result.stderr


def test_a_read_only_sqlite_database_is_refused_before_any_work(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    url = f"sqlite:///file:{path}?mode=ro&uri=true"
    result = run_restock("import", str(write_files(tmp_path / "in", BASE_FILES)), url=url)
    assert result.returncode == 9, result.stderr
    assert "read-only" in result.stderr
    assert run_restock("status", url=url).returncode == 0


def _writing_commands(tmp_path: Path) -> list[list[str]]:
    """Commands that write: import, forecast, propose, approval steps, export, the jobs run by hand,
    backup."""
    orders = tmp_path / "orders.csv"
    orders.write_text("order_id\n", encoding="utf-8")
    return [
        ["import", str(write_files(tmp_path / "in", BASE_FILES))],
        ["orders", "import", str(orders)],
        ["forecast", "--as-of", "2026-08-30", "--executor", "serial"],
        ["forecast", "prune", "--keep", "1"],
        ["propose", "--week", "2026-08-31", "--budget", "500000"],
        ["proposal", "review", "1", "--user", "mei"],
        ["proposal", "edit", "1", "TEE", "--units", "10", "--reason", "other", "--note", "x",
         "--user", "mei"],
        ["proposal", "approve", "1", "--user", "mei"],
        ["proposal", "reject", "1", "--reason", "other", "--note", "x", "--user", "mei"],
        ["proposal", "reoptimize", "1", "--user", "mei"],
        ["export", "--pending", "--user", "mei", "--outbox", str(tmp_path / "outbox")],
        ["run", "nightly"],
        ["run", "propose", "--date", "2026-08-31"],
        ["run", "export"],
        ["run", "backup"],
        ["backup"],
    ]


@pytest.mark.parametrize("dialect", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_every_command_that_writes_refuses_a_read_only_database_before_any_work(
    dialect: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if dialect == "sqlite":
        path = tmp_path / "r.db"
        writable = make_engine(f"sqlite:///{path}")
        upgrade(writable)
        writable.dispose()
        url = f"sqlite:///file:{path}?mode=ro&uri=true"
    else:
        url = database_url(request.getfixturevalue("pg_engine")) + "%20-cdefault_transaction_read_only%3Don"
    env = {"RESTOCK_BACKUP__DIR": str(tmp_path / "backups"),
           "RESTOCK_SCHEDULER__INBOX_DIR": str(tmp_path / "inbox")}
    for args in _writing_commands(tmp_path):
        result = run_restock(*args, url=url, env=env)
        assert result.returncode == 9, (args, result.returncode, result.stderr)
        said = result.stderr
        assert "read-only" in said and len(said.strip().splitlines()) == 1, (args, said)
    assert not (tmp_path / "outbox").exists() and not (tmp_path / "backups").exists()
    for args in (["proposal", "list"], ["po", "list"], ["audit"], ["jobs"]):
        result = run_restock(*args, url=url)
        assert result.returncode == 0, (args, result.stderr)


def test_a_mistyped_sqlite_path_is_not_created_by_status_or_import(tmp_path: Path) -> None:
    missing = tmp_path / "typo" / "restokc.db"
    for args in (["status"], ["import", str(write_files(tmp_path / "in", BASE_FILES))]):
        result = run_restock(*args, url=f"sqlite:///{missing}")
        assert result.returncode == 6, result.stderr
        assert f"no restock database at {missing}: run `restock init`" in result.stderr
    assert not missing.exists() and not missing.parent.exists()


def test_an_unreachable_database_is_one_line_with_its_exit_code() -> None:
    result = run_restock("status", url="postgresql+psycopg://postgres@127.0.0.1:1/nowhere")
    assert result.returncode == 8, result.stderr
    assert result.stderr.startswith("error: cannot use the database postgresql+psycopg://postgres@127.0.0.1:1")
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["propose", "--week", "2026-08-31", "--budget", "NaN"], "--budget: expected a finite amount"),
        (["propose", "--week", "2026-08-31", "--budget", "Infinity"], "--budget: expected a finite amount"),
        (["propose", "--week", "2026-08-31", "--budget", "1e20"], "--budget: at most ¥999,999,999,999.99"),
        (["propose", "--week", "2026-08-31", "--budget", "10.001"], "--budget: at most 2 decimals"),
        (["propose", "--week", "9999-12-27"], "--week: expected a Monday between 2000-01-03 and 2099-12-28"),
        (["propose", "--week", "2026-09-01"], "--week: a proposal week starts on a Monday"),
        (["proposal", "show", "99999999999999999999"], "proposal id: expected an id between 1 and"),
        (["forecast", "accuracy", "--run", "0"], "--run: expected an id between 1 and"),
    ],
)
def test_bad_arguments_are_refused_before_the_database_is_touched(
    tmp_path: Path, args: list[str], message: str
) -> None:
    # The database does not exist: exit 2 (not 6) shows the argument was checked first.
    result = run_restock(*args, url=f"sqlite:///{tmp_path / 'none.db'}")
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert "internal error" not in result.stderr


def test_a_symlink_loop_is_named(tmp_path: Path) -> None:
    loop = tmp_path / "loop.csv"
    os.symlink(loop, loop)
    result = run_restock("import", str(loop), url=f"sqlite:///{tmp_path / 'none.db'}")
    assert result.returncode == 2, result.stderr
    assert "symbolic link loop" in result.stderr


def test_file_outputs_are_not_overwritten_without_force(tmp_path: Path) -> None:
    existing = tmp_path / "problem.json"
    existing.write_text("keep me")
    url = f"sqlite:///{tmp_path / 'none.db'}"
    result = run_restock("propose", "--week", "2026-08-31", "--save-problem", str(existing), url=url)
    assert result.returncode == 10, result.stderr
    assert "pass --force to overwrite it" in result.stderr
    out = tmp_path / "samples"
    out.mkdir()
    (out / "sales.csv").write_text("keep me too")
    result = run_restock("samples", "generate", "--out", str(out), url=url)
    assert result.returncode == 10, result.stderr
    assert "already holds sales.csv" in result.stderr
    assert existing.read_text() == "keep me" and (out / "sales.csv").read_text() == "keep me too"
