"""The shared declarative base and column types every package's tables use, and the unit of work.

Each domain package declares its own tables in its `models.py` on this one
`Base`, so one metadata feeds Alembic. Money is an exact decimal in CNY.
A service opens one `unit_of_work(engine)` per use case: committed when the
block ends, rolled back if it raises.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Annotated

from sqlalchemy import Engine, MetaData, Numeric, String
from sqlalchemy.orm import DeclarativeBase, Session, mapped_column, sessionmaker

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# CNY with two decimals, exact; up to 999,999,999,999.99.
MONEY = Numeric(14, 2, asdecimal=True)
# Unit costs keep four decimals: supplier price lists quote fractions of a fen.
UNIT_COST = Numeric(14, 4, asdecimal=True)
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
