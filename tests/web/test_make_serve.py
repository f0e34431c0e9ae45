"""`make serve` serves the demo database after `make demo` unless RESTOCK_DATABASE_URL names another."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def fake_restock(tmp_path: Path) -> dict[str, str]:
    """`make serve` with a `restock` that prints the database it was given instead of serving."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "restock"
    script.write_text('#!/bin/sh\necho "restock $* database=${RESTOCK_DATABASE_URL-unset}"\n')
    script.chmod(0o755)
    stamp = tmp_path / "stamp"
    stamp.touch()  # newer than pyproject.toml: no install
    return {"BIN": str(bin_dir), "STAMP": str(stamp)}


def _make_serve(variables: dict[str, str], env: dict[str, str]) -> str:
    args = ["make", "-s", "-C", str(ROOT), "serve", *(f"{k}={v}" for k, v in variables.items())]
    clean = {k: v for k, v in os.environ.items() if k != "RESTOCK_DATABASE_URL"} | env
    return subprocess.run(args, env=clean, capture_output=True, text=True, check=True).stdout


def test_make_serve_uses_the_demo_database_when_no_database_is_named(fake_restock, tmp_path) -> None:  # type: ignore[no-untyped-def]
    demo = tmp_path / "demo.db"
    assert _make_serve(fake_restock | {"DEMO_DB": str(demo)}, {}).endswith("restock serve database=unset\n")
    demo.touch()
    out = _make_serve(fake_restock | {"DEMO_DB": str(demo)}, {})
    assert f"serving the demo database {demo}" in out
    assert out.endswith(f"restock serve database=sqlite:///{demo}\n")
    named = _make_serve(fake_restock | {"DEMO_DB": str(demo)}, {"RESTOCK_DATABASE_URL": "sqlite:////srv/shop.db"})
    assert named == "restock serve database=sqlite:////srv/shop.db\n"
