"""Staging validated rows in a temporary table, checking them in SQL, and upserting into the real tables.

Rows go to a per-file temporary table (COPY on PostgreSQL, executemany on
SQLite), so duplicate keys and references of a file of any size are checked
by the database, not in memory, and the upsert is one INSERT … SELECT …
ON CONFLICT DO UPDATE that only touches rows whose values differ.

On PostgreSQL the import's own cost sits close to the server's floor for
inserting into the target (heap, three indexes, the foreign-key trigger), so
the rest is trimmed around it: each chunk is one COPY and one statement (the
upsert with the key-keeping INSERT as a CTE), and when every row of a
chunk-written file came back from the upsert as a fresh insert — the usual
first import — the whole-file duplicate-key and required-reference scans are
skipped, because that outcome already proves them (see
`_all_rows_inserted_fresh`).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    FromClause,
    Integer,
    MetaData,
    Numeric,
    Table,
    Text,
    and_,
    case,
    func,
    literal,
    literal_column,
    or_,
    select,
    text,
    true,
)
from sqlalchemy import (
    Column as SqlColumn,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from kernel.orm import ExactDecimal
from restock.db import load_all_models
from restock.importing.reading import Problem
from restock.importing.schema import (
    LIST_SEPARATOR,
    SCHEMAS_BY_KIND,
    ColumnType,
    FileSchema,
)
from restock.importing.validation import ValidatedChunk

_SQL_TYPES = {
    ColumnType.TEXT: Text,
    ColumnType.CODE: Text,
    ColumnType.CHOICE: Text,
    ColumnType.CODE_LIST: Text,
    ColumnType.INT: BigInteger,
    ColumnType.DECIMAL: Numeric,
    ColumnType.DATE: Date,
    ColumnType.TIMESTAMP: lambda: DateTime(timezone=True),
    ColumnType.BOOL: Boolean,
}


def _stage_type(schema: FileSchema, column: Any) -> Any:
    """The stage's type of a file column: amounts as the target stores them (`ExactDecimal`: exact
    fen on SQLite), so INSERT … SELECT copies them unchanged."""
    if column.type is ColumnType.DECIMAL:
        table = _tables().get(schema.table)
        target = None if table is None else table.c.get(_db_name(schema, column.name))
        if target is not None and isinstance(target.type, ExactDecimal):
            return ExactDecimal(14, target.type.places)
        if column.unit == "CNY":  # a column of another table of the kind (purchase order lines)
            return ExactDecimal(14, column.max_decimals)
    return _SQL_TYPES[column.type]()


def _in_minor_units(row: tuple, columns: list[tuple[int, int]]) -> tuple:
    """`row` with the validated amount texts at `columns` [(position, 10**places)] as integers
    (e.g. "599.5" with 2 places -> 59950), exactly (validation capped their decimals)."""
    values = list(row)
    for position, factor in columns:
        text = values[position]
        if text is not None:
            values[position] = int(Decimal(text) * factor)
    return tuple(values)


@dataclass
class WriteCounts:
    """What an upsert did: rows new to the database, rows changed, rows already identical."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0


# Kinds written chunk by chunk as they stream in (plain upserts with no whole-file rule);
# the others are written once the whole file has been checked.
CHUNK_WRITTEN_KINDS = frozenset(
    {"categories", "skus", "suppliers", "supplier_items", "promotions", "sales", "inventory"}
)


# Per sort/hash node of the import's statements: a 50k-row chunk's key-order sort fits in it.
# More does not pay: the whole-file duplicate check's hash aggregate over a million keys ran
# slower in 128MB (page faults) than spilling a few batches.
IMPORT_WORK_MEM = "16MB"


class StagedFile:
    """A temporary table holding one file's validated rows, plus the SQL checks and upsert on it."""

    def __init__(self, session: Session, schema: FileSchema, file_name: str) -> None:
        self.session = session
        self.schema = schema
        self.file_name = file_name
        self.rows = 0
        self.dialect = session.get_bind().dialect.name
        self.names = [column.name for column in schema.columns]
        name = f"import_{schema.kind}_{uuid.uuid4().hex[:8]}"
        self.written = WriteCounts()
        self.rows_written = 0
        if self.dialect == "postgresql":
            # The default 4MB makes each chunk's key-order sort and the whole-file duplicate
            # check's hash aggregate spill to temp files. SET LOCAL ends with the import's
            # transaction, so other work on the pooled connection keeps the server's setting.
            session.execute(text(f"SET LOCAL work_mem = '{IMPORT_WORK_MEM}'"))
        if schema.kind in CHUNK_WRITTEN_KINDS:
            # Rows are upserted from the chunk table; the stage keeps only what the whole-file
            # checks read (keys and references), so the big file is not held twice.
            self.chunk_table: Table | None = self._temporary_table(f"{name}_chunk", self.names)
            checked = [
                column.name
                for column in schema.columns
                if column.name in schema.key or column.references is not None
            ]
            self.table = self._temporary_table(name, checked)
        else:
            self.chunk_table = None
            self.table = self._temporary_table(name, self.names)

    def _temporary_table(self, name: str, names: list[str]) -> Table:
        columns = [SqlColumn("line", Integer)] + [
            SqlColumn(column.name, _stage_type(self.schema, column))
            for column in self.schema.columns
            if column.name in names
        ]
        table = Table(
            name,
            MetaData(),
            *columns,
            prefixes=["TEMPORARY"],
            **({"postgresql_on_commit": "DROP"} if self.dialect == "postgresql" else {}),
        )
        table.create(self.session.connection())
        return table

    def drop(self) -> None:
        """Drop the temporary tables (PostgreSQL drops them at commit anyway)."""
        for table in (self.table, self.chunk_table):
            if table is not None:
                table.drop(self.session.connection(), checkfirst=True)

    # -- loading ---------------------------------------------------------------------------

    def add(self, chunk: ValidatedChunk, write: bool) -> None:
        """Stage a chunk's rows; with `write`, also upsert them now when this kind allows it.

        Rows written early are undone with the transaction if a later check fails.
        """
        if not len(chunk):
            return
        self.rows += len(chunk)
        if not (write and self.chunk_table is not None):
            self._load(self.table, chunk)
            return
        if self.dialect == "postgresql":
            # DELETE would leave every earlier chunk's rows as dead tuples for each later scan.
            self.session.execute(text(f'TRUNCATE "{self.chunk_table.name}"'))
        else:
            self.session.execute(self.chunk_table.delete())
        self._load(self.chunk_table, chunk)
        checked = [column.name for column in self.table.columns]
        keep = self.table.insert().from_select(checked, select(*[self.chunk_table.c[n] for n in checked]))
        if chunk.has_duplicate_key(self.schema.key):
            # One statement may not upsert a key twice; the whole-file check reports it.
            self.session.execute(keep)
            return
        if self.dialect == "postgresql":
            # Keeping the chunk's keys rides along with the upsert as a data-modifying CTE:
            # one statement and round trip per chunk instead of two.
            counts = self._write_from(self.chunk_table, len(chunk), also=keep)
        else:
            self.session.execute(keep)
            counts = self._write_from(self.chunk_table, len(chunk))
        self.written.inserted += counts.inserted
        self.written.updated += counts.updated
        self.written.unchanged += counts.unchanged
        self.rows_written += len(chunk)

    def _load(self, table: Table, chunk: ValidatedChunk) -> None:
        """Append rows to `table` (its columns only): COPY (CSV) on PostgreSQL, executemany on SQLite."""
        raw = self.session.connection().connection.driver_connection
        names = [column.name for column in table.columns if column.name != "line"]
        if self.dialect == "postgresql":
            quoted = ", ".join(f'"{name}"' for name in ["line", *names])
            with (
                raw.cursor() as cursor,
                cursor.copy(f'COPY "{table.name}" ({quoted}) FROM STDIN (FORMAT csv)') as copy,
            ):
                copy.write(chunk.csv_bytes(names))
        else:
            marks = ", ".join("?" for _ in range(len(names) + 1))
            rows = chunk.rows(names)
            exact = [
                (k + 1, 10 ** table.c[name].type.places)
                for k, name in enumerate(names)
                if isinstance(table.c[name].type, ExactDecimal)
            ]
            if exact:  # the driver is called directly: amounts go in as the integer units stored
                rows = [_in_minor_units(row, exact) for row in rows]
            cursor = raw.cursor()
            try:
                cursor.executemany(f'INSERT INTO "{table.name}" VALUES ({marks})', rows)
            finally:
                cursor.close()

    def _all_rows_inserted_fresh(self) -> bool:
        """Whether the chunk-by-chunk upsert already proves the file's keys distinct.

        Every staged row went through the upsert and every one came back as a fresh insert
        (none met an existing row under the target's unique key, not even one written by an
        earlier chunk of this file). Two rows sharing a file key would share the target key
        (a code resolves to one id), so the second would have conflicted. Only holds when no
        key column is an optional reference, whose unresolved NULL ids a unique index lets repeat.
        """
        if self.chunk_table is None or self.rows_written != self.rows:
            return False
        if self.written.inserted != self.rows:
            return False
        return all(
            self.schema.column(name).references is None or self.schema.column(name).required
            for name in self.schema.key
        )

    def _has_duplicate_key(self, table: Table) -> bool:
        keys = [table.c[name] for name in self.schema.key]
        query = select(literal(1)).select_from(table).group_by(*keys).having(func.count() > 1).limit(1)
        return self.session.execute(query).first() is not None

    # -- checks ----------------------------------------------------------------------------

    def duplicate_keys(self, limit: int) -> list[Problem]:
        """Rows whose natural key appeared on an earlier line of the same file."""
        stage = self.table
        keys = [stage.c[name] for name in self.schema.key]
        if self._all_rows_inserted_fresh() or not self._has_duplicate_key(stage):
            return []
        first_line = func.min(stage.c.line).over(partition_by=keys).label("first_line")
        ranked = select(stage.c.line, first_line, *keys).subquery()
        query = select(ranked).where(ranked.c.line > ranked.c.first_line).order_by(ranked.c.line).limit(limit)
        blame = self.schema.key[-1]
        problems = []
        for row in self.session.execute(query).mappings():
            shown = ", ".join(f"{name}={row[name]}" for name in self.schema.key)
            problems.append(
                Problem(
                    self.file_name,
                    row["line"],
                    blame,
                    f"duplicate key ({shown}): already on line {row['first_line']}",
                )
            )
        return problems

    def unknown_references(self, staged: Mapping[str, StagedFile], limit: int) -> list[Problem]:
        """Rows naming a code that is neither in the database nor staged by this import."""
        problems: list[Problem] = []
        for column in self.schema.columns:
            if column.references is None:
                continue
            if column.type is ColumnType.CODE_LIST:
                problems += self._unknown_listed(column.name, column.references, staged)
                continue
            if column.required and self._all_rows_inserted_fresh():
                # Each row reached the target through an inner join on this code, so the
                # code is in the database (written by this import or before).
                continue
            stage_value = self.table.c[column.name]
            known = [stage_value.in_(select(_code_column(column.references)))]
            if column.references in staged:
                other = staged[column.references]
                known.append(stage_value.in_(select(other.table.c[other.schema.key[0]])))
            query = (
                select(self.table.c.line, stage_value)
                .where(stage_value.is_not(None))
                .where(~or_(*known))
                .order_by(self.table.c.line)
                .limit(limit)
            )
            for line, value in self.session.execute(query):
                problems.append(
                    Problem(
                        self.file_name,
                        line,
                        column.name,
                        f"unknown {SCHEMAS_BY_KIND[column.references].noun} {value!r}: not in "
                        f"{column.references}.csv nor in the database",
                    )
                )
        return sorted(problems, key=lambda problem: problem.line)[:limit]

    def _unknown_listed(self, name: str, references: str, staged: Mapping[str, StagedFile]) -> list[Problem]:
        known = {code for (code,) in self.session.execute(select(_code_column(references)))}
        if references in staged:
            other = staged[references]
            known |= {code for (code,) in self.session.execute(select(other.table.c[other.schema.key[0]]))}
        problems = []
        query = select(self.table.c.line, self.table.c[name]).where(self.table.c[name].is_not(None))
        for line, listed in self.session.execute(query.order_by(self.table.c.line)):
            for code in listed.split(LIST_SEPARATOR):
                if code not in known:
                    problems.append(
                        Problem(
                            self.file_name,
                            line,
                            name,
                            f"unknown {SCHEMAS_BY_KIND[references].noun} {code!r}: not in "
                            f"{references}.csv nor in the database",
                        )
                    )
        return problems

    def tier_order_problems(self) -> list[Problem]:
        """Each agreement's tiers must run 1..n with thresholds and rates strictly increasing."""
        stage = self.table
        query = select(
            stage.c.line, stage.c.agreement_code, stage.c.tier, stage.c.threshold, stage.c.rate
        ).order_by(stage.c.agreement_code, stage.c.tier)
        tiers: dict[str, list[tuple[int, int, Decimal, Decimal]]] = defaultdict(list)
        for line, agreement, tier, threshold, rate in self.session.execute(query):
            tiers[agreement].append((line, tier, Decimal(str(threshold)), Decimal(str(rate))))
        problems = []
        for agreement, table in tiers.items():
            for expected, (line, tier, _, _) in enumerate(table, start=1):
                if tier != expected:
                    problems.append(
                        Problem(
                            self.file_name,
                            line,
                            "tier",
                            f"tier table of {agreement} must number its tiers 1..n without gaps: "
                            f"found tier {tier} where tier {expected} was expected",
                        )
                    )
                    break
            for (_, low_tier, low_threshold, low_rate), (line, tier, threshold, rate) in zip(
                table, table[1:], strict=False
            ):
                if threshold <= low_threshold:
                    problems.append(
                        Problem(
                            self.file_name,
                            line,
                            "threshold",
                            f"tier table out of order: tier {tier} threshold {threshold} is not "
                            f"above tier {low_tier}'s {low_threshold}",
                        )
                    )
                if rate <= low_rate:
                    problems.append(
                        Problem(
                            self.file_name,
                            line,
                            "rate",
                            f"tier table out of order: tier {tier} rate {rate} is not above "
                            f"tier {low_tier}'s {low_rate}",
                        )
                    )
        return sorted(problems, key=lambda problem: problem.line)

    def purchase_order_header_problems(self, limit: int) -> list[Problem]:
        """Rows of one po_number that disagree with its first row on supplier or dates."""
        stage = self.table
        first = stage.alias("first_row")
        header = ("supplier_code", "order_date", "expected_date")
        query = (
            select(
                stage.c.line,
                stage.c.po_number,
                first.c.line.label("first_line"),
                *[stage.c[name].label(name) for name in header],
                *[first.c[name].label(f"first_{name}") for name in header],
            )
            .join(first, and_(first.c.po_number == stage.c.po_number, first.c.line < stage.c.line))
            .where(or_(*[stage.c[name] != first.c[name] for name in header]))
            .order_by(stage.c.line)
            .limit(limit)
        )
        problems = []
        reported: set[int] = set()
        for row in self.session.execute(query).mappings():
            if row["line"] in reported:
                continue
            reported.add(row["line"])
            column = next(name for name in header if row[name] != row[f"first_{name}"])
            problems.append(
                Problem(
                    self.file_name,
                    row["line"],
                    column,
                    f"purchase order {row['po_number']} has {column}={row[column]} here but "
                    f"{row[f'first_{column}']} on line {row['first_line']}",
                )
            )
        problems += self._restock_purchase_order_problems(limit - len(problems))
        return problems

    def _restock_purchase_order_problems(self, limit: int) -> list[Problem]:
        """Rows naming a purchase order that restock raised from a proposal: an import of open
        orders must never overwrite those (they are exported to suppliers exactly once)."""
        if limit <= 0:
            return []
        stage = self.table
        orders = _tables()["purchase_orders"]
        query = (
            select(stage.c.line, stage.c.po_number, orders.c.proposal_id)
            .join(orders, orders.c.po_number == stage.c.po_number)
            .where(orders.c.proposal_id.is_not(None))
            .order_by(stage.c.line)
            .limit(limit)
        )
        return [
            Problem(
                self.file_name,
                row["line"],
                "po_number",
                f"purchase order {row['po_number']} was raised by restock from proposal "
                f"{row['proposal_id']}; an import of open orders cannot change it",
            )
            for row in self.session.execute(query).mappings()
        ]

    # -- writing ---------------------------------------------------------------------------

    def upsert(self) -> WriteCounts:
        """Write the staged rows not yet written into the target table(s); return what changed."""
        if self.schema.kind == "open_purchase_orders":
            return self._upsert_purchase_orders()
        if self.chunk_table is not None:
            if self.rows_written != self.rows:
                raise RuntimeError(f"{self.file_name}: rows were held back from writing")
            return self.written
        counts = self._write_from(self.table, self.rows)
        if self.schema.kind == "rebate_agreements":
            changed = self._sync_agreement_scopes()
            moved = min(changed, counts.unchanged)
            counts.updated += moved
            counts.unchanged -= moved
        if self.schema.kind == "rebate_tiers":
            counts.deleted = self._delete_tiers_not_in_file()
        return counts

    def _write_from(self, staged: Table, staged_rows: int, also: Any = None) -> WriteCounts:
        """Upsert the `staged_rows` rows of `staged` (the stage or the current chunk) into the target.

        Counts assume every staged reference resolves; when one does not, the
        whole-file reference check refuses the import and the counts are moot.
        `also` (PostgreSQL only) is a further INSERT run in the same statement as a CTE.
        """
        target = _tables()[self.schema.table]
        source, values = self._source_columns(staged)
        key = [_db_name(self.schema, name) for name in self.schema.key]
        if self.dialect != "postgresql":
            counts = self._count(target, source, values, key)
            self._insert_on_conflict(target, source, values, key)
            return counts
        # PostgreSQL counts in the upsert itself: xmax = 0 marks a freshly inserted row, and rows
        # the ON CONFLICT ... WHERE leaves alone are not returned at all.
        written = self._insert_on_conflict(target, source, values, key, returning=True).cte("written")
        query = select(
            func.count().filter(written.c.fresh),
            func.count().filter(~written.c.fresh),
        )
        if also is not None:
            query = query.add_cte(also.cte("kept"))
        inserted, updated = self.session.execute(query).one()
        return WriteCounts(inserted=inserted, updated=updated, unchanged=staged_rows - inserted - updated)

    def _source_columns(self, staged: Table) -> tuple[FromClause, dict[str, ColumnElement]]:
        """`staged` joined to each referenced table, and the target columns' values from it."""
        source: FromClause = staged
        values: dict[str, ColumnElement] = {}
        for column in self.schema.columns:
            if column.type is ColumnType.CODE_LIST:
                continue
            stage_value = staged.c[column.name]
            if column.references is None:
                values[column.db_column or column.name] = stage_value
                continue
            referenced = _tables()[SCHEMAS_BY_KIND[column.references].table].alias(f"ref_{column.name}")
            condition = referenced.c.code == stage_value
            source = (
                source.join(referenced, condition)
                if column.required
                else source.outerjoin(referenced, condition)
            )
            values[column.db_column or column.name] = referenced.c.id
        return source, values

    def _count(
        self,
        target: Table,
        source: FromClause,
        values: dict[str, ColumnElement],
        key: list[str],
    ) -> WriteCounts:
        existing = target.alias("existing")
        joined = source.outerjoin(existing, and_(*[existing.c[name] == values[name] for name in key]))
        differs = or_(
            *[existing.c[name].is_distinct_from(value) for name, value in values.items() if name not in key]
        )
        query = select(
            func.count(),
            func.count(existing.c.id),
            func.coalesce(func.sum(_flag(and_(existing.c.id.is_not(None), differs))), 0),
        ).select_from(joined)
        total, matched, updated = self.session.execute(query).one()
        return WriteCounts(inserted=total - matched, updated=int(updated), unchanged=matched - int(updated))

    def _insert_on_conflict(
        self,
        target: Table,
        source: FromClause,
        values: dict[str, ColumnElement],
        key: list[str],
        returning: bool = False,
    ) -> Any:
        """INSERT … SELECT … ON CONFLICT DO UPDATE of rows whose values differ.

        Executes it, or with `returning` hands it back (returning `fresh`) for a CTE.
        """
        names = list(values)
        # Rows in key order keep the unique index's inserts local.
        chosen = (
            select(*values.values())
            .select_from(source)
            .where(true())
            .order_by(*[values[name] for name in key])
        )
        dialect_insert = postgresql.insert if self.dialect == "postgresql" else sqlite.insert
        statement = dialect_insert(target).from_select(names, chosen)
        updates = [name for name in values if name not in key]
        statement = statement.on_conflict_do_update(
            index_elements=key,
            set_={name: statement.excluded[name] for name in updates},
            # Identical rows are left alone, so a re-import rewrites nothing.
            where=or_(*[target.c[name].is_distinct_from(statement.excluded[name]) for name in updates]),
        )
        if returning:
            return statement.returning((literal_column("xmax") == literal_column("0")).label("fresh"))
        self.session.execute(statement)
        return None

    def _sync_agreement_scopes(self) -> int:
        """Make each staged agreement's scope rows equal the file's lists; return agreements changed."""
        agreements = _tables()["rebate_agreements"]
        scopes = _tables()["rebate_agreement_scopes"]
        categories = dict(
            self.session.execute(select(_tables()["categories"].c.code, _tables()["categories"].c.id)).all()
        )
        skus = dict(self.session.execute(select(_tables()["skus"].c.code, _tables()["skus"].c.id)).all())
        staged = self.session.execute(
            select(agreements.c.id, self.table.c.scope_categories, self.table.c.scope_skus).join(
                self.table, agreements.c.code == self.table.c.agreement_code
            )
        ).all()
        changed = 0
        for agreement_id, listed_categories, listed_skus in staged:
            wanted = {(categories[code], None) for code in _split(listed_categories)} | {
                (None, skus[code]) for code in _split(listed_skus)
            }
            have = {
                (row.category_id, row.sku_id): row.id
                for row in self.session.execute(
                    select(scopes.c.id, scopes.c.category_id, scopes.c.sku_id).where(
                        scopes.c.agreement_id == agreement_id
                    )
                )
            }
            if set(have) == wanted:
                continue
            changed += 1
            stale = [scope_id for target, scope_id in have.items() if target not in wanted]
            if stale:
                self.session.execute(scopes.delete().where(scopes.c.id.in_(stale)))
            fresh = [
                {"agreement_id": agreement_id, "category_id": category_id, "sku_id": sku_id}
                for category_id, sku_id in wanted - set(have)
            ]
            if fresh:
                self.session.execute(scopes.insert(), fresh)
        return changed

    def _delete_tiers_not_in_file(self) -> int:
        """A tier file carries each agreement's whole table: drop tiers above the ones listed."""
        tiers = _tables()["rebate_tiers"]
        agreements = _tables()["rebate_agreements"]
        staged_agreements = select(agreements.c.id).join(
            self.table, agreements.c.code == self.table.c.agreement_code
        )
        listed = (
            select(literal(1))
            .select_from(self.table.join(agreements, agreements.c.code == self.table.c.agreement_code))
            .where(agreements.c.id == tiers.c.agreement_id, self.table.c.tier == tiers.c.tier)
        )
        result = self.session.execute(
            tiers.delete().where(tiers.c.agreement_id.in_(staged_agreements), ~listed.exists())
        )
        return int(result.rowcount or 0)

    def _upsert_purchase_orders(self) -> WriteCounts:
        orders = _tables()["purchase_orders"]
        lines = _tables()["purchase_order_lines"]
        suppliers = _tables()["suppliers"]
        skus = _tables()["skus"]
        stage = self.table
        header_source = stage.join(suppliers, suppliers.c.code == stage.c.supplier_code)
        header_values: dict[str, ColumnElement] = {
            "po_number": stage.c.po_number,
            "supplier_id": suppliers.c.id,
            "order_date": stage.c.order_date,
            "expected_date": stage.c.expected_date,
        }
        line_source = stage.join(orders, orders.c.po_number == stage.c.po_number).join(
            skus, skus.c.code == stage.c.sku_code
        )
        line_values: dict[str, ColumnElement] = {
            "purchase_order_id": orders.c.id,
            "sku_id": skus.c.id,
            "units": stage.c.units,
            "received_units": stage.c.received_units,
            "unit_cost": stage.c.unit_cost,
        }
        # Count before writing: a line is updated when it or its order's header changes.
        existing_order = orders.alias("existing_order")
        existing_line = lines.alias("existing_line")
        counted_source = (
            stage.join(suppliers, suppliers.c.code == stage.c.supplier_code)
            .join(skus, skus.c.code == stage.c.sku_code)
            .outerjoin(existing_order, existing_order.c.po_number == stage.c.po_number)
            .outerjoin(
                existing_line,
                and_(
                    existing_line.c.purchase_order_id == existing_order.c.id,
                    existing_line.c.sku_id == skus.c.id,
                ),
            )
        )
        differs = or_(
            existing_order.c.supplier_id.is_distinct_from(suppliers.c.id),
            existing_order.c.order_date.is_distinct_from(stage.c.order_date),
            existing_order.c.expected_date.is_distinct_from(stage.c.expected_date),
            existing_line.c.units.is_distinct_from(stage.c.units),
            existing_line.c.received_units.is_distinct_from(stage.c.received_units),
            existing_line.c.unit_cost.is_distinct_from(stage.c.unit_cost),
        )
        total, matched, updated = self.session.execute(
            select(
                func.count(),
                func.count(existing_line.c.id),
                func.coalesce(func.sum(_flag(and_(existing_line.c.id.is_not(None), differs))), 0),
            ).select_from(counted_source)
        ).one()
        self._insert_headers(orders, header_source, header_values)
        self._insert_on_conflict(lines, line_source, line_values, ["purchase_order_id", "sku_id"])
        return WriteCounts(inserted=total - matched, updated=int(updated), unchanged=matched - int(updated))

    def _insert_headers(self, orders: Table, source: FromClause, values: dict[str, ColumnElement]) -> None:
        # One header per po_number: the rows agree (checked), so any one row will do.
        stage = self.table
        first_line = select(func.min(stage.c.line)).group_by(stage.c.po_number)
        chosen = (
            select(*values.values(), literal("open")).select_from(source).where(stage.c.line.in_(first_line))
        )
        dialect_insert = postgresql.insert if self.dialect == "postgresql" else sqlite.insert
        statement = dialect_insert(orders).from_select([*values, "status"], chosen)
        updates = ["supplier_id", "order_date", "expected_date"]
        statement = statement.on_conflict_do_update(
            index_elements=["po_number"],
            set_={name: statement.excluded[name] for name in updates},
            where=or_(*[orders.c[name].is_distinct_from(statement.excluded[name]) for name in updates]),
        )
        self.session.execute(statement)


def _tables() -> Mapping[str, Table]:
    return load_all_models().metadata.tables


def _flag(condition: ColumnElement) -> ColumnElement:
    return case((condition, 1), else_=0)


def _db_name(schema: FileSchema, name: str) -> str:
    return schema.column(name).db_column or name


def _code_column(kind: str) -> ColumnElement:
    return _tables()[SCHEMAS_BY_KIND[kind].table].c.code


def _split(listed: str | None) -> list[str]:
    return [code for code in (listed or "").split(LIST_SEPARATOR) if code]
