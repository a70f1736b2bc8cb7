"""Big observation files in bounded memory, checked and loaded inside DuckDB.

A file at or above `threshold()` bytes does not go through the in-memory read -> harmonise -> validate
stages; `load` (called by dwi.stages.load_one inside the writer's session) instead:

1. reads the file with DuckDB's own CSV reader, every column as text, into a scratch database next to the
   warehouse (a table filled by one statement keeps the file's order, so rowid + 2 is the row as dwi.read
   numbers it, header = row 1; blank lines, which DuckDB skips and polars reads as rows of empty cells, are
   added back; short records are padded with nulls, as polars pads them); a file DuckDB cannot read is
   rejected with the reason dwi.read gives (gzip data, the first byte that is not UTF-8, the first record
   with too many fields or an unclosed quote);
2. over the whole file, inside DuckDB: cleans the cells as dwi.read.clean does (Unicode whitespace stripped,
   empty cells null) and lays the rows out as the format's reader would (e.g. ILOSTAT's source_ref and
   notes); whatever depends only on codes (ILOSTAT time, sex and area codes, the indicator code map, region
   resolution by date, the registry's unit and kind) is worked out by the same polars functions as for small
   files (dwi.readers, dwi.harmonise), once per distinct combination of codes, and joined to the rows; the
   row rules are the same polars expressions as the pandera schema's (schemas.observations.rules), each
   evaluated on the distinct values it depends on, the value rules (SQL text shared with the schema) on
   every row; kept rows are appended to the target table by one INSERT; the rows that break a rule are read
   back and reported with dwi.validate.failure_issues, as for small files; region-date warnings likewise;
3. the key's uniqueness (every row of a duplicated key is quarantined, loaded or not; key hashes find the
   candidates, their keys are compared exactly), then the checks that compare rows (dwi.validate.
   group_warnings: totals, shares), on the loaded rows of the indicators they concern, read back per group
   of years, which is exact because those checks only compare rows of the same year;
4. in one transaction: removes the duplicated rows and records the load row and the issues
   (dwi.load.record), so rows_in = rows_loaded + rows_quarantined as for small files.

All of this runs on the writer's private copy of the warehouse, published only when the whole run succeeds
(dwi.warehouse.writer); a failure here deletes the load's rows before it is recorded as failed. Memory is
the distinct codes plus DuckDB's capped buffer (DWI_MEMORY, default 512MB: see dwi.warehouse.writer): DuckDB
streams the file, and a single INSERT writes whole row groups as they fill.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import datetime as dt
import gzip
import os
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO

import duckdb
import polars as pl
import pyarrow as pa

from dwi import harmonise
from dwi import validate as validate_mod
from dwi.batch import Batch, issues
from dwi.load import TARGETS, next_load_id, record
from dwi.read import Rejected, check_columns, encoding_rejection, first_bad_record, gzip_rejection
from dwi.readers.common import apply_code_map, extend_reference, read_code_map, split_time
from dwi.reference import Reference
from schemas.observations import KEY, VALUE_RULES
from schemas.observations import rules as observation_rules

CSV_BUFFER: int | None = None  # DuckDB's CSV buffer in bytes (None: its default); tests read in small buffers
CROSS_ROW_ROWS = 500_000  # rows read back per group of years for the cross-row checks
READ_BACK_ROWS = 500_000  # broken (or region-dated) rows read back at a time to be reported
# loaded observations under the names dwi.harmonise gives them, for the cross-row checks
LOADED_AS_HARMONISED = ("source_row::BIGINT AS _row, indicator_code, region_code, region_reported AS region, sex, "
                        "year, period, value, value_reported, country, classif1, classif2")


def threshold() -> int:
    """Files of at least this many bytes are streamed ($DWI_BULK_BYTES, default 32 MiB)."""
    return int(os.environ.get("DWI_BULK_BYTES", str(32 << 20)))


# Unicode whitespace as polars' strip_chars (Rust's char::is_whitespace) strips it; pyarrow's
# utf8_trim_whitespace would also strip U+001C-U+001F, so the characters are given.
WHITESPACE = ("\t\n\x0b\x0c\r \x85\xa0\u1680" + "".join(chr(c) for c in range(0x2000, 0x200B))
              + "\u2028\u2029\u202f\u205f\u3000")
DISTINCT = "IS NOT DISTINCT FROM"


def _columns_spec(fmt: str) -> tuple[list[str], list[str]]:
    if fmt == "ilostat":
        from dwi.readers import ilostat

        return ilostat.REQUIRED, ilostat.OPTIONAL
    from schemas.observations import OPTIONAL, REQUIRED

    return REQUIRED, OPTIONAL


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _on(left: str, right: str, columns: list[str]) -> str:
    return " AND ".join(f"{left}.{_q(c)} {DISTINCT} {right}.{_q(c)}" for c in columns)


def _first_seen(con: duckdb.DuckDBPyConnection, columns: str, source: str) -> pl.DataFrame:
    """The distinct combinations of `columns` in `source` (a relation, optionally with WHERE), in order of
    first appearance as polars' unique(maintain_order=True) gives them (it decides e.g. a fresh indicator's
    name)."""
    return con.sql(f"SELECT {columns} FROM {source} GROUP BY ALL ORDER BY min(_row)").pl()


def _register(con: duckdb.DuckDBPyConnection, name: str, frame: pl.DataFrame) -> None:
    con.register(name, frame.to_arrow())


# What a format's step returns: the number of rows of bulk_tidy, the indicators the file registers on the fly
# (None when it has no observation) and, when the step knows them, the distinct (region, year_reported,
# period, country) in order of first appearance (else they are read from bulk_tidy).
Tidied = tuple[int, pl.DataFrame | None, pl.DataFrame | None]


def _rows(con: duckdb.DuckDBPyConnection) -> int:
    """The rows of the file (bulk_clean), counted without reading them."""
    return con.execute("SELECT (SELECT count(*) FROM bulk_raw.raw) + (SELECT count(*) FROM bulk_raw.blanks)"
                       ).fetchall()[0][0]


def _tidy_ilostat(con: duckdb.DuckDBPyConnection, file: str, notes: list[str]) -> Tidied:
    """bulk_clean (an ILOSTAT file) -> view bulk_tidy in the tidy layout of dwi.readers.ilostat.from_strings."""
    from dwi.readers import ilostat

    empty = con.execute("SELECT count(*), list(_row ORDER BY _row)[1:10] FROM bulk_clean "
                        "WHERE obs_value IS NULL").fetchall()[0]
    if empty[0]:
        notes.append(f"{empty[0]} row(s) have no obs_value (rows {', '.join(map(str, empty[1]))}"
                     f"{' ...' if empty[0] > 10 else ''}); empty cells are missing values, not observations")
    areas = _first_seen(con, "ref_area, sex, time", "bulk_clean WHERE obs_value IS NOT NULL")
    if not areas.height:
        return 0, None, None
    year, period = split_time(pl.col("time"))
    areas = areas.with_columns(
        pl.col("ref_area").str.to_uppercase().alias("_country"),
        pl.col("sex").fill_null("SEX_T").str.replace(r"^SEX_", "").alias("_sex"),
        year.alias("_year"), period.alias("_period"))
    _register(con, "bulk_codes", areas)
    # region, year, period and country come from these codes alone: their distinct combinations, in order
    places = areas.select(pl.col("_country").alias("region"), pl.col("_year").alias("year_reported"),
                          pl.col("_period").fill_null("Y").alias("period"),
                          pl.col("_country").fill_null("KAZ").alias("country")).unique(maintain_order=True)
    codes = _first_seen(con, 'indicator AS source_code, "indicator.label" AS source_label, classif1',
                        "bulk_clean WHERE obs_value IS NOT NULL")
    mapped, fresh = apply_code_map(codes, read_code_map(ilostat.MAP), file, ilostat.MAP, ilostat=True)
    _register(con, "bulk_code_map", mapped.select(
        "source_code", "source_label", "classif1", "indicator_code", "unit", pl.col("scale").cast(pl.String)))

    def text(col: str) -> str:  # the label where the file has one, else the code (ilostat._text)
        return f'coalesce({_q(col + ".label")}, {_q(col)})'

    note = ", ".join(f"'{n}: ' || {text(n)}" for n in ilostat.NOTES)
    con.execute(f"""
        CREATE OR REPLACE TEMP VIEW bulk_tidy AS
        SELECT c._row, m.indicator_code, a._country AS region, coalesce(a._sex, 'T') AS sex, a._year AS year_reported,
               coalesce(a._period, 'Y') AS period, c.obs_value AS value_reported, m.unit, c.obs_status,
               'ILOSTAT ' || c.indicator || ', source ' || coalesce({text('source')}, 'not stated') || ', '
                   || c.ref_area || ' ' || c.time AS source_ref,
               nullif(concat_ws('; ', {note}), '') AS note,
               coalesce(a._country, 'KAZ') AS country, c.classif1, c.classif2, m.scale
        FROM bulk_clean c
        JOIN bulk_codes a ON {_on('c', 'a', ['ref_area', 'sex', 'time'])}
        JOIN bulk_code_map m ON c.indicator {DISTINCT} m.source_code
             AND c."indicator.label" {DISTINCT} m.source_label AND c.classif1 {DISTINCT} m.classif1
        WHERE c.obs_value IS NOT NULL""")
    return _rows(con) - empty[0], fresh, places


def _tidy_observations(con: duckdb.DuckDBPyConnection, file: str, notes: list[str]) -> Tidied:
    """bulk_clean (a tidy observations file) -> view bulk_tidy, with dwi.harmonise's defaults."""
    con.execute("""
        CREATE OR REPLACE TEMP VIEW bulk_tidy AS
        SELECT _row, indicator_code, region, coalesce(sex, 'T') AS sex, year AS year_reported,
               coalesce(period, 'Y') AS period, value AS value_reported, unit, obs_status, source_ref, note,
               'KAZ' AS country, NULL::VARCHAR AS classif1, NULL::VARCHAR AS classif2, NULL::VARCHAR AS scale
        FROM bulk_clean""")
    return _rows(con), pl.DataFrame(), None


# format -> step from the cleaned cells (bulk_clean) to the tidy layout (view bulk_tidy)
TIDY: dict[str, Callable[[duckdb.DuckDBPyConnection, str, list[str]], Tidied]] = {
    "observations": _tidy_observations, "ilostat": _tidy_ilostat}


def streams(batch: Batch) -> bool:
    """Whether this pending source is checked and loaded by `load` (a big file of a streamable format)."""
    return (batch.status == "pending" and batch.source.format in TIDY
            and batch.source.path.stat().st_size >= threshold())


def _is_gzip(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


def _open(path: Path, mode: str = "rb", **text) -> IO:
    """The file, decompressed if it is gzip."""
    return (gzip.open if _is_gzip(path) else open)(path, mode, **text)


def _header(path: Path, file: str) -> tuple[str, list[str]]:
    """The header line, decoded as dwi.read.decode would (BOM noted, UTF-8 required)."""
    try:
        with _open(path) as fh:
            line = fh.readline(1 << 20)
    except (EOFError, OSError) as exc:
        raise gzip_rejection(file, exc) from None
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


def _encoding_error(path: Path, file: str) -> Rejected | None:
    """The first byte that is not UTF-8, named as dwi.read.decode names it (the file is scanned in blocks)."""
    decoder, line = codecs.getincrementaldecoder("utf-8")(), 1
    with _open(path) as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            try:
                decoder.decode(block)
            except UnicodeDecodeError as exc:
                start = max(exc.start, 0)
                return encoding_rejection(file, block, start, line + block[:start].count(b"\n"))
            line += block.count(b"\n")
    return None


def _unreadable(path: Path, file: str) -> Rejected | None:
    """Why the file cannot be read, named as the in-memory path names it (dwi.read): corrupt gzip data, the
    first byte that is not UTF-8, or the first record with too many fields or an unclosed quote."""
    if _is_gzip(path):
        try:
            with _open(path) as fh:
                while fh.read(1 << 24):
                    pass
        except (EOFError, OSError) as exc:
            return gzip_rejection(file, exc)
    if (encoding := _encoding_error(path, file)) is not None:
        return encoding
    with _open(path, "rt", encoding="utf-8-sig", newline="") as fh:
        where = first_bad_record(fh)
    return Rejected(file, f"not a readable comma-separated file: {where}", "file:csv") if where else None


# Columns whose cells mostly differ from row to row: a cell is stripped only when a test finds whitespace at
# either end. The others are stripped as they are, which DuckDB does once per distinct value (it keeps such
# columns dictionary-coded); stripping every cell of a column like obs_value would cost ten times the read.
PER_ROW = {"obs_value", "value", "source_ref", "note"}


def _cleaned(column: str) -> str:
    """SQL for a cell as dwi.read.clean leaves it: stripped of Unicode whitespace, null when empty."""
    stripped = f"nullif(trim({_q(column)}, {_text(WHITESPACE)}), '')"
    if column not in PER_ROW:
        return stripped
    edge = "[" + "".join(f"\\x{{{ord(c):x}}}" for c in WHITESPACE) + "]"
    return f"CASE WHEN regexp_matches({_q(column)}, '^{edge}|{edge}$') THEN {stripped} ELSE {_q(column)} END"


def _text(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _blank_rows(path: Path) -> list[int]:
    """The rows (numbered as dwi.read numbers them) that are blank lines: polars reads each as a row of empty
    cells, DuckDB's reader skips it. A byte search tells whether the file can have one at all; only then does
    the csv module find them (a blank line inside a quoted cell is no row)."""
    with _open(path) as fh:
        tail = b""
        for block in iter(lambda: fh.read(1 << 24), b""):
            chunk = tail + block
            if b"\n\n" in chunk or b"\n\r\n" in chunk:
                break
            tail = chunk[-2:]
        else:
            return []
    with _open(path, "rt", encoding="utf-8-sig", newline="") as fh:
        records = csv.reader(fh)
        next(records, None)
        return [row for row, record in enumerate(records, start=2) if not record]


def _read(con: duckdb.DuckDBPyConnection, batch: Batch, notes: list[str]) -> None:
    """The file into table bulk_raw.raw (a scratch database attached by the caller) by DuckDB's own CSV reader,
    every column as text, short records padded with nulls as polars pads them; then view bulk_clean: cells as
    dwi.read.clean leaves them, the optional columns the file lacks as nulls, `_row` as dwi.read numbers rows
    (header = row 1; the rowid of a table filled by one statement in insertion order follows the file, and
    blank lines, which DuckDB skips, are added back as rows of empty cells)."""
    required, optional = _columns_spec(batch.source.format)
    path, file = batch.source.path, batch.source.display
    header_line, header_notes = _header(path, file)
    notes.extend(header_notes)
    names = next(csv.reader([header_line]))
    columns = check_columns(names, header_line, file, required, optional)
    types = "{" + ", ".join(f"{_text(c)}: 'VARCHAR'" for c in columns) + "}"
    buffer = f", buffer_size = {CSV_BUFFER}, max_line_size = {CSV_BUFFER}" if CSV_BUFFER else ""

    def read(padded: bool) -> None:
        con.execute(f"""
            CREATE OR REPLACE TABLE bulk_raw.raw AS SELECT * FROM read_csv($path, header = true,
                columns = {types}, auto_detect = false, delim = ',', quote = '"', escape = '"',
                strict_mode = true, null_padding = {padded}, parallel = {not padded},
                compression = '{'gzip' if _is_gzip(path) else 'none'}'{buffer})""", {"path": str(path)})

    con.execute("SET preserve_insertion_order = true")
    with ThreadPoolExecutor(1, thread_name_prefix="dwi-blank-lines") as pool:
        blank_lines = pool.submit(_blank_rows, path)  # searched while DuckDB reads
        try:
            try:
                read(padded=False)
            except duckdb.IOException:
                raise
            except duckdb.Error:  # e.g. a short record, which polars pads with nulls: so does DuckDB, on one thread
                read(padded=True)
        except duckdb.Error as exc:
            rejected = _unreadable(path, file)
            if rejected is None and isinstance(exc, duckdb.IOException):
                raise  # e.g. the disk is full: not the file's fault
            raise rejected or Rejected(file, f"not a readable comma-separated file: {str(exc).splitlines()[0]}",
                                       "file:csv") from None
        finally:
            con.execute("SET preserve_insertion_order = false")  # rows carry their source_row; appends are cheaper
        blanks = blank_lines.result()
    absent = "".join(f", NULL::VARCHAR AS {_q(c)}" for c in optional if c not in columns)
    cells = ", ".join(f"{_cleaned(c)} AS {_q(c)}" for c in columns)
    _register(con, "bulk_blanks", pl.DataFrame({"_row": blanks}, schema={"_row": pl.Int64}))
    con.execute("CREATE TABLE bulk_raw.blanks AS SELECT * FROM bulk_blanks")
    if not blanks:
        con.execute(f"CREATE OR REPLACE TEMP VIEW bulk_clean AS SELECT rowid + 2 AS _row, {cells}{absent} "
                    "FROM bulk_raw.raw")
        return
    # a record after j blank lines is j rows further down: shift = j from the rowid of the first one on
    shifts = pl.DataFrame({"rowid": [b - 2 - j for j, b in enumerate(blanks)], "shift": range(1, len(blanks) + 1)})
    _register(con, "bulk_shifts", shifts.group_by("rowid").agg(pl.col("shift").max()))
    con.execute("CREATE TABLE bulk_raw.shifts AS SELECT * FROM bulk_shifts")
    nulls = ", ".join(f"NULL::VARCHAR AS {_q(c)}" for c in columns)
    con.execute(f"""CREATE OR REPLACE TEMP VIEW bulk_clean AS
                    SELECT r.rowid + 2 + coalesce(s.shift, 0) AS _row, {cells}{absent}
                    FROM bulk_raw.raw r ASOF LEFT JOIN bulk_raw.shifts s ON r.rowid >= s.rowid
                    UNION ALL SELECT _row, {nulls}{absent} FROM bulk_raw.blanks""")


# The columns each table of distinct values carries; a rule is evaluated on the first table that has every
# column it reads (pl.Expr.meta.root_names). The value rules (schemas.observations.VALUE_RULES) are SQL
# text that DuckDB runs on every row, as polars runs it for the pandera schema.
REGION_COLUMNS = ["region", "year_reported", "period", "country"]
CODE_COLUMNS = ["indicator_code", "unit", "obs_status", "sex"]
TABLES = {"bulk_places": {*REGION_COLUMNS, "year", "region_code", "alias_valid_from", "alias_valid_to"},
          "bulk_codes_checked": {*CODE_COLUMNS, "expected_unit", "kind"}}


def _failed(rules: dict[str, pl.Expr]) -> pl.Expr:
    """The names of the rules a row breaks, as a list (empty when it breaks none)."""
    if not rules:
        return pl.lit([], pl.List(pl.String)).alias("_fail")
    return pl.concat_list([pl.when(~expr.fill_null(True)).then(pl.lit(name)).otherwise(pl.lit(None, pl.String))
                           for name, expr in rules.items()]).list.drop_nulls().alias("_fail")


def _split_rules(ref: Reference) -> dict[str, dict[str, pl.Expr]]:
    """The observation rules by the table of distinct values they are evaluated on ("values": per row)."""
    out: dict[str, dict[str, pl.Expr]] = {name: {} for name in (*TABLES, "values")}
    for name, expr in observation_rules(ref).items():
        roots = set(expr.meta.root_names())
        place = "values" if name in VALUE_RULES else next((t for t, cols in TABLES.items() if roots <= cols), None)
        if place is None:
            raise RuntimeError(f"rule {name} reads {sorted(roots)}: no table of dwi.bulk has them all")
        out[place][name] = expr
    return out


PARSED = "TRY_CAST(t.value_reported AS DOUBLE)"  # the same parse as polars' cast(Float64, strict=False)
VALUE_OK = " AND ".join(f"coalesce({sql}, true)" for sql in VALUE_RULES.values())


def _harmonise(con: duckdb.DuckDBPyConnection, ref: Reference, places: pl.DataFrame | None) -> dict[str, pl.Expr]:
    """bulk_tidy -> view bulk_rows, harmonised as by dwi.harmonise.observations, with `_ok` (false when the
    row breaks a rule) and `_fail` (the code rules it breaks). Returns the value rules (checked per row)."""
    rules = _split_rules(ref)
    if places is None:
        places = _first_seen(con, ", ".join(REGION_COLUMNS), "bulk_tidy")
    places = harmonise.resolve_regions(
        places.with_columns(pl.col("year_reported").cast(pl.Int32, strict=False).alias("year")), ref)
    _register(con, "bulk_places", places.with_columns(_failed(rules["bulk_places"])))
    registry = ref.indicators.select(pl.col("code").alias("indicator_code"), pl.col("unit").alias("expected_unit"),
                                     "kind")
    codes = _first_seen(con, ", ".join(CODE_COLUMNS), "bulk_tidy")
    codes = codes.join(registry, on="indicator_code", how="left", maintain_order="left")
    _register(con, "bulk_codes_checked", codes.with_columns(_failed(rules["bulk_codes_checked"])))
    # Scaled values (e.g. ILOSTAT thousands to persons) are computed by dwi.harmonise.value itself: DuckDB's
    # round() can differ from polars' in the last bit.
    scaled = con.sql("SELECT _row, value_reported, scale FROM bulk_tidy "
                     "WHERE coalesce(TRY_CAST(scale AS DOUBLE), 1.0) <> 1.0").pl()
    _register(con, "bulk_scaled", scaled.select("_row", harmonise.value().alias("value")))
    con.execute(f"""
        CREATE OR REPLACE TEMP VIEW bulk_rows AS
        SELECT *, _ok_codes AND {VALUE_OK} AS _ok FROM (
            SELECT t.*, p.year, p.region_code, p.alias_valid_from, p.alias_valid_to, k.expected_unit, k.kind,
                   CASE WHEN s._row IS NOT NULL THEN s.value WHEN isfinite({PARSED}) THEN {PARSED} END AS value,
                   list_concat(p._fail, k._fail) AS _fail, len(p._fail) = 0 AND len(k._fail) = 0 AS _ok_codes
            FROM bulk_tidy t
            JOIN bulk_places p ON {_on('t', 'p', REGION_COLUMNS)}
            JOIN bulk_codes_checked k ON {_on('t', 'k', CODE_COLUMNS)}
            LEFT JOIN bulk_scaled s ON t._row = s._row)""")
    return rules["values"]


def _append(con: duckdb.DuckDBPyConnection, part: Batch, ref: Reference, load_id: int, table: str,
           select_sql: str, value_rules: dict[str, pl.Expr]) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Check the harmonised rows (view bulk_rows) and append the kept ones. Returns the errors, the
    region-date warnings and the keys of the quarantined rows; sets part.rows_quarantined."""
    loaded = con.execute(f"INSERT INTO {table} {select_sql.replace('FROM batch_rows', 'FROM bulk_rows WHERE _ok')}",
                         {"load_id": load_id, "source_id": part.source.id}).fetchall()[0][0]
    # The few rows to report are found in a narrow pass and only then read back whole: the broken rows (if
    # any) and the rows of a region or name with dates (if the file has any, see dwi.validate).
    bounded = validate_mod.dated_regions(ref)
    places = con.sql("SELECT region_code, alias_valid_from, alias_valid_to FROM bulk_places").pl()
    has_dated = places.filter(pl.col("region_code").is_in(bounded.implode()) | pl.col("alias_valid_from").is_not_null()
                              | pl.col("alias_valid_to").is_not_null()).height > 0
    bad_rows, dated_rows = [], []
    if loaded < part.rows_in or has_dated:
        bad_rows, dated_rows = con.execute("""
            SELECT coalesce(list(_row) FILTER (WHERE NOT _ok), []),
                   coalesce(list(_row) FILTER (WHERE _ok AND (list_contains($bounded, region_code)
                                                OR alias_valid_from IS NOT NULL OR alias_valid_to IS NOT NULL)), [])
            FROM bulk_rows""", {"bounded": bounded.to_list()}).fetchall()[0]

    def rows(numbers: list[int]) -> pl.DataFrame:
        if not numbers:
            return con.sql("SELECT * EXCLUDE (_ok, _ok_codes) FROM bulk_rows LIMIT 0").pl()
        con.register("bulk_pick", pa.table({"_row": pa.array(numbers, pa.int64())}))
        out = con.sql("SELECT * EXCLUDE (_ok, _ok_codes) FROM bulk_rows "
                      "WHERE _row IN (SELECT _row FROM bulk_pick) ORDER BY _row").pl()
        con.unregister("bulk_pick")
        return out

    def chunks(numbers: list[int]) -> Iterator[pl.DataFrame]:  # read back READ_BACK_ROWS at a time
        for start in range(0, len(numbers), READ_BACK_ROWS):
            yield rows(numbers[start:start + READ_BACK_ROWS])

    errors, warnings, keys = [issues()], [issues()], [rows([]).select("_row", *KEY)]
    for bad in chunks(bad_rows):
        bad = bad.with_columns(pl.concat_list("_fail", _failed(value_rules)).alias("_fail"))
        cases = (bad.select(pl.int_range(pl.len(), dtype=pl.UInt32).alias("index"), pl.col("_fail").alias("check"))
                 .explode("check").with_columns(pl.lit(None, pl.String).alias("column")))
        errors.append(validate_mod.failure_issues(part, bad.drop("_fail"), cases))
        keys.append(bad.select("_row", *KEY))
    for dated in chunks(dated_rows):
        warnings.append(validate_mod.region_date_warnings(part, dated.drop("_fail"), ref))
    part.rows_quarantined = len(bad_rows)
    return pl.concat(errors), pl.concat(warnings), pl.concat(keys)


@contextlib.contextmanager
def _scratch(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Database bulk_raw, attached for the file's cells as read: a file next to the warehouse (the writer's
    private copy), removed afterwards, with the views and tables over it."""
    home = con.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()").fetchall()[0][0]
    path = Path(home + ".bulk") if home else Path(tempfile.mkdtemp(prefix="dwi-bulk-")) / "raw.duckdb"
    path.unlink(missing_ok=True)
    con.execute("ATTACH $path AS bulk_raw", {"path": str(path)})
    try:
        yield
    finally:
        for view in ("bulk_rows", "bulk_tidy", "bulk_clean"):
            con.execute(f"DROP VIEW IF EXISTS {view}")
        for name in ("bulk_places", "bulk_codes_checked", "bulk_scaled", "bulk_codes", "bulk_code_map", "bulk_blanks",
                     "bulk_shifts"):
            con.unregister(name)
        con.execute("DETACH bulk_raw")
        path.unlink(missing_ok=True)
        Path(str(path) + ".wal").unlink(missing_ok=True)
        if not home:
            path.parent.rmdir()


def _load(con: duckdb.DuckDBPyConnection, batch: Batch, ref: Reference, load_id: int) -> pl.DataFrame:
    """Check and append the file; returns the rows (`row`) to remove as duplicates."""
    source, notes = batch.source, []
    table, select_sql = TARGETS[source.format]
    batch.rows_quarantined = 0
    errors, warnings = [issues()], [issues()]
    with _scratch(con):
        _read(con, batch, notes)
        batch.rows_in, fresh, places = TIDY[source.format](con, source.display, notes)
        if fresh is not None:
            if fresh.height:  # codes registered on the fly, as in dwi.stages
                batch.indicators = fresh
                ref = extend_reference(ref, fresh)
            value_rules = _harmonise(con, ref, places)
            error, warning, quarantined = _append(con, batch, ref, load_id, table, select_sql, value_rules)
            errors.append(error)
            warnings.append(warning)
    if not batch.rows_in:
        if batch.source.format == "ilostat":
            raise Rejected(source.display, "no row has an obs_value; nothing to load", "file:no_rows", "obs_value")
        raise Rejected(source.display, "header only, no data rows", "file:no_rows")
    part = Batch(source, batch.sha256)
    dup = _duplicates(con, part, table, load_id, quarantined)
    dup_rows = dup.select("row").unique()
    if dup.height:
        errors.append(dup)
        loaded_dups = dup_rows.filter(~pl.col("row").is_in(quarantined["_row"].implode()))
        batch.rows_quarantined += loaded_dups.height
        warnings = [w.filter(~pl.col("row").is_in(dup_rows["row"].implode())) for w in warnings]
    batch.add_issues(issues([{"source_id": source.id, "file": source.display,
                              "check": "file:bom" if "byte-order" in note else "file:note",
                              "message": f"{source.display}: {note}", "severity": "info"} for note in notes]))
    batch.add_issues(pl.concat(errors).sort("row", "column"))
    con.register("bulk_relevant", _cross_row_codes(ref).to_arrow())
    for first, last in _year_groups(con, table, load_id):
        rows = con.sql(f"""SELECT {LOADED_AS_HARMONISED} FROM {table}
                           WHERE load_id = {load_id} AND year BETWEEN {first} AND {last}
                             AND indicator_code IN (SELECT code FROM bulk_relevant)""").pl()
        rows = rows.filter(~pl.col("_row").is_in(dup_rows["row"].implode()))
        warnings.append(validate_mod.group_warnings(part, rows, ref))
    con.unregister("bulk_relevant")
    batch.add_issues(pl.concat(warnings))
    batch.status = "checked"
    return dup_rows


def _duplicates(con: duckdb.DuckDBPyConnection, part: Batch, table: str, load_id: int,
                quarantined_keys: pl.DataFrame) -> pl.DataFrame:
    """Every row (loaded or quarantined) whose key occurs more than once in the file, as pandera reports it.
    Rows whose key hash repeats are candidates; their keys are compared exactly."""
    key = ", ".join(KEY)
    con.register("bulk_quarantined", quarantined_keys.to_arrow())
    candidates = con.execute(f"""
        WITH hashed AS (SELECT source_row::BIGINT AS _row, hash({key}) AS h FROM {table} WHERE load_id = {load_id}
                        UNION ALL SELECT _row, hash({key}) FROM bulk_quarantined)
        SELECT _row FROM hashed WHERE h IN (SELECT h FROM hashed GROUP BY h HAVING count(*) > 1)""").fetchall()
    con.unregister("bulk_quarantined")
    if not candidates:
        return issues()
    rows = pl.DataFrame({"_row": [r[0] for r in candidates]}, schema={"_row": pl.Int64})
    con.register("bulk_candidates", rows.to_arrow())
    loaded = con.sql(f"""SELECT source_row::BIGINT AS _row, {key} FROM {table}
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


def _cross_row_codes(ref: Reference) -> pl.DataFrame:
    """The indicators dwi.validate.group_warnings looks at: additive ones (regions against the total) and
    shares with their numerators and denominators. Rows of other indicators cannot raise those warnings."""
    ind = ref.indicators
    shares = ind.filter(pl.col("numerator").is_not_null())
    codes = pl.concat([ind.filter(pl.col("additive"))["code"], shares["code"], shares["numerator"],
                       shares["denominator"]]).drop_nulls().unique()
    return pl.DataFrame({"code": codes})


def _year_groups(con: duckdb.DuckDBPyConnection, table: str, load_id: int) -> list[tuple[int, int]]:
    """Consecutive years in groups of about CROSS_ROW_ROWS rows (of the indicators in bulk_relevant)."""
    groups, start, size = [], None, 0
    for year, n in con.execute(f"SELECT year, count(*) FROM {table} WHERE load_id = {load_id} "
                               "AND indicator_code IN (SELECT code FROM bulk_relevant) "
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
        con = duckdb.connect(str(Path(tmp) / "check.duckdb"),
                             config={"memory_limit": os.environ.get("DWI_MEMORY", "512MB")})
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
        con.execute("RESET preserve_insertion_order")


def _discard(con: duckdb.DuckDBPyConnection, table: str, load_id: int) -> None:
    """Undo a load that did not finish: its open transaction, then the rows already appended."""
    try:
        con.execute("ROLLBACK")
    except duckdb.Error:
        pass  # no transaction was open
    con.execute(f"DELETE FROM {table} WHERE load_id = {load_id}")
