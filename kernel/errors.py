"""One error hierarchy for restock, translated once per edge (CLI, web, scheduler)."""

from __future__ import annotations


class RestockError(Exception):
    """Base of every error restock raises on purpose; its message is meant for a user."""

    exit_code = 1


class ConfigError(RestockError):
    """A setting is missing or has a value of the wrong kind."""

    exit_code = 2


class ImportValidationError(RestockError):
    """An import was refused; `problems` lists every `file:row:column: reason` found (capped)."""

    exit_code = 3

    def __init__(self, problems: list[str], truncated: bool = False) -> None:
        self.problems = problems
        self.truncated = truncated
        more = " (more errors not shown)" if truncated else ""
        super().__init__(
            f"import refused, nothing was written: {len(problems)} error(s){more}\n" + "\n".join(problems)
        )


class NotFound(RestockError):
    """A named record (run, proposal, SKU) does not exist."""

    exit_code = 4


class InvalidInput(RestockError):
    """An argument or a file given to restock is malformed; the message names the field."""

    exit_code = 2


class InfeasibleProposal(RestockError):
    """The optimizer could not produce even a relaxed proposal."""

    exit_code = 5


class DatabaseNotReady(RestockError):
    """The database has not been created or is behind the code's migrations."""

    exit_code = 6


class DatabaseNewer(RestockError):
    """The database was migrated by a newer restock than this one."""

    exit_code = 12


class DatabaseUnavailable(RestockError):
    """The database cannot be reached (server down, wrong host, unreadable file)."""

    exit_code = 8


class DatabaseReadOnly(RestockError):
    """A command that writes was given a database it may only read."""

    exit_code = 9


class OutputExists(RestockError):
    """A file or database would be overwritten and `--force` was not given."""

    exit_code = 10


class ConcurrentUpdate(RestockError):
    """A transient conflict (deadlock, serialization failure, busy database) outlasted every retry."""

    exit_code = 11


class TransitionRefused(RestockError):
    """A lifecycle step is not allowed from the record's current state; the message names it."""

    exit_code = 13


class EditConflict(RestockError):
    """Someone else changed the record since the version the edit was based on; nothing was saved."""

    exit_code = 14
