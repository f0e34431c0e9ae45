"""`restock run`, `jobs`, `scheduler status`, `backup` and `restore` as an operator types them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.scheduler.conftest import config_file

ROOT = Path(__file__).resolve().parents[2]


def restock(*args: str, config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "restock.cli.main", "--config", str(config), *args],
        cwd=ROOT, env={**os.environ}, capture_output=True, text=True, timeout=300,
    )


def test_run_jobs_status_backup_and_restore_from_the_command_line(tmp_path: Path) -> None:
    schedules = {"nightly": "0 2 * * *", "backup": "30 3 * * *"}
    config = config_file(tmp_path, f"sqlite:///{tmp_path / 'r.db'}", schedules)
    assert restock("init", config=config).returncode == 0

    unknown = restock("run", "nope", config=config)
    assert unknown.returncode == 2
    assert "unknown job 'nope' (expected one of: nightly, propose, export, backup)" in unknown.stderr

    first = restock("run", "backup", "--date", "2026-08-31", "--json", config=config)
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["status"] == "succeeded"
    again = restock("run", "backup", "--date", "2026-08-31", "--json", config=config)
    assert json.loads(again.stdout)["status"] == "skipped"
    assert restock("backup", config=config).returncode == 0  # by hand: always runs

    runs = json.loads(restock("jobs", "--json", config=config).stdout)
    assert [(r["job"], r["status"], r["trigger"]) for r in runs] == [
        ("backup", "succeeded", "cli"),
        ("backup", "skipped", "manual"),
        ("backup", "succeeded", "manual"),
    ]
    listed = json.loads(restock("scheduler", "status", "--json", config=config).stdout)
    status = {row["job"]: row for row in listed}
    assert set(status) == {"nightly", "propose", "export", "backup"}
    assert status["nightly"]["schedule"] == "0 2 * * *"
    assert status["nightly"]["next_run"].endswith("02:00:00+08:00")
    assert status["propose"]["schedule"] is None
    assert status["backup"]["last_success"]["trigger"] == "cli"
    text = restock("scheduler", "status", config=config).stdout
    assert "backup   scheduler.jobs:backup" in text

    # Two backups on one day: retention (newest of each day) keeps the second.
    backups = sorted((tmp_path / "backups").glob("*.sqlite3"))
    assert len(backups) == 1
    target = config_file(tmp_path / "t", f"sqlite:///{tmp_path / 'restored.db'}", {})
    restored = restock("restore", str(backups[-1]), "--json", config=target)
    assert restored.returncode == 0, restored.stderr
    report = json.loads(restored.stdout)
    assert report["ok"] is True
    assert {t["table"] for t in report["tables"]} >= {"skus", "job_runs", "alembic_version"}
    refused = restock("restore", str(backups[-1]), config=target)
    assert refused.returncode == 8
    assert "not empty" in refused.stderr
