"""Secrets generated once per installation and kept in the database (e.g. the salt of hashed order keys).

A secret is created on first use inside the caller's transaction and never changes afterwards, so a
value hashed today matches the same value hashed next year on this installation, and nothing else.
"""

from __future__ import annotations

import secrets

from sqlalchemy import LargeBinary, String, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column

from kernel.orm import Base


class InstallationSecret(Base):
    """A named random secret of this installation (raw bytes)."""

    __tablename__ = "installation_secrets"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[bytes] = mapped_column(LargeBinary)


def installation_secret(session: Session, name: str, nbytes: int = 32) -> bytes:
    """The secret called `name`, generated (`nbytes` random bytes) and stored the first time it is asked for.

    Two sessions asking at once both end with the one value that was stored first.
    """
    found = session.execute(select(InstallationSecret.value).where(InstallationSecret.name == name)).scalar()
    if found is not None:
        return bytes(found)
    dialect_insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    session.execute(
        dialect_insert(InstallationSecret)
        .values(name=name, value=secrets.token_bytes(nbytes))
        .on_conflict_do_nothing(index_elements=["name"])
    )
    return bytes(
        session.execute(select(InstallationSecret.value).where(InstallationSecret.name == name)).scalar_one()
    )
