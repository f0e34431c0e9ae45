"""restock's command line (Typer + Rich): thin adapters that parse, call one service, render."""
