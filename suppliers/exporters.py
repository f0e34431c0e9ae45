"""Supplier PO files as bytes, one exporter per format (pure): CSV, XLSX and UN/EDIFACT ORDERS D96A.

Every exporter takes the same `PoDocument`s and `FileOptions` and returns the file's bytes;
the same input always gives the same bytes (no clock, no random ids: the timestamp is an
option). CSV goes through `kernel.csvsafe` and XLSX text cells through its `safe_cell`, so a
cell beginning with =, +, -, @, tab or CR is never evaluated; EDIFACT is built and escaped
by pydifact. `file_stem` makes a file name from a supplier code that cannot leave the outbox.
"""

from __future__ import annotations

import hashlib
import io
import re
import unicodedata
import warnings
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol

from kernel.csvsafe import safe_cell, to_csv_text
from kernel.errors import InvalidInput


@dataclass(frozen=True)
class PoDocumentLine:
    """One PO line as printed: units = cases × case pack; money in CNY."""

    line_no: int
    sku: str
    supplier_item_code: str
    product_name: str
    units: int
    cases: int
    case_pack: int
    unit_cost: Decimal
    line_value: Decimal


@dataclass(frozen=True)
class PoDocument:
    """A purchase order as it goes to the supplier."""

    po_number: str
    supplier_code: str
    supplier_name: str
    order_date: date
    delivery_date: date
    lines: tuple[PoDocumentLine, ...]

    @property
    def total_units(self) -> int:
        return sum(ln.units for ln in self.lines)

    @property
    def total_value(self) -> Decimal:
        return sum((ln.line_value for ln in self.lines), Decimal(0))


# column → default header label
COLUMNS: dict[str, str] = {
    "po_number": "PO number",
    "line_no": "Line",
    "sku": "SKU",
    "supplier_item_code": "Supplier item code",
    "product_name": "Product name",
    "units": "Units",
    "cases": "Cases",
    "case_pack": "Units per case",
    "unit_cost": "Unit cost (CNY)",
    "line_value": "Line value (CNY)",
    "delivery_date": "Delivery date",
    "order_date": "Order date",
    "supplier": "Supplier",
}
INTEGER_COLUMNS = {"line_no", "units", "cases", "case_pack"}
MONEY_COLUMNS = {"unit_cost", "line_value"}
DATE_COLUMNS = {"delivery_date", "order_date"}
ENCODINGS = ("utf-8-sig", "gb18030")


@dataclass(frozen=True)
class FileOptions:
    """How a supplier's file looks; stored with the file so it can be rendered again byte for byte.

    `prepared_at` (local wall time, minutes) is the interchange time in EDIFACT and the
    workbook's creation time in XLSX.
    """

    columns: tuple[str, ...]
    labels: dict[str, str] = field(default_factory=dict)
    encoding: str = "utf-8-sig"
    delimiter: str = ","
    edifact_sender: str = "RESTOCK"
    prepared_at: str = "2026-01-01T00:00"

    def __post_init__(self) -> None:
        unknown = [c for c in self.columns if c not in COLUMNS]
        if unknown or not self.columns:
            raise InvalidInput(
                f"export columns: unknown column(s) {', '.join(unknown) or '(none given)'}; "
                f"known: {', '.join(COLUMNS)}"
            )
        if self.encoding not in ENCODINGS:
            raise InvalidInput(
                f"export encoding: expected one of {', '.join(ENCODINGS)}, got {self.encoding!r}"
            )

    def label(self, column: str) -> str:
        return self.labels.get(column, COLUMNS[column])

    def to_dict(self) -> dict[str, Any]:
        return {
            "columns": list(self.columns),
            "labels": dict(sorted(self.labels.items())),
            "encoding": self.encoding,
            "delimiter": self.delimiter,
            "edifact_sender": self.edifact_sender,
            "prepared_at": self.prepared_at,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> FileOptions:
        return cls(
            columns=tuple(raw["columns"]),
            labels=dict(raw.get("labels", {})),
            encoding=raw.get("encoding", "utf-8-sig"),
            delimiter=raw.get("delimiter", ","),
            edifact_sender=raw.get("edifact_sender", "RESTOCK"),
            prepared_at=raw["prepared_at"],
        )


def _value(doc: PoDocument, line: PoDocumentLine, column: str) -> Any:
    if column == "po_number":
        return doc.po_number
    if column == "supplier":
        return doc.supplier_code
    if column == "delivery_date":
        return doc.delivery_date
    if column == "order_date":
        return doc.order_date
    return getattr(line, column)


class Exporter(Protocol):
    """Renders POs (all to one supplier) as one file."""

    extension: str

    def render(self, documents: list[PoDocument], options: FileOptions) -> bytes: ...


class CsvExporter:
    """CSV with the configured columns and labels; UTF-8 with BOM or GB18030; CRLF line ends."""

    extension = "csv"

    def render(self, documents: list[PoDocument], options: FileOptions) -> bytes:
        header = [options.label(c) for c in options.columns]
        rows = []
        for doc in documents:
            for line in doc.lines:
                row = []
                for column in options.columns:
                    value = _value(doc, line, column)
                    if isinstance(value, date):
                        value = value.isoformat()
                    elif isinstance(value, Decimal):
                        value = f"{value:.2f}" if column == "line_value" else _cost(value)
                    row.append(value)
                rows.append(row)
        delimiter = "\t" if options.delimiter == "\\t" else options.delimiter
        text = to_csv_text(header, rows, lineterminator="\r\n", delimiter=delimiter)
        try:
            return text.encode(options.encoding)
        except UnicodeEncodeError as exc:
            raise InvalidInput(
                f"export encoding {options.encoding}: cannot encode {text[exc.start : exc.end]!r}; "
                "choose utf-8-sig for this supplier"
            ) from exc


def _cost(value: Decimal) -> str:
    """Unit cost with 2 decimals, or 4 where the price list quotes fractions of a fen."""
    return f"{value:.2f}" if value == value.quantize(Decimal("0.01")) else f"{value:.4f}"


class XlsxExporter:
    """One worksheet: a bold header row frozen at the top, typed cells (integers, CNY amounts,
    dates), a totals row; text cells neutralised like CSV. Written by XlsxWriter with a fixed
    creation time, so the same POs give the same bytes."""

    extension = "xlsx"

    def render(self, documents: list[PoDocument], options: FileOptions) -> bytes:
        import xlsxwriter

        buffer = io.BytesIO()
        workbook = xlsxwriter.Workbook(
            buffer,
            {
                "in_memory": True,
                "strings_to_formulas": False,
                "strings_to_numbers": False,
                "strings_to_urls": False,
            },
        )
        created = datetime.fromisoformat(options.prepared_at)
        workbook.set_properties({"created": created, "title": "Purchase orders", "author": "restock"})
        sheet = workbook.add_worksheet("Purchase orders")
        bold = workbook.add_format({"bold": True})
        money = workbook.add_format({"num_format": "#,##0.00"})
        cost = workbook.add_format({"num_format": "#,##0.00##"})
        day = workbook.add_format({"num_format": "yyyy-mm-dd"})
        total_money = workbook.add_format({"bold": True, "num_format": "#,##0.00"})
        total_int = workbook.add_format({"bold": True})
        for col, column in enumerate(options.columns):
            sheet.write_string(0, col, str(safe_cell(options.label(column))), bold)
            sheet.set_column(col, col, max(10, min(40, len(options.label(column)) + 4)))
        row = 0
        for doc in documents:
            for line in doc.lines:
                row += 1
                for col, column in enumerate(options.columns):
                    value = _value(doc, line, column)
                    if column in INTEGER_COLUMNS:
                        sheet.write_number(row, col, int(value))
                    elif column in MONEY_COLUMNS:
                        sheet.write_number(row, col, float(value), money if column == "line_value" else cost)
                    elif column in DATE_COLUMNS:
                        sheet.write_datetime(row, col, datetime.combine(value, datetime.min.time()), day)
                    else:
                        sheet.write_string(row, col, str(safe_cell(value)))
        row += 1
        sheet.write_string(row, 0, "Total", total_int)
        for col, column in enumerate(options.columns):
            if column == "units":
                sheet.write_number(row, col, sum(d.total_units for d in documents), total_int)
            elif column == "cases":
                sheet.write_number(row, col, sum(ln.cases for d in documents for ln in d.lines), total_int)
            elif column == "line_value":
                total = sum((d.total_value for d in documents), Decimal(0))
                sheet.write_number(row, col, float(total), total_money)
        sheet.freeze_panes(1, 0)
        sheet.autofilter(0, 0, row - 1, len(options.columns) - 1)
        workbook.close()
        return buffer.getvalue()


class EdifactExporter:
    """UN/EDIFACT ORDERS D96A: one interchange (UNA, UNB … UNZ) per file, one message per PO:
    BGM (220 order, PO number), DTM 137 (order date) and 2 (delivery date), NAD BY/SU,
    per line LIN (supplier's article number, SA), PIA (our SKU, BP), QTY 21, PRI AAA;
    UNS, CNT 2 (line count), UNT (segment count). Syntax UNOC level 3 (Latin-1), so text is
    transliterated where Latin-1 cannot hold it; release characters are escaped by pydifact."""

    extension = "edi"

    def render(self, documents: list[PoDocument], options: FileOptions) -> bytes:
        from pydifact.control import Characters
        from pydifact.segmentcollection import Interchange, Message
        from pydifact.segments import Segment

        prepared = datetime.fromisoformat(options.prepared_at)
        reference = control_reference(documents[0].po_number)
        characters = Characters(decimal_point=".")
        with warnings.catch_warnings():
            # pydifact looks for optional directory XML it does not ship; nothing is wrong
            warnings.simplefilter("ignore")
            interchange = Interchange(
                sender=[_latin(options.edifact_sender), "ZZZ"],
                recipient=[_latin(documents[0].supplier_code), "ZZZ"],
                control_reference=reference,
                syntax_identifier=("UNOC", 3),
                timestamp=prepared,
                characters=characters,
            )
            interchange.has_una_segment = True
            for number, doc in enumerate(documents, start=1):
                message = Message(str(number), ["ORDERS", "D", "96A", "UN"], characters=characters)
                message.add_segment(Segment("BGM", "220", doc.po_number, "9"))
                message.add_segment(Segment("DTM", ["137", f"{doc.order_date:%Y%m%d}", "102"]))
                message.add_segment(Segment("DTM", ["2", f"{doc.delivery_date:%Y%m%d}", "102"]))
                message.add_segment(Segment("NAD", "BY", [_latin(options.edifact_sender), "", "92"]))
                message.add_segment(
                    Segment("NAD", "SU", [_latin(doc.supplier_code), "", "92"], "", _latin(doc.supplier_name))
                )
                for line in doc.lines:
                    message.add_segment(
                        Segment("LIN", str(line.line_no), "", [_latin(line.supplier_item_code), "SA"])
                    )
                    message.add_segment(Segment("PIA", "5", [_latin(line.sku), "BP"]))
                    message.add_segment(Segment("QTY", ["21", str(line.units), "PCE"]))
                    message.add_segment(Segment("PRI", ["AAA", _cost(line.unit_cost)]))
                message.add_segment(Segment("UNS", "S"))
                message.add_segment(Segment("CNT", ["2", str(len(doc.lines))]))
                interchange.add_message(message)
            return interchange.serialize().encode("latin-1")


def control_reference(po_number: str) -> str:
    """The interchange control reference (≤ 14 characters) from the first PO number: 2026000123."""
    digits = re.sub(r"\D", "", po_number)
    return digits[-14:] or "1"


def _latin(text: str) -> str:
    """Text Latin-1 (UNOC) can carry: Latin-1 characters kept, others transliterated or dropped."""
    kept = []
    for char in unicodedata.normalize("NFKC", text):
        if ord(char) < 256:
            kept.append(char)
        else:
            kept.append(unicodedata.normalize("NFKD", char).encode("ascii", errors="ignore").decode())
    out = " ".join("".join(kept).split())
    return out or hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]


# The media type of each file extension, for downloads.
MEDIA_TYPES = {
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "edi": "application/EDIFACT",
}

EXPORTERS: dict[str, Exporter] = {"csv": CsvExporter(), "xlsx": XlsxExporter(), "edifact": EdifactExporter()}

_WINDOWS_RESERVED = {
    "CON",
    "PRN",
    "AUX",
    "NUL",
    *(f"COM{i}" for i in range(1, 10)),
    *(f"LPT{i}" for i in range(1, 10)),
}
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


def safe_code(code: str) -> str:
    """A supplier code as part of a file name: letters, digits, - and _ only; never empty, never a
    path, never a reserved device name; a code that had to change gets a short digest of the
    original so two codes cannot collide."""
    cleaned = _UNSAFE.sub("_", unicodedata.normalize("NFKC", code)).strip("_-")[:48]
    if not cleaned:
        cleaned = "supplier"
    if cleaned.upper() in _WINDOWS_RESERVED:
        cleaned = f"_{cleaned}"
    if cleaned != code:
        cleaned = f"{cleaned}-{hashlib.sha256(code.encode('utf-8', 'surrogatepass')).hexdigest()[:8]}"
    return cleaned


def file_name(supplier_code: str, po_numbers: list[str], export_format: str) -> str:
    """`SUP-A_PO-2026-000001.csv`, or `SUP-A_PO-2026-000001_to_000004.csv` for several POs."""
    first, last = po_numbers[0], po_numbers[-1]
    span = first if len(po_numbers) == 1 else f"{first}_to_{last.rsplit('-', 1)[-1]}"
    return f"{safe_code(supplier_code)}_{_UNSAFE.sub('_', span)}.{EXPORTERS[export_format].extension}"
