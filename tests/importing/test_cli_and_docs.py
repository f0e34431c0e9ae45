"""`restock import` end to end (exit codes, messages on stderr) and the generated data-format docs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import Engine

from restock.importing.docs import DOC_PATH, render_formats
from restock.importing.schema import FILE_SCHEMAS
from tests.importing.dataset import BASE_FILES, write_files

ROOT = Path(__file__).resolve().parents[2]


def _restock(*args: str, database: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RESTOCK_DATABASE_URL": database}
    return subprocess.run(
        [sys.executable, "-m", "restock.cli.main", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_imports_then_refuses_a_corrupted_file_leaving_status_unchanged(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    database = sqlite_engine.url.render_as_string(hide_password=False)
    loaded = _restock("import", str(write_files(tmp_path / "in", BASE_FILES)), database=database)
    assert loaded.returncode == 0, loaded.stderr
    assert "sales.csv" in loaded.stdout and "inserted" in loaded.stdout
    status_before = json.loads(_restock("status", "--json", database=database).stdout)["counts"]
    corrupted = write_files(
        tmp_path / "bad",
        {"sales.csv": BASE_FILES["sales.csv"].replace("2026-08-30,CB-001,10", "2026-08-30,CB-001,-10")},
    )

    refused = _restock("import", str(corrupted), database=database)

    assert refused.returncode == 3
    assert "sales.csv:4:units: must be >= 0, got -10" in refused.stderr.splitlines()
    status_after = json.loads(_restock("status", "--json", database=database).stdout)
    # Only the history changed: the refused import is recorded as a failed job run.
    assert {k: v for k, v in status_after["counts"].items() if k != "job_runs"} == {
        k: v for k, v in status_before.items() if k != "job_runs"
    }
    assert [(r["job"], r["status"]) for r in status_after["last_job_runs"][:2]] == [
        ("import", "failed"), ("import", "succeeded")
    ]


def test_cli_without_a_schema_says_to_run_init(tmp_path: Path) -> None:
    refused = _restock(
        "import",
        str(write_files(tmp_path / "in", BASE_FILES)),
        database=f"sqlite:///{tmp_path / 'empty.db'}",
    )
    assert refused.returncode == 6 and "restock init" in refused.stderr


def test_committed_data_formats_doc_is_the_one_generated_from_the_schema() -> None:
    assert DOC_PATH.read_text(encoding="utf-8") == render_formats(), (
        "docs/data-formats.md is stale: run `python -m restock.importing.docs`"
    )


def test_docs_name_every_column_with_its_example() -> None:
    text = render_formats()
    for schema in FILE_SCHEMAS:
        assert f"## {schema.file_name}" in text
        for column in schema.columns:
            assert f"| `{column.name}` |" in text and f"`{column.example}`" in text
