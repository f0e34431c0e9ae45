"""The `restock` command: global options, error translation, and the sub-commands of each area."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer

from kernel.errors import RestockError
from restock.cli.common import err_console, is_debug, note, set_debug

app = typer.Typer(
    name="restock",
    help="Demand forecasting and replenishment: how much to buy, from whom, and when.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _global_options(
    config: Path | None = typer.Option(
        None, "--config", help="Settings file (default config/restock.toml).", exists=False
    ),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks for errors."),
) -> None:
    from restock.settings import reset_settings

    set_debug(debug)
    if config is not None:
        os.environ["RESTOCK_CONFIG"] = str(config)
        reset_settings()


def _register() -> None:
    # Each area contributes its commands; heavy imports stay inside the commands.
    from restock.cli import (
        admin,
        approval,
        backup,
        export,
        forecast,
        importer,
        orders,
        propose,
        samples,
        scheduler,
        simulate,
        web,
    )

    areas = (
        admin, importer, orders, forecast, propose, approval, export, samples, scheduler, backup, simulate,
        web,
    )
    for area in areas:
        area.register(app)


_register()


def run() -> None:
    """Console-script entry point: run the app; a restock error becomes one message and its exit code.

    Usage errors are reported by Typer itself (exit 2); anything unexpected is one
    line unless `--debug` asks for the traceback. docs/exit-codes.md lists the codes.
    """
    try:
        app()
    except RestockError as exc:
        if is_debug():
            raise
        # The message may quote user data (a CSV cell such as "[red]x"): printed as plain text.
        err_console.print(note("error", str(exc), "bold red"), highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except Exception as exc:  # noqa: BLE001 - the last edge: one line unless --debug
        if is_debug():
            raise
        err_console.print(
            note(
                "internal error",
                f"{type(exc).__name__}: {exc} (run with --debug for the traceback)",
                "bold red",
            ),
            highlight=False,
            soft_wrap=True,
        )
        sys.exit(70)


if __name__ == "__main__":
    run()
