"""restock: the application shell — settings, database, CLI, import, audit log."""

__version__ = "0.1.0"
