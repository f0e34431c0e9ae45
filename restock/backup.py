"""Database backups and restores, each verified.

SQLite is copied with its online backup API (a consistent copy while restock
keeps writing); PostgreSQL with `pg_dump --format=custom`, run on a snapshot
exported from a REPEATABLE READ transaction so the row counts and table
checksums recorded beside the dump describe exactly what is in it.

Each backup is three files: the copy (`restock-<db>-<YYYYMMDDTHHMMSS>.sqlite3`
or `.pgdump`), `<copy>.sha256` (sha256sum format) and `<copy>.json` (the
manifest: schema revision, row count of every table, checksum of the key
tables). A copy is written under a temporary name, verified, then renamed; a
mirror directory (off-site mount) gets its copy only after the local one
verified, and is verified again there. Retention keeps the newest backup of each
of the last N days and of each of the last M ISO weeks.

A restore checks the checksum file first, refuses a database that holds data
unless forced, and compares row counts and key-table checksums with the
manifest afterwards.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, inspect, select, text

from kernel.errors import InvalidInput, RestockError
from restock import data_version
from restock.db import load_all_models, make_engine

MANIFEST_VERSION = 1
# Tables whose content (not just row count) a restore must reproduce exactly.
KEY_TABLES = (
    "categories",
    "skus",
    "suppliers",
    "supplier_items",
    "rebate_agreements",
    "rebate_tiers",
    "purchase_orders",
    "purchase_order_lines",
    "daily_sales",
    "inventory_snapshots",
    "promotions",
    "forecast_runs",
    "proposals",
    "proposal_lines",
    "audit_log",
)
_NAME = re.compile(r"^restock-(sqlite|postgresql)-(\d{8}T\d{6})(?:-(\d+))?\.(sqlite3|pgdump)$")


class BackupError(RestockError):
    """A backup or restore could not be made or did not verify; the message says which check failed."""

    exit_code = 16


@dataclass(frozen=True)
class BackupResult:
    """A verified backup: the copy, its checksum and manifest, the mirror copy, what retention removed."""

    path: Path
    sha256: str
    size_bytes: int
    manifest: dict[str, Any]
    mirror: Path | None = None
    removed: list[Path] = field(default_factory=list)


@dataclass(frozen=True)
class TableCheck:
    """One table after a restore: rows expected (manifest) and found; checksum agreement for key tables."""

    table: str
    expected_rows: int
    restored_rows: int
    checksum_ok: bool | None  # None: not a key table

    @property
    def ok(self) -> bool:
        return self.expected_rows == self.restored_rows and self.checksum_ok is not False


@dataclass(frozen=True)
class RestoreResult:
    """A restore and its verification, table by table."""

    source: Path
    database: str
    tables: list[TableCheck]
    revision: str | None

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.tables)


# -- fingerprints ---------------------------------------------------------------------------------


def _normalise(value: Any) -> str:
    if value is None:
        return "\x00"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value == value else "NaN"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, datetime):
        return value.isoformat() if value.tzinfo is None else value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True, default=str)
    return str(value)


def fingerprint(conn: Connection) -> dict[str, Any]:
    """Schema revision, row count of every table present, sha256 of every key table's rows."""
    metadata = load_all_models().metadata
    present = set(inspect(conn).get_table_names())
    counts: dict[str, int] = {}
    checksums: dict[str, str] = {}
    for name in sorted(present):
        quoted = conn.dialect.identifier_preparer.quote(name)
        counts[name] = int(conn.execute(text(f"SELECT count(*) FROM {quoted}")).scalar_one())
        if name in KEY_TABLES and name in metadata.tables:
            table = metadata.tables[name]
            digest = hashlib.sha256()
            order = list(table.primary_key.columns) or list(table.columns)
            for row in conn.execute(select(table).order_by(*order).execution_options(yield_per=10_000)):
                digest.update("\x1f".join(_normalise(v) for v in row).encode())
                digest.update(b"\x1e")
            checksums[name] = digest.hexdigest()
    revision = None
    if "alembic_version" in present:
        revs = sorted(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())
        revision = ",".join(revs) or None
    return {"revision": revision, "counts": counts, "checksums": checksums}


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# -- backup ---------------------------------------------------------------------------------------


def create_backup(
    engine: Engine,
    directory: Path,
    *,
    now: datetime,
    mirror_dir: Path | None = None,
    keep_daily: int = 7,
    keep_weekly: int = 4,
    pg_dump: str = "pg_dump",
    pg_restore: str = "pg_restore",
) -> BackupResult:
    """Back up `engine`'s database into `directory`, verify it, mirror it, then apply retention."""
    directory.mkdir(parents=True, exist_ok=True)
    dialect = engine.dialect.name
    suffix = "sqlite3" if dialect == "sqlite" else "pgdump"
    final = _free_name(directory, dialect, now, suffix)
    partial = final.with_name(final.name + ".part")
    try:
        if dialect == "sqlite":
            manifest = _backup_sqlite(engine, partial)
        elif dialect == "postgresql":
            manifest = _backup_postgres(engine, partial, pg_dump, pg_restore)
        else:
            raise BackupError(f"backups of {dialect} databases are not supported")
        sha = _sha256_file(partial)
        manifest.update(
            {
                "manifest_version": MANIFEST_VERSION,
                "file": final.name,
                "dialect": dialect,
                "created_at": now.isoformat(),
                "sha256": sha,
                "size_bytes": partial.stat().st_size,
            }
        )
        _write_text(final.with_name(final.name + ".json"), json.dumps(manifest, indent=2, sort_keys=True))
        _write_text(final.with_name(final.name + ".sha256"), f"{sha}  {final.name}\n")
        partial.replace(final)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    verify_checksum(final)
    removed = apply_retention(directory, keep_daily=keep_daily, keep_weekly=keep_weekly)
    mirrored = None
    if mirror_dir is not None:
        mirrored = _mirror(final, mirror_dir)
        removed += apply_retention(mirror_dir, keep_daily=keep_daily, keep_weekly=keep_weekly)
    return BackupResult(
        path=final, sha256=sha, size_bytes=manifest["size_bytes"], manifest=manifest, mirror=mirrored,
        removed=removed,
    )


def _free_name(directory: Path, dialect: str, now: datetime, suffix: str) -> Path:
    stamp = now.strftime("%Y%m%dT%H%M%S")
    candidate = directory / f"restock-{dialect}-{stamp}.{suffix}"
    counter = 1
    while candidate.exists():
        counter += 1
        candidate = directory / f"restock-{dialect}-{stamp}-{counter}.{suffix}"
    return candidate


def _write_text(path: Path, content: str) -> None:
    partial = path.with_name(path.name + ".part")
    partial.write_text(content, encoding="utf-8")
    partial.replace(path)


def _backup_sqlite(engine: Engine, target: Path) -> dict[str, Any]:
    raw = engine.raw_connection()
    try:
        source = raw.driver_connection
        assert isinstance(source, sqlite3.Connection)
        copy = sqlite3.connect(target)
        try:
            source.backup(copy)
            # A single self-contained file: no -wal companion needed to read it.
            copy.execute("PRAGMA journal_mode=DELETE")
            status = copy.execute("PRAGMA integrity_check").fetchone()[0]
        finally:
            copy.close()
    finally:
        raw.close()
    if status != "ok":
        raise BackupError(f"the SQLite copy failed its integrity check: {status}")
    copy_engine = make_engine(f"sqlite:///{target}")
    try:
        with copy_engine.connect() as conn:
            manifest = fingerprint(conn)
    finally:
        copy_engine.dispose()
    manifest["schema"] = None
    return manifest


def _libpq(engine: Engine) -> tuple[str, dict[str, str]]:
    """A libpq connection URL without password, and the environment carrying it."""
    url = engine.url.set(drivername="postgresql")
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
        url = url.set(password=None)
    return url.render_as_string(hide_password=False), env


def _client(program: str, engine: Engine) -> str:
    """The path of a PostgreSQL client program, checked against the server's major version."""
    path = shutil.which(program)
    if path is None:
        raise BackupError(
            f"{program} not found: install the PostgreSQL client programs (Debian: "
            "apt-get install postgresql-client, or `make pg-client`), or set backup.pg_dump / "
            "backup.pg_restore to their paths"
        )
    output = subprocess.run([path, "--version"], capture_output=True, text=True, check=False).stdout
    found = re.search(r"(\d+)(?:\.\d+)?", output)
    with engine.connect() as conn:
        server = int(conn.execute(text("SHOW server_version_num")).scalar_one()) // 10000
    if found is None or int(found.group(1)) < server:
        raise BackupError(
            f"{program} is version {output.strip() or '?'} but the server is PostgreSQL {server}: "
            f"install postgresql-client-{server} or newer"
        )
    return path


def _run(command: list[str], env: dict[str, str], what: str) -> str:
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise BackupError(f"{what} failed (exit {done.returncode}): {done.stderr.strip()[:2000]}")
    return done.stdout


def _backup_postgres(engine: Engine, target: Path, pg_dump: str, pg_restore: str) -> dict[str, Any]:
    dump = _client(pg_dump, engine)
    restore = _client(pg_restore, engine)
    url, env = _libpq(engine)
    with engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn, conn.begin():
        snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar_one()
        schema = conn.execute(text("SELECT current_schema()")).scalar_one()
        manifest = fingerprint(conn)
        _run(
            [dump, "--format=custom", f"--snapshot={snapshot}", f"--schema={schema}",
             f"--file={target}", f"--dbname={url}"],
            env,
            "pg_dump",
        )
    listing = _run([restore, "--list", str(target)], env, "pg_restore --list (reading the dump back)")
    dumped = set(re.findall(rf"TABLE DATA {re.escape(schema)} (\S+) ", listing))
    missing = sorted(set(manifest["counts"]) - dumped)
    if missing:
        raise BackupError(f"the dump has no data for table(s) {', '.join(missing)}")
    manifest["schema"] = schema
    return manifest


def verify_checksum(path: Path) -> dict[str, Any]:
    """Check `path` against its .sha256 file and return its manifest; `BackupError` if either is off."""
    if not path.is_file():
        raise InvalidInput(f"{path}: no such backup file")
    sums = path.with_name(path.name + ".sha256")
    manifest_file = path.with_name(path.name + ".json")
    for companion in (sums, manifest_file):
        if not companion.is_file():
            raise BackupError(f"{path}: {companion.name} is missing beside it; cannot verify the backup")
    expected = sums.read_text(encoding="utf-8").split()[0]
    actual = _sha256_file(path)
    if actual != expected:
        raise BackupError(
            f"{path}: checksum mismatch (file {actual[:16]}…, {sums.name} {expected[:16]}…): "
            "the file is damaged or incomplete"
        )
    manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
    if manifest.get("sha256") != actual:
        raise BackupError(f"{path}: {manifest_file.name} describes another file (sha256 differs)")
    return manifest


def _mirror(path: Path, mirror_dir: Path) -> Path:
    mirror_dir.mkdir(parents=True, exist_ok=True)
    for companion in (path.with_name(path.name + ".json"), path.with_name(path.name + ".sha256")):
        _copy(companion, mirror_dir / companion.name)
    target = mirror_dir / path.name
    _copy(path, target)
    try:
        verify_checksum(target)
    except BackupError:
        target.unlink(missing_ok=True)
        raise
    return target


def _copy(source: Path, target: Path) -> None:
    partial = target.with_name(target.name + ".part")
    shutil.copyfile(source, partial)
    with partial.open("rb") as handle:
        os.fsync(handle.fileno())
    partial.replace(target)


# -- retention ------------------------------------------------------------------------------------


def backup_time(path: Path) -> datetime | None:
    """When a backup was taken, from its file name (None for files that are not restock backups)."""
    match = _NAME.match(path.name)
    return None if match is None else datetime.strptime(match.group(2), "%Y%m%dT%H%M%S")


def retained(stamps: dict[Path, datetime], keep_daily: int, keep_weekly: int) -> set[Path]:
    """Which backups to keep: the newest of each of the last `keep_daily` days that have one,
    and the newest of each of the last `keep_weekly` ISO weeks that have one."""
    newest_first = sorted(stamps, key=lambda p: (stamps[p], p.name), reverse=True)
    keep: set[Path] = set()
    for period, limit in ((lambda d: d.date(), keep_daily), (lambda d: d.isocalendar()[:2], keep_weekly)):
        seen: list[Any] = []
        for path in newest_first:
            bucket = period(stamps[path])
            if bucket in seen:
                continue
            if len(seen) == limit:
                break
            seen.append(bucket)
            keep.add(path)
    return keep


def apply_retention(directory: Path, *, keep_daily: int, keep_weekly: int) -> list[Path]:
    """Delete the backups (and their .sha256/.json) retention does not keep; return what was deleted."""
    stamps = {path: stamp for path in directory.iterdir() if (stamp := backup_time(path)) is not None}
    keep = retained(stamps, keep_daily, keep_weekly)
    removed: list[Path] = []
    for path in sorted(set(stamps) - keep):
        for victim in (path, path.with_name(path.name + ".sha256"), path.with_name(path.name + ".json")):
            if victim.exists():
                victim.unlink()
                removed.append(victim)
    return removed


def list_backups(directory: Path) -> list[tuple[Path, datetime]]:
    """Backups in `directory`, newest first."""
    if not directory.is_dir():
        return []
    found = [(path, stamp) for path in directory.iterdir() if (stamp := backup_time(path)) is not None]
    return sorted(found, key=lambda item: (item[1], item[0].name), reverse=True)


# -- restore --------------------------------------------------------------------------------------


def _rows_anywhere(conn: Connection, tables: Iterable[str]) -> dict[str, int]:
    counts = {}
    for name in tables:
        if name in ("alembic_version", "data_version"):  # bookkeeping: a migrated empty database has them
            continue
        quoted = conn.dialect.identifier_preparer.quote(name)
        rows = int(conn.execute(text(f"SELECT count(*) FROM {quoted}")).scalar_one())
        if rows:
            counts[name] = rows
    return counts


def restore_backup(
    engine: Engine, path: Path, *, force: bool = False, pg_restore: str = "pg_restore"
) -> RestoreResult:
    """Restore the backup at `path` into `engine`'s database and verify it against the manifest.

    The target must hold no rows (tables may exist, e.g. after `restock init`)
    unless `force`, which replaces everything in it.
    """
    manifest = verify_checksum(path)
    dialect = engine.dialect.name
    if manifest["dialect"] != dialect:
        raise InvalidInput(f"{path.name} is a {manifest['dialect']} backup; the target database is {dialect}")
    tables = inspect(engine).get_table_names()
    with engine.connect() as conn:
        holding = _rows_anywhere(conn, tables)
    if holding and not force:
        biggest = sorted(holding.items(), key=lambda kv: -kv[1])[:3]
        largest = ", ".join(f"{name} {rows:,}" for name, rows in biggest)
        raise BackupError(
            f"the target database is not empty ({len(holding)} table(s) hold rows: {largest}); "
            "restore into an empty database, or pass --force to replace everything in it"
        )
    if dialect == "sqlite":
        _restore_sqlite(engine, path)
    else:
        _restore_postgres(engine, path, manifest, replace=bool(tables), program=pg_restore)
    with engine.begin() as conn:
        # the restored data is older than what a running web app may have cached: move the
        # version where no cached response can be keyed (restock.data_version.jump)
        data_version.jump(conn)
    with engine.connect() as conn:
        found = fingerprint(conn)
    checks = [
        TableCheck(
            table=name,
            expected_rows=expected,
            restored_rows=found["counts"].get(name, -1),
            checksum_ok=(found["checksums"].get(name) == manifest["checksums"][name])
            if name in manifest["checksums"]
            else None,
        )
        for name, expected in sorted(manifest["counts"].items())
    ]
    result = RestoreResult(
        source=path,
        database=engine.url.render_as_string(hide_password=True),
        tables=checks,
        revision=found["revision"],
    )
    if found["revision"] != manifest["revision"]:
        raise BackupError(
            f"restored schema revision {found['revision']} differs from the backup's {manifest['revision']}"
        )
    if not result.ok:
        bad = ", ".join(
            f"{c.table} ({c.restored_rows} of {c.expected_rows} rows"
            + (", checksum differs" if c.checksum_ok is False else "")
            + ")"
            for c in checks
            if not c.ok
        )
        raise BackupError(f"the restore did not verify: {bad}")
    return result


def _restore_sqlite(engine: Engine, path: Path) -> None:
    engine.dispose()
    source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    raw = engine.raw_connection()
    try:
        target = raw.driver_connection
        assert isinstance(target, sqlite3.Connection)
        source.backup(target)
    finally:
        raw.close()
        source.close()
    engine.dispose()


def _restore_postgres(
    engine: Engine, path: Path, manifest: dict[str, Any], *, replace: bool, program: str
) -> None:
    restore = _client(program, engine)
    url, env = _libpq(engine)
    schema = manifest["schema"]
    with engine.connect() as conn:
        current = conn.execute(text("SELECT current_schema()")).scalar_one()
        schema_exists = conn.execute(
            text("SELECT count(*) FROM pg_namespace WHERE nspname = :name"), {"name": schema}
        ).scalar_one()
    if current is not None and current != schema:
        raise InvalidInput(
            f"{path.name} holds schema {schema!r}; the target connection works in schema {current!r}"
        )
    listing = _run([restore, "--list", str(path)], env, "pg_restore --list")
    if schema_exists:
        # The schema is already there (PostgreSQL's own `public`, or an emptied one): restore its contents.
        own = re.compile(rf"\b(SCHEMA - {re.escape(schema)}|COMMENT - SCHEMA {re.escape(schema)})\b")
        listing = "\n".join(line for line in listing.splitlines() if not own.search(line))
    with tempfile.NamedTemporaryFile("w", suffix=".list", delete=False) as handle:
        handle.write(listing + "\n")
        listing_file = handle.name
    command = [restore, "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction",
               f"--use-list={listing_file}", f"--dbname={url}"]
    if replace:
        command[1:1] = ["--clean", "--if-exists"]
    try:
        engine.dispose()
        _run([*command, str(path)], env, "pg_restore")
    finally:
        Path(listing_file).unlink(missing_ok=True)
        engine.dispose()

