"""Read-only SQL for users: one statement, SELECT-like only, no access to files, extensions or other databases;
bounded in time (DWI_SQL_TIMEOUT), memory and spill (DWI_SQL_MEMORY) and result rows (DWI_SQL_MAX_ROWS)."""

from __future__ import annotations

import re
import signal
import threading
import time
from pathlib import Path

import duckdb
import polars as pl

from dwi.config import settings
from dwi.errors import EXIT_INTERRUPTED, DwiError
from dwi.store.warehouse import connect_read_only

ALLOWED = {duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN}


def _sandbox(warehouse: Path) -> tuple[duckdb.DuckDBPyConnection, duckdb.DuckDBPyConnection]:
    """An in-memory session with the warehouse attached read-only, then locked down; and a cursor of it (the
    query runs there, so that another thread can interrupt it)."""
    connect_read_only(warehouse).close()  # clear errors for a missing, busy or damaged warehouse
    conf = settings()
    con = duckdb.connect(":memory:")
    con.execute(f"ATTACH '{str(warehouse).replace(chr(39), chr(39) * 2)}' AS warehouse (READ_ONLY)")
    con.execute("USE warehouse")
    cur = con.cursor()
    cur.execute("USE warehouse")
    try:  # a cap on memory, and on what a query may spill to disk beyond it
        con.execute("SET memory_limit = ?", [conf.sql_memory])
        con.execute("SET max_temp_directory_size = ?", [conf.sql_memory])
    except duckdb.Error as exc:
        raise DwiError(f"DWI_SQL_MEMORY={conf.sql_memory!r}: {str(exc).splitlines()[0]}") from None
    # No file, URL, extension or ATTACH access from here on, and nobody can switch it back on.
    con.execute("SET enable_external_access = false")
    con.execute("SET autoinstall_known_extensions = false")
    con.execute("SET autoload_known_extensions = false")
    con.execute("SET lock_configuration = true")
    return con, cur


def _check(con: duckdb.DuckDBPyConnection, query: str) -> None:
    """One statement, a query or the EXPLAIN of one (EXPLAIN ANALYZE runs its statement)."""
    try:
        statements = con.extract_statements(query)
    except duckdb.Error as exc:
        raise DwiError(f"SQL error: {str(exc).splitlines()[0]}") from None
    if len(statements) != 1:
        raise DwiError(f"refused: expected exactly one statement, found {len(statements)}")
    kind = statements[0].type
    if kind not in ALLOWED:
        raise DwiError(f"refused: dwi sql is read-only and runs queries only; this is a {kind.name} statement")
    if kind == duckdb.StatementType.EXPLAIN:
        inner = re.sub(r"^\s*explain\s+(analy[sz]e\s+)?", "", query, count=1, flags=re.IGNORECASE)
        inner_kind = next(iter(con.extract_statements(inner)), None)
        if inner_kind is None or inner_kind.type != duckdb.StatementType.SELECT:
            name = inner_kind.type.name if inner_kind is not None else "empty"
            raise DwiError(f"refused: dwi sql explains queries only; this explains a {name} statement")


def _fetch(con: duckdb.DuckDBPyConnection, query: str, max_rows: int) -> pl.DataFrame:
    """The result; more than `max_rows` rows is refused (at most one row more is ever fetched)."""
    relation = con.sql(query)
    if relation is None:
        return pl.DataFrame()
    table = relation.limit(max_rows + 1).to_arrow_table() if relation.type == "QUERY_RELATION" else None
    if table is None:
        table = relation.to_arrow_table()
    if table.num_rows > max_rows:
        raise DwiError(
            f"refused: the result has more than {max_rows:,} rows (DWI_SQL_MAX_ROWS); add a LIMIT, a WHERE or "
            "an aggregate, or raise the limit"
        )
    frame = pl.from_arrow(table)
    for name, dtype in frame.schema.items():  # 'infinity'::DATE has no year: polars cannot print it
        if dtype.is_temporal() and dtype != pl.Duration and dtype != pl.Time:
            if frame.select((pl.col(name).is_not_null() & pl.col(name).dt.year().is_null()).any()).item():
                raise DwiError(
                    f"cannot show column {name}: it holds a date or time out of range (e.g. 'infinity'); cast it "
                    "to VARCHAR in the query"
                )
    return frame


def run_query(warehouse: Path, query: str) -> pl.DataFrame:
    """Run one read-only statement within the limits; Ctrl-C stops it at once (exit 130).

    The query runs in a worker thread, and the main thread waits for it on an Event. Ctrl-C does not raise
    KeyboardInterrupt there: a SIGINT handler interrupts the DuckDB cursor (a KeyboardInterrupt that lands in
    Thread.join can leave the thread looking finished while DuckDB still runs, and the process then aborts)."""
    conf = settings()
    con, cur = _sandbox(warehouse)
    outcome: dict = {}
    done, stop = threading.Event(), threading.Event()

    def work() -> None:
        try:
            outcome["frame"] = _fetch(cur, query, conf.sql_max_rows)
        except BaseException as exc:  # handed to the waiting thread
            outcome["error"] = exc
        finally:
            done.set()

    def halt(*_: object) -> None:
        stop.set()
        cur.interrupt()

    def wait_stopped() -> None:
        """Interrupt until the worker is done (an interrupt that lands before DuckDB starts is lost)."""
        deadline = time.monotonic() + 5
        while not done.wait(0.2) and time.monotonic() < deadline:
            cur.interrupt()

    previous = signal.signal(signal.SIGINT, halt) if threading.current_thread() is threading.main_thread() else None
    try:
        _check(con, query)
        threading.Thread(target=work, name="dwi-sql", daemon=True).start()
        deadline = time.monotonic() + conf.sql_timeout
        while not done.wait(min(0.5, max(deadline - time.monotonic(), 0))) and not stop.is_set():
            if time.monotonic() >= deadline:
                break
        if stop.is_set():
            wait_stopped()
            raise DwiError("interrupted (Ctrl-C); the query was stopped", EXIT_INTERRUPTED)
        if not done.is_set():
            cur.interrupt()
            wait_stopped()
            raise DwiError(
                f"refused: the query ran longer than {conf.sql_timeout:g} s (DWI_SQL_TIMEOUT) and was stopped; "
                "narrow it, or raise the limit"
            )
        exc = outcome.get("error")
        if isinstance(exc, DwiError):
            raise exc
        if isinstance(exc, duckdb.PermissionException):
            raise DwiError(f"refused: {str(exc).splitlines()[0]}") from None
        if isinstance(exc, duckdb.OutOfMemoryException):
            raise DwiError(
                f"refused: the query needs more than {conf.sql_memory} of memory and spill (DWI_SQL_MEMORY): "
                f"{str(exc).splitlines()[0]}"
            ) from None
        if isinstance(exc, duckdb.Error):
            raise DwiError(f"SQL error: {str(exc).splitlines()[0]}") from None
        if exc is not None:  # a value the result cannot hold (e.g. 'infinity'::DATE)
            raise DwiError(f"cannot show the result: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}") from None
        return outcome["frame"]
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
        if done.is_set():  # a cursor still running refuses to close; the process ends it
            cur.close()
            con.close()
