"""Row-level validation of one chunk of raw cells against a file schema (vectorised, no database).

`validate_chunk` returns every problem of the chunk and, for the rows without
one, each column's value in a normalised text form that both SQLite and
PostgreSQL parse exactly (ISO dates, plain decimals, 1/0 booleans).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from restock.importing.reading import Problem, RawChunk, quoted
from restock.importing.schema import (
    FALSE_WORDS,
    LIST_SEPARATOR,
    TRUE_WORDS,
    Column,
    ColumnType,
    FileSchema,
)

_INT = r"^[+-]?\d+$"
_DECIMAL = r"^[+-]?\d+(\.\d*)?$"
_DATE = r"^\d{4}-\d{2}-\d{2}$"
_TIMESTAMP = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}(:?\d{2})?)$"
_NOT_FINITE = {"nan", "+nan", "-nan", "inf", "+inf", "-inf", "infinity", "+infinity", "-infinity"}
# More digits than this cannot be a count the database holds; checked before converting.
_MAX_INT_DIGITS = 12


@dataclass
class ValidatedChunk:
    """The rows of a chunk that passed: their line numbers and normalised text per column (Arrow)."""

    lines: pa.Array
    values: dict[str, pa.Array]

    def __len__(self) -> int:
        return len(self.lines)

    def rows(self, names: list[str]) -> list[tuple]:
        """(line, value of each named column...) tuples, None for empty cells."""
        return list(zip(self.lines.to_pylist(), *(self.values[n].to_pylist() for n in names), strict=True))

    def has_duplicate_key(self, key: tuple[str, ...]) -> bool:
        """Whether two rows of this chunk share a natural key."""
        keys = pa.table({name: self.values[name] for name in key})
        return keys.group_by(list(key)).aggregate([]).num_rows < keys.num_rows

    def csv_bytes(self, names: list[str]) -> bytes:
        """The rows as headerless CSV (line first) where an unquoted empty field is NULL, for COPY."""
        table = pa.table({"line": self.lines, **{name: self.values[name] for name in names}})
        sink = pa.BufferOutputStream()
        pa_csv.write_csv(
            table, sink, write_options=pa_csv.WriteOptions(include_header=False, quoting_style="needed")
        )
        return sink.getvalue().to_pybytes()


@dataclass
class _ColumnResult:
    text: pa.Array  # normalised text, null where empty
    typed: pd.Series  # numbers / timestamps for rules, NaN/NaT where empty or bad
    bad: np.ndarray  # bool mask
    reasons: list[tuple[int, str]]  # (row position, reason)


def validate_chunk(
    chunk: RawChunk,
    schema: FileSchema,
    file_name: str,
    choices_from: Mapping[str, Collection[str]],
    latest_date: date | None = None,
) -> tuple[ValidatedChunk, list[Problem]]:
    """Check every cell's type and range and every row rule; return the good rows and the problems.

    `latest_date` is the last business date a history column (`Column.history`) may
    hold: the import's business date plus the configured tolerance.
    """
    size = len(chunk.lines)
    results: dict[str, _ColumnResult] = {}
    for column in schema.columns:
        raw = chunk.cells.get(column.name)
        if raw is None:  # optional column left out of the file: every row gets the default
            default = None if column.default is None else str(column.default)
            typed = pd.Series(np.full(size, np.nan if default is None else float(default)))
            text = pa.nulls(size, pa.string()) if default is None else pa.array([default] * size)
            results[column.name] = _ColumnResult(text, typed, np.zeros(size, dtype=bool), [])
            continue
        results[column.name] = _check_column(
            pa.array(raw, type=pa.string()), column, choices_from, latest_date
        )

    problems: list[tuple[int, int, Problem]] = []
    order = {column.name: index for index, column in enumerate(schema.columns)}
    bad_rows = np.zeros(size, dtype=bool)
    for name, result in results.items():
        bad_rows |= result.bad
        for position, reason in result.reasons:
            line = chunk.lines[position]
            problems.append((line, order[name], Problem(file_name, line, name, reason)))

    if schema.rules:
        typed = pd.DataFrame({name: result.typed for name, result in results.items()})
        for rule in schema.rules:
            involved_bad = np.zeros(size, dtype=bool)
            for name in rule.columns:
                involved_bad |= results[name].bad
            broken = ~rule.holds(typed).to_numpy(dtype=bool) & ~involved_bad
            for position in np.flatnonzero(broken):
                line = chunk.lines[position]
                left, right = (chunk.cells.get(name, [""] * size)[position] for name in rule.columns)
                problems.append(
                    (
                        line,
                        order[rule.blame],
                        Problem(
                            file_name,
                            line,
                            rule.blame,
                            f"{rule.reason} ({rule.columns[0]}={left.strip()}, "
                            f"{rule.columns[1]}={right.strip()})",
                        ),
                    )
                )
            bad_rows |= broken

    problems.sort(key=lambda item: (item[0], item[1]))
    lines = pa.array(chunk.lines, type=pa.int64())
    values = {name: result.text for name, result in results.items()}
    if bad_rows.any():
        kept = pa.array(~bad_rows)
        lines = lines.filter(kept)
        values = {name: text.filter(kept) for name, text in values.items()}
    return ValidatedChunk(lines, values), [problem for _, _, problem in problems]


def _check_column(
    raw: pa.Array,
    column: Column,
    choices_from: Mapping[str, Collection[str]],
    latest_date: date | None = None,
) -> _ColumnResult:
    # Arrow's compute kernels (RE2 regexes, strict casts) keep a million-row file fast.
    reasons: list[tuple[int, str]] = []
    bad = np.zeros(len(raw), dtype=bool)
    # A NUL is accepted by SQLite and refused by PostgreSQL: refused here, on both.
    nul = _mask(pc.match_substring(raw, "\x00"))
    reasons += [(position, "contains a NUL character (\\x00)") for position in np.flatnonzero(nul)]
    bad |= nul
    if column.type in (ColumnType.CODE, ColumnType.CODE_LIST):
        raw = _normalise_codes(raw)
    stripped = pc.utf8_trim_whitespace(raw)
    empty = _mask(pc.equal(pc.utf8_length(stripped), 0))
    if column.required:
        reasons += [(position, "required value is empty") for position in np.flatnonzero(empty & ~bad)]
        bad |= empty
    present = ~empty
    text = pc.if_else(pa.array(present), stripped, pa.scalar(None, pa.string()))
    if not column.required and column.default is not None:
        text = pc.fill_null(text, str(column.default))
    typed = pd.Series(np.full(len(raw), np.nan))

    def fail(mask: np.ndarray, reason_for: Callable[[str], str]) -> None:
        nonlocal bad
        mask = mask & present & ~bad
        for position in np.flatnonzero(mask):
            reasons.append((position, reason_for(stripped[position].as_py())))
        bad |= mask

    def valid_only(values: pa.Array) -> pa.Array:
        return pc.if_else(pa.array(present & ~bad), values, pa.scalar(None, values.type))

    kind = column.type
    if kind in (ColumnType.TEXT, ColumnType.CODE, ColumnType.CHOICE):
        if column.max_length is not None:
            fail(
                _mask(pc.greater(pc.utf8_length(stripped), column.max_length)),
                lambda v: f"text too long: {len(v)} characters (max {column.max_length})",
            )
        if kind is ColumnType.CODE:
            fail(
                _mask(pc.match_substring(stripped, LIST_SEPARATOR)),
                lambda v: f"a code may not contain '{LIST_SEPARATOR}': {quoted(v)}",
            )
            fail(
                _mask(pc.match_substring_regex(stripped, r"\p{Cc}")),
                lambda v: f"a code may not contain control characters: {quoted(v)}",
            )
        if kind is ColumnType.CHOICE:
            allowed = tuple(column.choices) or tuple(choices_from.get(column.choices_from or "", ()))
            fail(
                ~_mask(pc.is_in(stripped, value_set=pa.array(allowed, type=pa.string()))),
                lambda v: f"unknown value {quoted(v)} (expected one of: {', '.join(allowed)})",
            )
    elif kind is ColumnType.INT:
        fail(~_mask(pc.match_substring_regex(stripped, _INT)), lambda v: _number_reason(v, "an integer"))
        unsigned = pc.utf8_ltrim(stripped, characters="+-")
        fail(
            _mask(pc.greater(pc.utf8_length(unsigned), _MAX_INT_DIGITS)),
            lambda v: f"number too large: {v} (max {column.maximum})",
        )
        numbers = pc.cast(valid_only(pc.utf8_ltrim(stripped, characters="+")), pa.int64())
        typed = pd.Series(numbers.to_numpy(zero_copy_only=False).astype(float))
        text = pc.if_else(pa.array(present & ~bad), pc.cast(numbers, pa.string()), text)
        _check_range(typed, column, fail)
    elif kind is ColumnType.DECIMAL:
        fail(
            ~_mask(pc.match_substring_regex(stripped, _DECIMAL)),
            lambda v: _number_reason(v, "a decimal number"),
        )
        if column.max_decimals is not None:
            fail(
                ~_mask(pc.match_substring_regex(stripped, rf"^[^.]*(\.\d{{0,{column.max_decimals}}})?$")),
                lambda v: f"too many decimals: {v} (max {column.max_decimals})",
            )
        if column.max_integer_digits is not None:
            fail(
                ~_mask(
                    pc.match_substring_regex(
                        stripped, rf"^[+-]?0*\d{{0,{column.max_integer_digits}}}(\.\d*)?$"
                    )
                ),
                lambda v: (
                    f"number too large: {v} (max {column.max_integer_digits} digits before the decimal point)"
                ),
            )
        plain = pc.utf8_rtrim(pc.utf8_ltrim(stripped, characters="+"), characters=".")
        typed = pd.Series(pc.cast(valid_only(plain), pa.float64()).to_numpy(zero_copy_only=False))
        text = pc.if_else(pa.array(present & ~bad), plain, text)
        _check_range(typed, column, fail)
    elif kind is ColumnType.DATE:
        fail(
            ~_mask(pc.match_substring_regex(stripped, _DATE)),
            lambda v: f"not a date: {quoted(v)} (expected YYYY-MM-DD)",
        )
        parsed = pc.strptime(valid_only(stripped), format="%Y-%m-%d", unit="s", error_is_null=True)
        # strptime rolls 2026-02-30 over to March: a date must print back as it was written.
        round_trip = pc.strftime(parsed, format="%Y-%m-%d")
        impossible = _mask(pc.is_null(parsed)) | _mask(pc.not_equal(round_trip, stripped))
        fail(impossible, lambda v: f"impossible date: {v}")
        typed = pd.Series(parsed.to_numpy(zero_copy_only=False))
        if column.history and latest_date is not None:
            limit = np.datetime64(latest_date, "s")
            fail(
                _mask(pc.greater(parsed, pa.scalar(limit, parsed.type))),
                lambda v: (
                    f"{v} is in the future: history may not go past {latest_date} "
                    "(the import's business date plus importing.future_tolerance_days)"
                ),
            )
    elif kind is ColumnType.TIMESTAMP:
        fail(
            ~_mask(pc.match_substring_regex(stripped, _TIMESTAMP)),
            lambda v: f"not a time with its zone: {v!r} (expected ISO 8601 with an offset, "
            "e.g. 2026-11-11T00:03:12+08:00)",
        )
        candidates = pd.Series(valid_only(stripped).to_numpy(zero_copy_only=False))
        parsed = pd.to_datetime(candidates, format="ISO8601", utc=True, errors="coerce")
        impossible = present & ~bad & parsed.isna().to_numpy()
        fail(impossible, lambda v: f"impossible time: {v}")
        ok = present & ~bad
        # One text form both databases read as the same instant: UTC with an explicit offset.
        normalised = parsed.dt.strftime("%Y-%m-%d %H:%M:%S.%f+00:00").where(ok, None)
        text = pa.array(normalised.to_numpy(dtype=object), type=pa.string())
        nanoseconds = parsed.dt.tz_localize(None).to_numpy(dtype="datetime64[ns]").astype("int64")
        typed = pd.Series(np.where(ok, nanoseconds / 1e9, np.nan))
    elif kind is ColumnType.BOOL:
        lowered = pc.utf8_lower(stripped)
        is_true = _mask(pc.is_in(lowered, value_set=pa.array(TRUE_WORDS)))
        is_false = _mask(pc.is_in(lowered, value_set=pa.array(FALSE_WORDS)))
        fail(
            ~(is_true | is_false),
            lambda v: f"not a boolean: {quoted(v)} (expected true/false, 1/0 or yes/no)",
        )
        text = pc.if_else(
            pa.array(present & is_true), "1", pc.if_else(pa.array(present & is_false), "0", text)
        )
    elif kind is ColumnType.CODE_LIST:
        items = [
            [item.strip() for item in value.split(LIST_SEPARATOR) if item.strip()]
            for value in stripped.to_pylist()
        ]
        too_long = np.array([any(len(item) > 64 for item in codes) for codes in items], dtype=bool)
        fail(too_long, lambda v: f"a code in the list is longer than 64 characters: {quoted(v)}")
        joined = [LIST_SEPARATOR.join(codes) or None for codes in items]
        text = pa.array(joined, type=pa.string())
    return _ColumnResult(text=text, typed=typed, bad=bad, reasons=reasons)


def _normalise_codes(raw: pa.Array) -> pa.Array:
    """Codes as identifiers: NFKC (full-width "ＤＪ－００１" is "DJ-001") and no format characters
    (zero-width spaces and joiners, left-to-right and right-to-left marks, BOM), so a code
    followed by an invisible character is the same code, never a second one."""
    if pc.all(pc.string_is_ascii(raw)).as_py() is not False:
        return raw
    normalised = pc.utf8_normalize(raw, form="NFKC")
    return pc.replace_substring_regex(normalised, pattern=r"\p{Cf}", replacement="")


def _mask(values: pa.Array) -> np.ndarray:
    """A boolean numpy mask from an Arrow boolean array (nulls count as False)."""
    return pc.fill_null(values, False).to_numpy(zero_copy_only=False)


def _number_reason(value: str, expected: str) -> str:
    if value.lower() in _NOT_FINITE:
        return f"not a finite number: {value} (NaN and infinity are not allowed)"
    return f"not {expected}: {quoted(value)}"


def _check_range(numeric: pd.Series, column: Column, fail: Callable[..., None]) -> None:
    values = numeric.to_numpy(dtype=float)
    with np.errstate(invalid="ignore"):
        if column.minimum is not None:
            low = float(column.minimum)
            below = values <= low if column.exclusive_minimum else values < low
            sign = ">" if column.exclusive_minimum else ">="
            fail(below & ~np.isnan(values), lambda v: f"must be {sign} {column.minimum}, got {v}")
        if column.maximum is not None:
            high = float(column.maximum)
            above = values >= high if column.exclusive_maximum else values > high
            sign = "<" if column.exclusive_maximum else "<="
            fail(above & ~np.isnan(values), lambda v: f"must be {sign} {column.maximum}, got {v}")
