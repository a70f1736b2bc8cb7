"""Check one source, whatever its size: the same code for a 300-row table and a 100-million-row download.

1. The format's reader yields the file's rows in batches of strings (about DWI_CHUNK_BYTES each).
2. Each batch, on its own (`check_part`, which a task runner may run on another thread or a Dask worker):
   harmonised (dwi/check/harmonise.py), checked by the target's pandera schema on the eager frame (so every
   data check fires), its single-row findings added, and staged as a Parquet file of the harmonised rows with
   `_ok` (passed every row rule), `_i` (its place in the file) and `_key_hash`.
3. The file as a whole, over the staged rows with DuckDB and polars, in bounded memory (`finish`):
   - the key: every row of a key that occurs more than once is quarantined (rows whose key hash repeats are
     compared exactly);
   - a file that loads whole or not at all (a programme's grade tree) holds back every row if one broke a rule;
   - the findings that compare rows of one year (a total against its regions, a share against its parts),
     on the rows that will load, a group of years at a time.

Nothing here writes the warehouse: dwi.store.load inserts the staged rows that passed (`Batch.parts`,
`Batch.drop`), in one transaction, and removes the staging folder.
"""

from __future__ import annotations

import errno
import re
import shutil
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import polars as pl

from dwi.check import validate
from dwi.check.batch import ISSUE_SCHEMA, Batch, issues
from dwi.config import settings
from dwi.readers.codes import extend_reference
from dwi.readers.text import Rejected
from dwi.reference import Reference
from dwi.sources.manifest import Source

if TYPE_CHECKING:  # the registry is declared above the engine; it is passed in
    from dwi.formats import Format, Target

IN_FLIGHT = 2  # batches being checked at once (each holds a chunk of the file in memory)
GROUP_ROWS = 2_000_000  # rows read back at a time for the findings that compare rows of one year
UNUSED_BY_GROUP_FINDINGS = ("_ok", "_key_hash", "note")  # staged columns they never read
Submit = Callable[..., Future]


@dataclass
class Part:
    """What checking one batch leaves: its staged rows and what was found."""

    path: Path
    rows: int
    quarantined: int
    issues: pl.DataFrame  # ISSUE_SCHEMA + `_i`


def _run_here(fn: Callable, *args) -> Future:
    future: Future = Future()
    future.set_result(fn(*args))
    return future


def check_part(frame: pl.DataFrame, target: Target, ref: Reference, source: Source, path: Path) -> Part:
    """Harmonise and check one batch of rows (strings with `_row` and `_i`), and stage it at `path`."""
    frame = target.harmonise(frame, ref)
    errors = validate.schema_issues(source, frame, target.schema(ref), target.key, target.messages)
    bad = errors["_i"].unique()
    frame = frame.with_columns(_ok=~pl.col("_i").is_in(bad.implode()), _key_hash=pl.struct(target.key).hash(seed=0))
    found = [errors]
    if target.row_findings is not None:
        found.append(target.row_findings(source, frame.filter("_ok"), ref))
    try:
        frame.select("_i", "_row", "_ok", "_key_hash", *target.staged).write_parquet(path, compression="lz4")
    except pl.exceptions.ComputeError as exc:  # polars reports a full disk as its own error
        code = re.search(r"os error (\d+)", str(exc))
        raise OSError(int(code.group(1)) if code else errno.EIO, str(exc).splitlines()[0]) from None
    return Part(path, frame.height, bad.len(), pl.concat(found, how="vertical_relaxed"))


def check_source(
    batch: Batch,
    fmt: Format,
    ref: Reference,
    staging: Path,
    submit: Submit | None = None,
    progress: Callable[[int], None] | None = None,
) -> Batch:
    """Read, harmonise and check every row of a pending source; stage the rows under `staging` (a folder of
    its own, replaced). A file that cannot be read as a whole is rejected and leaves nothing staged.
    `submit` runs the check of a batch (here by default; a thread pool or a Prefect task runner elsewhere);
    `progress` is told the rows checked so far."""
    submit, progress = submit or _run_here, progress or (lambda rows: None)
    source, target = batch.source, fmt.target
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    parts: list[Part] = []
    try:
        read = fmt.read(source.path, source.display, source.meta)
        pending: deque[Future] = deque()
        for number, frame in enumerate(_numbered(read.batches, target)):
            batch.indicators = read.indicators
            pending.append(
                submit(
                    check_part,
                    frame,
                    target,
                    extend_reference(ref, read.indicators),
                    source,
                    staging / f"part-{number:05d}.parquet",
                )
            )
            while len(pending) >= IN_FLIGHT:
                parts.append(pending.popleft().result())
                progress(sum(p.rows for p in parts))
        parts += [f.result() for f in pending]
        progress(sum(p.rows for p in parts))
    except Rejected as exc:
        shutil.rmtree(staging, ignore_errors=True)
        batch.issues, batch.rows_in, batch.indicators = issues(), 0, None
        batch.reject(str(exc), exc.check, exc.column)
        return batch
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    batch.add_issues(
        issues(
            [
                {
                    "source_id": source.id,
                    "file": source.display,
                    "check": "file:bom" if "byte-order" in note else "file:note",
                    "message": f"{source.display}: {note}",
                    "severity": "info",
                }
                for note in read.notes
            ]
        )
    )
    batch.indicators = read.indicators
    batch.parts = [p.path for p in parts]
    batch.rows_in = sum(p.rows for p in parts)
    batch.rows_quarantined = sum(p.quarantined for p in parts)
    found = pl.concat([p.issues for p in parts], how="vertical_relaxed") if parts else validate.issues_frame()
    _finish(batch, target, extend_reference(ref, batch.indicators), found, staging / "spill")
    batch.status = "checked"
    if batch.rows_in and batch.rows_quarantined >= batch.rows_in:  # never a vintage of nothing
        batch.reject(
            f"{source.display}: nothing to load: every row ({batch.rows_in}) was quarantined (see the errors); "
            "the source's previous vintage, if any, stays current",
            "file:all_quarantined",
        )
    return batch


def _numbered(batches: Iterator[pl.DataFrame], target: Target) -> Iterator[pl.DataFrame]:
    """The reader's batches with `_i`, each row's place among the file's rows; one batch for a target whose
    rows only make sense together (a programme's tree: parents are looked up across the file)."""
    if target.held_back is not None:
        batches = iter([pl.concat(list(batches))])
    start = 0
    for frame in batches:
        yield frame.with_columns(pl.int_range(start, start + frame.height, dtype=pl.Int64).alias("_i"))
        start += frame.height


def _finish(batch: Batch, target: Target, ref: Reference, found: pl.DataFrame, spill: Path) -> None:
    """The checks over the whole file (see the module docstring); sets the batch's issues and counts. DuckDB
    spills into `spill`, inside the source's staging folder (not `.tmp` in the working folder), so whatever a
    killed process leaves is removed with its staging."""
    source = batch.source
    con = duckdb.connect(config={"memory_limit": settings().memory, "threads": 2, "temp_directory": str(spill)})
    try:
        con.execute(f"CREATE VIEW staged AS SELECT * FROM read_parquet({parquet_list(batch.parts)})")
        duplicates = _duplicates(con, source, target)
        drop = duplicates["_i"].unique()
        if drop.len():
            was_ok = con.execute(
                "SELECT count(*) FROM staged WHERE _ok AND list_contains($drop, _i)", {"drop": drop.to_list()}
            ).fetchall()[0][0]
            batch.rows_quarantined += was_ok
            found = found.filter(~((pl.col("severity") == "warning") & pl.col("_i").is_in(drop.implode())))
        errors = pl.concat([found.filter(pl.col("severity") == "error"), duplicates], how="vertical_relaxed")
        batch.drop = drop
        if target.held_back is not None and errors.height:
            rows = con.sql("SELECT * FROM staged ORDER BY _i").pl()
            value, message = target.held_back(source.display, rows, errors["row"].unique().to_list())
            found = pl.concat(
                [
                    found,
                    duplicates,
                    issues(
                        [
                            {
                                "source_id": source.id,
                                "file": source.display,
                                "column": "programme",
                                "check": "programme_held_back",
                                "value": value,
                                "message": message,
                                "severity": "error",
                            }
                        ]
                    ),
                ],
                how="diagonal_relaxed",
            )
            batch.hold_all, batch.rows_quarantined = True, batch.rows_in
        else:
            found = pl.concat([found, duplicates], how="vertical_relaxed")
        if target.group_findings is not None and not batch.hold_all:
            found = pl.concat([found, *_group_findings(con, batch, target, ref)], how="diagonal_relaxed")
    finally:
        con.close()
    batch.add_issues(found.sort("row", "column", nulls_last=True).select(list(ISSUE_SCHEMA)))


def _duplicates(con: duckdb.DuckDBPyConnection, source: Source, target: Target) -> pl.DataFrame:
    """Every row whose key occurs more than once in the file, reported as pandera's uniqueness check
    reports it. Rows whose key hash repeats are read back and their keys compared exactly."""
    rows = con.sql("""SELECT * EXCLUDE (_key_hash, _ok) FROM staged WHERE _key_hash IN
                      (SELECT _key_hash FROM staged GROUP BY 1 HAVING count(*) > 1) ORDER BY _i""").pl()
    rows = rows.filter(pl.struct(target.key).is_duplicated())
    if not rows.height:
        return validate.issues_frame()
    cases = rows.select(
        pl.int_range(pl.len(), dtype=pl.UInt32).alias("index"),
        pl.lit("multiple_fields_uniqueness").alias("check"),
        pl.lit(None, pl.String).alias("column"),
    )
    return validate.failure_issues(source, rows, cases, target.key, target.messages)


def _group_findings(
    con: duckdb.DuckDBPyConnection, batch: Batch, target: Target, ref: Reference
) -> Iterator[pl.DataFrame]:
    """The findings that compare rows of one year, on the rows that load, a group of years at a time (exact:
    those findings only compare rows of the same year). The rows they can concern (the indicators of
    `group_codes`, and those given by sex) are read with polars, without the columns no finding uses; a file
    with more than GROUP_ROWS of them is first written out by group of years (one pass), then read a group at
    a time, so memory stays bounded whatever the file's size."""
    staged = pl.scan_parquet(batch.parts)
    by_sex = staged.filter(pl.col("sex").is_in(["M", "F"])).select("indicator_code").unique().collect()
    codes = pl.Series(target.group_codes(ref), dtype=pl.String).append(by_sex["indicator_code"])
    rows = staged.filter(
        pl.col("_ok") & ~pl.col("_i").is_in(batch.drop.implode()) & pl.col("indicator_code").is_in(codes.implode())
    ).drop(UNUSED_BY_GROUP_FINDINGS, strict=False)
    counts = rows.group_by("year").agg(pl.len().alias("n")).sort("year").collect()
    group = (counts["n"].cum_sum() - 1) // GROUP_ROWS  # consecutive years, about GROUP_ROWS rows each
    if counts.height and group[-1] > 0:
        folder = batch.parts[0].parent / "groups"
        con.register("year_groups", counts.select("year", group.alias("_g")).to_arrow())
        con.execute(
            f"COPY (SELECT s.* EXCLUDE ({', '.join(UNUSED_BY_GROUP_FINDINGS)}), g._g FROM staged s JOIN year_groups g "
            "USING (year) WHERE s._ok AND NOT list_contains($drop, s._i) AND list_contains($codes, s.indicator_code)) "
            f"TO '{folder}' (FORMAT parquet, PARTITION_BY (_g))",
            {"drop": batch.drop.to_list(), "codes": codes.to_list()},
        )
        for g in group.unique().sort():
            part = pl.read_parquet(folder / f"_g={g}" / "*.parquet", hive_partitioning=False)
            yield target.group_findings(batch.source, part.sort("_i"), ref)
    elif counts.height:
        yield target.group_findings(batch.source, rows.collect(), ref)


def rows(batch: Batch) -> pl.DataFrame:
    """The checked rows of a batch that a load would insert (harmonised, in file order)."""
    if not batch.parts or batch.hold_all:
        return pl.DataFrame()
    staged = pl.read_parquet(batch.parts)
    return staged.filter(pl.col("_ok") & ~pl.col("_i").is_in(batch.drop.implode())).sort("_i")


def parquet_list(paths: list[Path]) -> str:
    """A SQL list literal of file names (a view cannot take them as a parameter)."""
    return "[" + ", ".join("'" + str(p).replace("'", "''") + "'" for p in paths) + "]"


def discard(batch: Batch) -> None:
    """Remove a batch's staged rows (after its load, or when it will not be loaded)."""
    if batch.parts:
        shutil.rmtree(batch.parts[0].parent, ignore_errors=True)
        batch.parts = []
