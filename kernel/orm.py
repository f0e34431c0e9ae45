"""The shared declarative base and column types every package's tables use, and the unit of work.

Each domain package declares its own tables in its `models.py` on this one
`Base`, so one metadata feeds Alembic. Money is an exact decimal in CNY: NUMERIC on
PostgreSQL; on SQLite (whose NUMERIC holds binary floats, so `sum(revenue)` drifted) an
INTEGER count of fen (or of 1/10000 CNY for unit costs), which `ExactDecimal` converts.
A service opens one `unit_of_work(engine)` per use case: committed when the
block ends, rolled back if it raises.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Any

from sqlalchemy import Engine, Integer, MetaData, Numeric, String, TypeDecorator
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase, Session, mapped_column, sessionmaker
from sqlalchemy.sql.functions import FunctionElement

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}



class ExactDecimal(TypeDecorator[Decimal]):
    """A decimal with a fixed number of places, exact on every database.

    PostgreSQL: NUMERIC(precision, scale). SQLite: the column is declared NUMERIC(precision,
    scale) too, and holds an integer count of 10**-scale units
    (fen for money), so stored values, comparisons and SQL sums are exact integers and
    `func.sum(column)` reads back as the exact Decimal. Values with more places are rounded
    half away from zero, as PostgreSQL's NUMERIC does. Arithmetic in SQL between columns of
    different scales is not meaningful on SQLite: do it in Python.
    """

    impl = Numeric
    cache_ok = True

    def __init__(self, precision: int, scale: int) -> None:
        super().__init__(precision, scale, asdecimal=True)
        self.places = scale


    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None or dialect.name != "sqlite":
            return value
        amount = value if isinstance(value, Decimal) else Decimal(str(value))
        if not amount.is_finite():
            raise ValueError(f"not a finite amount: {value!r}")
        return int(amount.scaleb(self.places).quantize(Decimal(1), rounding=ROUND_HALF_UP))

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if dialect.name == "sqlite":  # the integer units, as SQLite's NUMERIC hands them back
            units = value if isinstance(value, int) else Decimal(value).to_integral_value(ROUND_HALF_UP)
            return Decimal(int(units)).scaleb(-self.places)
        return value if isinstance(value, Decimal) else Decimal(str(value))


class minor_units(FunctionElement[int]):  # noqa: N801 - used like a SQL function
    """`minor_units(column)`: an `ExactDecimal` column as its exact integer count of 10**-scale units
    (fen for money), for arithmetic in SQL such as `units * minor_units(unit_price)` — on SQLite
    the stored integer itself, on PostgreSQL `CAST(ROUND(column * 10^scale) AS BIGINT)`."""

    type = Integer()
    name = "minor_units"
    inherit_cache = True


@compiles(minor_units)
def _minor_units(element: minor_units, compiler: Any, **kw: Any) -> str:
    column = next(iter(element.clauses))
    return f"CAST(ROUND({compiler.process(column, **kw)} * {10 ** column.type.places}) AS BIGINT)"


@compiles(minor_units, "sqlite")
def _minor_units_sqlite(element: minor_units, compiler: Any, **kw: Any) -> str:
    return compiler.process(next(iter(element.clauses)), **kw)


# CNY with two decimals, exact; up to 999,999,999,999.99.
MONEY = ExactDecimal(14, 2)
# Unit costs keep four decimals: supplier price lists quote fractions of a fen.
UNIT_COST = ExactDecimal(14, 4)
# Rates and fractions such as 0.035 (3.5 %) or a 0.30 margin floor.
RATE = Numeric(8, 6, asdecimal=True)

Money = Annotated[Decimal, mapped_column(MONEY)]
Code = Annotated[str, mapped_column(String(64))]


class Base(DeclarativeBase):
    """Declarative base with a naming convention so constraint names match on every database."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


@contextmanager
def unit_of_work(engine: Engine) -> Iterator[Session]:
    """A session whose work is committed when the block ends and rolled back if it raises."""
    factory = sessionmaker(bind=engine, expire_on_commit=False, future=True)
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
