"""Read-only SQL for users: one statement, SELECT-like only, no access to files, extensions or other databases."""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl

from dwi.errors import DwiError
from dwi.store.warehouse import connect_read_only

ALLOWED = {duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN}


def _sandbox(warehouse: Path) -> duckdb.DuckDBPyConnection:
    """An in-memory session with the warehouse attached read-only, then locked down."""
    connect_read_only(warehouse).close()  # clear errors for a missing or busy warehouse
    con = duckdb.connect(":memory:")
    con.execute(f"ATTACH '{str(warehouse).replace(chr(39), chr(39) * 2)}' AS warehouse (READ_ONLY)")
    con.execute("USE warehouse")
    # No file, URL, extension or ATTACH access from here on, and nobody can switch it back on.
    con.execute("SET enable_external_access = false")
    con.execute("SET autoinstall_known_extensions = false")
    con.execute("SET autoload_known_extensions = false")
    con.execute("SET lock_configuration = true")
    return con


def run_query(warehouse: Path, query: str) -> pl.DataFrame:
    con = _sandbox(warehouse)
    try:
        try:
            statements = con.extract_statements(query)
        except duckdb.Error as exc:
            raise DwiError(f"SQL error: {str(exc).splitlines()[0]}") from None
        if len(statements) != 1:
            raise DwiError(f"refused: expected exactly one statement, found {len(statements)}")
        kind = statements[0].type
        if kind not in ALLOWED:
            raise DwiError(f"refused: dwi sql is read-only and runs queries only; this is a {kind.name} statement")
        try:
            return con.sql(query).pl()
        except duckdb.PermissionException as exc:
            raise DwiError(f"refused: {str(exc).splitlines()[0]}") from None
        except duckdb.Error as exc:
            raise DwiError(f"SQL error: {str(exc).splitlines()[0]}") from None
    finally:
        con.close()
