"""Build what is derived from the loaded data: reference tables, staging views, derived tables, marts.

Order: reference tables -> warehouse/sql/staging -> marts that need only loaded data -> builders
(Python steps that write derived tables, e.g. indicators and correlations) -> the remaining marts.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import duckdb
import polars as pl

from dwi import __version__, config
from dwi.manifest import META_FIELDS, Source
from dwi.readers.registry import extend_tables
from dwi.reference import Reference

# Python steps that write derived tables, in order: "module:function(con, ref)".
BUILDERS: list[str] = [
    "dwi.indicators:build_indicator_values",
    "dwi.correlations:build_correlations",
    "dwi.reconcile:build_reconciliation",
    "dwi.scorecard:build_scores",
]


def write_table(con: duckdb.DuckDBPyConnection, name: str, frame: pl.DataFrame) -> None:
    """Replace a table with a polars frame."""
    con.register("_frame", frame.to_arrow())
    con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM _frame")
    con.unregister("_frame")


def reference_tables(con: duckdb.DuckDBPyConnection, ref: Reference, sources: list[Source]) -> None:
    write_table(con, "_indicators", ref.indicators)
    write_table(con, "_regions", ref.regions)
    write_table(con, "_region_aliases", ref.aliases.drop("alias_key"))
    rows = [{"id": s.id, "path": s.display, "format": s.format,
             **{("table_ref" if k == "table" else k): s.meta.get(k, "") for k in META_FIELDS}} for s in sources]
    write_table(con, "_sources", pl.DataFrame(rows))
    extend_tables(con, ref)  # + indicators registered on the fly and sources loaded with `dwi ingest`


_VIEW = re.compile(r"CREATE\s+OR\s+REPLACE\s+VIEW\s+(\w+)", re.IGNORECASE)


def drop_tables_replaced_by_views(con: duckdb.DuckDBPyConnection, files: list[Path]) -> list[str]:
    """Drop the tables that a view of `files` now replaces (a warehouse written by an older dwi, e.g. the
    table _indicator_values, a view since derived values are stored in _derived_values): DuckDB cannot
    CREATE OR REPLACE a view over a table. Returns the names dropped."""
    tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    names = {n for f in files for n in _VIEW.findall(f.read_text(encoding="utf-8"))}
    dropped = sorted(names & tables)
    for name in dropped:
        con.execute(f'DROP TABLE "{name}"')
    return dropped


def _views(con: duckdb.DuckDBPyConnection, files: list[Path], must: bool) -> list[Path]:
    """Create views, retrying those whose dependencies come later; return the ones still failing."""
    pending = list(files)
    while pending:
        failed = []
        for f in pending:
            try:
                con.execute(f.read_text(encoding="utf-8"))
            except duckdb.CatalogException:
                failed.append(f)
        if len(failed) == len(pending):
            if must:
                con.execute(failed[0].read_text(encoding="utf-8"))  # raise the real error
            return failed
        pending = failed
    return []


def build(con: duckdb.DuckDBPyConnection, ref: Reference, sources: list[Source], fingerprint: str) -> None:
    """Rebuild every derived object. Runs on the writer's private copy (see dwi.warehouse.writer), so a
    failure here discards the copy and the published warehouse stays as it was."""
    reference_tables(con, ref, sources)
    staging, marts = (sorted((config.SQL_DIR / d).glob("*.sql")) for d in ("staging", "marts"))
    drop_tables_replaced_by_views(con, staging + marts)
    _views(con, staging, must=True)
    waiting = _views(con, marts, must=False)
    for spec in BUILDERS:
        module, func = spec.split(":")
        getattr(importlib.import_module(module), func)(con, ref)
    _views(con, waiting, must=True)
    broken = {name: n for name, n in sql_tests(con).items() if n}
    if broken:  # the private copy is discarded: the published warehouse stays consistent
        raise RuntimeError(f"warehouse assertions failed (warehouse/sql/tests): {broken}")
    con.execute("INSERT OR REPLACE INTO _meta VALUES ('fingerprint', ?), ('dwi_version', ?)",
                [fingerprint, __version__])


def sql_tests(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Run warehouse/sql/tests/*.sql (each returns the offending rows); name -> number of offending rows."""
    return {f.stem: len(con.execute(f.read_text(encoding="utf-8")).fetchall())
            for f in sorted((config.SQL_DIR / "tests").glob("*.sql"))}
