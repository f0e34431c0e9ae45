"""Running the real `restock` command against the test databases (SQLite file or PostgreSQL schema)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

ROOT = Path(__file__).resolve().parents[2]

Cli = Callable[..., subprocess.CompletedProcess[str]]


def database_url(engine: Engine) -> str:
    """A RESTOCK_DATABASE_URL reaching the same database (and schema) as `engine`."""
    url = engine.url.render_as_string(hide_password=False)
    if engine.dialect.name != "postgresql":
        return url
    with engine.connect() as conn:
        schema = conn.execute(text("SELECT current_schema()")).scalar_one()
    return f"{url}?options=-csearch_path%3D{schema}"


def run_restock(*args: str, url: str, env: dict[str, str] | None = None,
                timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run the real entry point in a subprocess with RESTOCK_DATABASE_URL=url."""
    environment = {**os.environ, "RESTOCK_DATABASE_URL": url, "COLUMNS": "200", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "restock.cli.main", *args],
        cwd=ROOT, env=environment, capture_output=True, text=True, timeout=timeout,
    )


@pytest.fixture
def cli(engine: Engine) -> Cli:
    """`cli(*args)` runs restock against the migrated test database of `engine`."""
    url = database_url(engine)

    def run(*args: str, **kw: object) -> subprocess.CompletedProcess[str]:
        return run_restock(*args, url=url, **kw)  # type: ignore[arg-type]

    return run
