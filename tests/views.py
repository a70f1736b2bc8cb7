"""Query helper for the tests of the issue-3 views: rows as dicts, named parameters."""

from __future__ import annotations

import duckdb


def records(con: duckdb.DuckDBPyConnection, sql: str, **params) -> list[dict]:
    """Run a query and return every row as a dict (fully fetched)."""
    cur = con.execute(sql, params) if params else con.execute(sql)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
