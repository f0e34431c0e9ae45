"""`restock samples`: write the deterministic sample business as CSV files."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from restock.cli.common import console


def register(app: typer.Typer) -> None:
    """Add the `samples` command group to the main app."""
    group = typer.Typer(help="The sample business (three years of a demo online shop).", no_args_is_help=True)
    group.command("generate")(generate)
    app.add_typer(group, name="samples")


def generate(
    seed: int = typer.Option(7, "--seed", help="Random seed; the same seed writes byte-identical files."),
    out: Path = typer.Option(Path("data/samples"), "--out", help="Directory for the CSV files."),
    force: bool = typer.Option(False, "--force", help="Overwrite CSV files already in --out."),
) -> None:
    """Generate the sample business's CSV files (the committed sample is seed 7)."""
    from kernel.errors import OutputExists
    from restock.cli.common import check_output_path
    from restock.samples import generate as generate_sample
    from restock.samples import sample_file_names

    check_output_path(out, "--out", force=True, directory=True)
    if out.exists() and not out.is_dir():
        raise OutputExists(f"--out {out} is a file, expected a directory")
    existing = [name for name in sample_file_names() if (out / name).exists()]
    if existing and not force:
        raise OutputExists(
            f"--out {out} already holds {', '.join(existing)}: pass --force to overwrite them"
        )

    rows = generate_sample(seed, out)
    table = Table("file", "rows", title=f"sample business, seed {seed} → {out}")
    for name, count in rows.items():
        table.add_row(name, f"{count:,}")
    console.print(table)
