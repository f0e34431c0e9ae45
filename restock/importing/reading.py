"""Reading import CSVs: encoding detection and streaming in chunks of raw cells with their line numbers.

Nothing here knows column types; it only turns bytes into rows of strings and
reports what is structurally wrong (undecodable bytes, missing or extra header
columns, rows with too few or too many fields) as `Problem`s.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from restock.importing.schema import FileSchema

# The encodings Chinese spreadsheet tools produce: UTF-8 (with or without BOM), else GBK,
# which GB18030 is a superset of.
CANDIDATE_ENCODINGS = ("utf-8-sig", "gb18030")
_BLOCK_BYTES = 1 << 20
WHOLE_ROW = "*"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input file, at a line (header = 1) and a column name (or `*`)."""

    file: str
    line: int
    column: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.reason}"


@dataclass
class RawChunk:
    """Up to `chunk_rows` data rows: the file line each starts on, and each column's cells."""

    lines: list[int]
    cells: dict[str, tuple[str, ...]]
    bytes_read: int


class UndecodableFile(Exception):
    """Neither UTF-8 nor GB18030 decodes the file; carries the problem to report."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


def detect_encoding(path: Path) -> str:
    """Return `utf-8-sig` or `gb18030`: the first that decodes the whole file strictly.

    Raises `UndecodableFile` naming the byte offset and line of the failure that
    got furthest into the file (the likelier culprit).
    """
    failures: list[tuple[int, str]] = []
    for encoding in CANDIDATE_ENCODINGS:
        offset = _first_undecodable_offset(path, encoding)
        if offset is None:
            return encoding
        failures.append((offset, encoding))
    offset, _ = max(failures)
    with path.open("rb") as handle:
        before = handle.read(offset)
        bad = handle.read(1)
    line = before.count(b"\n") + 1
    raise UndecodableFile(
        Problem(
            path.name,
            line,
            WHOLE_ROW,
            f"cannot decode byte 0x{bad.hex()} at byte offset {offset}: "
            "the file is neither UTF-8 nor GBK/GB18030",
        )
    )


def _first_undecodable_offset(path: Path, encoding: str) -> int | None:
    """Byte offset of the first byte `encoding` cannot decode, or None if the whole file decodes."""
    codec = "utf-8" if encoding == "utf-8-sig" else encoding
    decoder = codecs.getincrementaldecoder(codec)(errors="strict")
    with path.open("rb") as handle:
        consumed = 0
        if codec == "utf-8" and handle.read(3) == codecs.BOM_UTF8:
            consumed = 3
        else:
            handle.seek(0)
        while True:
            block = handle.read(_BLOCK_BYTES)
            pending = len(decoder.getstate()[0])
            try:
                decoder.decode(block, final=not block)
            except UnicodeDecodeError as exc:
                # exc.start counts from the bytes the decoder still held from the last block.
                return consumed - pending + exc.start
            if not block:
                return None
            consumed += len(block)


class CsvFileReader:
    """Streams one CSV file as `RawChunk`s after checking its header against a schema."""

    def __init__(self, path: Path, schema: FileSchema, chunk_rows: int = 100_000) -> None:
        self.path = path
        self.schema = schema
        self.chunk_rows = chunk_rows
        self.encoding = "utf-8-sig"
        self.size_bytes = path.stat().st_size
        self.header: list[str] = []
        self.problems: list[Problem] = []

    def chunks(self) -> Iterator[RawChunk]:
        """Yield chunks of rows; structural problems are appended to `self.problems`.

        The header is checked first: a missing required column, an unknown or
        repeated column, an empty file or a header with no rows are problems and
        no chunk is yielded for them.
        """
        name = self.path.name
        try:
            self.encoding = detect_encoding(self.path)
        except UndecodableFile as exc:
            self.problems.append(exc.problem)
            return
        with self.path.open("rb") as binary:
            text = io.TextIOWrapper(binary, encoding=self.encoding, newline="")
            # newline="" keeps CR, LF and CRLF as record ends, so Excel's mixed endings read cleanly.
            reader = csv.reader(text, strict=True)
            try:
                header = next(reader, None)
            except csv.Error as exc:
                self.problems.append(Problem(name, 1, WHOLE_ROW, f"unreadable header: {exc}"))
                return
            if header is None or not any(cell.strip() for cell in header):
                expected = ",".join(self.schema.required_names)
                self.problems.append(
                    Problem(name, 1, WHOLE_ROW, f"file is empty: expected a header row ({expected})")
                )
                return
            self.header = [cell.strip() for cell in header]
            if not self._header_ok():
                return
            yield from self._rows(reader, binary)

    def _header_ok(self) -> bool:
        name = self.path.name
        known = {column.name for column in self.schema.columns}
        ok = True
        seen: set[str] = set()
        for cell in self.header:
            if cell in seen:
                self.problems.append(Problem(name, 1, cell or WHOLE_ROW, "column appears twice"))
                ok = False
            seen.add(cell)
            if cell not in known:
                shown = cell or "(empty)"
                self.problems.append(
                    Problem(
                        name,
                        1,
                        shown,
                        f"unknown column for {self.schema.file_name} "
                        f"(expected: {', '.join(c.name for c in self.schema.columns)})",
                    )
                )
                ok = False
        for column in self.schema.required_names:
            if column not in seen:
                self.problems.append(Problem(name, 1, column, "required column is missing"))
                ok = False
        return ok

    def _rows(self, reader: csv.Reader, binary: io.BufferedReader) -> Iterator[RawChunk]:
        name = self.path.name
        width = len(self.header)
        header = self.header
        lines: list[int] = []
        rows: list[tuple[str, ...]] = []
        next_line = reader.line_num + 1
        any_rows = False
        while True:
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                self.problems.append(Problem(name, next_line, WHOLE_ROW, f"malformed CSV: {exc}"))
                next_line = reader.line_num + 1
                continue
            line = next_line
            next_line = reader.line_num + 1
            if not row or (len(row) == 1 and not row[0].strip()):
                continue  # blank lines (often a trailing one) carry no record
            any_rows = True
            if len(row) != width:
                if len(row) < width:
                    self.problems.append(
                        Problem(
                            name,
                            line,
                            header[len(row)],
                            f"row has {len(row)} of {width} fields (truncated line?)",
                        )
                    )
                else:
                    self.problems.append(
                        Problem(
                            name,
                            line,
                            f"field {width + 1}",
                            f"row has {len(row)} fields but the header has {width}",
                        )
                    )
                continue
            lines.append(line)
            # A tuple of strings drops out of the garbage collector's tracking the first time it
            # survives a collection; the csv module's lists never do, and with a chunk's 50,000
            # of them alive every full collection re-walked them all (~40% of parsing time).
            rows.append(tuple(row))
            if len(rows) >= self.chunk_rows:
                yield self._chunk(lines, rows, binary)
                lines, rows = [], []
        if rows:
            yield self._chunk(lines, rows, binary)
        if not any_rows:
            self.problems.append(Problem(name, 1, WHOLE_ROW, "header only: the file has no data rows"))

    def _chunk(self, lines: list[int], rows: list[tuple[str, ...]], binary: io.BufferedReader) -> RawChunk:
        columns = zip(*rows, strict=True)
        cells = dict(zip(self.header, columns, strict=True))
        return RawChunk(lines=lines, cells=cells, bytes_read=min(binary.tell(), self.size_bytes))
