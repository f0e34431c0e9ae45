"""The one CSV writer for every file restock writes: cells a spreadsheet would run as formulas become text.

A cell beginning with `=`, `+`, `-`, `@`, a tab or a carriage return is read as
a formula (or DDE command) by Excel, LibreOffice and Google Sheets
(OWASP "CSV injection"). Such a cell is written with a leading apostrophe, which
spreadsheets show as text and do not evaluate. Numbers are left alone — a
negative quantity `-3` or a decimal `-12.50` stays a number — so only text that
is not a plain number is neutralised.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import IO, Any

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def safe_cell(value: Any) -> Any:
    """`value` as a CSV cell a spreadsheet cannot evaluate: a leading `'` before a formula prefix.

    Numbers (int, float, Decimal, and text that is exactly a plain number such as
    `-3` or `+1.5`) are returned unchanged; None stays None (an empty cell).
    """
    if value is None or isinstance(value, bool | int | float | Decimal):
        return value
    cell = str(value)
    if cell.startswith(FORMULA_PREFIXES) and not _PLAIN_NUMBER.match(cell):
        return "'" + cell
    return cell


def safe_row(row: Iterable[Any]) -> list[Any]:
    """Every cell of a row through `safe_cell`."""
    return [safe_cell(value) for value in row]


class SafeWriter:
    """A `csv.writer` whose every cell (header included) goes through `safe_cell`."""

    def __init__(self, stream: IO[str], **fmt: Any) -> None:
        fmt.setdefault("lineterminator", "\n")
        self._writer = csv.writer(stream, **fmt)
        # csv's minimal quoting leaves a bare CR (or LF) unquoted when the line terminator does not
        # contain it, which splits the record on reading: such rows are written fully quoted.
        self._quoted = csv.writer(stream, **{**fmt, "quoting": csv.QUOTE_ALL})

    def writerow(self, row: Iterable[Any]) -> None:
        cells = safe_row(row)
        breaks = any(isinstance(cell, str) and ("\r" in cell or "\n" in cell) for cell in cells)
        (self._quoted if breaks else self._writer).writerow(cells)

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


class SafeDictWriter:
    """A `csv.DictWriter` whose every cell (header included) goes through `safe_cell`."""

    def __init__(self, stream: IO[str], fieldnames: Sequence[str], **fmt: Any) -> None:
        self.fieldnames = list(fieldnames)
        self._writer = SafeWriter(stream, **fmt)

    def writeheader(self) -> None:
        self._writer.writerow(self.fieldnames)

    def writerow(self, row: Mapping[str, Any]) -> None:
        unknown = set(row) - set(self.fieldnames)
        if unknown:
            raise ValueError(f"row has fields not in the header: {', '.join(sorted(unknown))}")
        self._writer.writerow(row.get(name) for name in self.fieldnames)

    def writerows(self, rows: Iterable[Mapping[str, Any]]) -> None:
        for row in rows:
            self.writerow(row)


def to_csv_text(header: Sequence[str], rows: Iterable[Iterable[Any]], **fmt: Any) -> str:
    """Header and rows as safe CSV text (LF line ends unless `lineterminator` says otherwise)."""
    buffer = io.StringIO()
    writer = SafeWriter(buffer, **fmt)
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def safe_frame(frame: Any) -> Any:
    """A copy of a pandas DataFrame whose text cells went through `safe_cell` (for `to_csv`).

    Numeric, date and boolean columns are left as they are, so the file pandas
    writes is byte-identical to the unprotected one whenever no text cell needed it.
    """
    out = frame.copy()
    for name in out.columns:
        if out[name].dtype == object:
            out[name] = out[name].map(lambda value: value if not isinstance(value, str) else safe_cell(value))
    return out
