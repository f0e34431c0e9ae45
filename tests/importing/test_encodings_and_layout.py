"""Files as Chinese spreadsheet tools and Excel write them: GBK, BOM, mixed line endings — all accepted."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from kernel.catalog import Category, Sku
from kernel.orm import unit_of_work
from restock.importing import import_path
from tests.importing.dataset import BASE_FILES, SEASONS, write_files

MASTER = {name: BASE_FILES[name] for name in ("categories.csv", "skus.csv")}


def _names(engine: Engine) -> dict[str, str]:
    with unit_of_work(engine) as session:
        return dict(session.execute(select(Sku.code, Sku.name)).all()) | dict(
            session.execute(select(Category.code, Category.name)).all()
        )


@pytest.mark.parametrize(
    ("encoding", "reported"),
    [("gbk", "gb18030"), ("gb18030", "gb18030"), ("utf-8-sig", "utf-8-sig"), ("utf-8", "utf-8-sig")],
)
def test_chinese_names_survive_every_accepted_encoding(
    engine: Engine, tmp_path: Path, encoding: str, reported: str
) -> None:
    directory = write_files(tmp_path / "in", MASTER, encoding=encoding)

    report = import_path(
        engine, directory, actor="tester", now=datetime(2026, 9, 1, tzinfo=UTC), season_names=SEASONS
    )

    assert {file.encoding for file in report.files} == {reported}
    names = _names(engine)
    assert (names["DJ-001"], names["down_jackets"], names["coffee"]) == (
        "轻薄羽绒服",
        "羽绒服",
        "咖啡豆 Coffee beans",
    )


def test_mixed_crlf_and_lf_line_endings_are_accepted_and_counted_as_lines(
    engine: Engine, tmp_path: Path
) -> None:
    lines = MASTER["skus.csv"].splitlines()
    mixed = lines[0] + "\r\n" + lines[1] + "\n" + lines[2] + "\r\n" + lines[3] + "\r\n\r\n"
    files = {"categories.csv": MASTER["categories.csv"].replace("\n", "\r\n"), "skus.csv": mixed}

    report = import_path(
        engine,
        write_files(tmp_path / "in", files),
        actor="tester",
        now=datetime(2026, 9, 1, tzinfo=UTC),
        season_names=SEASONS,
    )

    assert [(file.kind, file.inserted) for file in report.files] == [("categories", 2), ("skus", 3)]
    assert _names(engine)["CB-001"] == "Beans"  # no stray carriage return kept in the last field
