"""The audit log: who did what, when, to which record, with the values before and after, and why.

Append-only: `record` adds an entry to the caller's transaction (so it commits or rolls
back with the change it describes); nothing here updates or deletes one, a flush that
tries is refused, and on PostgreSQL a trigger refuses UPDATE and DELETE on the table.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Engine, String, Text, event, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from kernel.errors import InvalidInput
from kernel.orm import Base

ACTOR_MAX = 100
# Letters (any script), digits and . _ @ + - ; single inner spaces (a display name "Li Wei").
_ACTOR = re.compile(r"^[\w.@+\-]+( [\w.@+\-]+)*$")


class AuditEntry(Base):
    """One audited action (import, approval, edit, rejection, export, resend, ...)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(64), index=True)
    entity: Mapped[str] = mapped_column(String(64))
    entity_key: Mapped[str | None] = mapped_column(String(200))
    before: Mapped[Any | None] = mapped_column(JSON)
    after: Mapped[Any | None] = mapped_column(JSON)
    note: Mapped[str | None] = mapped_column(Text)


class AuditLogIsAppendOnly(RuntimeError):
    """Raised when a session tries to change or delete an audit entry (a programming error)."""


@event.listens_for(Session, "before_flush")
def _refuse_changes(session: Session, _context: Any, _instances: Any) -> None:
    for entry in list(session.dirty) + list(session.deleted):
        if isinstance(entry, AuditEntry) and (entry in session.deleted or session.is_modified(entry)):
            raise AuditLogIsAppendOnly(f"audit entry {entry.id} may not be changed or deleted")


def validate_actor(name: str | None, source: str = "user") -> str:
    """The actor name, trimmed; `InvalidInput` naming `source` when empty, too long or not printable."""
    value = unicodedata.normalize("NFC", (name or "").strip())
    if not value:
        raise InvalidInput(
            f"{source}: a user name is required (--user, audit.user in config, or the OS user)"
        )
    if len(value) > ACTOR_MAX:
        raise InvalidInput(f"{source}: at most {ACTOR_MAX} characters, got {len(value)}")
    if not _ACTOR.match(value):
        raise InvalidInput(
            f"{source}: {value!r} is not a valid user name (letters, digits, . _ @ + - and single spaces)"
        )
    return value


def record(
    session: Session,
    *,
    at: datetime,
    actor: str,
    action: str,
    entity: str,
    entity_key: str | None = None,
    before: Any = None,
    after: Any = None,
    note: str | None = None,
) -> AuditEntry:
    """Add an audit entry to the session's transaction (committed or rolled back with it)."""
    entry = AuditEntry(
        at=at,
        actor=actor,
        action=action,
        entity=entity,
        entity_key=entity_key,
        before=_jsonable(before),
        after=_jsonable(after),
        note=note,
    )
    session.add(entry)
    return entry


@dataclass(frozen=True)
class AuditView:
    """An audit entry as read back (JSON-ready through `as_dict`)."""

    id: int
    at: datetime
    actor: str
    action: str
    entity: str
    entity_key: str | None
    before: Any
    after: Any
    note: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": self.at.isoformat(),
            "actor": self.actor,
            "action": self.action,
            "entity": self.entity,
            "entity_key": self.entity_key,
            "before": self.before,
            "after": self.after,
            "note": self.note,
        }


def read_entries(
    session: Session,
    *,
    entity: str | None = None,
    entity_key: str | None = None,
    since: datetime | None = None,
    limit: int | None = None,
) -> list[AuditView]:
    """Entries oldest first, optionally of one entity kind (and key) and at or after `since`."""
    query = select(AuditEntry).order_by(AuditEntry.id)
    if entity is not None:
        query = query.where(AuditEntry.entity == entity)
    if entity_key is not None:
        query = query.where(AuditEntry.entity_key == entity_key)
    if since is not None:
        query = query.where(AuditEntry.at >= since)
    if limit is not None:
        query = query.limit(limit)
    return [
        AuditView(e.id, e.at, e.actor, e.action, e.entity, e.entity_key, e.before, e.after, e.note)
        for e in session.scalars(query)
    ]


def read_audit(
    engine: Engine,
    *,
    entity: str | None = None,
    entity_key: str | None = None,
    since: datetime | None = None,
    limit: int | None = None,
) -> list[AuditView]:
    """`read_entries` in a session of its own (the `restock audit` use case)."""
    with Session(engine) as session:
        return read_entries(session, entity=entity, entity_key=entity_key, since=since, limit=limit)


def _jsonable(value: Any) -> Any:
    if value is None:
        return None
    return json.loads(json.dumps(value, default=str, sort_keys=True))
