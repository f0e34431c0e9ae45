"""What every CLI command shares: the consoles, argument checks and error translation.

The consoles read no markup and no emoji codes: every value restock prints may come
from a CSV file (a SKU code `0[/x]`, `[link=…]`, `ABC:fire:1`) and must print as
written. Styling is done with `rich.text.Text` styles, never with markup strings.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.text import Text

from kernel.errors import InvalidInput, OutputExists
from kernel.jsonable import to_jsonable

console = Console(markup=False, emoji=False)
err_console = Console(stderr=True, markup=False, emoji=False)

_state: dict[str, Any] = {"debug": False}

# Proposal and run ids are INTEGER columns (32-bit signed on PostgreSQL).
MAX_ID = 2_147_483_647


def set_debug(value: bool) -> None:
    _state["debug"] = value


def is_debug() -> bool:
    return bool(_state["debug"])


def print_json(value: Any) -> None:
    """Print `value` as JSON on stdout, nothing else (for scripts)."""
    sys.stdout.write(json.dumps(to_jsonable(value), indent=2, sort_keys=True) + "\n")
    sys.stdout.flush()


def cli_waiting(holder: Any) -> None:
    """Tell the user a command waits for the same job running elsewhere (a lock's `on_wait`).

    Prints e.g. "waiting for the import started at 2026-08-31 10:02:00 +0800 by alice@shop-1
    (pid 4242 on shop-1) (up to 600 s) …" on stderr, times in the configured zone.
    """
    from restock.settings import get_settings

    settings = get_settings()
    who = holder.describe(settings.tz) if holder is not None else "another run of the same job"
    err_console.print(f"waiting for {who} (up to {settings.lock_wait_s:.0f} s) …", soft_wrap=True)


def note(label: str, message: str, style: str = "yellow") -> Text:
    """`label: message` with the label styled and the message printed exactly as given."""
    text = Text(f"{label}: ", style=style)
    text.append(message, style="default")
    return text


def parse_date_option(value: str | None, option: str) -> date | None:
    """A business date given as YYYY-MM-DD on the command line; `InvalidInput` names the option."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise InvalidInput(f"{option}: expected a date YYYY-MM-DD, got {value!r}") from exc


def check_id(value: int, what: str) -> int:
    """An id given on the command line, within what the database can hold."""
    if not 1 <= value <= MAX_ID:
        raise InvalidInput(f"{what}: expected an id between 1 and {MAX_ID}, got {value}")
    return value


def check_input_path(path: Path, option: str) -> Path:
    """An existing file or directory to read; a missing path or a symlink loop is `InvalidInput`."""
    try:
        path.resolve(strict=True)
    except RuntimeError as exc:  # Python 3.11 reports a symlink loop this way
        raise InvalidInput(f"{option} {path}: symbolic link loop") from exc
    except FileNotFoundError as exc:
        raise InvalidInput(f"{option} {path}: no such file or directory") from exc
    except OSError as exc:
        raise InvalidInput(f"{option} {path}: {exc.strerror or exc}") from exc
    return path


def check_output_path(path: Path, option: str, *, force: bool, directory: bool = False) -> Path:
    """A path restock may write: an existing one only with `--force`; its parent must be writable.

    Raises `OutputExists` (exit 10) when it exists and `force` is false, `InvalidInput`
    for a symlink loop or a path that is a directory where a file is expected.
    """
    try:
        exists = path.exists() or path.is_symlink()
        path.resolve(strict=False)
    except (RuntimeError, OSError) as exc:
        raise InvalidInput(f"{option} {path}: symbolic link loop or unreadable path") from exc
    if exists:
        if not directory and path.is_dir():
            raise InvalidInput(f"{option} {path}: is a directory, expected a file")
        if not force:
            raise OutputExists(f"{option} {path} already exists: pass --force to overwrite it")
    parent = path.parent if path.parent != Path("") else Path(".")
    nearest = next((p for p in (parent, *parent.parents) if p.exists()), Path("."))
    if not os.access(nearest, os.W_OK):
        raise InvalidInput(f"{option} {path}: {nearest} is not writable")
    return path


@contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Send what libraries print to file descriptor 1 (HiGHS's banner) to stderr meanwhile,
    so stdout carries only restock's own output (tables, JSON, CSV)."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        os.dup2(2, 1)
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def resolve_actor(user: str | None) -> str:
    """The validated actor: `--user`, else `audit.user` from the settings, else the OS user."""
    import getpass

    from kernel.audit import validate_actor
    from restock.settings import get_settings

    if user is not None:
        return validate_actor(user, "--user")
    configured = get_settings().audit.user
    if configured:
        return validate_actor(configured, "audit.user")
    try:
        os_user = getpass.getuser()
    except (OSError, KeyError) as exc:
        raise InvalidInput("--user: no user given and the OS user is unknown; pass --user NAME") from exc
    return validate_actor(os_user, "OS user")
