"""What every CLI command shares: the console, the settings and the error translation."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

from rich.console import Console

from kernel.errors import InvalidInput
from kernel.jsonable import to_jsonable

console = Console()
err_console = Console(stderr=True)

_state: dict[str, Any] = {"debug": False}


def set_debug(value: bool) -> None:
    _state["debug"] = value


def is_debug() -> bool:
    return bool(_state["debug"])


def print_json(value: Any) -> None:
    """Print `value` as JSON on stdout, nothing else (for scripts)."""
    sys.stdout.write(json.dumps(to_jsonable(value), indent=2, sort_keys=True) + "\n")
    sys.stdout.flush()


def cli_waiting(holder: Any) -> None:
    """Tell the user a command waits for the same job running elsewhere (a lock's `on_wait`)."""
    who = holder.describe() if holder is not None else "another run of the same job"
    err_console.print(f"waiting for {who} …", highlight=False, markup=False)


def parse_date_option(value: str | None, option: str) -> date | None:
    """A business date given as YYYY-MM-DD on the command line; `InvalidInput` names the option."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise InvalidInput(f"{option}: expected a date YYYY-MM-DD, got {value!r}") from exc


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
