"""`export_purchase_orders` on SQLite and PostgreSQL: one file per supplier in its format, a manifest,
byte-identical and PO-free re-runs, audited resends, and exactly-once files when the process is
killed (SIGKILL) after marking the POs and before writing, or after writing and before sealing."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, text

from kernel.audit import AuditEntry
from kernel.errors import InvalidInput
from kernel.orm import unit_of_work
from replenishment.approval import Who, approve_proposal, mark_proposals_exported, review_proposal
from replenishment.models import Proposal
from suppliers.export import ExportStyle, export_purchase_orders
from suppliers.exporters import COLUMNS
from suppliers.models import PurchaseOrder, SupplierFile
from tests.replenishment.approval_case import NOW, TZ, seed_business, store_proposal

WHO = Who("carol", NOW + timedelta(hours=1))
STYLE = ExportStyle(
    columns=tuple(COLUMNS), labels={}, encoding="utf-8-sig", delimiter=",", edifact_sender="SHOP"
)


def approved(engine: Engine, **names: str) -> int:
    seed_business(engine, supplier_names=names or None)
    pid = store_proposal(engine)
    review_proposal(engine, pid, Who("alice", NOW))
    approve_proposal(engine, pid, Who("bob", NOW), tz=TZ)
    return pid


def run(engine: Engine, outbox: Path, **kwargs):  # type: ignore[no-untyped-def]
    return export_purchase_orders(
        engine,
        actor=WHO.actor,
        now=WHO.now,
        tz=TZ,
        outbox=outbox,
        style_for=lambda code: STYLE,
        on_exported=lambda session, ids: mark_proposals_exported(session, ids, WHO),
        **kwargs,
    )


def snapshot(outbox: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(outbox.iterdir()) if p.is_file()}


def test_pending_pos_become_one_file_per_supplier_with_a_manifest(engine: Engine, tmp_path: Path) -> None:
    pid = approved(engine)
    report = run(engine, tmp_path / "outbox", pending=True)
    files = snapshot(tmp_path / "outbox")
    assert sorted(files) == [
        "A_PO-2026-000001.csv",
        "B_PO-2026-000002_to_000003.xlsx",
        "C_PO-2026-000004.edi",
        "manifest.json",
    ]
    assert [w["po_numbers"] for w in report.written] == [
        ["PO-2026-000001"],
        ["PO-2026-000002", "PO-2026-000003"],
        ["PO-2026-000004"],
    ]
    manifest = json.loads(files["manifest.json"])["files"]
    import hashlib

    for entry in manifest:
        assert hashlib.sha256(files[entry["file"]]).hexdigest() == entry["sha256"]
        assert entry["bytes"] == len(files[entry["file"]])
    assert [(e["file"], e["format"], e["po_numbers"]) for e in manifest][0] == (
        "A_PO-2026-000001.csv",
        "csv",
        ["PO-2026-000001"],
    )
    rows = list(csv.reader(io.StringIO(files["A_PO-2026-000001.csv"].decode("utf-8-sig"))))
    assert [r[2] for r in rows[1:]] == ["P1", "P2", "P3"] and rows[1][3] == "A-P1"
    with unit_of_work(engine) as s:
        assert s.get(Proposal, pid).state == "exported"  # type: ignore[union-attr]
        assert set(s.scalars(select(PurchaseOrder.status))) == {"exported"}
        actions = [
            e.action for e in s.scalars(select(AuditEntry).where(AuditEntry.entity == "supplier_file"))
        ]
        assert actions == ["export"] * 3


def test_exporting_again_changes_no_byte_and_raises_no_po(engine: Engine, tmp_path: Path) -> None:
    approved(engine)
    run(engine, tmp_path / "outbox", pending=True)
    before = snapshot(tmp_path / "outbox")
    mtimes = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "outbox").iterdir() if p.is_file()}
    report = run(engine, tmp_path / "outbox", pending=True)
    assert report.written == [] and not report.manifest_written
    assert snapshot(tmp_path / "outbox") == before
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "outbox").iterdir() if p.is_file()} == mtimes
    again = run(engine, tmp_path / "outbox", po_number="PO-2026-000001")
    assert again.skipped == [
        "PO-2026-000001 already exported in A_PO-2026-000001.csv; use --resend to send it again"
    ]
    with unit_of_work(engine) as s:
        assert s.scalar(select(func.count()).select_from(PurchaseOrder)) == 4
        assert s.scalar(select(func.count()).select_from(SupplierFile)) == 3


def test_resend_writes_the_same_bytes_and_is_audited(engine: Engine, tmp_path: Path) -> None:
    approved(engine)
    run(engine, tmp_path / "outbox", pending=True)
    original = (tmp_path / "outbox" / "C_PO-2026-000004.edi").read_bytes()
    (tmp_path / "outbox" / "C_PO-2026-000004.edi").unlink()
    assert run(engine, tmp_path / "outbox", pending=True).damaged == [
        "C_PO-2026-000004.edi: missing (use --resend to send again)"
    ]
    assert run(engine, tmp_path / "outbox", po_number="PO-2026-000004", resend=True).resent == [
        "C_PO-2026-000004.edi"
    ]
    assert (tmp_path / "outbox" / "C_PO-2026-000004.edi").read_bytes() == original
    with unit_of_work(engine) as s:
        entry = s.scalar(select(AuditEntry).where(AuditEntry.action == "resend"))
        assert (entry.actor, entry.entity_key, entry.after["resends"]) == ("carol", "C_PO-2026-000004.edi", 1)  # type: ignore[union-attr]
    with pytest.raises(InvalidInput, match="--resend needs --po"):
        run(engine, tmp_path / "outbox", pending=True, resend=True)


def test_one_po_alone_and_the_refusals(engine: Engine, tmp_path: Path) -> None:
    approved(engine)
    report = run(engine, tmp_path / "outbox", po_number="PO-2026-000003")
    assert [w["file"] for w in report.written] == ["B_PO-2026-000003.xlsx"]
    with pytest.raises(InvalidInput, match="either --po NUMBER or --pending"):
        run(engine, tmp_path)
    later = run(engine, tmp_path / "outbox", pending=True)
    assert [w["file"] for w in later.written] == [
        "A_PO-2026-000001.csv",
        "B_PO-2026-000002.xlsx",
        "C_PO-2026-000004.edi",
    ]


def test_supplier_text_cannot_inject_formulas_or_escape_the_outbox(engine: Engine, tmp_path: Path) -> None:
    from openpyxl import load_workbook

    approved(engine, B="=cmd|' /C calc'!A0")
    with unit_of_work(engine) as s:
        s.execute(text("UPDATE purchase_order_lines SET product_name = '+SUM(1)' WHERE sku_code = 'P4'"))
    run(engine, tmp_path / "outbox", pending=True)
    sheet = load_workbook(tmp_path / "outbox" / "B_PO-2026-000002_to_000003.xlsx").active
    names = [row[COLUMN_INDEX["product_name"]].value for row in sheet.iter_rows(min_row=2, max_row=3)]
    assert names == ["'+SUM(1)", "Teapot"]
    assert all(c.data_type != "f" for row in sheet.iter_rows() for c in row)


COLUMN_INDEX = {c: i for i, c in enumerate(COLUMNS)}


CRASHER = textwrap.dedent(
    """
    import os, signal, sys
    from datetime import datetime
    from pathlib import Path
    from zoneinfo import ZoneInfo
    from restock.db import make_engine
    import suppliers.export as export
    from suppliers.exporters import COLUMNS

    url, schema, outbox, point = sys.argv[1], sys.argv[2] or None, Path(sys.argv[3]), sys.argv[4]
    real_write, real_seal = export.write_file, export.seal

    def die() -> None:
        os.kill(os.getpid(), signal.SIGKILL)

    def write_file(box, name, data):
        if point == "after_mark":
            die()                       # POs marked, file not written
        if point == "mid_write":
            temp = box / ".tmp" / (name + ".part")
            temp.parent.mkdir(exist_ok=True)
            temp.write_bytes(data[: len(data) // 2])
            die()                       # half a file, in the temporary area only
        real_write(box, name, data)

    def seal(engine, file_id, now):
        if point == "after_write":
            die()                       # file written, not sealed
        real_seal(engine, file_id, now)

    export.write_file, export.seal = write_file, seal
    tz = ZoneInfo("Asia/Shanghai")
    style = export.ExportStyle(tuple(COLUMNS), {}, "utf-8-sig", ",", "SHOP")
    export.export_purchase_orders(
        make_engine(url, schema=schema), actor="crash", now=datetime(2026, 8, 31, 11, tzinfo=tz), tz=tz,
        outbox=outbox, style_for=lambda code: style, pending=True,
    )
    """
)


@pytest.mark.parametrize("point", ["after_mark", "after_write", "mid_write"])
def test_a_kill_between_marking_and_writing_ends_with_exactly_one_file_per_po(
    engine: Engine, tmp_path: Path, point: str
) -> None:
    approved(engine)
    outbox = tmp_path / "outbox"
    url = engine.url.render_as_string(hide_password=False)
    schema = ""
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            schema = conn.execute(text("SELECT current_schema()")).scalar_one()
    crashed = subprocess.run(
        [sys.executable, "-c", CRASHER, url, schema, str(outbox), point],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    visible = sorted(p.name for p in outbox.iterdir() if p.is_file())
    # never a partial file under its final name; the manifest is written only at the end
    assert "manifest.json" not in visible
    with unit_of_work(engine) as s:
        states = dict(s.execute(select(SupplierFile.file_name, SupplierFile.state)).all())
    assert states == {"A_PO-2026-000001.csv": "writing"}
    if point == "after_write":
        assert visible == ["A_PO-2026-000001.csv"]
    else:
        assert visible == []
    report = run(engine, outbox, pending=True)
    assert report.recovered == ["A_PO-2026-000001.csv"] and report.damaged == []
    assert [w["file"] for w in report.written] == ["B_PO-2026-000002_to_000003.xlsx", "C_PO-2026-000004.edi"]
    assert not (outbox / ".tmp").exists() or list((outbox / ".tmp").iterdir()) == []
    with unit_of_work(engine) as s:
        assert set(s.scalars(select(SupplierFile.state))) == {"written"}
        per_po = s.execute(
            select(PurchaseOrder.po_number, func.count(SupplierFile.id))
            .join(SupplierFile, SupplierFile.id == PurchaseOrder.supplier_file_id)
            .group_by(PurchaseOrder.po_number)
        ).all()
        assert sorted(per_po) == [(f"PO-2026-00000{n}", 1) for n in range(1, 5)]
    # the recovered file has the digest recorded when the POs were marked (report.damaged is empty)
    with unit_of_work(engine) as s:
        options = s.scalar(
            select(SupplierFile.options).where(SupplierFile.file_name == "A_PO-2026-000001.csv")
        )
    assert options["prepared_at"] == "2026-08-31T11:00"
    assert sorted(snapshot(outbox)) == sorted(
        ["A_PO-2026-000001.csv", "B_PO-2026-000002_to_000003.xlsx", "C_PO-2026-000004.edi", "manifest.json"]
    )
    assert os.path.getsize(outbox / "A_PO-2026-000001.csv") > 0
