"""Text files as a stream of row batches: one reader for every size, in bounded memory.

`CsvFile` opens a file (gzip or plain), checks what can be checked once (not a spreadsheet, a byte-order
mark, a header), then yields the rows in batches of about `settings.chunk_bytes` bytes, cut at record
boundaries (a newline outside quotes). Each batch is parsed by polars exactly as the whole file would be: the
header line is put in front of every chunk. Rows are numbered as in the file (`_row`; header = row 1).

Structural problems (unreadable, wrong encoding, wrong columns, no data) reject the whole file with one
message; row-level problems are left to the checks. A file that cannot be parsed is read again, only then,
to say where: the first byte that is not UTF-8, or the first record with too many fields or an unclosed
quote.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import re
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

import polars as pl

from dwi.config import settings
from dwi.errors import DwiError, excerpt

GZIP, ZIP = b"\x1f\x8b", b"PK\x03\x04"
BOM = b"\xef\xbb\xbf"
HEADER_BYTES = 16 << 20  # a header (or a metadata line above it) longer than this is not one
BOM_NOTE = "file starts with a UTF-8 byte-order mark; it was ignored"


class Rejected(DwiError):
    """The file as a whole cannot be used."""

    def __init__(self, file: str, message: str, check: str, column: str | None = None):
        super().__init__(f"{file}: {message} (rule {check})")
        self.file, self.reason, self.check, self.column = file, message, check, column


def gzip_rejection(file: str, exc: BaseException) -> Rejected:
    """The one message for gzip data that cannot be decompressed."""
    return Rejected(
        file, f"gzip data is truncated or corrupt ({str(exc).splitlines()[0]}); download the file again", "file:gzip"
    )


def encoding_rejection(file: str, data: bytes, start: int, row: int) -> Rejected:
    """The one message for bytes that are not UTF-8: the row, the first bad byte, a Windows-1251 hint."""
    hint = " (it looks like Windows-1251 Cyrillic)" if _looks_cp1251(data) else ""
    return Rejected(
        file,
        f"row {row}: expected UTF-8 text, found byte 0x{data[start]:02x}{hint}; save the file as UTF-8",
        "file:encoding",
    )


def _looks_cp1251(data: bytes) -> bool:
    """Text (no control bytes) with several bytes in the Cyrillic block of Windows-1251."""
    return len(re.findall(rb"[\xc0-\xff]", data)) > 3 and not re.search(rb"[\x00-\x08\x0e-\x1f]", data)


def _refuse_spreadsheet(path: Path, head: bytes, file: str) -> None:
    """A zip/xlsx file (by magic bytes or name) is rejected with a clear reason, never decoded as text."""
    if not (head[:4] == ZIP or file.lower().endswith((".xlsx", ".xlsm", ".xls", ".zip"))):
        return
    if head[:4] != ZIP or not zipfile.is_zipfile(path):
        raise Rejected(
            file,
            "not a valid xlsx/zip file (corrupt or truncated); download it again or export the sheet as UTF-8 CSV",
            "file:xlsx",
        )
    raise Rejected(file, "a spreadsheet (xlsx/zip) where CSV was expected; export the sheet as UTF-8 CSV", "file:xlsx")


def open_binary(path: Path, file: str) -> IO[bytes]:
    """The file's bytes, decompressed when it is gzip (a truncated stream fails when it is read)."""
    with open(path, "rb") as fh:
        head = fh.read(4)
    _refuse_spreadsheet(path, head, file)
    return gzip.open(path, "rb") if head[:2] == GZIP else open(path, "rb")


def head_text(path: Path, limit: int = 64_000) -> str:
    """The start of a text file (decompressed if gzip) for format detection; undecodable bytes replaced."""
    with open(path, "rb") as fh:
        data = fh.read(1 << 20)
    if data[:2] == GZIP:
        try:  # a streaming decompressor reads the start of a truncated file too; the reader rejects it
            data = zlib.decompressobj(wbits=31).decompress(data, limit)
        except zlib.error:
            data = b""
    return data[:limit].decode("utf-8", errors="replace").lstrip("\ufeff")


def head_records(path: Path, limit: int = 64_000) -> list[list[str]]:
    """The complete records at the start of a text file (a record cut by the end of the head is left out),
    for reading what a file is (its format, its dataset) without reading it all."""
    text = head_text(path, limit)
    if len(text) >= limit - 1 and "\n" in text:
        text = text[: text.rindex("\n")]
    return [r for r in csv.reader(io.StringIO(text, newline="")) if r]


def first_bad_record(lines: Iterable[str]) -> str:
    """On a parse error only: the first record with more fields than the header, cut short by a quote that
    is never closed, or holding a quote in the middle of a field, with its row (`lines`: the text, e.g. a
    file opened with newline="")."""
    limit = settings().max_field_chars
    csv.field_size_limit(max(limit, 1 << 17))
    reader = csv.reader(lines)
    width = len(next(reader, []))
    start = reader.line_num + 1
    try:
        for record in reader:
            unclosed = any("\n" in f for f in record)
            if len(record) > width or (len(record) != width and unclosed):  # polars pads short records
                hint = " (an unclosed quote runs to the end of the file?)" if unclosed else ""
                return f"row {start}: expected {width} fields, found {len(record)}{hint}"
            if any(_STRAY_QUOTE.search(f) for f in record):
                return f"row {start}: a quote inside a field that does not start with one (quote the whole field)"
            start = reader.line_num + 1
    except csv.Error as exc:
        if "field limit" in str(exc):  # a quoted field longer than any cell may be: its quote is never closed
            return f"row {start}: a field runs past {limit:,} characters (a quote that is never closed?)"
        return f"row {start}: {exc}"
    return ""


def bounded_lines(text: IO[str], limit: int = 1 << 20) -> Iterator[str]:
    """The lines of `text`, a line longer than `limit` characters cut into pieces of at most `limit` (so that
    a file of one endless line is never held in memory whole)."""
    return iter(lambda: text.readline(limit), "")


# In a well-formed file a field holds a quote only when quoted, and then its quotes come in pairs ("").
_STRAY_QUOTE = re.compile(r'(?<!")"(?!")')


def check_columns(
    header: list[str], header_line: str, file: str, required: list[str], optional: list[str]
) -> list[str]:
    """The stripped column names; rejects missing, unexpected or renamed columns."""
    columns = [c.strip() for c in header]
    missing = [c for c in required if c not in columns]
    extra = [c for c in columns if c not in required and c not in optional]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing column(s) {', '.join(missing)}")
        if extra:
            more = f" and {len(extra) - 5:,} more" if len(extra) > 5 else ""
            parts.append(f"unexpected column(s) {', '.join(excerpt(c) for c in extra[:5])}{more}")
        hint = ""
        if len(columns) == 1:
            for sep, name in ((";", "semicolons"), ("\t", "tabs"), ("|", "pipes")):
                if sep in header_line:
                    hint = f"; the header is separated by {name}, expected commas"
        raise Rejected(
            file,
            f"{' and '.join(parts)}; expected columns {', '.join(required + optional)}{hint}",
            "file:columns",
            (missing or extra)[0],
        )
    return columns


def clean(frame: pl.DataFrame, optional: list[str] = ()) -> pl.DataFrame:
    """Strip cells, empty cells to nulls, absent optional columns as nulls (`_row` kept)."""
    cells = [c for c in frame.columns if c != "_row"]
    frame = frame.with_columns(pl.col(c).str.strip_chars().replace("", None) for c in cells)
    return frame.with_columns(pl.lit(None, pl.String).alias(c) for c in optional if c not in frame.columns)


def _record_end(buf: bytes | bytearray, limit: int) -> int:
    """The end of the last whole record in buf[:limit] (just after a newline outside quotes), or 0 when there
    is none (a quote is open over the whole window). Quotes are counted from the start of `buf`, a record
    boundary; walking back from the end, each newline's parity follows from the quotes after it."""
    nl = buf.rfind(b"\n", 0, limit)
    if nl < 0:
        return 0
    after = buf.count(b'"', nl, limit)
    total = buf.count(b'"', 0, nl) + after
    while nl >= 0:
        if (total - after) % 2 == 0:
            return nl + 1
        prev = buf.rfind(b"\n", 0, nl)
        after += buf.count(b'"', max(prev, 0), nl)
        nl = prev
    return 0


class CsvFile:
    """A comma-separated file read in batches. `skip` lines (e.g. a download's metadata block) come before
    the header; `header` is its cells as written, `notes` what the reader noticed (a byte-order mark)."""

    def __init__(self, path: Path, file: str, skip: int = 0):
        self.path, self.file, self.notes = path, file, []
        self._stream = open_binary(path, file)
        try:
            self._buf = bytearray(self._read(settings().chunk_bytes))
            if self._buf.startswith(BOM):
                del self._buf[:3]
                self.notes.append(BOM_NOTE)
            if not self._buf.strip() and self._at_end:
                raise Rejected(file, "the file is empty; expected a header row and data rows", "file:empty")
            for _ in range(skip):
                del self._buf[: self._line_end()]
            end = self._line_end()
            self._header = bytes(self._buf[:end]) + (b"" if self._buf[:end].endswith(b"\n") else b"\n")
            del self._buf[:end]
            try:
                self.header_line = self._header.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError as exc:
                raise encoding_rejection(file, self._header, exc.start, skip + 1) from None
            limit = settings().max_header_columns
            if self._header.count(b",") >= limit:  # an upper bound of the columns (quoted commas counted too)
                self.header = next(csv.reader([self.header_line]))
                if len(self.header) > limit:
                    raise Rejected(
                        file,
                        f"the header has {len(self.header):,} columns, more than {limit:,} (DWI_MAX_HEADER_COLUMNS)",
                        "file:columns",
                    )
            self.header = pl.read_csv(self._header, has_header=True, infer_schema=False).columns
            self.first_row = skip + 2
        except BaseException:
            self._stream.close()
            raise

    _at_end = False
    _bytes = _lines = 0

    def _line_end(self) -> int:
        """The end of the buffer's first line (reading on until it ends, the file does, or the line is longer
        than any header or metadata line can be: max_header_columns fields of max_field_chars characters)."""
        conf = settings()
        longest = min(conf.max_header_columns * (conf.max_field_chars + 3), HEADER_BYTES)
        while (nl := self._buf.find(b"\n")) < 0 and not self._at_end:
            if len(self._buf) > longest:
                raise Rejected(self.file, f"the first line runs past {longest:,} bytes without ending", "file:header")
            self._buf += self._read(max(conf.chunk_bytes, 1 << 16))
        return nl + 1 if nl >= 0 else len(self._buf)

    def close(self) -> None:
        self._stream.close()

    def _read(self, n: int) -> bytes:
        """Up to n bytes (decompressed); the file is rejected when it expands past max_decompressed_bytes or
        holds more than max_lines lines (a compression bomb is stopped as it is read, in bounded memory)."""
        try:
            data = self._stream.read(n)
        except (EOFError, OSError, zlib.error) as exc:
            raise gzip_rejection(self.file, exc) from None
        self._at_end = len(data) < n
        conf = settings()
        self._bytes += len(data)
        self._lines += data.count(b"\n")
        if self._bytes > conf.max_decompressed_bytes:
            raise Rejected(
                self.file,
                f"the file expands to more than {conf.max_decompressed_bytes:,} bytes (DWI_MAX_DECOMPRESSED_BYTES); "
                "a compression bomb or a file too big to load",
                "file:too_big",
            )
        if self._lines > conf.max_lines:
            raise Rejected(
                self.file, f"the file has more than {conf.max_lines:,} lines (DWI_MAX_LINES)", "file:too_big"
            )
        return data

    def batches(self, columns: list[str]) -> Iterator[pl.DataFrame]:
        """The rows under `columns` (the header's cells, renamed), strings, with `_row`; no cleaning."""
        size, row = settings().chunk_bytes, self.first_row
        try:
            while self._buf or not self._at_end:
                if len(self._buf) < size and not self._at_end:
                    self._buf += self._read(size - len(self._buf))
                cut = len(self._buf) if self._at_end else _record_end(self._buf, len(self._buf))
                if not cut:  # an open quote over the whole window: no field is that long
                    if len(self._buf) > 4 * size + settings().max_field_chars:
                        raise self._diagnose() or Rejected(
                            self.file,
                            "a quote that is never closed (no record ends in the rest of the file)",
                            "file:csv",
                        )
                    self._buf += self._read(size)
                    continue
                chunk = self._header + bytes(self._buf[:cut])
                del self._buf[:cut]
                try:
                    frame = pl.read_csv(chunk, has_header=True, infer_schema=False)
                except (pl.exceptions.ComputeError, pl.exceptions.NoDataError, pl.exceptions.SchemaError) as exc:
                    raise self._diagnose() or Rejected(
                        self.file, f"not a readable comma-separated file: {str(exc).splitlines()[0]}", "file:csv"
                    ) from None
                frame.columns = columns
                self._refuse_huge_fields(frame, row)
                yield frame.with_row_index("_row", offset=row).with_columns(pl.col("_row").cast(pl.Int64))
                row += frame.height
        finally:
            self._stream.close()

    def _refuse_huge_fields(self, frame: pl.DataFrame, first_row: int) -> None:
        """A cell longer than max_field_chars rejects the file, naming its row and column (the longest)."""
        limit = settings().max_field_chars
        if not frame.height or frame.select(pl.max_horizontal(pl.all().str.len_bytes().max())).item() <= limit:
            return  # no cell has that many bytes, so none has that many characters
        lengths = frame.select(pl.all().str.len_chars().fill_null(0)).with_row_index("_row", offset=first_row)
        longest = (
            lengths.unpivot(index="_row", variable_name="column", value_name="chars")
            .sort("chars", "_row", descending=[True, False])
            .row(0, named=True)
        )
        if longest["chars"] > limit:
            raise Rejected(
                self.file,
                f"row {longest['_row']}, column {longest['column']}: expected a field of at "
                f"most {limit:,} characters, found {longest['chars']:,} (an unclosed quote?)",
                "file:huge_field",
                longest["column"],
            )

    def _diagnose(self) -> Rejected | None:
        """Why the file cannot be parsed, read again from the start: the first byte that is not UTF-8, else
        the first record with too many fields or an unclosed quote."""
        decoder, line, budget = codecs.getincrementaldecoder("utf-8")(), 1, settings().max_decompressed_bytes
        with open_binary(self.path, self.file) as fh:
            while block := fh.read(min(1 << 20, budget)):
                budget -= len(block)
                try:
                    decoder.decode(block)
                except UnicodeDecodeError as exc:
                    start = max(exc.start, 0)
                    return encoding_rejection(self.file, block, start, line + block[:start].count(b"\n"))
                line += block.count(b"\n")
        with open_binary(self.path, self.file) as fh, io.TextIOWrapper(fh, encoding="utf-8-sig", newline="") as text:
            where = first_bad_record(bounded_lines(text))
        return Rejected(self.file, f"not a readable comma-separated file: {where}", "file:csv") if where else None


def read_table(path: Path, file: str, required: list[str], optional: list[str]) -> tuple[CsvFile, list[str]]:
    """A CSV file whose header must hold the `required` columns and may hold the `optional` ones."""
    csv_file = CsvFile(path, file)
    return csv_file, check_columns(csv_file.header, csv_file.header_line, file, required, optional)


def table_batches(csv_file: CsvFile, columns: list[str], optional: list[str]) -> Iterator[pl.DataFrame]:
    """The cleaned rows of a table file; a file without a data row is rejected."""
    rows = 0
    for frame in csv_file.batches(columns):
        rows += frame.height
        yield clean(frame, optional)
    if not rows:
        raise Rejected(csv_file.file, "header only, no data rows", "file:no_rows")
