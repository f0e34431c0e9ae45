"""Reading import CSVs: encoding detection and streaming in chunks of raw cells with their line numbers.

Nothing here knows column types; it only turns bytes into rows of strings and
reports what is structurally wrong (undecodable bytes, missing or extra header
columns, rows with too few or too many fields) as `Problem`s.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import unicodedata
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from restock.importing.schema import FileSchema

# What spreadsheet tools produce: UTF-8 (with or without BOM); from Chinese tools GBK, which GB18030
# is a superset of; from European ones Windows-1252 (a superset of Latin-1 in its printable range).
CANDIDATE_ENCODINGS = ("utf-8-sig", "gb18030", "cp1252")
ENCODING_NAMES = {"utf-8-sig": "UTF-8", "gb18030": "GB18030 (GBK)", "cp1252": "Windows-1252 (Latin-1)"}
_BLOCK_BYTES = 1 << 20
WHOLE_ROW = "*"
# The header is one line; a longer one is not a restock CSV (and must not be read whole).
MAX_HEADER_BYTES = 64 * 1024
# Header problems reported per file; the rest are counted.
MAX_HEADER_PROBLEMS = 10
# Delimiters recognised in a header when commas do not split it.
OTHER_DELIMITERS = (";", "\t", "|")
# Shown when quoting a value from a file in a message.
MAX_QUOTED = 60
_NON_ASCII_RUN = re.compile(r"[^\x00-\x7f]+")
# What the non-ASCII text of a Western European Windows-1252 / Latin-1 file is made of.
_LATIN_TEXT = frozenset(
    "ÀÁÂÃÄÅÆÇÈÉÊËÌÍÎÏÑÒÓÔÕÖØÙÚÛÜÝßàáâãäåæçèéêëìíîïñòóôõöøùúûüýŒœŠšŽžŸ"
    "\u00a0’‘“”–—…€£°±×÷«»§©®™·¿¡¢¥µ¹²³¼½¾ºª"
)


def quoted(value: str) -> str:
    """A value from a file as a message shows it: repr-escaped (invisible and control characters
    visible) and cut to `MAX_QUOTED` characters."""
    if len(value) > MAX_QUOTED:
        return repr(value[:MAX_QUOTED]) + f"… ({len(value)} characters)"
    return repr(value)


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
    """The file cannot be decoded (or not unambiguously); carries the problem to report."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


def detect_encoding(path: Path, forced: str | None = None) -> str:
    """The encoding of the file: `forced` if given (checked), else UTF-8 when it decodes strictly,
    else the one of GB18030 and Windows-1252 whose text is plausible.

    GB18030 decodes most byte strings, Windows-1252 nearly all: a file is read as
    GB18030 only when its non-ASCII characters are common Chinese (GB2312) characters,
    as Windows-1252 only when they are accented letters and Latin typography. When
    both fit, or neither does, `UndecodableFile` names the candidates and `--encoding`.
    """
    if forced is not None:
        offset = _first_undecodable_offset(path, forced)
        if offset is None:
            return forced
        raise UndecodableFile(_undecodable(path, offset, f"the file is not valid {forced} (--encoding)"))
    offset = _first_undecodable_offset(path, "utf-8-sig")
    if offset is None:
        return "utf-8-sig"
    decodable = [enc for enc in CANDIDATE_ENCODINGS[1:] if _first_undecodable_offset(path, enc) is None]
    samples = {enc: _non_ascii_sample(path, enc) for enc in decodable}
    plausible = [enc for enc in decodable if _plausible(enc, samples[enc])]
    if len(plausible) == 1:
        return plausible[0]
    fits = plausible
    if not fits:
        raise UndecodableFile(
            _undecodable(
                path,
                offset,
                "the file is not UTF-8, and does not read as GBK/GB18030 or Windows-1252 text either "
                "(pass --encoding if you know it)",
            )
        )
    shown = " or ".join(f"as {ENCODING_NAMES[enc]} ({quoted(_excerpt(samples[enc]))})" for enc in fits)
    options = " or ".join(f"--encoding {enc}" for enc in fits)
    raise UndecodableFile(
        Problem(
            path.name,
            1,
            WHOLE_ROW,
            f"cannot tell the file's encoding: it is not UTF-8 and reads {shown}; pass {options}",
        )
    )


def _undecodable(path: Path, offset: int, why: str) -> Problem:
    with path.open("rb") as handle:
        before = handle.read(offset)
        bad = handle.read(1)
    line = before.count(b"\n") + 1
    reason = f"cannot decode byte 0x{bad.hex()} at byte offset {offset}: {why}"
    return Problem(path.name, line, WHOLE_ROW, reason)


@dataclass
class _NonAscii:
    """The non-ASCII text of a file decoded one way: each character's count, and its runs."""

    chars: Counter[str] = field(default_factory=Counter)
    runs: int = 0
    single_runs: int = 0

    @property
    def total(self) -> int:
        return sum(self.chars.values())


def _non_ascii_sample(path: Path, encoding: str) -> _NonAscii:
    """The non-ASCII characters of the file decoded as `encoding`, and how they cluster."""
    found = _NonAscii()
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")

    def add(text: str) -> None:
        for run in _NON_ASCII_RUN.findall(text):
            found.chars.update(run)
            found.runs += 1
            found.single_runs += len(run) == 1

    with path.open("rb") as handle:
        while block := handle.read(_BLOCK_BYTES):
            add(decoder.decode(block))
        add(decoder.decode(b"", final=True))
    return found


def _plausible(encoding: str, text: _NonAscii) -> bool:
    """Whether the non-ASCII text reads as that encoding's language.

    GB18030: at least 90 % common Chinese characters (GB2312). Windows-1252: only
    Western accented letters and typography, mostly single between ASCII letters
    ("Crème") — Chinese text read as Windows-1252 comes in runs of two bytes per
    character ("°²"); with two characters or fewer nothing can be told apart.
    """
    total = text.total
    if not total:
        return True
    if encoding == "gb18030":
        common = sum(n for ch, n in text.chars.items() if _in_gb2312(ch))
        return common >= 0.9 * total
    if not all(ch in _LATIN_TEXT for ch in text.chars):
        return False
    return total <= 2 or text.single_runs >= 0.5 * text.runs


def _in_gb2312(ch: str) -> bool:
    try:
        ch.encode("gb2312")
    except UnicodeEncodeError:
        return False
    return True


def _excerpt(text: _NonAscii) -> str:
    return "".join(ch for ch, _ in text.chars.most_common(8))


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


def header_key(name: str) -> str:
    """A header cell as matched against column names: NFKC, no invisible characters, case and
    surrounding spaces ignored, inner spaces and hyphens read as `_` (" SKU Code" → "sku_code")."""
    cleaned = "".join(ch for ch in unicodedata.normalize("NFKC", name) if unicodedata.category(ch) != "Cf")
    return re.sub(r"[\s\-]+", "_", cleaned.strip().lower())


class CsvFileReader:
    """Streams one CSV file as `RawChunk`s after checking its header against a schema.

    Header cells are matched by `header_key` (case, spaces and invisible characters
    ignored); a column the schema does not know is a warning and is not read; a
    file separated by `;`, tab or `|` instead of commas is recognised from its header.
    """

    def __init__(
        self,
        path: Path,
        schema: FileSchema,
        chunk_rows: int = 100_000,
        *,
        encoding: str | None = None,
        delimiter: str | None = None,
    ) -> None:
        self.path = path
        self.schema = schema
        self.chunk_rows = chunk_rows
        self.forced_encoding = encoding
        self.delimiter = delimiter or ","
        self.forced_delimiter = delimiter is not None
        self.encoding = encoding or "utf-8-sig"
        self.size_bytes = path.stat().st_size
        self.header: list[str] = []
        # Position in the file's row of each schema column the file has.
        self.positions: dict[str, int] = {}
        self.problems: list[Problem] = []
        self.warnings: list[str] = []

    def chunks(self) -> Iterator[RawChunk]:
        """Yield chunks of rows; structural problems are appended to `self.problems`.

        The header is checked first: a missing required column, a repeated column,
        a header with none of the file's columns, an empty file, an over-long header
        line or a header with no rows are problems and no chunk is yielded for them.
        """
        name = self.path.name
        with self.path.open("rb") as binary:
            first_line = binary.readline(MAX_HEADER_BYTES + 1)
        if len(first_line) > MAX_HEADER_BYTES:
            self.problems.append(
                Problem(
                    name,
                    1,
                    WHOLE_ROW,
                    f"header line longer than {MAX_HEADER_BYTES:,} bytes: not a {self.schema.file_name} "
                    f"(expected: {', '.join(c.name for c in self.schema.columns)})",
                )
            )
            return
        try:
            self.encoding = detect_encoding(self.path, self.forced_encoding)
        except UndecodableFile as exc:
            self.problems.append(exc.problem)
            return
        with self.path.open("rb") as binary:
            text = io.TextIOWrapper(binary, encoding=self.encoding, newline="")
            if not self.forced_delimiter:
                self.delimiter = self._sniff_delimiter(text)
                text.seek(0)
            # newline="" keeps CR, LF and CRLF as record ends, so Excel's mixed endings read cleanly.
            reader = csv.reader(text, strict=True, delimiter=self.delimiter)
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
            self.header = header
            if not self._header_ok():
                return
            yield from self._rows(reader, binary)

    def _sniff_delimiter(self, text: io.TextIOWrapper) -> str:
        """`,` unless the header splits into this file's columns only on `;`, tab or `|`."""
        line = text.readline()
        known = {column.name for column in self.schema.columns}

        def matches(delimiter: str) -> int:
            try:
                cells = next(csv.reader([line], delimiter=delimiter), [])
            except csv.Error:
                return 0
            return len({header_key(cell) for cell in cells} & known)

        best = max((",", *OTHER_DELIMITERS), key=matches)
        if best != "," and matches(best) > matches(","):
            shown = "tab" if best == "\t" else f"'{best}'"
            self.warnings.append(f"{self.path.name}: {shown}-separated (not commas): read with {shown}")
            return best
        return ","

    def _header_ok(self) -> bool:
        name = self.path.name
        known = {column.name for column in self.schema.columns}
        keys = [header_key(cell) for cell in self.header]
        problems: list[Problem] = []
        if not set(keys) & known:
            # Nothing of the header is ours: say so without echoing the line (it may be any file).
            self.problems.append(
                Problem(
                    name,
                    1,
                    WHOLE_ROW,
                    f"not a {self.schema.file_name}: its first line has none of the expected columns "
                    f"({', '.join(c.name for c in self.schema.columns)}); is it the right file, "
                    "and comma-separated (or pass --delimiter)?",
                )
            )
            return False
        ignored: list[str] = []
        for position, (cell, key) in enumerate(zip(self.header, keys, strict=True)):
            if key in self.positions:
                problems.append(Problem(name, 1, key or WHOLE_ROW, "column appears twice"))
            elif key in known:
                self.positions[key] = position
            elif key:
                ignored.append(quoted(cell.strip()))
        for column in self.schema.required_names:
            if column not in self.positions:
                problems.append(Problem(name, 1, column, "required column is missing"))
        if ignored:
            shown = ", ".join(ignored[:MAX_HEADER_PROBLEMS])
            extra = len(ignored) - MAX_HEADER_PROBLEMS
            more = f" and {extra} more" if extra > 0 else ""
            self.warnings.append(
                f"{name}: column(s) {shown}{more} not in {self.schema.file_name}: ignored, not imported"
            )
        if len(problems) > MAX_HEADER_PROBLEMS:
            extra = len(problems) - MAX_HEADER_PROBLEMS
            problems = problems[:MAX_HEADER_PROBLEMS] + [
                Problem(name, 1, WHOLE_ROW, f"{extra} more header problem(s) not shown")
            ]
        self.problems += problems
        return not problems

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
            if not any(cell.strip() for cell in row):
                continue  # blank lines and Excel's all-empty rows (",,,,") carry no record
            any_rows = True
            if len(row) != width:
                if len(row) < width:
                    self.problems.append(
                        Problem(
                            name,
                            line,
                            header_key(header[len(row)]) or WHOLE_ROW,
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
        columns = list(zip(*rows, strict=True))
        cells = {key: columns[position] for key, position in self.positions.items()}
        return RawChunk(lines=lines, cells=cells, bytes_read=min(binary.tell(), self.size_bytes))
