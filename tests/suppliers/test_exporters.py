"""Every exporter renders the same POs deterministically and is read back by an independent reader:
CSV (UTF-8 with BOM and GB18030) with csv, XLSX with openpyxl, EDIFACT ORDERS with pydifact;
formula-looking text is neutralised; supplier codes make safe file names."""

from __future__ import annotations

import csv
import io
import warnings
from datetime import date
from decimal import Decimal

import pytest

from kernel.errors import InvalidInput
from suppliers.exporters import (
    COLUMNS,
    EXPORTERS,
    FileOptions,
    PoDocument,
    PoDocumentLine,
    control_reference,
    file_name,
    safe_code,
)

DOCS = [
    PoDocument(
        po_number="PO-2026-000007",
        supplier_code="SUP-D",
        supplier_name="Guangzhou Yuexiang Food's ?+: Factory",
        order_date=date(2026, 8, 31),
        delivery_date=date(2026, 9, 14),
        lines=(
            PoDocumentLine(
                1, "MCK-002", "YX-88", "双黄莲蓉月饼", 672, 56, 12, Decimal("85.3000"), Decimal("57321.60")
            ),
            PoDocumentLine(
                2,
                "MCK-009",
                '=HYPERLINK("http://x")',
                "@SUM(A1)",
                360,
                30,
                12,
                Decimal("195.0025"),
                Decimal("70200.90"),
            ),
        ),
    ),
    PoDocument(
        po_number="PO-2026-000008",
        supplier_code="SUP-D",
        supplier_name="Guangzhou Yuexiang Food's ?+: Factory",
        order_date=date(2026, 8, 31),
        delivery_date=date(2026, 9, 28),
        lines=(
            PoDocumentLine(1, "MCK-011", "YX-11", "-minus\tTab", 24, 2, 12, Decimal("10"), Decimal("240.00")),
        ),
    ),
]
ALL_COLUMNS = tuple(COLUMNS)
OPTIONS = FileOptions(columns=ALL_COLUMNS, prepared_at="2026-08-31T10:05", edifact_sender="SHOP")


@pytest.mark.parametrize("export_format", sorted(EXPORTERS))
def test_every_exporter_gives_the_same_bytes_for_the_same_pos(export_format: str) -> None:
    exporter = EXPORTERS[export_format]
    assert exporter.render(DOCS, OPTIONS) == exporter.render(
        list(DOCS), FileOptions.from_dict(OPTIONS.to_dict())
    )


@pytest.mark.parametrize("encoding", ["utf-8-sig", "gb18030"])
def test_csv_reads_back_in_its_encoding_with_labels_and_neutralised_cells(encoding: str) -> None:
    options = FileOptions(
        columns=(
            "po_number",
            "sku",
            "supplier_item_code",
            "product_name",
            "units",
            "cases",
            "unit_cost",
            "line_value",
            "delivery_date",
        ),
        labels={"po_number": "采购单号", "product_name": "品名"},
        encoding=encoding,
        prepared_at="2026-08-31T10:05",
    )
    data = EXPORTERS["csv"].render(DOCS, options)
    assert data.startswith(b"\xef\xbb\xbf") == (encoding == "utf-8-sig")
    if encoding == "gb18030":
        with pytest.raises(UnicodeDecodeError):
            data.decode("utf-8")
    rows = list(csv.reader(io.StringIO(data.decode(encoding), newline="")))
    assert rows[0] == [
        "采购单号",
        "SKU",
        "Supplier item code",
        "品名",
        "Units",
        "Cases",
        "Unit cost (CNY)",
        "Line value (CNY)",
        "Delivery date",
    ]
    assert rows[1] == [
        "PO-2026-000007",
        "MCK-002",
        "YX-88",
        "双黄莲蓉月饼",
        "672",
        "56",
        "85.30",
        "57321.60",
        "2026-09-14",
    ]
    # formula-looking text is written as text; the fractional fen of a unit cost is kept
    assert rows[2][2:4] == ['\'=HYPERLINK("http://x")', "'@SUM(A1)"] and rows[2][6] == "195.0025"
    assert rows[3][3] == "'-minus\tTab"
    assert data.count(b"\r\n") == 4


def test_xlsx_reads_back_typed_with_header_totals_and_frozen_header() -> None:
    from openpyxl import load_workbook

    data = EXPORTERS["xlsx"].render(DOCS, OPTIONS)
    sheet = load_workbook(io.BytesIO(data)).active
    assert sheet.freeze_panes == "A2"
    header = [c.value for c in sheet[1]]
    assert header == [COLUMNS[c] for c in ALL_COLUMNS] and all(c.font.b for c in sheet[1])
    first = {c: sheet.cell(2, i + 1).value for i, c in enumerate(ALL_COLUMNS)}
    assert first["units"] == 672 and isinstance(first["units"], int)
    assert first["unit_cost"] == pytest.approx(85.3) and first["line_value"] == pytest.approx(57321.60)
    assert first["delivery_date"].date() == date(2026, 9, 14) and first["product_name"] == "双黄莲蓉月饼"
    second = {c: sheet.cell(3, i + 1).value for i, c in enumerate(ALL_COLUMNS)}
    assert (
        second["supplier_item_code"] == '\'=HYPERLINK("http://x")' and second["product_name"] == "'@SUM(A1)"
    )
    assert sheet.cell(3, 1).data_type == "s" and all(
        c.data_type != "f" for row in sheet.iter_rows() for c in row
    )
    total = {c: sheet.cell(5, i + 1).value for i, c in enumerate(ALL_COLUMNS)}
    assert total["po_number"] == "Total" and total["units"] == 672 + 360 + 24 and total["cases"] == 88
    assert total["line_value"] == pytest.approx(
        float(Decimal("57321.60") + Decimal("70200.90") + Decimal("240.00"))
    )


def test_edifact_orders_reads_back_segment_by_segment_with_correct_counts() -> None:
    from pydifact.segmentcollection import Interchange

    data = EXPORTERS["edifact"].render(DOCS, OPTIONS)
    text = data.decode("latin-1")
    assert text.startswith("UNA:+.? 'UNB+UNOC:3+SHOP:ZZZ+SUP-D:ZZZ+260831:1005+2026000007'")
    assert "Food?'s ???+?: Factory" in text  # release characters escaped
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        interchange = Interchange.from_str(text)
        messages = list(interchange.get_messages())
    segments = [s for s in interchange.segments]
    assert [m.reference_number for m in messages] == ["1", "2"]
    # UNZ: number of messages and the control reference
    assert text.endswith("UNZ+2+2026000007'")
    first = messages[0]
    tags = [s.tag for s in first.segments]
    assert tags == [
        "BGM",
        "DTM",
        "DTM",
        "NAD",
        "NAD",
        "LIN",
        "PIA",
        "QTY",
        "PRI",
        "LIN",
        "PIA",
        "QTY",
        "PRI",
        "UNS",
        "CNT",
    ]
    seg = {(s.tag, i): s.elements for i, s in enumerate(first.segments)}
    assert seg[("BGM", 0)] == ["220", "PO-2026-000007", "9"]
    assert seg[("DTM", 1)] == [["137", "20260831", "102"]] and seg[("DTM", 2)] == [["2", "20260914", "102"]]
    assert seg[("NAD", 4)][3] == "Guangzhou Yuexiang Food's ?+: Factory"
    assert seg[("LIN", 9)] == ["2", "", ['=HYPERLINK("http://x")', "SA"]]
    assert seg[("PIA", 6)] == ["5", ["MCK-002", "BP"]]
    assert seg[("QTY", 7)] == [["21", "672", "PCE"]] and seg[("PRI", 8)] == [["AAA", "85.30"]]
    assert seg[("CNT", 14)] == [["2", "2"]]
    # UNT counts UNH..UNT inclusive and repeats the message reference
    unts = [s.elements for s in segments if s.tag == "UNT"]
    assert unts == [[str(len(first.segments) + 2), "1"], [str(len(messages[1].segments) + 2), "2"]]
    quantities = [int(s.elements[0][1]) for s in segments if s.tag == "QTY"]
    assert sum(quantities) == 672 + 360 + 24


def test_text_outside_latin_1_is_transliterated_for_edifact() -> None:
    doc = PoDocument(
        "PO-2026-000001",
        "SUP-É",
        "Café 杭州",
        date(2026, 8, 31),
        date(2026, 9, 1),
        (PoDocumentLine(1, "A", "A", "", 1, 1, 1, Decimal("1"), Decimal("1.00")),),
    )
    text = EXPORTERS["edifact"].render([doc], OPTIONS).decode("latin-1")
    assert "SUP-É:ZZZ" in text and "Café" in text


@pytest.mark.parametrize(
    ("code", "expected_prefix"),
    [
        ("SUP-A", "SUP-A"),
        ("../../etc/passwd", "etc_passwd-"),
        ("CON", "_CON-"),
        ("nul", "_nul-"),
        ("a\x00b", "a_b-"),
        ("..", "supplier-"),
        ("供应商", "supplier-"),  # ASCII names only: supplier systems mangle others
        ("A/B", "A_B-"),
    ],
)
def test_supplier_codes_make_safe_file_names(code: str, expected_prefix: str) -> None:
    stem = safe_code(code)
    assert stem.startswith(expected_prefix)
    name = file_name(code, ["PO-2026-000001"], "csv")
    assert "/" not in name and "\\" not in name and "\x00" not in name and not name.startswith(".")
    assert name.split("_PO-")[0].split("-")[0].upper() not in {"CON", "NUL", "PRN", "AUX"}
    if code != "SUP-A":
        assert stem != safe_code(code + "x")  # changed codes carry a digest: no collisions


def test_file_names_span_several_pos() -> None:
    assert file_name("SUP-A", ["PO-2026-000001"], "csv") == "SUP-A_PO-2026-000001.csv"
    assert (
        file_name("SUP-B", ["PO-2026-000002", "PO-2026-000005"], "xlsx")
        == "SUP-B_PO-2026-000002_to_000005.xlsx"
    )
    assert file_name("SUP-C", ["PO-2026-000003"], "edifact") == "SUP-C_PO-2026-000003.edi"
    assert control_reference("PO-2026-000123") == "2026000123"


def test_unknown_columns_and_encodings_are_refused() -> None:
    with pytest.raises(InvalidInput, match="unknown column\\(s\\) colour"):
        FileOptions(columns=("sku", "colour"))
    with pytest.raises(InvalidInput, match="expected one of utf-8-sig, gb18030"):
        FileOptions(columns=("sku",), encoding="latin-1")
