"""Database engine, sessions (one unit of work per use case) and schema migrations."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, create_engine, event, inspect

from kernel.errors import DatabaseNotReady
from kernel.orm import Base

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def load_all_models() -> type[Base]:
    """Import every package's `models` module so `Base.metadata` knows every table."""
    import forecasting.models  # noqa: F401
    import kernel.audit  # noqa: F401
    import kernel.catalog  # noqa: F401
    import kernel.installation  # noqa: F401
    import kernel.locks  # noqa: F401
    import replenishment.models  # noqa: F401
    import restock.accounts  # noqa: F401
    import scheduler.models  # noqa: F401
    import suppliers.models  # noqa: F401

    return Base


def make_engine(url: str, schema: str | None = None) -> Engine:
    """Create an engine; SQLite gets foreign keys on and a parent directory that exists.

    `schema` (PostgreSQL only) puts every table in that schema via the search path.
    """
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, future=True)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    connect_args = {"options": f"-csearch_path={schema}"} if schema else {}
    return create_engine(url, future=True, pool_pre_ping=True, connect_args=connect_args)


_engines: dict[str, Engine] = {}


def get_engine(url: str | None = None) -> Engine:
    """The process-wide engine for `url` (default: the settings' database), created on first use."""
    if url is None:
        from restock.settings import get_settings

        url = get_settings().resolved_database_url()
    if url not in _engines:
        _engines[url] = make_engine(url)
    return _engines[url]


def dispose_engines() -> None:
    """Close every pooled connection (tests, after a fork)."""
    for engine in _engines.values():
        engine.dispose()
    _engines.clear()


def alembic_config(url: str):  # type: ignore[no-untyped-def]
    """An Alembic Config pointing at restock's migrations and the given database."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(engine: Engine) -> None:
    """Create or upgrade the schema to the latest revision of every branch."""
    from alembic import command

    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # SQLite alters a table by copying it and dropping the old one; with foreign keys on,
            # that drop would cascade into the child rows (a proposal's lines, a PO's lines). The
            # pragma only takes effect outside a transaction; integrity is checked before commit.
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()
        try:
            with connection.begin():
                cfg.attributes["connection"] = connection
                command.upgrade(cfg, "heads")
                if sqlite:
                    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        raise DatabaseNotReady(f"migration left rows with broken foreign keys: {broken[:5]}")
        finally:
            if sqlite:
                connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                connection.commit()


def ensure_ready(engine: Engine) -> None:
    """Raise `DatabaseNotReady` unless the schema exists (run `restock init` first)."""
    if not inspect(engine).has_table("alembic_version"):
        raise DatabaseNotReady(
            f"no restock schema in {engine.url.render_as_string(hide_password=True)}: run `restock init`"
        )
