"""The import use case: validate CSV files against the schema and upsert them in one transaction.

Either every file is written or nothing is: any problem in any file refuses
the whole import with `ImportValidationError` listing `file:row:column: reason`.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine

from kernel.audit import record
from kernel.errors import ImportValidationError, InvalidInput
from kernel.orm import unit_of_work
from restock.db import ensure_ready
from restock.importing.reading import WHOLE_ROW, CsvFileReader, Problem
from restock.importing.schema import IMPORT_ORDER, SCHEMAS_BY_KIND, FileSchema
from restock.importing.staging import StagedFile
from restock.importing.validation import validate_chunk

MAX_PROBLEMS = 50
CHUNK_ROWS = 50_000

# Called as rows stream in: (file name, bytes read so far, file size in bytes).
ImportProgress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class FileReport:
    """What importing one file did; `rows` = inserted + updated + unchanged."""

    file: str
    kind: str
    encoding: str
    rows: int
    inserted: int
    updated: int
    unchanged: int
    deleted: int = 0


@dataclass(frozen=True)
class ImportReport:
    """The files of one import, in the order they were written, and warnings (ignored columns,
    a delimiter other than commas) that did not refuse it."""

    files: list[FileReport] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(report.rows for report in self.files)

    @property
    def inserted(self) -> int:
        return sum(report.inserted for report in self.files)

    @property
    def updated(self) -> int:
        return sum(report.updated for report in self.files)

    @property
    def unchanged(self) -> int:
        return sum(report.unchanged for report in self.files)


class _ProblemLog:
    """Collects problems up to the cap; knows whether more were left out."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.problems: list[Problem] = []
        self.truncated = False

    def add(self, problems: list[Problem]) -> None:
        room = self.cap - len(self.problems)
        if len(problems) > room:
            self.truncated = True
        self.problems.extend(problems[: max(room, 0)])

    @property
    def full(self) -> bool:
        return len(self.problems) >= self.cap

    def __bool__(self) -> bool:
        return bool(self.problems)


def import_path(
    engine: Engine,
    path: Path | str,
    kind: str | None = None,
    *,
    actor: str,
    now: datetime,
    progress: ImportProgress | None = None,
    season_names: Collection[str] | None = None,
    max_problems: int = MAX_PROBLEMS,
    chunk_rows: int = CHUNK_ROWS,
    encoding: str | None = None,
    delimiter: str | None = None,
    future_tolerance_days: int | None = None,
) -> ImportReport:
    """Import one CSV file or a directory of them (by file name) in a single transaction.

    `kind` (e.g. "sales") names the file kind when a single file's name does not.
    `season_names` are the seasons a category may name (default: the settings'
    `[seasons.*]`). Returns what each file inserted, updated or left unchanged;
    raises `ImportValidationError` with every problem found (up to
    `max_problems`) and writes nothing when any file has one.

    History (sales and inventory dates, PO order dates) may not be later than
    `now`'s date plus `future_tolerance_days` (default: the settings'). `encoding`
    and `delimiter` override detection for every file.
    """
    ensure_ready(engine, write=True)
    planned = _plan(Path(path), kind)
    if season_names is None or future_tolerance_days is None:
        from restock.settings import get_settings

        settings = get_settings()
        if season_names is None:
            season_names = tuple(settings.seasons)
        if future_tolerance_days is None:
            future_tolerance_days = settings.importing.future_tolerance_days
    latest_date = now.date() + timedelta(days=future_tolerance_days)
    warnings: list[str] = []
    choices_from: Mapping[str, Collection[str]] = {"seasons": tuple(season_names)}
    log = _ProblemLog(max_problems)
    reports: list[FileReport] = []
    with unit_of_work(engine) as session:
        staged: dict[str, StagedFile] = {}
        writer = _ChunkWriter(background=_may_share_connection_across_threads(engine))
        try:
            for file_path, schema in planned:
                if log.full:
                    log.truncated = True
                    break
                stage = StagedFile(session, schema, file_path.name)
                staged[schema.kind] = stage
                reader = CsvFileReader(
                    file_path, schema, chunk_rows=chunk_rows, encoding=encoding, delimiter=delimiter
                )
                for chunk in reader.chunks():
                    good, problems = validate_chunk(chunk, schema, file_path.name, choices_from, latest_date)
                    log.add(problems)
                    # Good rows are staged even after a problem: duplicate and reference checks
                    # (of this file and of later files naming its codes) still report everything.
                    writer.submit(stage.add, good, not log and not reader.problems)
                    if progress is not None:
                        progress(file_path.name, chunk.bytes_read, reader.size_bytes)
                    if log.full:
                        log.truncated = True  # the rest of a bad file would only add to the cap
                        break
                writer.wait()
                log.add(reader.problems)
                warnings += reader.warnings
                if progress is not None:
                    progress(file_path.name, reader.size_bytes, reader.size_bytes)
                if reader.problems or log.full:
                    continue
                log.add(_file_problems(stage, staged, max_problems))
                if log:
                    continue
                counts = stage.upsert()
                report = FileReport(
                    file=file_path.name,
                    kind=schema.kind,
                    encoding=reader.encoding,
                    rows=stage.rows,
                    inserted=counts.inserted,
                    updated=counts.updated,
                    unchanged=counts.unchanged,
                    deleted=counts.deleted,
                )
                reports.append(report)
                record(
                    session,
                    at=now,
                    actor=actor,
                    action="import",
                    entity=schema.kind,
                    entity_key=file_path.name,
                    after={
                        "rows": report.rows,
                        "inserted": report.inserted,
                        "updated": report.updated,
                        "unchanged": report.unchanged,
                        "deleted": report.deleted,
                        "encoding": report.encoding,
                    },
                    note=str(file_path),
                )
            if log:
                raise ImportValidationError([str(problem) for problem in log.problems], log.truncated)
        except BaseException:
            # The cause must reach the user: cleanup on a failed transaction (PostgreSQL answers
            # "current transaction is aborted") would replace it. The rollback that follows
            # undoes the stage tables with everything else.
            with suppress(Exception):
                writer.close()
            raise
        writer.close()
        for stage in staged.values():
            stage.drop()
    return ImportReport(reports, warnings)


def _may_share_connection_across_threads(engine: Engine) -> bool:
    # SQLAlchemy opens file SQLite databases with check_same_thread=False; in-memory ones are
    # per thread, so their chunks are written inline.
    return engine.dialect.name != "sqlite" or engine.url.database not in (None, "", ":memory:")


class _ChunkWriter:
    """Runs one chunk's database work while the next chunk is read and validated.

    The work goes to one background thread: psycopg and sqlite3 run statements
    without holding the GIL, so parsing and the database's upsert overlap. At
    most one chunk is in flight and the caller's thread does not touch the
    session meanwhile.
    """

    def __init__(self, background: bool) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1) if background else None
        self._pending: Future[None] | None = None

    def submit(self, work: Callable[..., None], *args: object) -> None:
        self.wait()
        if self._pool is None:
            work(*args)
        else:
            self._pending = self._pool.submit(work, *args)

    def wait(self) -> None:
        """Block until the chunk in flight is done; re-raise what it raised."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def close(self) -> None:
        try:
            self.wait()
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True)


def _file_problems(stage: StagedFile, staged: Mapping[str, StagedFile], limit: int) -> list[Problem]:
    """Problems only the whole file shows: duplicate keys, unknown references, cross-row rules."""
    problems = stage.duplicate_keys(limit) + stage.unknown_references(staged, limit)
    if stage.schema.kind == "rebate_tiers":
        problems += stage.tier_order_problems()
    if stage.schema.kind == "open_purchase_orders":
        problems += stage.purchase_order_header_problems(limit)
    return sorted(problems, key=lambda problem: problem.line)


def _plan(path: Path, kind: str | None) -> list[tuple[Path, FileSchema]]:
    """The files to import with their schemas, in dependency order; unknown names are refused."""
    if not path.exists():
        raise InvalidInput(f"{path}: no such file or directory")
    if kind is not None and kind not in SCHEMAS_BY_KIND:
        raise InvalidInput(f"unknown kind {kind!r} (expected one of: {', '.join(IMPORT_ORDER)})")
    if path.is_file():
        schema = SCHEMAS_BY_KIND.get(kind or path.stem.lower())
        if schema is None:
            raise ImportValidationError(
                [
                    str(
                        Problem(
                            path.name,
                            1,
                            WHOLE_ROW,
                            "unknown file name: name it after its kind "
                            f"({', '.join(f'{k}.csv' for k in IMPORT_ORDER)}) or pass --kind",
                        )
                    )
                ]
            )
        return [(path, schema)]
    if kind is not None:
        raise InvalidInput("--kind applies to a single file, not a directory")
    files = sorted(candidate for candidate in path.iterdir() if candidate.suffix.lower() == ".csv")
    unknown = [candidate for candidate in files if candidate.stem.lower() not in SCHEMAS_BY_KIND]
    if unknown:
        raise ImportValidationError(
            [
                str(
                    Problem(
                        candidate.name,
                        1,
                        WHOLE_ROW,
                        f"unknown file name (expected one of: {', '.join(f'{k}.csv' for k in IMPORT_ORDER)})",
                    )
                )
                for candidate in unknown
            ]
        )
    if not files:
        raise InvalidInput(f"{path}: no .csv files to import")
    by_kind: dict[str, Path] = {}
    for candidate in files:
        if candidate.stem.lower() in by_kind:
            raise InvalidInput(
                f"{path}: both {by_kind[candidate.stem.lower()].name} and {candidate.name}: keep one"
            )
        by_kind[candidate.stem.lower()] = candidate
    return [(by_kind[k], SCHEMAS_BY_KIND[k]) for k in IMPORT_ORDER if k in by_kind]
