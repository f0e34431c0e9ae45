"""The web app's one authentication and authorization dependency, CSRF check and DB session.

Every route under the API and the pages depends on `authorize`: it finds the principal
(session cookie or bearer token), requires a role from the route's method (reading needs
viewer, changing needs merchandiser; routes marked admin need admin), and checks the CSRF
token on every change made with a cookie. No route checks roles by itself. On a cacheable read
it then looks the response up (`restock.web.cache`), so the cache never answers before the
principal is authorized.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from datetime import UTC, datetime

from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from kernel.errors import DatabaseReadOnly, InvalidInput, NotFound, RestockError, TransitionRefused
from restock import data_version
from restock.accounts import (
    AuthenticationFailed,
    Principal,
    TooManyAttempts,
    principal_for_session,
    principal_for_token,
)
from restock.web import cache as response_cache

SESSION_COOKIE = "restock_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
ADMIN_MARK = "x-restock-role"


class NotAuthenticated(RestockError):
    """No valid session or token: log in first."""

    exit_code = 15


class Forbidden(RestockError):
    """The principal's role does not allow this action."""

    exit_code = 15


class CsrfFailed(RestockError):
    """A change sent with a session cookie lacked the matching CSRF token."""

    exit_code = 15


def utc_now() -> datetime:
    """The instant used for sessions and rate limits (UTC; the app's clock edge)."""
    return datetime.now(UTC)


def db_session(request: Request) -> Iterator[Session]:
    """One unit of work per request: committed when the handler returns, rolled back if it raises."""
    factory: sessionmaker[Session] = request.app.state.sessions
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


# The request's unit of work ends (commits) when the route returns, BEFORE the response is sent:
# with FastAPI's default ("request" scope) the commit ran after sending, so a browser following
# the login redirect could arrive before its session row was committed and be sent back to login.
DbSession = Depends(db_session, scope="function")


def find_principal(request: Request, session: Session) -> Principal | None:
    """The principal of the request's bearer token or session cookie, None when anonymous."""
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return principal_for_token(session, header[7:].strip())
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        return principal_for_session(session, token, request.app.state.clock())
    return None


def required_role(request: Request) -> str:
    """The least role a request needs: the route's own mark (`role_mark`), else by its method."""
    route = request.scope.get("route")
    extra = getattr(route, "openapi_extra", None) or {}
    marked = extra.get(ADMIN_MARK)
    if marked in ("viewer", "merchandiser", "admin"):
        return str(marked)
    return "viewer" if request.method in SAFE_METHODS else "merchandiser"


async def authorize(request: Request, session: Session = DbSession) -> Principal:
    """Authenticate, authorize by role and check CSRF for cookie-authenticated changes.

    The lookup runs in the thread pool: a database call on the event loop would block it, and
    under load (more requests than pooled connections) every request would wait for a connection
    that only the blocked loop could release."""
    cache = response_cache.cache_for(request)
    if cache is None:
        principal, version = await run_in_threadpool(find_principal, request, session), None
    else:
        principal, version = await run_in_threadpool(_principal_and_version, request, session)
    if principal is None:
        raise NotAuthenticated("log in first (session cookie or `Authorization: Bearer` token)")
    role = required_role(request)
    if not principal.may(role):
        raise Forbidden(f"user {principal.name} ({principal.role}) may not do this: it needs {role}")
    if request.method not in SAFE_METHODS and principal.csrf_token is not None:
        sent = request.headers.get(CSRF_HEADER)
        if sent is None and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")
        ):
            sent = (await request.form()).get(CSRF_FIELD)  # type: ignore[assignment]
        if not isinstance(sent, str) or not hmac.compare_digest(sent, principal.csrf_token):
            raise CsrfFailed("missing or wrong CSRF token: reload the page and try again")
    request.state.principal = principal
    if cache is not None and version is not None:
        await response_cache.look_up(request, session, cache, principal, version)  # a hit raises CacheHit
    return principal


def _principal_and_version(request: Request, session: Session) -> tuple[Principal | None, int | None]:
    """The principal, and the data version read before any data of the response (one thread hop)."""
    principal = find_principal(request, session)
    return principal, (data_version.current(session) if principal is not None else None)


def role_mark(role: str) -> dict[str, str]:
    """`openapi_extra` setting the role a route needs, overriding the method's default."""
    return {ADMIN_MARK: role}


STATUS_BY_ERROR: tuple[tuple[type[RestockError], int], ...] = (
    (NotAuthenticated, 401),
    (AuthenticationFailed, 401),
    (Forbidden, 403),
    (CsrfFailed, 403),
    (TooManyAttempts, 429),
    (NotFound, 404),
    (InvalidInput, 422),
    (TransitionRefused, 409),
    (DatabaseReadOnly, 503),
)


def status_for(error: RestockError) -> int:
    """The HTTP status of a restock error (409 for conflicts named so, 400 otherwise)."""
    for kind, status in STATUS_BY_ERROR:
        if isinstance(error, kind):
            return status
    if "conflict" in type(error).__name__.lower():
        return 409
    return 400
