"""`restock export`: write each supplier's purchase orders to the outbox in the supplier's format,
exactly once, with a manifest.

Order of work per file, each step safe to be killed after:
  1. mark — one transaction: the POs become `exported` and point at a `supplier_files` row
     (state writing) holding the file's name, SHA-256 and the options it was rendered with;
  2. write — the bytes go to the outbox atomically (`suppliers.outbox`);
  3. seal — the row becomes `written`; the manifest is rewritten from the table.
The next run first completes every file left in state writing: it renders the same bytes
from the same POs and options (checking the digest), writes them and seals the row. So a
kill between marking and writing, or between writing and sealing, ends with exactly one
file per PO and no PO exported twice. Exporting again writes nothing new (the files on disk
are checked against their digests); sending a PO's file again needs `resend`, which is
audited. One export runs at a time (`kernel.locks`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session, selectinload

from kernel.audit import record
from kernel.errors import InvalidInput, NotFound
from kernel.locks import job_lock
from kernel.orm import unit_of_work
from suppliers.exporters import EXPORTERS, FileOptions, PoDocument, PoDocumentLine, file_name
from suppliers.models import PurchaseOrder, Supplier, SupplierFile
from suppliers.outbox import atomic_write, clear_leftovers, file_digest, sha256_hex, tidy, write_manifest

CENT = Decimal("0.01")
# Called inside the marking transaction with the ids of the proposals whose POs were exported.
OnExported = Callable[[Session, set[int]], None]


@dataclass(frozen=True)
class ExportStyle:
    """What the settings say a supplier's file looks like (see ExportSettings)."""

    columns: tuple[str, ...]
    labels: dict[str, str]
    encoding: str
    delimiter: str
    edifact_sender: str


@dataclass
class ExportReport:
    """What an export run did: files written, completed after a crash, re-sent; POs skipped and why;
    files of earlier runs missing or altered on disk."""

    written: list[dict[str, Any]] = field(default_factory=list)
    recovered: list[str] = field(default_factory=list)
    resent: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    damaged: list[str] = field(default_factory=list)
    leftovers_removed: list[str] = field(default_factory=list)
    manifest_written: bool = False
    outbox: str = ""


def export_purchase_orders(
    engine: Engine,
    *,
    actor: str,
    now: datetime,
    tz: ZoneInfo,
    outbox: Path,
    style_for: Callable[[str], ExportStyle],
    po_number: str | None = None,
    pending: bool = False,
    resend: bool = False,
    on_exported: OnExported | None = None,
    lock_wait_s: float = 60.0,
) -> ExportReport:
    """Export one PO (`po_number`) or every PO not yet exported (`pending`), one file per supplier
    in the supplier's format; `resend` writes an exported PO's file again (audited).
    `style_for(supplier_code)` gives the CSV columns, labels and encoding from the settings."""
    if (po_number is None) == (not pending):
        raise InvalidInput("export: give either --po NUMBER or --pending")
    if resend and po_number is None:
        raise InvalidInput("export: --resend needs --po NUMBER (the PO whose file is sent again)")
    outbox = Path(outbox)
    outbox.mkdir(parents=True, exist_ok=True)
    report = ExportReport(outbox=str(outbox))
    with job_lock(engine, "export", now=lambda: now, wait_s=lock_wait_s, holder=actor, tz=tz):
        report.leftovers_removed = clear_leftovers(outbox)
        report.recovered = _complete_unsealed(engine, outbox, now)
        if resend:
            assert po_number is not None
            report.resent.append(_resend(engine, outbox, po_number, actor, now))
        else:
            groups = _select(engine, po_number, report)
            for supplier_id, order_ids in groups:
                report.written.append(
                    _export_group(
                        engine, outbox, supplier_id, order_ids, actor, now, tz, style_for, on_exported
                    )
                )
        report.damaged = _verify(engine, outbox)
        report.manifest_written = write_manifest(outbox, _manifest_entries(engine))
        tidy(outbox)
    return report


# --- selecting -------------------------------------------------------------------------------


def _select(engine: Engine, po_number: str | None, report: ExportReport) -> list[tuple[int, list[int]]]:
    with unit_of_work(engine) as session:
        if po_number is not None:
            order = session.scalar(select(PurchaseOrder).where(PurchaseOrder.po_number == po_number))
            if order is None:
                raise NotFound(f"purchase order {po_number} does not exist")
            if order.proposal_id is None:
                raise InvalidInput(
                    f"{po_number} was imported as an open order, not raised by restock: no file to send"
                )
            if order.supplier_file_id is not None:
                existing = session.get(SupplierFile, order.supplier_file_id)
                report.skipped.append(
                    f"{po_number} already exported in {existing.file_name if existing else '?'}; "
                    "use --resend to send it again"
                )
                return []
            return [(order.supplier_id, [order.id])]
        rows = session.execute(
            select(PurchaseOrder.supplier_id, PurchaseOrder.id)
            .where(
                PurchaseOrder.proposal_id.is_not(None),
                PurchaseOrder.supplier_file_id.is_(None),
                PurchaseOrder.status == "approved",
            )
            .order_by(PurchaseOrder.po_number)
        ).all()
    groups: dict[int, list[int]] = {}
    for supplier_id, order_id in rows:
        groups.setdefault(supplier_id, []).append(order_id)
    return sorted(groups.items())


def _documents(session: Session, order_ids: list[int]) -> tuple[Supplier, list[PoDocument]]:
    orders = list(
        session.scalars(
            select(PurchaseOrder)
            .options(selectinload(PurchaseOrder.lines), selectinload(PurchaseOrder.supplier))
            .where(PurchaseOrder.id.in_(order_ids))
            .order_by(PurchaseOrder.po_number)
        )
    )
    supplier = orders[0].supplier
    documents = []
    for order in orders:
        lines = []
        for number, line in enumerate(sorted(order.lines, key=lambda ln: ln.sku_code or ""), start=1):
            case_pack = line.case_pack or 1
            lines.append(
                PoDocumentLine(
                    line_no=number,
                    sku=line.sku_code or "",
                    supplier_item_code=line.supplier_item_code or line.sku_code or "",
                    product_name=line.product_name or "",
                    units=line.units,
                    cases=line.units // case_pack,
                    case_pack=case_pack,
                    unit_cost=line.unit_cost,
                    line_value=(line.unit_cost * line.units).quantize(CENT, rounding=ROUND_HALF_UP),
                )
            )
        documents.append(
            PoDocument(
                po_number=order.po_number,
                supplier_code=supplier.code,
                supplier_name=supplier.name,
                order_date=order.order_date,
                delivery_date=order.expected_date,
                lines=tuple(lines),
            )
        )
    return supplier, documents


def _render(export_format: str, documents: list[PoDocument], options: FileOptions) -> bytes:
    return EXPORTERS[export_format].render(documents, options)


# --- the three steps -------------------------------------------------------------------------


def _export_group(
    engine: Engine,
    outbox: Path,
    supplier_id: int,
    order_ids: list[int],
    actor: str,
    now: datetime,
    tz: ZoneInfo,
    style_for: Callable[[str], ExportStyle],
    on_exported: OnExported | None,
) -> dict[str, Any]:
    with unit_of_work(engine) as session:
        supplier, documents = _documents(session, order_ids)
        style = style_for(supplier.code)
        options = FileOptions(
            columns=style.columns,
            labels=style.labels,
            encoding=style.encoding,
            delimiter=style.delimiter,
            edifact_sender=style.edifact_sender,
            prepared_at=f"{now.astimezone(tz):%Y-%m-%dT%H:%M}",
        )
        data = _render(supplier.export_format, documents, options)
        numbers = [d.po_number for d in documents]
        name = file_name(supplier.code, numbers, supplier.export_format)
        sealed = SupplierFile(
            file_name=name,
            supplier_id=supplier.id,
            export_format=supplier.export_format,
            sha256=sha256_hex(data),
            size_bytes=len(data),
            po_numbers=numbers,
            state="writing",
            created_at=now,
            created_by=actor,
            resends=0,
            options=options.to_dict(),
        )
        session.add(sealed)
        session.flush()
        # only POs still unexported are taken: a concurrent or repeated run finds none
        taken = session.execute(
            update(PurchaseOrder)
            .where(PurchaseOrder.id.in_(order_ids), PurchaseOrder.supplier_file_id.is_(None))
            .values(supplier_file_id=sealed.id, status="exported")
        )
        if taken.rowcount != len(order_ids):
            raise InvalidInput(f"{', '.join(numbers)}: exported meanwhile by another run; nothing written")
        for number in numbers:
            record(
                session,
                at=now,
                actor=actor,
                action="export",
                entity="purchase_order",
                entity_key=number,
                before={"status": "approved"},
                after={"status": "exported", "file": name},
            )
        record(
            session,
            at=now,
            actor=actor,
            action="export",
            entity="supplier_file",
            entity_key=name,
            after={
                "sha256": sealed.sha256,
                "format": sealed.export_format,
                "supplier": supplier.code,
                "po_numbers": numbers,
                "bytes": len(data),
            },
        )
        if on_exported is not None:
            proposals = set(
                session.scalars(select(PurchaseOrder.proposal_id).where(PurchaseOrder.id.in_(order_ids)))
            )
            on_exported(session, {p for p in proposals if p is not None})
        file_id = sealed.id
    write_file(outbox, name, data)
    seal(engine, file_id, now)
    return {"file": name, "format": supplier.export_format, "supplier": supplier.code, "po_numbers": numbers}


def write_file(outbox: Path, name: str, data: bytes) -> None:
    """Step 2 (a function of its own so the crash tests can stop a run right here)."""
    atomic_write(outbox, name, data)


def seal(engine: Engine, file_id: int, now: datetime) -> None:
    """Step 3: the file is on disk with its recorded digest."""
    with unit_of_work(engine) as session:
        session.execute(
            update(SupplierFile).where(SupplierFile.id == file_id).values(state="written", written_at=now)
        )


def _rendered_again(session: Session, sealed: SupplierFile) -> bytes:
    order_ids = list(
        session.scalars(select(PurchaseOrder.id).where(PurchaseOrder.supplier_file_id == sealed.id))
    )
    _supplier, documents = _documents(session, order_ids)
    data = _render(sealed.export_format, documents, FileOptions.from_dict(sealed.options))
    if sha256_hex(data) != sealed.sha256:
        raise InvalidInput(
            f"{sealed.file_name}: rendering its POs again gives different bytes (sha256 "
            f"{sha256_hex(data)[:12]}… ≠ recorded {sealed.sha256[:12]}…): the POs changed after export; "
            "nothing written"
        )
    return data


def supplier_file(engine: Engine, file_id: int) -> tuple[str, bytes]:
    """A written supplier file's name and bytes, for download: rendered again from its POs and
    the options it was written with, and checked against the recorded SHA-256 (the same bytes as
    the file in the outbox, whether or not the outbox is on this machine)."""
    with unit_of_work(engine) as session:
        sealed = session.get(SupplierFile, file_id)
        if sealed is None:
            raise NotFound(f"supplier file {file_id} does not exist")
        return sealed.file_name, _rendered_again(session, sealed)


def _complete_unsealed(engine: Engine, outbox: Path, now: datetime) -> list[str]:
    done = []
    with unit_of_work(engine) as session:
        unsealed = list(session.scalars(select(SupplierFile).where(SupplierFile.state == "writing")))
        pending = [(f.id, f.file_name, _rendered_again(session, f)) for f in unsealed]
    for file_id, name, data in pending:
        if file_digest(outbox / name) != sha256_hex(data):
            write_file(outbox, name, data)
        seal(engine, file_id, now)
        done.append(name)
    return done


def _resend(engine: Engine, outbox: Path, po_number: str, actor: str, now: datetime) -> str:
    with unit_of_work(engine) as session:
        order = session.scalar(select(PurchaseOrder).where(PurchaseOrder.po_number == po_number))
        if order is None:
            raise NotFound(f"purchase order {po_number} does not exist")
        if order.supplier_file_id is None:
            raise InvalidInput(f"{po_number} has not been exported yet: export it with --po {po_number}")
        sealed = session.get(SupplierFile, order.supplier_file_id)
        assert sealed is not None
        data = _rendered_again(session, sealed)
        sealed.resends += 1
        record(
            session,
            at=now,
            actor=actor,
            action="resend",
            entity="supplier_file",
            entity_key=sealed.file_name,
            before={
                "resends": sealed.resends - 1,
                "on_disk": file_digest(outbox / sealed.file_name) is not None,
            },
            after={"resends": sealed.resends, "sha256": sealed.sha256, "po_numbers": sealed.po_numbers},
            note=f"re-sent for {po_number}",
        )
        name = sealed.file_name
    write_file(outbox, name, data)
    return name


def _verify(engine: Engine, outbox: Path) -> list[str]:
    with unit_of_work(engine) as session:
        rows = session.execute(
            select(SupplierFile.file_name, SupplierFile.sha256).where(SupplierFile.state == "written")
        ).all()
    damaged = []
    for name, digest in rows:
        found = file_digest(outbox / name)
        if found != digest:
            damaged.append(
                f"{name}: {'missing' if found is None else 'changed on disk'} (use --resend to send again)"
            )
    return damaged


def _manifest_entries(engine: Engine) -> list[dict[str, Any]]:
    with unit_of_work(engine) as session:
        rows = session.execute(
            select(SupplierFile, Supplier.code)
            .join(Supplier, Supplier.id == SupplierFile.supplier_id)
            .where(SupplierFile.state == "written")
        ).all()
        return [
            {
                "file": f.file_name,
                "sha256": f.sha256,
                "bytes": f.size_bytes,
                "format": f.export_format,
                "supplier": code,
                "po_numbers": list(f.po_numbers),
                "exported_at": f.options["prepared_at"],
            }
            for f, code in rows
        ]
