"""Fixtures for scheduler tests: a small slice of the sample business, settings pointing at temp dirs,
and a clock the test moves by hand."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from restock.settings import DEFAULT_CONFIG, Settings, load_settings

SAMPLES = Path(__file__).resolve().parents[2] / "data" / "samples"
# Down jackets (winter pre-build, SUP-A's retroactive tiers) and coffee machines (SUP-C's tiers):
# 32 SKUs, enough for every pipeline step and quick to forecast.
SLICE_CATEGORIES = ("down_jackets", "coffee_machines")


class ManualClock:
    """An aware clock that only moves when the test says so."""

    def __init__(self, start: datetime) -> None:
        self.current = start

    def __call__(self) -> datetime:
        return self.current

    def set(self, when: datetime) -> None:
        self.current = when

    def advance(self, **delta: float) -> None:
        self.current += timedelta(**delta)


def _rows(name: str) -> tuple[list[str], list[dict[str, str]]]:
    with (SAMPLES / name).open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or []), list(reader)


def write_sample_slice(target: Path, categories: tuple[str, ...] = SLICE_CATEGORIES) -> Path:
    """The sample business restricted to `categories` (their SKUs, sales, suppliers' items, POs,
    promotions, agreements), as CSV files in `target`."""
    target.mkdir(parents=True, exist_ok=True)
    _, skus = _rows("skus.csv")
    kept_skus = {row["sku_code"] for row in skus if row["category_code"] in categories}

    def keep(name: str, row: dict[str, str]) -> bool:
        if name == "categories.csv":
            return row["category_code"] in categories
        if name == "rebate_agreements.csv":
            scope = [c for c in row["scope_categories"].split(";") if c]
            return row["supplier_code"] in suppliers and all(c in categories for c in scope)
        if name == "rebate_tiers.csv":
            return row["agreement_code"] in agreements
        if "sku_code" in row and row["sku_code"]:
            return row["sku_code"] in kept_skus
        if "category_code" in row and row["category_code"]:
            return row["category_code"] in categories
        return True

    _, items = _rows("supplier_items.csv")
    suppliers = {row["supplier_code"] for row in items if row["sku_code"] in kept_skus}
    _, all_agreements = _rows("rebate_agreements.csv")
    agreements = {
        row["agreement_code"]
        for row in all_agreements
        if row["supplier_code"] in suppliers
        and all(c in categories for c in row["scope_categories"].split(";") if c)
    }
    for path in sorted(SAMPLES.glob("*.csv")):
        fields, rows = _rows(path.name)
        with (target / path.name).open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=fields, lineterminator="\n")
            writer.writeheader()
            writer.writerows(row for row in rows if keep(path.name, row))
    return target


@pytest.fixture(scope="session")
def sample_slice(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_sample_slice(tmp_path_factory.mktemp("sample-slice"))


def make_settings(tmp_path: Path, **overrides: object) -> Settings:
    """Default settings with the inbox and backups in `tmp_path`, serial forecasting; `schedules`
    replaces the configured schedules (other sections are merged)."""
    schedules = overrides.pop("schedules", None)
    base: dict[str, object] = {
        "scheduler": {"inbox_dir": str(tmp_path / "inbox")},
        "backup": {"dir": str(tmp_path / "backups")},
        "forecasting": {"executor": "serial"},
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            base[key] = {**base[key], **value}  # type: ignore[dict-item]
        else:
            base[key] = value
    settings = load_settings(**base)
    return settings if schedules is None else settings.model_copy(update={"schedules": schedules})


def config_file(tmp_path: Path, url: str, schedules: dict[str, str], **sections: dict[str, object]) -> Path:
    """A settings file for a subprocess: the default config with this database, these schedules,
    the inbox and backups under `tmp_path`, serial forecasting."""
    text = DEFAULT_CONFIG.read_text(encoding="utf-8")
    text = re.sub(r'^database_url = .*$', f'database_url = "{url}"', text, flags=re.M)
    text = text[: text.index("[schedules]")]
    text = text.replace('executor = "process"', 'executor = "serial"')
    lines = [text, "[schedules]"] + [f'{name} = "{expr}"' for name, expr in schedules.items()]
    merged: dict[str, dict[str, object]] = {
        "scheduler": {"inbox_dir": str(tmp_path / "inbox")},
        "backup": {"dir": str(tmp_path / "backups")},
    }
    for name, values in sections.items():
        merged.setdefault(name, {}).update(values)
    for name, values in merged.items():
        lines.append(f"[{name}]")
        for key, value in values.items():
            lines.append(f"{key} = {value!r}" if not isinstance(value, str) else f'{key} = "{value}"')
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "restock.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def import_slice(engine: Engine, sample_slice: Path) -> None:
    from restock.importing import import_path

    import_path(engine, sample_slice, actor="test", now=datetime(2026, 8, 30, 23, 0).astimezone(),
                season_names=("winter", "summer", "mid_autumn", "spring_festival"))


@pytest.fixture
def loaded_engine(engine: Engine, sample_slice: Path) -> Iterator[Engine]:
    """A migrated database (SQLite, then PostgreSQL) holding the sample slice."""
    import_slice(engine, sample_slice)
    yield engine


@pytest.fixture(scope="session")
def small_slice(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Home textiles only (15 SKUs, a category promotion): quick to import and to forecast."""
    return write_sample_slice(tmp_path_factory.mktemp("small-slice"), ("home_textiles",))


@pytest.fixture
def small_engine(engine: Engine, small_slice: Path) -> Iterator[Engine]:
    """A migrated database (SQLite, then PostgreSQL) holding the home-textiles slice."""
    import_slice(engine, small_slice)
    yield engine
