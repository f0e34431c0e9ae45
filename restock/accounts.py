"""Users, roles, browser sessions and API tokens: who may read and who may change a proposal.

Passwords are argon2 hashes; session and API tokens are random secrets stored only as
SHA-256 digests, so a copy of the database does not let anyone log in. Failed logins are
recorded so a login form can be rate limited across processes.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import Boolean, CheckConstraint, DateTime, ForeignKey, String, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from kernel import audit
from kernel.errors import InvalidInput, NotFound, RestockError
from kernel.orm import Base

ROLES = ("viewer", "merchandiser", "admin")
LANGUAGES = ("en", "zh_CN")
_ROLE_RANK = {role: rank for rank, role in enumerate(ROLES)}
_USER_NAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
MIN_PASSWORD_LENGTH = 8

_hasher = PasswordHasher()
# A fixed hash to verify against when the user does not exist, so timing does not tell.
_DUMMY_HASH = _hasher.hash("restock-no-such-user")


class AuthenticationFailed(RestockError):
    """Wrong user name or password, or a revoked or expired session or token."""

    exit_code = 15


class TooManyAttempts(RestockError):
    """Too many failed logins for this user or address in the recent window."""

    exit_code = 15


class User(Base):
    """A person or script account with one role and a preferred language."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("role IN ('viewer', 'merchandiser', 'admin')", name="role_known"),
        CheckConstraint("language IN ('en', 'zh_CN')", name="language_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(200))
    language: Mapped[str] = mapped_column(String(8), default="en")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class WebSession(Base):
    """A logged-in browser: the cookie carries the token, the table only its digest."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ApiToken(Base):
    """A bearer token for scripts, acting as its user; revocable."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class LoginFailure(Base):
    """One failed login, kept for the rate limit window."""

    __tablename__ = "login_failures"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    user_name: Mapped[str] = mapped_column(String(64))
    client: Mapped[str] = mapped_column(String(64))


@dataclass(frozen=True)
class Principal:
    """Who is making a request: the user, their role and language, and how they authenticated."""

    user_id: int
    name: str
    role: str
    language: str
    csrf_token: str | None  # None for API tokens: no cookie, so no cross-site request to guard

    def may(self, role: str) -> bool:
        """True when this principal's role is at least `role`."""
        return _ROLE_RANK[self.role] >= _ROLE_RANK[role]


def role_rank(role: str) -> int:
    """Position of a role in viewer < merchandiser < admin."""
    return _ROLE_RANK[role]


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _check_name(name: str) -> str:
    if not _USER_NAME.match(name):
        raise InvalidInput(f"user name {name!r}: use 1-64 letters, digits, '_', '.', '@' or '-'")
    return name


def _check_role(role: str) -> str:
    if role not in ROLES:
        raise InvalidInput(f"role {role!r}: expected one of {', '.join(ROLES)}")
    return role


def add_user(
    session: Session,
    *,
    name: str,
    role: str,
    password: str,
    now: datetime,
    actor: str,
    language: str = "en",
) -> User:
    """Create a user with an argon2-hashed password; refuses a taken name or a short password.
    Audited as `user_add` by `actor` (name, role and language; never the password)."""
    _check_name(name)
    _check_role(role)
    if language not in LANGUAGES:
        raise InvalidInput(f"language {language!r}: expected one of {', '.join(LANGUAGES)}")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"password: at least {MIN_PASSWORD_LENGTH} characters")
    if session.scalar(select(User.id).where(User.name == name)) is not None:
        raise InvalidInput(f"user {name!r} exists already")
    user = User(
        name=name,
        role=role,
        password_hash=_hasher.hash(password),
        language=language,
        active=True,
        created_at=now,
    )
    session.add(user)
    session.flush()
    audit.record(
        session, at=now, actor=actor, action="user_add", entity="user", entity_key=name,
        after={"role": role, "language": language},
    )
    return user


def get_user(session: Session, name: str) -> User:
    """The user called `name`, or `NotFound`."""
    user = session.scalar(select(User).where(User.name == name))
    if user is None:
        raise NotFound(f"no user {name!r}")
    return user


def list_users(session: Session) -> list[User]:
    """Every user, by name."""
    return list(session.scalars(select(User).order_by(User.name)))


def set_language(session: Session, user_id: int, language: str) -> None:
    """Store a user's preferred language (en or zh_CN)."""
    if language not in LANGUAGES:
        raise InvalidInput(f"language {language!r}: expected one of {', '.join(LANGUAGES)}")
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"no user with id {user_id}")
    user.language = language


def _check_rate(
    session: Session, *, user_name: str, client: str, now: datetime, max_failures: int, window: timedelta
) -> None:
    since = now - window
    by_user = session.scalar(
        select(func.count()).where(LoginFailure.at >= since, LoginFailure.user_name == user_name)
    )
    by_client = session.scalar(
        select(func.count()).where(LoginFailure.at >= since, LoginFailure.client == client)
    )
    if (by_user or 0) >= max_failures or (by_client or 0) >= max_failures * 4:
        minutes = int(window.total_seconds() // 60)
        raise TooManyAttempts(f"too many failed logins in the last {minutes} minutes: try again later")


def log_in(
    session: Session,
    *,
    name: str,
    password: str,
    client: str,
    now: datetime,
    lifetime: timedelta = timedelta(hours=12),
    max_failures: int = 5,
    window: timedelta = timedelta(minutes=15),
) -> tuple[str, Principal]:
    """Check a password and open a session; returns the cookie token (shown once) and the principal.

    Raises `TooManyAttempts` once `max_failures` failures for the name (or four times as many
    from one client) fall within `window`, and `AuthenticationFailed` on a wrong name or password.
    The caller commits the failure record even when this raises.
    """
    name = name.strip()[:64]
    client = client[:64]
    _check_rate(session, user_name=name, client=client, now=now, max_failures=max_failures, window=window)
    user = session.scalar(select(User).where(User.name == name))
    try:
        _hasher.verify(user.password_hash if user is not None else _DUMMY_HASH, password)
        ok = user is not None and user.active
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        ok = False
    if not ok or user is None:
        session.add(LoginFailure(at=now, user_name=name, client=client))
        raise AuthenticationFailed("wrong user name or password")
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(24)
    session.add(
        WebSession(
            token_sha256=_digest(token),
            user_id=user.id,
            csrf_token=csrf,
            created_at=now,
            expires_at=now + lifetime,
        )
    )
    session.flush()
    return token, Principal(user.id, user.name, user.role, user.language, csrf)


def log_out(session: Session, token: str) -> None:
    """End the session the cookie token belongs to (nothing happens for an unknown token)."""
    row = session.scalar(select(WebSession).where(WebSession.token_sha256 == _digest(token)))
    if row is not None:
        session.delete(row)


def principal_for_session(session: Session, token: str, now: datetime) -> Principal | None:
    """The principal of a live browser session, or None when the token is unknown or expired."""
    row = session.execute(
        select(WebSession, User)
        .join(User, User.id == WebSession.user_id)
        .where(WebSession.token_sha256 == _digest(token))
    ).first()
    if row is None:
        return None
    web_session, user = row
    expires = web_session.expires_at
    if expires.tzinfo is None:  # SQLite returns naive datetimes; they were stored in UTC offsets
        expires = expires.replace(tzinfo=now.tzinfo)
    if expires <= now or not user.active:
        return None
    return Principal(user.id, user.name, user.role, user.language, web_session.csrf_token)


def create_api_token(
    session: Session, *, user_name: str, token_name: str, now: datetime, actor: str
) -> str:
    """Issue a bearer token for a user; the token is returned once and stored only as a digest.
    Audited as `token_create` by `actor` (the token's user and label; never the token)."""
    user = get_user(session, user_name)
    token = "rst_" + secrets.token_urlsafe(32)
    session.add(ApiToken(name=token_name[:64], token_sha256=_digest(token), user_id=user.id, created_at=now))
    session.flush()
    audit.record(
        session, at=now, actor=actor, action="token_create", entity="user", entity_key=user.name,
        after={"token": token_name[:64]},
    )
    return token


def principal_for_token(session: Session, token: str) -> Principal | None:
    """The principal a bearer token acts as, or None when unknown or revoked."""
    row = session.execute(
        select(ApiToken, User)
        .join(User, User.id == ApiToken.user_id)
        .where(ApiToken.token_sha256 == _digest(token))
    ).first()
    if row is None:
        return None
    api_token, user = row
    if api_token.revoked or not user.active:
        return None
    return Principal(user.id, user.name, user.role, user.language, None)
