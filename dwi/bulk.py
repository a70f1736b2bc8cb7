"""Big observation files in bounded memory: stream, check and load them batch by batch.

A file at or above `threshold()` bytes does not go through the in-memory read -> harmonise -> validate
stages; `load` (called by dwi.stages.load_one inside the writer's session) instead:

1. streams the CSV in record batches (pyarrow's streaming reader, every column read as text, as
   dwi.read does), numbering rows as dwi.read does (header = row 1);
2. per batch: the format's reader step (e.g. dwi.readers.ilostat.from_strings), dwi.harmonise, the same
   pandera schema (eager, so data checks fire), the same quarantine and the row-by-row region-date
   warnings (dwi.validate); kept rows are appended to the format's target table (dwi.load.TARGETS);
3. over the whole file: the schema's key uniqueness (pandera's `unique` cannot see across batches, so it
   is taken out of the per-batch schema and run here: rows whose key hash repeats are compared exactly;
   every row of a duplicated key is quarantined with the same check and message, loaded or not), then the
   checks that compare rows (dwi.validate.group_warnings: totals, shares) on the loaded rows read back per
   group of years, which is exact because those checks only compare rows of the same year;
4. in one transaction: removes the duplicated rows and records the load row and the issues
   (dwi.load.record), so rows_in = rows_loaded + rows_quarantined as for small files.

Appended batches are committed and checkpointed as they go: DuckDB keeps a transaction's appended rows
in memory, so one transaction per file would make memory grow with the file. This is invisible outside:
the writer works on a private copy of the warehouse that is published only when the whole run succeeds
(dwi.warehouse.writer); a failure here deletes the load's rows before it is recorded as failed.
Memory is about one batch in polars plus DuckDB's buffer (DWI_BULK_MEMORY, default 512MB).
"""

from __future__ import annotations

import codecs
import copy
import csv
import datetime as dt
import gzip
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.csv as pacsv

from dwi import harmonise
from dwi import validate as validate_mod
from dwi.batch import Batch, issues
from dwi.load import TARGETS, next_load_id, record
from dwi.read import Rejected, check_columns, clean, encoding_rejection
from dwi.readers.common import extend_reference
from dwi.reference import Reference
from schemas.observations import KEY

BLOCK_BYTES = 16 << 20  # one streamed batch: about 200k rows of an ILOSTAT bulk file
CROSS_ROW_ROWS = 500_000  # rows read back per group of years for the cross-row checks
CHECKPOINT_ROWS = 500_000  # CHECKPOINT after about this many appended rows
HASHES = "_bulk_key_hashes"  # (row, hash of its key) of every row read, for the uniqueness check
# loaded observations under the names dwi.harmonise gives them, for the cross-row checks
LOADED_AS_HARMONISED = ("source_row::BIGINT AS _row, indicator_code, region_code, region_reported AS region, sex, "
                        "year, period, value, value_reported, country, classif1, classif2")


def threshold() -> int:
    """Files of at least this many bytes are streamed ($DWI_BULK_BYTES, default 32 MiB)."""
    return int(os.environ.get("DWI_BULK_BYTES", str(32 << 20)))


def _observations(frame: pl.DataFrame, file: str) -> tuple[pl.DataFrame, pl.DataFrame | None, list[str]]:
    return frame, None, []


def _spec_observations() -> tuple[list[str], list[str]]:
    from schemas.observations import OPTIONAL, REQUIRED

    return REQUIRED, OPTIONAL


def _spec_ilostat() -> tuple[list[str], list[str]]:
    from dwi.readers import ilostat

    return ilostat.REQUIRED, ilostat.OPTIONAL


def _ilostat(frame: pl.DataFrame, file: str) -> tuple[pl.DataFrame | None, pl.DataFrame | None, list[str]]:
    from dwi.readers import ilostat

    if frame["obs_value"].null_count() == frame.height:  # only empty cells in this batch: nothing to read
        return None, None, [f"{frame.height} row(s) have no obs_value (rows {frame['_row'][0]} to "
                            f"{frame['_row'][-1]}); empty cells are missing values, not observations"]
    tidy = ilostat.from_strings(frame, file, [])
    return tidy.frame, tidy.indicators, tidy.notes


# format -> (required and optional columns, step from a batch of strings to the tidy observation layout:
# (frame, indicators the batch registered on the fly or None, notes))
READERS: dict[str, tuple[Callable[[], tuple[list[str], list[str]]],
                         Callable[[pl.DataFrame, str], tuple[pl.DataFrame | None, pl.DataFrame | None, list[str]]]]] = {
    "observations": (_spec_observations, _observations),
    "ilostat": (_spec_ilostat, _ilostat),
}


def streams(batch: Batch) -> bool:
    """Whether this pending source is checked and loaded by `load` (a big file of a streamable format)."""
    return (batch.status == "pending" and batch.source.format in READERS
            and batch.source.path.stat().st_size >= threshold())


def _is_gzip(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


def _open(path: Path) -> pa.NativeFile:
    return pa.input_stream(str(path), compression="gzip" if _is_gzip(path) else None)


def _header(path: Path, file: str) -> tuple[str, list[str]]:
    """The header line, decoded as dwi.read.decode would (BOM noted, UTF-8 required)."""
    opener = gzip.open if _is_gzip(path) else open
    try:
        with opener(path, "rb") as fh:
            line = fh.readline(1 << 20)
    except (EOFError, OSError) as exc:
        raise Rejected(file, f"gzip data is truncated or corrupt ({exc}); download the file again",
                       "file:gzip") from None
    notes = []
    if line.startswith(b"\xef\xbb\xbf"):
        line = line[3:]
        notes.append("file starts with a UTF-8 byte-order mark; it was ignored")
    try:
        text = line.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError:
        raise Rejected(file, "row 1: expected UTF-8 text; save the file as UTF-8", "file:encoding") from None
    if not text.strip():
        raise Rejected(file, "the file is empty; expected a header row and data rows", "file:empty")
    return text, notes


def _encoding_error(path: Path, file: str) -> Rejected:
    """The first byte that is not UTF-8, named as dwi.read.decode names it (the file is scanned in blocks)."""
    decoder, line = codecs.getincrementaldecoder("utf-8")(), 1
    with (gzip.open if _is_gzip(path) else open)(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            try:
                decoder.decode(block)
            except UnicodeDecodeError as exc:
                start = max(exc.start, 0)
                return encoding_rejection(file, block, start, line + block[:start].count(b"\n"))
            line += block.count(b"\n")
    return Rejected(file, "expected UTF-8 text; save the file as UTF-8", "file:encoding")


def read_batches(batch: Batch, notes: list[str]) -> Iterator[pl.DataFrame]:
    """The file as frames of strings with `_row`, as dwi.read.read_csv would give them, a batch at a time."""
    required, optional = READERS[batch.source.format][0]()
    file = batch.source.display
    header_line, header_notes = _header(batch.source.path, file)
    notes.extend(header_notes)
    names = next(csv.reader([header_line]))
    columns = check_columns(names, header_line, file, required, optional)
    row = 2
    try:
        reader = pacsv.open_csv(
            _open(batch.source.path),
            read_options=pacsv.ReadOptions(block_size=max(BLOCK_BYTES, 4 * len(header_line)), column_names=names,
                                           skip_rows=1),
            convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(names, pa.string()),
                                                 strings_can_be_null=False))
        for record_batch in reader:
            if not record_batch.num_rows:
                continue
            frame = pl.from_arrow(record_batch)
            frame.columns = columns
            yield clean(frame, optional, first_row=row)
            row += record_batch.num_rows
    except OSError as exc:
        if not _is_gzip(batch.source.path):
            raise
        raise Rejected(file, f"gzip data is truncated or corrupt ({str(exc).splitlines()[0]}); download the file "
                       "again", "file:gzip") from None
    except pa.ArrowInvalid as exc:
        message = str(exc).splitlines()[0]
        if "utf8" in message.lower():
            raise _encoding_error(batch.source.path, file) from None
        raise Rejected(file, f"not a readable comma-separated file: {message}", "file:csv") from None
    if row == 2:
        raise Rejected(file, "header only, no data rows", "file:no_rows")


def _row_schema(ref: Reference):
    """The format's pandera schema without its key uniqueness (checked over the whole file in `_duplicates`)."""
    schema = copy.deepcopy(validate_mod.schema_for("observations", ref))
    schema.unique = None
    return schema


def _duplicates(con: duckdb.DuckDBPyConnection, part: Batch, table: str, load_id: int,
                quarantined_keys: pl.DataFrame) -> pl.DataFrame:
    """Every row (loaded or quarantined) whose key occurs more than once in the file, as pandera reports it.
    Rows whose key hash repeats are candidates; their keys are compared exactly."""
    candidates = con.execute(f"""
        SELECT _row FROM {HASHES} WHERE key_hash IN
            (SELECT key_hash FROM {HASHES} GROUP BY key_hash HAVING count(*) > 1)""").fetchall()
    if not candidates:
        return issues()
    rows = pl.DataFrame({"_row": [r[0] for r in candidates]}, schema={"_row": pl.Int64})
    con.register("bulk_candidates", rows.to_arrow())
    loaded = con.sql(f"""SELECT source_row::BIGINT AS _row, {', '.join(KEY)} FROM {table}
                         WHERE load_id = {load_id} AND source_row IN (SELECT _row FROM bulk_candidates)""").pl()
    con.unregister("bulk_candidates")
    keys = pl.concat([loaded, quarantined_keys.join(rows, on="_row")], how="vertical_relaxed")
    dup = (keys.filter(pl.struct(KEY).is_duplicated()).sort("_row")
           .with_columns(pl.lit(None, pl.String).alias("expected_unit")))
    if not dup.height:
        return issues()
    cases = dup.select(pl.int_range(pl.len(), dtype=pl.UInt32).alias("index"),
                       pl.lit("multiple_fields_uniqueness").alias("check"), pl.lit(None, pl.String).alias("column"))
    return validate_mod.failure_issues(part, dup, cases)


def _year_groups(con: duckdb.DuckDBPyConnection, table: str, load_id: int) -> list[tuple[int, int]]:
    """Consecutive years in groups of about CROSS_ROW_ROWS rows."""
    groups, start, size = [], None, 0
    for year, n in con.execute(f"SELECT year, count(*) FROM {table} WHERE load_id = {load_id} "
                               "GROUP BY year ORDER BY year").fetchall():
        start = year if start is None else start
        size += n
        if size >= CROSS_ROW_ROWS:
            groups.append((start, year))
            start, size = None, 0
    if start is not None:
        groups.append((start, year))
    return groups


def check(batch: Batch, ref: Reference) -> Batch:
    """Check a big file without loading it (`dwi validate`): `load` into a throwaway database file."""
    import tempfile

    from dwi import config
    from dwi.warehouse import run_sql_file

    with tempfile.TemporaryDirectory(prefix="dwi-validate-") as tmp:
        con = duckdb.connect(str(Path(tmp) / "check.duckdb"))
        try:
            run_sql_file(con, config.SQL_DIR / "schema.sql")
            load(con, batch, ref, dt.datetime.now(dt.UTC), None)
        finally:
            con.close()
    if batch.status == "loaded":
        batch.status = "checked"
    return batch


def load(con: duckdb.DuckDBPyConnection, batch: Batch, ref: Reference, started: dt.datetime,
         flow_run_id: str | None) -> None:
    """Check and load one big file (see the module docstring). A file that cannot be read as a whole is
    recorded as rejected, as dwi.stages.read would reject it; any other failure removes the load's rows
    and is raised (dwi.stages.load_one records it as failed)."""
    load_id = next_load_id(con)
    table = TARGETS[batch.source.format][0]
    try:
        duplicates = _load(con, batch, ref, load_id)
        con.execute("BEGIN TRANSACTION")
        if duplicates.height:
            con.register("bulk_dup_rows", duplicates.to_arrow())
            con.execute(f"DELETE FROM {table} WHERE load_id = {load_id} AND source_row IN "
                        "(SELECT row FROM bulk_dup_rows)")
            con.unregister("bulk_dup_rows")
        record(con, batch, load_id, started, flow_run_id)
        con.execute("COMMIT")
        batch.status = "loaded"
    except Rejected as exc:
        _discard(con, table, load_id)
        batch.issues, batch.rows_in, batch.indicators = issues(), 0, None
        batch.reject(str(exc), exc.check, exc.column)
        con.execute("BEGIN TRANSACTION")
        record(con, batch, load_id, started, flow_run_id)
        con.execute("COMMIT")
    except Exception:
        _discard(con, table, load_id)
        raise
    finally:
        con.execute("RESET memory_limit")


def _discard(con: duckdb.DuckDBPyConnection, table: str, load_id: int) -> None:
    """Undo a load that did not finish: its open transaction, then the batches already appended."""
    try:
        con.execute("ROLLBACK")
    except duckdb.Error:
        pass  # no transaction was open
    con.execute(f"DELETE FROM {table} WHERE load_id = {load_id}")
    con.execute(f"DROP TABLE IF EXISTS {HASHES}")


def _append(con: duckdb.DuckDBPyConnection, insert_sql: str, params: dict, kept: pl.DataFrame,
            hashes: pl.DataFrame, checkpoint: bool) -> None:
    """Append one batch's kept rows and every row's key hash; CHECKPOINT now and then (see the docstring)."""
    con.register("batch_rows", kept.to_arrow())
    con.execute(insert_sql, params)
    con.unregister("batch_rows")
    con.register("bulk_hashes", hashes.to_arrow())
    con.execute(f"INSERT INTO {HASHES} SELECT * FROM bulk_hashes")
    con.unregister("bulk_hashes")
    if checkpoint:
        con.execute("CHECKPOINT")


def _load(con: duckdb.DuckDBPyConnection, batch: Batch, ref: Reference, load_id: int) -> pl.DataFrame:
    """Append the file's kept rows batch by batch; returns the rows (`row`) to remove as duplicates."""
    con.execute(f"SET memory_limit = '{os.environ.get('DWI_BULK_MEMORY', '512MB')}'")
    con.execute(f"CREATE OR REPLACE TEMP TABLE {HASHES} (_row BIGINT, key_hash UBIGINT)")
    source, notes, step = batch.source, [], READERS[batch.source.format][1]
    table, select_sql = TARGETS[source.format]
    params = {"load_id": load_id, "source_id": source.id}
    schema = _row_schema(ref)
    quarantined_keys, errors, warnings, found = [], [], [], []
    batch.rows_in = batch.rows_quarantined = 0
    with ThreadPoolExecutor(1, thread_name_prefix="dwi-bulk-append") as pool:
        appending = None
        for strings in read_batches(batch, notes):
            frame, indicators, step_notes = step(strings, source.display)
            notes.extend(step_notes)
            if frame is None:
                continue
            if indicators is not None and indicators.height:  # codes registered on the fly, as in dwi.stages
                found.append(indicators)
                batch.indicators = pl.concat(found).unique("code", keep="first", maintain_order=True)
                ref = extend_reference(ref, batch.indicators)
                schema = _row_schema(ref)
            part = Batch(source, batch.sha256, frame=harmonise.observations(frame, ref), rows_in=frame.height)
            part_errors = validate_mod.schema_issues(part, part.frame, schema)
            kept = validate_mod.quarantine(part, part.frame, part_errors)
            errors.append(part_errors)
            warnings.append(validate_mod.region_date_warnings(part, kept, ref))  # row by row: exact per batch
            quarantined_keys.append(part.frame.filter(~pl.col("_row").is_in(kept["_row"].implode()))
                                    .select("_row", *KEY))
            batch.rows_in += part.rows_in
            batch.rows_quarantined += part.rows_quarantined
            hashes = part.frame.select("_row", pl.struct(KEY).hash().alias("key_hash"))
            checkpoint = (batch.rows_in - part.rows_in) // CHECKPOINT_ROWS != batch.rows_in // CHECKPOINT_ROWS
            if appending is not None:
                appending.result()  # one append at a time; the next batch is prepared meanwhile
            appending = pool.submit(_append, con, f"INSERT INTO {table} {select_sql}", params, kept, hashes, checkpoint)
        if appending is not None:
            appending.result()
    if not batch.rows_in:
        if batch.source.format == "ilostat":
            raise Rejected(source.display, "no row has an obs_value; nothing to load", "file:no_rows", "obs_value")
        raise Rejected(source.display, "header only, no data rows", "file:no_rows")
    part = Batch(source, batch.sha256)
    dup = _duplicates(con, part, table, load_id, pl.concat(quarantined_keys))
    con.execute(f"DROP TABLE {HASHES}")
    dup_rows = dup.select("row").unique()
    if dup.height:
        errors.append(dup)
        loaded_dups = dup_rows.filter(~pl.col("row").is_in(pl.concat(quarantined_keys)["_row"].implode()))
        batch.rows_quarantined += loaded_dups.height
        warnings = [w.filter(~pl.col("row").is_in(dup_rows["row"].implode())) for w in warnings]
    batch.add_issues(issues([{"source_id": source.id, "file": source.display,
                              "check": "file:bom" if "byte-order" in note else "file:note",
                              "message": f"{source.display}: {note}", "severity": "info"} for note in notes]))
    batch.add_issues(pl.concat(errors).sort("row", "column"))
    for first, last in _year_groups(con, table, load_id):
        rows = con.sql(f"""SELECT {LOADED_AS_HARMONISED} FROM {table}
                           WHERE load_id = {load_id} AND year BETWEEN {first} AND {last}""").pl()
        rows = rows.filter(~pl.col("_row").is_in(dup_rows["row"].implode()))
        warnings.append(validate_mod.group_warnings(part, rows, ref))
    batch.add_issues(pl.concat(warnings))
    batch.status = "checked"
    return dup_rows
