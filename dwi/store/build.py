"""Build what is derived from the loaded data: the reference tables, then every view of sql/staging and
sql/marts and every builder's table (dwi.derive.BUILDERS), each after what it reads, then the assertions of
sql/tests. Runs on the writer's private copy (dwi.store.warehouse.writer): a failure publishes nothing."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from graphlib import TopologicalSorter
from pathlib import Path

import duckdb
import polars as pl

from dwi import __version__, config
from dwi.readers import ilostat
from dwi.reference import Reference
from dwi.sources.manifest import META_FIELDS, Source

_VIEW = re.compile(r"CREATE\s+OR\s+REPLACE\s+VIEW\s+(\w+)", re.IGNORECASE)


@dataclass(frozen=True)
class Step:
    """One view (its SQL file) or one builder's table, and the views and derived tables it reads."""

    name: str
    reads: frozenset[str]
    sql: Path | None = None
    builder: object | None = None  # a dwi.derive.Builder


def write_table(con: duckdb.DuckDBPyConnection, name: str, frame: pl.DataFrame) -> None:
    """Replace a table with a polars frame."""
    con.register("_frame", frame.to_arrow())
    con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM _frame")
    con.unregister("_frame")


def reference_tables(con: duckdb.DuckDBPyConnection, ref: Reference, sources: list[Source]) -> None:
    """The registry, regions and sources, plus what files brought with them: indicators registered on the fly
    (`_source_indicators`) and sources loaded with `dwi ingest` (`_ingested_sources`)."""
    write_table(con, "_indicators", ref.indicators)
    write_table(con, "_regions", ref.regions)
    write_table(con, "_ilostat_areas", ilostat.dictionary("ref_area").select("code", "label"))
    write_table(con, "_region_aliases", ref.aliases.drop("alias_key"))
    columns = ["id", "path", "format", *("table_ref" if k == "table" else k for k in META_FIELDS)]
    rows = [[s.id, s.display, s.format, *(s.meta.get(k, "") for k in META_FIELDS)] for s in sources]
    listed = pl.DataFrame(rows, schema={c: pl.String for c in columns}, orient="row")
    retire(con, listed["id"])
    write_table(con, "_sources", listed)
    con.execute("""
        INSERT INTO _indicators (code, name, unit, element, definition, ilostat, notes, additive, partial, derived)
        SELECT code, arg_max(name, load_id), arg_max(unit, load_id), arg_max(element, load_id),
               arg_max(definition, load_id), arg_max(ilostat, load_id), arg_max(notes, load_id), false, false, false
        FROM _source_indicators
        WHERE code NOT IN (SELECT code FROM _indicators)
        GROUP BY code""")
    con.execute("""
        INSERT INTO _sources BY NAME
        SELECT id, path, format, title, publisher, document, table_ref, page, reference_date, coverage, notes
        FROM _ingested_sources
        WHERE id NOT IN (SELECT id FROM _sources)""")
    con.execute("DELETE FROM _retired_sources WHERE id IN (SELECT id FROM _sources)")  # listed again: current


def retire(con: duckdb.DuckDBPyConnection, listed: pl.Series) -> None:
    """Retire the sources that are no longer listed (nor ingested): they leave the published views, and their
    provenance as last listed moves to `_retired_sources` (a source loaded but never listed keeps its id).
    Their loads and rows stay, so their history remains queryable."""
    tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    con.register("_listed", listed.to_frame("id").to_arrow())
    gone = (
        "id NOT IN (SELECT id FROM _listed) AND id NOT IN (SELECT id FROM _ingested_sources) "
        "AND id NOT IN (SELECT id FROM _retired_sources)"
    )
    if "_sources" in tables:
        con.execute(f"INSERT INTO _retired_sources SELECT *, now() FROM _sources WHERE {gone}")
    con.execute(
        f"INSERT INTO _retired_sources (id, retired_at) SELECT id, now() "
        f"FROM (SELECT DISTINCT source_id AS id FROM _loads) WHERE {gone}"
    )
    con.unregister("_listed")


def steps(builders: Sequence) -> list[Step]:
    """Every view and builder in an order where each comes after what it reads (ties by name)."""
    files = sorted((config.SQL_DIR / "staging").glob("*.sql")) + sorted((config.SQL_DIR / "marts").glob("*.sql"))
    views = {}
    for f in files:
        # what comments mention is not read, nor a column named like a view (coverage.sources)
        text = re.sub(r"--[^\n]*", "", f.read_text(encoding="utf-8"))
        views[_VIEW.search(text).group(1)] = (f, text)
    names = set(views) | {b.table for b in builders}
    nodes = {
        name: Step(
            name, frozenset(n for n in names - {name} if re.search(rf"\b(?:FROM|JOIN)\s+{n}\b", text, re.I)), sql=f
        )
        for name, (f, text) in views.items()
    }
    nodes |= {b.table: Step(b.table, frozenset(b.reads) & names, builder=b) for b in builders}
    order = TopologicalSorter({n: sorted(s.reads) for n, s in sorted(nodes.items())})
    return [nodes[n] for n in order.static_order()]


def drop_tables_replaced_by_views(con: duckdb.DuckDBPyConnection, names: set[str]) -> list[str]:
    """Drop the tables that a view now replaces (a warehouse written by an older dwi, e.g. the table
    _indicator_values, a view since derived values are stored in _derived_values): DuckDB cannot
    CREATE OR REPLACE a view over a table. Returns the names dropped."""
    tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    dropped = sorted(names & tables)
    for name in dropped:
        con.execute(f'DROP TABLE "{name}"')
    return dropped


def build(
    con: duckdb.DuckDBPyConnection, ref: Reference, sources: list[Source], fingerprint: str, builders: Sequence
) -> None:
    """Rebuild every derived object (see the module docstring)."""
    reference_tables(con, ref, sources)
    plan = steps(builders)
    drop_tables_replaced_by_views(con, {s.name for s in plan if s.sql is not None})
    for step in plan:
        if step.sql is not None:
            con.execute(step.sql.read_text(encoding="utf-8"))
        else:
            write_table(con, step.name, step.builder.compute(con, ref))
    broken = {name: n for name, n in sql_tests(con).items() if n}
    if broken:  # the private copy is discarded: the published warehouse stays consistent
        raise RuntimeError(f"warehouse assertions failed (dwi/store/sql/tests): {broken}")
    con.execute(
        "INSERT OR REPLACE INTO _meta VALUES ('fingerprint', ?), ('dwi_version', ?)", [fingerprint, __version__]
    )


def sql_tests(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Run sql/tests/*.sql (each returns the offending rows); name -> number of offending rows."""
    return {
        f.stem: len(con.execute(f.read_text(encoding="utf-8")).fetchall())
        for f in sorted((config.SQL_DIR / "tests").glob("*.sql"))
    }
