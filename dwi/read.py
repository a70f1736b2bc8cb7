"""Read a source file into a frame of strings, one row per record, with `_row` = its row in the file.

Structural problems (unreadable, wrong encoding, wrong columns, no data) reject the whole file with
one message; row-level problems are left to validation.
"""

from __future__ import annotations

import csv
import gzip
import io
import re
import zipfile
import zlib
from collections.abc import Iterable
from pathlib import Path

import polars as pl

from dwi.errors import DwiError


class Rejected(DwiError):
    """The file as a whole cannot be used."""

    def __init__(self, file: str, message: str, check: str, column: str | None = None):
        super().__init__(f"{file}: {message} (rule {check})")
        self.file, self.reason, self.check, self.column = file, message, check, column


MAX_FIELD_CHARS = 65_536  # a longer cell is a broken quote or a mangled export, not a figure or a note


def _refuse_spreadsheet(data: bytes, file: str) -> None:
    """A zip/xlsx file (by magic bytes or name) is rejected with a clear reason, never decoded as text."""
    if not (data[:4] == b"PK\x03\x04" or file.lower().endswith((".xlsx", ".xlsm", ".xls", ".zip"))):
        return
    if data[:4] != b"PK\x03\x04" or not zipfile.is_zipfile(io.BytesIO(data)):
        raise Rejected(file, "not a valid xlsx/zip file (corrupt or truncated); download it again or "
                       "export the sheet as UTF-8 CSV", "file:xlsx")
    raise Rejected(file, "a spreadsheet (xlsx/zip) where CSV was expected; export the sheet as UTF-8 CSV",
                   "file:xlsx")


def decode(data: bytes, file: str) -> tuple[str, list[str]]:
    """Bytes to text: gunzip if gzip, strip a UTF-8 BOM (noted), refuse anything that is not UTF-8."""
    notes = []
    _refuse_spreadsheet(data, file)
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (EOFError, OSError, zlib.error) as exc:
            raise gzip_rejection(file, exc) from None
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
        notes.append("file starts with a UTF-8 byte-order mark; it was ignored")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise encoding_rejection(file, data, exc.start, data[: exc.start].count(b"\n") + 1) from None
    return text, notes


def gzip_rejection(file: str, exc: BaseException) -> Rejected:
    """The one message for gzip data that cannot be decompressed."""
    return Rejected(file, f"gzip data is truncated or corrupt ({str(exc).splitlines()[0]}); download the file "
                    "again", "file:gzip")


def encoding_rejection(file: str, data: bytes, start: int, row: int) -> Rejected:
    """The one message for bytes that are not UTF-8: the row, the first bad byte, a Windows-1251 hint."""
    hint = " (it looks like Windows-1251 Cyrillic)" if _looks_cp1251(data) else ""
    return Rejected(file, f"row {row}: expected UTF-8 text, found byte 0x{data[start]:02x}{hint}; "
                    "save the file as UTF-8", "file:encoding")


def _looks_cp1251(data: bytes) -> bool:
    """Text (no control bytes) with several bytes in the Cyrillic block of Windows-1251."""
    return len(re.findall(rb"[\xc0-\xff]", data)) > 3 and not re.search(rb"[\x00-\x08\x0e-\x1f]", data)


def read_csv(path: Path, file: str, required: list[str], optional: list[str]) -> tuple[pl.DataFrame, list[str]]:
    """Parse a header + rows CSV into strings. Rejects missing, unexpected or renamed columns."""
    text, notes = decode(path.read_bytes(), file)
    if not text.strip():
        raise Rejected(file, "the file is empty; expected a header row and data rows", "file:empty")
    header_line = text.splitlines()[0]
    try:
        frame = pl.read_csv(io.StringIO(text), infer_schema=False, has_header=True)
    except (pl.exceptions.ComputeError, pl.exceptions.NoDataError) as exc:
        where = first_bad_record(io.StringIO(text)) or str(exc).splitlines()[0]
        raise Rejected(file, f"not a readable comma-separated file: {where}", "file:csv") from None
    columns = check_columns(frame.columns, header_line, file, required, optional)
    frame.columns = columns
    if frame.height == 0:
        raise Rejected(file, "header only, no data rows", "file:no_rows")
    _refuse_huge_fields(frame, file)
    return clean(frame, optional, first_row=2), notes


def check_columns(header: list[str], header_line: str, file: str, required: list[str],
                  optional: list[str]) -> list[str]:
    """The stripped column names; rejects missing, unexpected or renamed columns."""
    columns = [c.strip() for c in header]
    missing = [c for c in required if c not in columns]
    extra = [c for c in columns if c not in required and c not in optional]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing column(s) {', '.join(missing)}")
        if extra:
            parts.append(f"unexpected column(s) {', '.join(repr(c) for c in extra)}")
        hint = ""
        if len(columns) == 1:
            for sep, name in ((";", "semicolons"), ("\t", "tabs"), ("|", "pipes")):
                if sep in header_line:
                    hint = f"; the header is separated by {name}, expected commas"
        raise Rejected(file, f"{' and '.join(parts)}; expected columns {', '.join(required + optional)}{hint}",
                       "file:columns", (missing or extra)[0])
    return columns


def clean(frame: pl.DataFrame, optional: list[str], first_row: int) -> pl.DataFrame:
    """Strip cells, empty cells to nulls, absent optional columns as nulls, `_row` from `first_row` on."""
    frame = frame.with_columns(
        [pl.col(c).str.strip_chars().replace("", None) for c in frame.columns]
    ).with_row_index("_row", offset=first_row).with_columns(pl.col("_row").cast(pl.Int64))
    return frame.with_columns([pl.lit(None, pl.String).alias(c) for c in optional if c not in frame.columns])


def first_bad_record(lines: Iterable[str]) -> str:
    """On a parse error only: the first record with more fields than the header, or cut short by a quote that
    is never closed, with its row (`lines`: the text, e.g. a file opened with newline="")."""
    reader = csv.reader(lines)
    width = len(next(reader, []))
    start = reader.line_num + 1
    for record in reader:
        unclosed = any("\n" in f for f in record)
        if len(record) > width or (len(record) != width and unclosed):  # polars pads short records, blank ones too
            hint = " (an unclosed quote runs to the end of the file?)" if unclosed else ""
            return f"row {start}: expected {width} fields, found {len(record)}{hint}"
        start = reader.line_num + 1
    return ""


def _refuse_huge_fields(frame: pl.DataFrame, file: str) -> None:
    """A cell longer than MAX_FIELD_CHARS rejects the file, naming its row and column."""
    lengths = frame.select(pl.all().str.len_chars().fill_null(0)).with_row_index("_row", offset=2)
    longest = lengths.unpivot(index="_row", variable_name="column", value_name="chars").sort(
        "chars", "_row", descending=[True, False]).row(0, named=True)
    if longest["chars"] > MAX_FIELD_CHARS:
        raise Rejected(file, f"row {longest['_row']}, column {longest['column']}: expected a field of at "
                       f"most {MAX_FIELD_CHARS:,} characters, found {longest['chars']:,} "
                       "(an unclosed quote?)",
                       "file:huge_field", longest["column"])


def sniff_format(path: Path) -> str:
    """Guess a file's format from its header row (content, not extension)."""
    import importlib

    try:
        text, _ = decode(path.read_bytes(), str(path))
    except Rejected:
        return "observations"  # the read stage rejects it with the full explanation
    header = {c.strip() for c in (text.splitlines() or [""])[0].split(",")}
    for fmt in ("observations", "conventions", "dwcp_assessments"):
        spec = importlib.import_module(f"schemas.{fmt}")
        if set(spec.REQUIRED) <= header:
            return fmt
    return "observations"
