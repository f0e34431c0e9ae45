"""The FastAPI application: pages, the JSON API, vendored static files, and error translation.

`create_app()` builds everything from settings on call (never at import): the engine, the
session factory, templates with the message catalogues, and the clock. A restock error
becomes an HTTP status by `security.status_for` alone.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import jinja2
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import sessionmaker
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kernel.errors import DatabaseReadOnly, RestockError
from restock.accounts import LANGUAGES
from restock.db import refused_as_read_only
from restock.web import i18n
from restock.web.cache import ResponseCache
from restock.web.security import status_for, utc_now

WEB_DIR = Path(__file__).resolve().parent
def _templates(zone) -> Jinja2Templates:  # type: ignore[no-untyped-def]
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(WEB_DIR / "templates")),
        autoescape=True,
        extensions=["jinja2.ext.i18n"],
    )
    templates = Jinja2Templates(env=env)
    env.install_gettext_callables(i18n.gettext, i18n.ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.filters["money"] = i18n.money
    env.filters["number"] = i18n.number
    env.filters["percent"] = i18n.percent
    env.filters["dt"] = i18n.make_datetime_formatter(zone)
    env.filters["day"] = i18n.day
    env.filters["reason_label"] = i18n.reason_label
    env.filters["code_label"] = i18n.code_label
    env.globals["LANGUAGES"] = i18n.LANGUAGE_NAMES
    env.globals["current_language"] = i18n.current_language.get
    return templates


SECURITY_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
)


class LanguageMiddleware:
    """Sets the request's language (the language cookie, else Accept-Language: zh… → zh_CN, else
    en) for the catalogues and formats, and adds the security headers a response lacks.

    A plain ASGI middleware: Starlette's `@app.middleware("http")` runs every request through an
    extra task and a streamed copy of the response, which cost about as much as a small API
    handler."""

    def __init__(self, app: ASGIApp) -> None:
        from restock.web.pages import LANGUAGE_COOKIE

        self.app = app
        self.cookie = LANGUAGE_COOKIE

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        chosen = request.cookies.get(self.cookie)
        if chosen not in LANGUAGES:
            accept = request.headers.get("accept-language", "")
            chosen = "zh_CN" if accept.lower().startswith("zh") else "en"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers.extend((name, value) for name, value in SECURITY_HEADERS if name not in present)
                message = {**message, "headers": headers}
            await send(message)

        token = i18n.current_language.set(chosen)
        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            i18n.current_language.reset(token)


def create_app(
    *,
    engine: Engine | None = None,
    settings=None,  # type: ignore[no-untyped-def]
    clock: Callable[[], datetime] | None = None,
) -> FastAPI:
    """Build the web app on `engine` (default: the configured database) with `clock` for sessions."""
    from restock.db import ensure_ready, get_engine
    from restock.settings import get_settings

    settings = settings or get_settings()
    engine = engine or get_engine(settings.resolved_database_url())
    ensure_ready(engine)
    app = FastAPI(
        title="restock",
        version="1",
        description="Weekly purchase proposals: review, edit, approve. Money is CNY as decimal strings.",
        openapi_url="/api/v1/openapi.json",
        docs_url="/api/v1/docs",
        redoc_url=None,
    )
    app.state.engine = engine
    app.state.sessions = sessionmaker(bind=engine, expire_on_commit=False, future=True)
    app.state.clock = clock or utc_now
    app.state.settings = settings
    app.state.web_settings = settings.web
    app.state.templates = _templates(settings.tz)
    app.state.response_cache = ResponseCache(
        settings.web.response_cache_entries, int(settings.web.response_cache_mib * 1024 * 1024)
    )
    app.mount("/static", StaticFiles(directory=str(WEB_DIR / "static")), name="static")

    from restock.web import api, pages

    app.include_router(pages.public)
    app.include_router(pages.router)
    app.include_router(api.router)

    app.add_middleware(LanguageMiddleware)

    @app.exception_handler(RestockError)
    async def restock_error(request: Request, exc: RestockError) -> Response:
        status = status_for(exc)
        if not request.url.path.startswith("/api/"):
            if status == 401:
                return pages.login_redirect(request.url.path)
            return request.app.state.templates.TemplateResponse(
                request,
                "error.html",
                {
                    "principal": getattr(request.state, "principal", None),
                    "status": status,
                    "message": str(exc),
                },
                status_code=status,
            )
        return JSONResponse({"error": type(exc).__name__, "detail": str(exc)}, status_code=status)

    @app.exception_handler(DBAPIError)
    async def database_error(request: Request, exc: DBAPIError) -> Response:
        # A write refused by a read-only database is the operator's setup, not a bug: say so (503).
        # Any other driver error stays an internal error (500, logged by the server).
        if not refused_as_read_only(exc):
            raise exc
        refused = DatabaseReadOnly(
            "the database is read-only: this action writes to it (logging in, editing, approving "
            "and exporting need a writable database)"
        )
        return await restock_error(request, refused)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        problems = [
            f"{'.'.join(str(p) for p in err.get('loc', ()))}: {err.get('msg', '')}" for err in exc.errors()
        ]
        return JSONResponse({"error": "InvalidInput", "detail": "; ".join(problems)}, status_code=422)

    @app.get("/healthz", include_in_schema=False)
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


def serving_app() -> FastAPI:
    """`create_app()` for a server process (`restock serve`, uvicorn's factory for workers).

    Then everything built so far (the imported libraries, settings, the app) is frozen out of the
    cyclic garbage collector's reach (`gc.freeze`): a full collection otherwise walks those
    ~140,000 long-lived objects, a 100 ms pause in the middle of some request every few thousand
    requests. They live as long as the process anyway."""
    app = create_app()
    freeze_for_serving()
    return app


def freeze_for_serving() -> None:
    """Collect once, then keep every surviving object out of later full collections."""
    gc.collect()
    gc.freeze()

