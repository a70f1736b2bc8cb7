"""Load checked sources into the warehouse: one transaction per source, its rows and its accounting together."""

from __future__ import annotations

import contextlib
import datetime as dt
from typing import TYPE_CHECKING

import duckdb

from dwi.check.batch import ISSUE_SCHEMA, Batch

if TYPE_CHECKING:  # the registry is declared above the engine; it is passed in
    from dwi.formats import Target


def load_batch(
    con: duckdb.DuckDBPyConnection, batch: Batch, target: Target, started: dt.datetime, flow_run_id: str | None
) -> None:
    """Record one source in a single transaction: the staged rows that passed (one INSERT, whatever the
    size), its load row and its issues; or, for a rejected or failed source, only the last two."""
    con.execute("BEGIN TRANSACTION")
    try:
        load_id = next_load_id(con)
        params = {"load_id": load_id, "source_id": batch.source.id}
        if batch.status not in ("rejected", "failed") and batch.parts and not batch.hold_all:
            con.register("batch_drop", batch.drop.to_frame("_i").to_arrow())
            con.execute(
                f"INSERT INTO {target.table} SELECT {target.columns} FROM read_parquet($parts) "
                "WHERE _ok AND _i NOT IN (SELECT _i FROM batch_drop)",
                {**params, "parts": [str(p) for p in batch.parts]},
            )
            con.unregister("batch_drop")
        record(con, batch, load_id, started, flow_run_id)
        con.execute("COMMIT")
        if batch.status not in ("rejected", "failed"):
            batch.status = "loaded"
    except Exception:
        # A failed COMMIT (e.g. a full disk) has already ended the transaction: keep the original error.
        with contextlib.suppress(duckdb.TransactionException):
            con.execute("ROLLBACK")
        raise


SOURCE_INDICATOR_EXTRAS = ("definition", "element", "label", "tier", "section", "table_title", "source_ref")


def next_load_id(con: duckdb.DuckDBPyConnection) -> int:
    return con.execute("SELECT coalesce(max(load_id), 0) + 1 FROM _loads").fetchall()[0][0]


def record(
    con: duckdb.DuckDBPyConnection, batch: Batch, load_id: int, started: dt.datetime, flow_run_id: str | None
) -> None:
    """The load row and the issues of one source (inside the caller's transaction)."""
    params = {"load_id": load_id, "source_id": batch.source.id}
    if batch.status not in ("rejected", "failed") and batch.indicators is not None and batch.indicators.height:
        con.register("batch_indicators", batch.indicators.to_arrow())
        extra = [c for c in SOURCE_INDICATOR_EXTRAS if c in batch.indicators.columns]
        con.execute(
            f"INSERT INTO _source_indicators BY NAME SELECT $load_id AS load_id, $source_id AS source_id, code, name, "
            f"unit, ilostat, notes{''.join(', ' + c for c in extra)} FROM batch_indicators",
            params,
        )
        con.unregister("batch_indicators")
    con.execute(
        "INSERT INTO _loads VALUES ($load_id, $source_id, $sha, $status, $started, now(), $rows_in, $loaded, "
        "$quarantined, $flow_run_id, $file, $message)",
        {
            **params,
            "sha": batch.sha256,
            "status": batch.status if batch.status in ("rejected", "failed") else "loaded",
            "started": started,
            "rows_in": batch.rows_in,
            "loaded": batch.rows_loaded,
            "quarantined": batch.rows_quarantined,
            "flow_run_id": flow_run_id,
            "file": batch.source.display,
            "message": batch.message or None,
        },
    )
    if batch.issues.height:
        con.register("batch_issues", batch.issues.select(list(ISSUE_SCHEMA)).to_arrow())
        con.execute(
            'INSERT INTO _quality_issues SELECT $load_id, source_id, file, "row", "column", "check", '
            "value, message, severity FROM batch_issues",
            {"load_id": load_id},
        )
        con.unregister("batch_issues")
