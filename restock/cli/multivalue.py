"""Options that take several values after one flag: `--sku A B C` as well as `--sku A --sku B`.

Click gives an option one value per occurrence. `MultiValueGroup` rewrites the arguments of
its group before Click parses them: the words after a listed flag, up to the next option,
`--` or a sub-command name, become one occurrence each. A value that starts with "-" or is
a sub-command's name still needs its own flag (or commas, where the option accepts them).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import click
from typer.core import TyperGroup


def spread_values(args: Sequence[str], flags: Sequence[str], stop_words: set[str]) -> list[str]:
    """`--sku A B` → `--sku A --sku B` for each flag in `flags`; other arguments unchanged."""
    out: list[str] = []
    flag: str | None = None
    pending = False  # the flag's own value is still to come
    for index, arg in enumerate(args):
        if arg == "--":
            return out + list(args[index:])
        if flag is not None and not arg.startswith("-") and arg not in stop_words:
            out.extend([arg] if pending else [flag, arg])
            pending = False
            continue
        flag = None
        name = arg.split("=", 1)[0]
        if name in flags:
            flag, pending = name, "=" not in arg
        out.append(arg)
    return out


class MultiValueGroup(TyperGroup):
    """A Typer group whose `multi_value_flags` accept several space-separated values."""

    multi_value_flags: ClassVar[tuple[str, ...]] = ("--sku",)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        stop = set(self.commands)
        return super().parse_args(ctx, spread_values(args, self.multi_value_flags, stop))
