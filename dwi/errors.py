"""Errors that reach the user as one readable line and an exit code, never a traceback."""

from __future__ import annotations

# Exit codes of the `dwi` command.
EXIT_OK = 0
EXIT_DATA = 1  # some rows were quarantined or a file was rejected
EXIT_USAGE = 2  # bad arguments, bad manifest, refused SQL
EXIT_BUSY = 3  # another run holds the warehouse
EXIT_IO = 4  # the warehouse cannot be written (read-only directory, disk full)
EXIT_INTERNAL = 5  # an unexpected failure (a bug or the environment, e.g. Prefect could not start)
EXIT_DAMAGED = 6  # the warehouse file is damaged or not a DuckDB file (never retried: waiting does not help)
EXIT_INTERRUPTED = 130  # stopped by Ctrl-C (SIGINT), the shells' convention (128 + 2)


def excerpt(text: object, limit: int = 40) -> str:
    """A short, escaped quotation of input for a message: repr() of at most `limit` characters, '...' after."""
    text = str(text)
    return repr(text[:limit]) + ("..." if len(text) > limit else "")


class DwiError(Exception):
    """An error with a message meant for the user."""

    exit_code = EXIT_USAGE

    def __init__(self, message: str, exit_code: int | None = None):
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class WarehouseBusy(DwiError):
    exit_code = EXIT_BUSY


class WarehouseIOError(DwiError):
    exit_code = EXIT_IO


class WarehouseDamaged(DwiError):
    exit_code = EXIT_DAMAGED
