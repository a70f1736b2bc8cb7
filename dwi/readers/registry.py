"""Build step (called by dwi.build.reference_tables): what files brought with them joins the references.

- indicators registered on the fly by ILOSTAT/WDI files (`_source_indicators`) join `_indicators`;
- sources loaded with `dwi ingest` (`_ingested_sources`) join `_sources`.
"""

from __future__ import annotations

import duckdb

from dwi.reference import Reference


def extend_tables(con: duckdb.DuckDBPyConnection, ref: Reference) -> None:
    con.execute("""
        INSERT INTO _indicators (code, name, unit, ilostat, notes, additive, partial, derived)
        SELECT code, arg_max(name, load_id), arg_max(unit, load_id), arg_max(ilostat, load_id),
               arg_max(notes, load_id), false, false, false
        FROM _source_indicators
        WHERE code NOT IN (SELECT code FROM _indicators)
        GROUP BY code""")
    con.execute("""
        INSERT INTO _sources BY NAME
        SELECT id, path, format, title, publisher, document, table_ref, page, reference_date, coverage, notes
        FROM _ingested_sources
        WHERE id NOT IN (SELECT id FROM _sources)""")
