"""Web commands: `restock serve`, and the accounts it needs (`restock user add|list|token`)."""

from __future__ import annotations

import getpass
import os
import sys
from enum import StrEnum

import typer
from rich.table import Table

from kernel.errors import InvalidInput
from restock.cli.common import console, print_json, resolve_actor

USER_HELP = "Who does this, for the audit log (default: audit.user in config, else the OS user)."
user_app = typer.Typer(help="Accounts for the web app and the API.", no_args_is_help=True)


class Role(StrEnum):
    viewer = "viewer"
    merchandiser = "merchandiser"
    admin = "admin"


class Language(StrEnum):
    en = "en"
    zh_CN = "zh_CN"


def register(app: typer.Typer) -> None:
    """Add `serve` and the `user` group to the main app."""
    app.command("serve")(serve)
    app.add_typer(user_app, name="user")


def serve(
    host: str | None = typer.Option(None, "--host", help="Address to listen on (default from [web])."),
    port: int | None = typer.Option(None, "--port", help="Port (default from [web])."),
    workers: int = typer.Option(
        1, "--workers", min=1, max=64, help="Server processes (one per core serves the API fastest)."
    ),
) -> None:
    """Serve the web app and the JSON API (/api/v1, OpenAPI at /api/v1/openapi.json).

    uvicorn (its "auto" choice takes httptools and uvloop, both dependencies); with
    `--workers N`, N processes share the port (each builds the app from the same settings)."""
    import uvicorn

    from restock.settings import get_settings
    from restock.web.app import create_app, freeze_for_serving

    settings = get_settings()
    bind_host = host or settings.web.host
    bind_port = port or settings.web.port
    database = engine_url_for_humans(settings.resolved_database_url())
    options = {"host": bind_host, "port": bind_port, "log_level": "warning"}
    if workers > 1:
        checked = create_app(settings=settings)  # refuse an unready database here, before starting workers
        console.print(
            f"restock web app on http://{bind_host}:{bind_port}/ serving {database} with {workers} workers "
            "(Ctrl+C stops)"
        )
        _warn_if_read_only(checked.state.engine)
        uvicorn.run("restock.web.app:serving_app", factory=True, workers=workers, **options)  # type: ignore[arg-type]
        return
    app = create_app(settings=settings)
    freeze_for_serving()
    console.print(f"restock web app on http://{bind_host}:{bind_port}/ serving {database} (Ctrl+C stops)")
    _warn_if_read_only(app.state.engine)
    uvicorn.run(app, **options)  # type: ignore[arg-type]


def _warn_if_read_only(engine) -> None:  # type: ignore[no-untyped-def]
    """Say at start that a read-only database serves pages but answers every write with 503."""
    from kernel.errors import DatabaseReadOnly
    from restock.db import ensure_ready

    try:
        ensure_ready(engine, write=True)
    except DatabaseReadOnly as exc:
        console.print(f"warning: {exc}; pages that only read work, logging in and every change answer 503")


def engine_url_for_humans(url: str) -> str:
    """A database URL without its password."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _password(from_stdin: bool, env_var: str | None) -> str:
    if env_var:
        value = os.environ.get(env_var)
        if not value:
            raise InvalidInput(f"--password-env {env_var}: that environment variable is empty or unset")
        return value
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise InvalidInput("the two passwords differ")
    return first


@user_app.command("add")
def add(
    name: str = typer.Argument(..., help="User name (letters, digits, _ . @ -)."),
    role: Role = typer.Option(
        Role.viewer, "--role", help="viewer reads; merchandiser edits and approves; admin."
    ),
    language: Language = typer.Option(Language.en, "--language", help="Language of the web pages."),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from stdin."),
    password_env: str | None = typer.Option(None, "--password-env", help="Read it from this env variable."),
    user: str | None = typer.Option(None, "--user", help=USER_HELP),
) -> None:
    """Create a user; the password is stored as an argon2 hash."""
    from kernel.clock import now
    from kernel.orm import unit_of_work
    from restock.accounts import add_user
    from restock.db import ensure_ready, get_engine
    from restock.settings import get_settings

    settings = get_settings()
    engine = get_engine(settings.resolved_database_url())
    ensure_ready(engine)
    actor = resolve_actor(user)
    password = _password(password_stdin, password_env)
    with unit_of_work(engine) as session:
        add_user(
            session,
            name=name,
            role=role.value,
            password=password,
            now=now(settings.tz),
            actor=actor,
            language=language.value,
        )
    console.print(f"user {name} added ({role.value})", highlight=False)


@user_app.command("list")
def list_(as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts.")) -> None:
    """Every user with role, language and whether active."""
    from kernel.orm import unit_of_work
    from restock.accounts import list_users
    from restock.db import ensure_ready, get_engine

    engine = get_engine()
    ensure_ready(engine)
    with unit_of_work(engine) as session:
        users = [
            {"name": u.name, "role": u.role, "language": u.language, "active": u.active}
            for u in list_users(session)
        ]
    if as_json:
        print_json(users)
        return
    table = Table("name", "role", "language", "active")
    for u in users:
        table.add_row(u["name"], u["role"], u["language"], "yes" if u["active"] else "no")
    console.print(table)


@user_app.command("token")
def token(
    name: str = typer.Argument(..., help="The user the token acts as."),
    label: str = typer.Option("script", "--label", help="What the token is for."),
    user: str | None = typer.Option(None, "--user", help=USER_HELP),
) -> None:
    """Issue an API token (shown once; stored only as a SHA-256 digest)."""
    from kernel.clock import now
    from kernel.orm import unit_of_work
    from restock.accounts import create_api_token
    from restock.db import ensure_ready, get_engine
    from restock.settings import get_settings

    settings = get_settings()
    engine = get_engine(settings.resolved_database_url())
    ensure_ready(engine)
    actor = resolve_actor(user)
    with unit_of_work(engine) as session:
        secret = create_api_token(
            session, user_name=name, token_name=label, now=now(settings.tz), actor=actor
        )
    # The token goes to stdout alone so a script can capture it.
    print(secret)
