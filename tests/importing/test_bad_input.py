"""The bad-input catalogue: each broken file is refused with its file:row:column and writes nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine

from kernel.errors import ImportValidationError
from restock.importing import import_path
from tests.importing.dataset import BASE_FILES, SEASONS, snapshot, write_files

SALES_HEADER = "date,sku_code,units,revenue,returned_units,fraud_units,stockout\n"
SKUS_HEADER = "sku_code,name,category_code,price,abc_class,status,launch_date\n"
GOOD_SALE = "2026-08-31,DJ-001,2,1198.00,0,0,false\n"


def sales(*rows: str) -> dict[str, str | bytes]:
    return {"sales.csv": SALES_HEADER + GOOD_SALE + "".join(rows)}


def skus(*rows: str) -> dict[str, str | bytes]:
    return {"skus.csv": SKUS_HEADER + "".join(rows)}


def tiers(*rows: str) -> dict[str, str | bytes]:
    return {"rebate_tiers.csv": "agreement_code,tier,threshold,rate\n" + "".join(rows)}


# (case, files of the import, the exact start of one reported problem)
CATALOGUE: list[tuple[str, dict[str, str | bytes], str]] = [
    (
        "missing column",
        {"skus.csv": "sku_code,name,category_code,abc_class,status\nX,x,coffee,A,active\n"},
        "skus.csv:1:price: required column is missing",
    ),
    (
        "a column twice, whatever its case",
        {"skus.csv": SKUS_HEADER.replace("\n", ",SKU_Code\n") + "X,x,coffee,1,A,active,,X\n"},
        "skus.csv:1:sku_code: column appears twice",
    ),
    (
        "extra field in a row",
        sales("2026-08-30,DJ-002,1,899.50,0,0,false,oops\n"),
        "sales.csv:3:field 8: row has 8 fields but the header has 7",
    ),
    (
        "wrong type",
        sales("2026-08-30,DJ-002,two,899.50,0,0,false\n"),
        "sales.csv:3:units: not an integer: 'two'",
    ),
    (
        "negative units",
        sales("2026-08-30,DJ-002,-3,899.50,0,0,false\n"),
        "sales.csv:3:units: must be >= 0, got -3",
    ),
    (
        "unknown sku",
        sales("2026-08-30,NO-SUCH,1,899.50,0,0,false\n"),
        "sales.csv:3:sku_code: unknown sku 'NO-SUCH'",
    ),
    (
        "duplicate key in file",
        sales("2026-08-30,DJ-002,1,899.50,0,0,false\n", GOOD_SALE),
        "sales.csv:4:date: duplicate key (sku_code=DJ-001, date=2026-08-31): already on line 2",
    ),
    (
        "impossible date",
        sales("2026-02-30,DJ-002,1,899.50,0,0,false\n"),
        "sales.csv:3:date: impossible date: 2026-02-30",
    ),
    (
        "not a date",
        sales("30/08/2026,DJ-002,1,899.50,0,0,false\n"),
        "sales.csv:3:date: not a date: '30/08/2026' (expected YYYY-MM-DD)",
    ),
    (
        "undecodable bytes",
        {"skus.csv": SKUS_HEADER.encode() + b"X,bad \xff\xfe name,coffee,1,A,active,\n"},
        "skus.csv:2:*: cannot decode byte 0xff at byte offset 69",
    ),
    ("empty file", {"skus.csv": b""}, "skus.csv:1:*: file is empty"),
    ("header only", {"skus.csv": SKUS_HEADER}, "skus.csv:1:*: header only"),
    (
        "overlong text",
        skus("X," + "长" * 201 + ",coffee,1,A,active,\n"),
        "skus.csv:2:name: text too long: 201 characters (max 200)",
    ),
    (
        "huge integer",
        sales("2026-08-30,DJ-002,99999999999999999999,899.50,0,0,false\n"),
        "sales.csv:3:units: number too large",
    ),
    (
        "integer beyond the column",
        sales("2026-08-30,DJ-002,3000000000,899.50,0,0,false\n"),
        "sales.csv:3:units: must be <= 2147483647, got 3000000000",
    ),
    ("huge money", skus("X,x,coffee,12345678901234.00,A,active,\n"), "skus.csv:2:price: number too large"),
    ("NaN", sales("2026-08-30,DJ-002,1,NaN,0,0,false\n"), "sales.csv:3:revenue: not a finite number: NaN"),
    (
        "infinity",
        sales("2026-08-30,DJ-002,1,inf,0,0,false\n"),
        "sales.csv:3:revenue: not a finite number: inf",
    ),
    (
        "too many decimals",
        skus("X,x,coffee,9.999,A,active,\n"),
        "skus.csv:2:price: too many decimals: 9.999 (max 2)",
    ),
    ("zero price", skus("X,x,coffee,0,A,active,\n"), "skus.csv:2:price: must be > 0, got 0"),
    ("empty required value", skus("X,x,coffee,,A,active,\n"), "skus.csv:2:price: required value is empty"),
    (
        "truncated last line",
        {"sales.csv": SALES_HEADER + GOOD_SALE + "2026-08-30,DJ-002,1"},
        "sales.csv:3:revenue: row has 3 of 7 fields (truncated line?)",
    ),
    (
        "tier table out of order",
        tiers("A-2026,1,2000000,0.02\n", "A-2026,2,1000000,0.035\n"),
        "rebate_tiers.csv:3:threshold: tier table out of order",
    ),
    (
        "tier rates out of order",
        tiers("A-2026,1,1000000,0.035\n", "A-2026,2,2000000,0.02\n"),
        "rebate_tiers.csv:3:rate: tier table out of order",
    ),
    (
        "tier numbers with a gap",
        tiers("A-2026,1,1000000,0.02\n", "A-2026,3,2000000,0.035\n"),
        "rebate_tiers.csv:3:tier: tier table of A-2026 must number its tiers 1..n",
    ),
    (
        "sku in a category that does not exist",
        skus("X,x,no_such_category,1,A,active,\n"),
        "skus.csv:2:category_code: unknown category 'no_such_category'",
    ),
    (
        "fraud units above units",
        sales("2026-08-30,DJ-002,1,899.50,0,2,false\n"),
        "sales.csv:3:fraud_units: fraud_units exceeds units (fraud_units=2, units=1)",
    ),
    (
        "promotion ends before it starts",
        {
            "promotions.csv": BASE_FILES["promotions.csv"].replace(
                "2026-11-01,2026-11-11", "2026-11-11,2026-11-01"
            )
        },
        "promotions.csv:2:end_date: end_date is before start_date",
    ),
    (
        "agreement period ends before it starts",
        {
            "rebate_agreements.csv": BASE_FILES["rebate_agreements.csv"].replace(
                "2026-01-01,2026-12-31,retroactive", "2026-12-31,2026-01-01,retroactive"
            )
        },
        "rebate_agreements.csv:2:period_end: period_end is before period_start",
    ),
    (
        "unknown scope category",
        {
            "rebate_agreements.csv": BASE_FILES["rebate_agreements.csv"].replace(
                ",down_jackets,", ",down_jackets;nope,"
            )
        },
        "rebate_agreements.csv:2:scope_categories: unknown category 'nope'",
    ),
    (
        "unknown season name",
        {"categories.csv": "category_code,name,season\nrain,Rain gear,monsoon\n"},
        "categories.csv:2:season: unknown value 'monsoon'",
    ),
    (
        "bad boolean",
        sales("2026-08-30,DJ-002,1,899.50,0,0,maybe\n"),
        "sales.csv:3:stockout: not a boolean: 'maybe'",
    ),
    ("unknown choice", skus("X,x,coffee,1,D,active,\n"), "skus.csv:2:abc_class: unknown value 'D'"),
    (
        "purchase order rows disagree on dates",
        {
            "open_purchase_orders.csv": BASE_FILES["open_purchase_orders.csv"].replace(
                "DJ-002,100,350.1234,2026-08-10", "DJ-002,100,350.1234,2026-08-11"
            )
        },
        "open_purchase_orders.csv:3:order_date: purchase order PO-1 has order_date=2026-08-11",
    ),
    (
        "received more than ordered",
        {"open_purchase_orders.csv": BASE_FILES["open_purchase_orders.csv"].replace(",20\n", ",101\n")},
        "open_purchase_orders.csv:3:received_units: received_units exceeds units",
    ),
    (
        "unknown file name in a directory",
        {"stock.csv": "date,sku_code\n"},
        "stock.csv:1:*: unknown file name",
    ),
    (
        "line numbers count quoted line breaks",
        skus('Y,"two\nlines",coffee,1,A,active,\n', "X,x,coffee,-1,A,active,\n"),
        "skus.csv:4:price: must be > 0, got -1",
    ),
    (
        "a good file before a bad one is not written either",
        {
            "categories.csv": "category_code,name\numbrellas,Umbrellas\n",
            "skus.csv": SKUS_HEADER + "U-1,Umbrella,umbrellas,59.00,B,active,2026-13-01\n",
        },
        "skus.csv:2:launch_date: impossible date: 2026-13-01",
    ),
    (
        "a NUL byte in a cell (SQLite would store it, PostgreSQL refuse it)",
        skus("X,nul\x00name,coffee,1,A,active,\n"),
        "skus.csv:2:name: contains a NUL character (\\x00)",
    ),
    (
        "codes differing only by an invisible character are one code",
        skus("X-1,one,coffee,1,A,active,\n", "X-1\u200f,two,coffee,1,A,active,\n"),
        "skus.csv:3:sku_code: duplicate key (sku_code=X-1): already on line 2",
    ),
    (
        "a control character in a code",
        skus("X\x07,bell,coffee,1,A,active,\n"),
        "skus.csv:2:sku_code: a code may not contain control characters: 'X\\x07'",
    ),
    (
        "a value with invisible characters is quoted escaped",
        skus("X,x,coffee,1,A\u202e,active,\n"),
        "skus.csv:2:abc_class: unknown value 'A\\u202e'",
    ),
    (
        "a sales row dated after the import's business date",
        sales("2027-08-30,DJ-002,1,899.50,0,0,false\n"),
        "sales.csv:3:date: 2027-08-30 is in the future: history may not go past 2026-09-01",
    ),
    (
        "a stock snapshot dated tomorrow",
        {"inventory.csv": "date,sku_code,on_hand,committed\n2026-09-02,DJ-001,5,0\n"},
        "inventory.csv:2:date: 2026-09-02 is in the future",
    ),
    (
        "a file that is no CSV of this kind is named, not echoed",
        {"sales.csv": "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"},
        "sales.csv:1:*: not a sales.csv: its first line has none of the expected columns",
    ),
    (
        "a header line too long to be one",
        {"skus.csv": "sku_code," + "x" * (70 * 1024) + "\nX\n"},
        "skus.csv:1:*: header line longer than 65,536 bytes",
    ),
    (
        "a file that reads as GBK and as Windows-1252 alike is refused with both and --encoding",
        {"skus.csv": (SKUS_HEADER + "X,安,coffee,1,A,active,\n").encode("gbk")},
        "skus.csv:1:*: cannot tell the file's encoding: it is not UTF-8 and reads as GB18030 (GBK) "
        "('安') or as Windows-1252 (Latin-1) ('°²'); pass --encoding gb18030 or --encoding cp1252",
    ),
    (
        "a reference to a refused row's file still resolves",
        {
            "categories.csv": "category_code,name,prebuild_days\numbrellas,Umbrellas,400\n",
            "skus.csv": SKUS_HEADER + "U-1,Umbrella,umbrellas,59.00,B,active,\n",
        },
        "categories.csv:2:prebuild_days: must be <= 365, got 400",
    ),
]


@pytest.mark.parametrize(("files", "expected"), [pytest.param(f, e, id=c) for c, f, e in CATALOGUE])
def test_bad_input_is_refused_with_its_location_and_writes_nothing(
    loaded_engine: Engine, tmp_path: Path, files: dict[str, str | bytes], expected: str
) -> None:
    before = snapshot(loaded_engine)

    with pytest.raises(ImportValidationError) as refused:
        import_path(
            loaded_engine,
            write_files(tmp_path / "in", files),
            actor="tester",
            now=datetime(2026, 9, 1, tzinfo=UTC),
            season_names=SEASONS,
            chunk_rows=2,
        )

    assert any(problem.startswith(expected) for problem in refused.value.problems), refused.value.problems
    assert snapshot(loaded_engine) == before


def test_the_catalogue_covers_at_least_twenty_kinds() -> None:
    assert len({case for case, _, _ in CATALOGUE}) >= 20


def test_problems_are_capped_and_the_refusal_says_more_were_left_out(
    loaded_engine: Engine, tmp_path: Path
) -> None:
    rows = [f"2026-07-{day:02d},DJ-002,-1,0,0,0,false\n" for day in range(1, 31)] * 2
    before = snapshot(loaded_engine)

    with pytest.raises(ImportValidationError) as refused:
        import_path(
            loaded_engine,
            write_files(tmp_path / "in", sales(*rows)),
            actor="tester",
            now=datetime(2026, 9, 1, tzinfo=UTC),
            season_names=SEASONS,
            max_problems=50,
            chunk_rows=7,
        )

    assert len(refused.value.problems) == 50 and refused.value.truncated
    assert refused.value.problems[0].startswith("sales.csv:3:units:")
    assert refused.value.problems[49].startswith("sales.csv:52:units:")
    assert snapshot(loaded_engine) == before


# Keys no earlier import wrote, so every row is a fresh insert: the whole-file duplicate and
# reference scans may only be skipped when no row conflicted or was dropped, and here one is.
NEW_ROWS_REFUSED = {
    "a key repeated in a later chunk": (
        [
            "2026-06-01,DJ-001,1,599.00,0,0,false\n",
            "2026-06-02,DJ-001,1,599.00,0,0,false\n",
            "2026-06-03,DJ-001,1,599.00,0,0,false\n",
            "2026-06-01,DJ-001,2,1198.00,0,0,false\n",
        ],
        "sales.csv:5:date: duplicate key (sku_code=DJ-001, date=2026-06-01): already on line 2",
    ),
    "an unknown sku": (
        [
            "2026-06-01,DJ-001,1,599.00,0,0,false\n",
            "2026-06-02,NO-SUCH-SKU,1,599.00,0,0,false\n",
            "2026-06-03,DJ-001,1,599.00,0,0,false\n",
        ],
        "sales.csv:3:sku_code: unknown sku 'NO-SUCH-SKU': not in skus.csv nor in the database",
    ),
}


@pytest.mark.parametrize("chunk_rows", [1, 2, 50])
@pytest.mark.parametrize("case", sorted(NEW_ROWS_REFUSED))
def test_new_rows_are_still_checked_whole_file(
    loaded_engine: Engine, tmp_path: Path, case: str, chunk_rows: int
) -> None:
    rows, expected = NEW_ROWS_REFUSED[case]
    before = snapshot(loaded_engine)

    with pytest.raises(ImportValidationError) as refused:
        import_path(
            loaded_engine,
            write_files(tmp_path / "in", {"sales.csv": SALES_HEADER + "".join(rows)}),
            actor="tester",
            now=datetime(2026, 9, 1, tzinfo=UTC),
            season_names=SEASONS,
            chunk_rows=chunk_rows,
        )

    assert refused.value.problems == [expected]
    assert snapshot(loaded_engine) == before


def test_header_problems_and_ignored_columns_are_capped(loaded_engine: Engine, tmp_path: Path) -> None:
    from restock.importing.reading import MAX_HEADER_PROBLEMS

    before = snapshot(loaded_engine)
    header = ",".join(["sku_code"] * 40 + [f"extra_{i}" for i in range(3000)])
    with pytest.raises(ImportValidationError) as refused:
        import_path(
            loaded_engine, write_files(tmp_path / "in", {"skus.csv": header + "\nX\n"}), actor="tester",
            now=datetime(2026, 9, 1, tzinfo=UTC), season_names=SEASONS,
        )
    problems = refused.value.problems
    header_problems = [p for p in problems if p.startswith("skus.csv:1:")]
    assert len(header_problems) == MAX_HEADER_PROBLEMS + 1
    assert header_problems[0] == "skus.csv:1:sku_code: column appears twice"
    # 39 duplicates and 5 missing required columns, 10 shown
    extra = 39 + 5 - MAX_HEADER_PROBLEMS
    assert header_problems[-1] == f"skus.csv:1:*: {extra} more header problem(s) not shown"
    assert len(str(refused.value)) < 5_000  # the 3,000 ignored columns are not all echoed
    assert snapshot(loaded_engine) == before
