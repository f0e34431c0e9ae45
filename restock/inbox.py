"""The import inbox: CSV files dropped into a directory are imported one by one and filed away.

Each file is imported in its own transaction (`import_path`). An accepted file
moves to `processed/` with a short report beside it; a refused one moves to
`failed/` with its `file:row:column: reason` report beside it, and the database
is as it was. A file is moved only after its import committed, so a run killed
half-way leaves the file in the inbox; importing it again changes nothing that
was already written (imports upsert by natural key).

File names say the kind: `sales.csv`, or the kind followed by `-`, `_` or `.`
and anything (`sales-2026-08-30.csv`). `orders.csv` files (order lines, see
`restock.importing.orders`) come after every other kind, so the SKUs they name
are in; their brushing rules and derived daily sales run as part of their import.
Hidden files and names ending in `.part`/`.tmp` are still being written and are left alone: copy a file as
`x.csv.part`, then rename it.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine

from forecasting.settings import BrushingSettings
from kernel.errors import ImportValidationError, InvalidInput
from restock.importing.orders import OrdersImportReport
from restock.importing.schema import IMPORT_ORDER
from restock.importing.service import FileReport, ImportReport

ORDERS = "orders"
INBOX_KINDS: tuple[str, ...] = (*IMPORT_ORDER, ORDERS)

PROCESSED = "processed"
FAILED = "failed"
_IN_PROGRESS_SUFFIXES = (".part", ".tmp", ".partial")


@dataclass(frozen=True)
class InboxFile:
    """What became of one inbox file."""

    name: str
    kind: str | None
    status: str  # "imported" | "failed"
    moved_to: Path
    report: Path
    rows: int = 0
    inserted: int = 0
    updated: int = 0
    problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class OrdersOptions:
    """What an orders file's import needs beyond the file: the business time zone (an order's
    business date is its local date there) and the brushing rules' thresholds."""

    tz: str
    brushing: BrushingSettings


@dataclass(frozen=True)
class InboxReport:
    """The files of one inbox pass, in the order they were imported."""

    files: list[InboxFile] = field(default_factory=list)

    @property
    def imported(self) -> list[InboxFile]:
        return [f for f in self.files if f.status == "imported"]

    @property
    def failed(self) -> list[InboxFile]:
        return [f for f in self.files if f.status == "failed"]

    @property
    def rows(self) -> int:
        return sum(f.rows for f in self.imported)


def kind_of(name: str) -> str | None:
    """The import kind a file name announces (`sales-2026-08-30.csv` → sales), or None."""
    stem = Path(name).stem
    matches = [
        kind
        for kind in INBOX_KINDS
        if stem == kind or (stem.startswith(kind) and stem[len(kind)] in "-_.")
    ]
    # `rebate_agreements...` also starts with a shorter kind in some schemas: the longest one wins.
    return max(matches, key=len) if matches else None


def pending_files(inbox: Path) -> list[Path]:
    """Files waiting in the inbox, in import order (by kind, so SKUs come before their sales)."""
    if not inbox.is_dir():
        return []
    files = [
        path
        for path in inbox.iterdir()
        if path.is_file()
        and not path.name.startswith(".")
        and not path.name.lower().endswith(_IN_PROGRESS_SUFFIXES)
    ]
    order = {kind: i for i, kind in enumerate(INBOX_KINDS)}

    def rank(path: Path) -> tuple[int, str]:
        kind = kind_of(path.name)
        return (order[kind] if kind is not None else len(order), path.name)

    return sorted(files, key=rank)


def import_inbox(
    engine: Engine,
    inbox: Path,
    *,
    actor: str,
    now: datetime,
    season_names: Collection[str] | None = None,
    orders: OrdersOptions | None = None,
) -> InboxReport:
    """Import every file waiting in `inbox`, each in its own transaction, and file it away.

    Refused files (bad rows, unknown name, not CSV) go to `failed/` with their
    report; database errors are raised and leave the file where it was. Orders
    files are refused when `orders` (time zone, brushing thresholds) is not given.
    """
    from restock.importing import import_path
    from restock.importing.orders import import_orders

    results: list[InboxFile] = []
    for path in pending_files(inbox):
        kind = kind_of(path.name)
        problems: list[str]
        if path.suffix.lower() != ".csv":
            problems = [f"{path.name}:1:-: not a CSV file (expected a .csv named after its kind)"]
        elif kind is None:
            problems = [
                f"{path.name}:1:-: unknown file name: start it with its kind "
                f"({', '.join(INBOX_KINDS)}), e.g. sales-2026-08-30.csv"
            ]
        elif kind == ORDERS and orders is None:
            problems = [
                f"{path.name}:1:-: orders files are imported by the nightly job or `restock orders import`"
            ]
        else:
            try:
                if kind == ORDERS:
                    assert orders is not None
                    report = import_orders(
                        engine, path, actor=actor, now=now, tz=orders.tz, brushing=orders.brushing
                    )
                else:
                    report = import_path(engine, path, kind, actor=actor, now=now, season_names=season_names)
            except ImportValidationError as exc:
                problems = list(exc.problems) + (["(more errors not shown)"] if exc.truncated else [])
            except InvalidInput as exc:
                problems = [f"{path.name}:1:-: {exc}"]
            else:
                results.append(_file_away(path, inbox / PROCESSED, kind, report, now))
                continue
        results.append(_file_failed(path, inbox / FAILED, kind, problems, now))
    return InboxReport(results)


def _destination(folder: Path, name: str, now: datetime) -> Path:
    """`folder/name`, or with the time stamped into it when a file of that name is already there."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name
    if not target.exists():
        return target
    stem, suffix = Path(name).stem, Path(name).suffix
    stamp = now.strftime("%Y%m%dT%H%M%S")
    candidate = folder / f"{stem}.{stamp}{suffix}"
    counter = 1
    while candidate.exists():
        counter += 1
        candidate = folder / f"{stem}.{stamp}-{counter}{suffix}"
    return candidate


def _write_then_move(path: Path, target: Path, report_suffix: str, text: str) -> Path:
    report = target.with_name(target.name + report_suffix)
    partial = report.with_name(report.name + ".part")
    partial.write_text(text, encoding="utf-8")
    partial.replace(report)
    path.replace(target)
    return report


def _report_lines(report: ImportReport | OrdersImportReport) -> list[str]:
    """One line per file written, and for an orders file what its brushing rules made of it."""
    if isinstance(report, OrdersImportReport):
        demand = report.demand
        return [
            _file_line(report),
            f"brushing: {demand.flagged_orders} orders ({demand.flagged_units} units) flagged in "
            f"{demand.clusters} clusters; {demand.sales_rows} daily sales rows derived",
        ]
    return [_file_line(f) for f in report.files]


def _file_line(f: FileReport | OrdersImportReport) -> str:
    return (
        f"{f.file}: {f.rows} rows ({f.encoding}): {f.inserted} inserted, {f.updated} updated, "
        f"{f.unchanged} unchanged"
    )


def _file_away(
    path: Path, folder: Path, kind: str, report: ImportReport | OrdersImportReport, now: datetime
) -> InboxFile:
    target = _destination(folder, path.name, now)
    lines = [f"{path.name}: imported {now.isoformat(timespec='seconds')} as {kind}", *_report_lines(report)]
    written = _write_then_move(path, target, ".report.txt", "\n".join(lines) + "\n")
    return InboxFile(
        name=path.name,
        kind=kind,
        status="imported",
        moved_to=target,
        report=written,
        rows=report.rows,
        inserted=report.inserted,
        updated=report.updated,
    )


def _file_failed(path: Path, folder: Path, kind: str | None, problems: list[str], now: datetime) -> InboxFile:
    target = _destination(folder, path.name, now)
    header = f"{path.name}: refused {now.isoformat(timespec='seconds')}, nothing was written"
    written = _write_then_move(path, target, ".errors.txt", "\n".join([header, *problems]) + "\n")
    return InboxFile(
        name=path.name, kind=kind, status="failed", moved_to=target, report=written, problems=tuple(problems)
    )
