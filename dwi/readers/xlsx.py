"""Agency spreadsheets (.xlsx): a title block, then a header block of two rows (measures, merged across
their years; years under each measure), then one row per region. Read with polars/calamine.

A layout file (YAML) says what the table means; see dwi/reference/layouts/README.md. The header is found
by content (the cell with the layout's `region_header` text), so title blocks of any height work."""

from __future__ import annotations

import html
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from dwi.config import REFERENCE_DIR, settings
from dwi.errors import DwiError
from dwi.readers import Identity, Read, slug
from dwi.readers.codes import tidy
from dwi.readers.text import Rejected
from dwi.reference import INDICATOR_FIELDS
from dwi.schemas.observations import UNUSABLE_CELLS
from dwi.sources.manifest import load_yaml

LAYOUTS = REFERENCE_DIR / "layouts"
MISSING = ["", "-", "–", "—", "..", "…", "x", "X"]
YEAR = re.compile(r"^\s*(\d{4})(?:\.0)?\s*$")


def _key(text: str | None) -> str:
    return re.sub(r"\s+", " ", str(text or "")).strip().lower()


def column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def _letter_index(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n - 1


def find_layout(path: Path, file: str, option: str | None) -> Path:
    """--layout or `layout:` (a file or a name in dwi/reference/layouts/), else <stem>.layout.yaml."""
    candidates = (
        [Path(option), path.parent / option, LAYOUTS / f"{option}.yaml"]
        if option
        else [path.with_name(path.name.split(".")[0] + ".layout.yaml")]
    )
    for c in candidates:
        if c.is_file():
            return c
    raise Rejected(
        file,
        f"no layout file for this spreadsheet (looked for {', '.join(str(c) for c in candidates)}); "
        "write one (see dwi/reference/layouts/README.md); pass it with --layout or `layout:` in the manifest",
        "file:layout",
    )


def read_layout(layout_file: Path, file: str) -> dict:
    try:
        layout = load_yaml(layout_file) or {}
    except DwiError as exc:
        raise Rejected(file, f"layout {exc}", "file:layout") from None
    missing = [k for k in ("region_header", "measures") if not isinstance(layout, dict) or not layout.get(k)]
    if missing:
        raise Rejected(file, f"layout {layout_file} is missing {', '.join(missing)}", "file:layout")
    return layout


def _sheet_part(z: zipfile.ZipFile, sheet: str) -> str:
    """The zip member holding a sheet's cells (KeyError/AttributeError when the workbook does not say)."""
    book = z.read("xl/workbook.xml").decode()
    rels = z.read("xl/_rels/workbook.xml.rels").decode()
    rid = re.search(rf'<sheet [^>]*name="{re.escape(sheet)}"[^>]*r:id="([^"]+)"', book).group(1)
    target = re.search(rf'<Relationship [^>]*Id="{rid}"[^>]*Target="([^"]+)"', rels) or re.search(
        rf'<Relationship [^>]*Target="([^"]+)"[^>]*Id="{rid}"', rels
    )
    name = target.group(1).lstrip("/")
    return name if name.startswith("xl/") else f"xl/{name}"


CELL_REF = re.compile(rb'<c r="([A-Z]{1,3})(\d{1,7})"')
# A cell holding a value as calamine reads it (a number, a shared or inline string, a cached result).
VALUE_REF = re.compile(rb'<c r="([A-Z]{1,3})(\d{1,7})"(?:[^>/]|/(?!>))*>(?:(?!</c>).)*?<(?:v>[^<]|is>)', re.S)
# A cell with a formula, and a cell holding an error value (t="e"): attributes, then the cell's content.
FORMULA_CELL = re.compile(rb"<c\s((?:[^>/]|/(?!>))*)>((?:(?!</c>).)*?<f[\s>/].*?)</c>", re.S)
ERROR_CELL = re.compile(rb'<c\s((?:[^>/]|/(?!>))*\bt="e"(?:[^>/]|/(?!>))*)>(.*?)</c>', re.S)
# A reference to another workbook: [1]Sheet1!A1 (an external link of this file), '[other.xlsx]Sheet'!A1 or
# 'C:\dir\[other.xlsx]Sheet'!A1, [1]!Name. A table's structured reference (Table1[Column]) has no '!'.
EXTERNAL = re.compile(r"\[[^\[\]]+\][^\[\]!(),;]*!")
# The text a formula cell without a usable value takes in the grid, so the checks quarantine it by rule
# (schemas/observations.py: value:formula_without_value, value:formula_error, value:external_link).
NO_VALUE, ERROR, EXTERNAL_LINK = (
    UNUSABLE_CELLS[k] for k in ("formula_without_value", "formula_error", "external_link")
)


@dataclass
class SheetScan:
    """What a sheet's XML says beyond calamine's values: where calamine's grid starts (the first row and
    column holding a value, 0-based), and the cells whose value must not be used, by (row, column) ->
    the text that replaces it."""

    origin: tuple[int, int] = (0, 0)
    marks: dict[tuple[int, int], str] = field(default_factory=dict)


def _recalculate(z: zipfile.ZipFile) -> bool:
    """Whether the workbook asks to be recalculated when opened (fullCalcOnLoad, set by writers that do not
    compute formulas, e.g. XlsxWriter, which saves 0 as every formula's result): its saved results are not
    values."""
    try:
        return bool(re.search(r'fullCalcOnLoad="(1|true)"', z.read("xl/workbook.xml").decode(errors="ignore")))
    except KeyError:
        return False


def _formula_marks(text: bytes, recalc: bool, shared: dict[bytes, str]) -> dict[tuple[int, int], str]:
    """The formula and error cells of a piece of sheet XML whose value must not load, with their texts."""
    marks = {}
    cells = {m.start(): m.groups() for m in FORMULA_CELL.finditer(text)} if b"<f" in text else {}
    if b't="e"' in text:
        cells |= {m.start(): m.groups() for m in ERROR_CELL.finditer(text)}
    for attrs, body in cells.values():
        ref = re.search(rb'\br="([A-Z]{1,3})(\d{1,7})"', attrs)
        if ref is None:
            continue  # a cell without its reference: calamine places it, dwi cannot name it
        kind = re.search(rb'\bt="(\w+)"', attrs)
        f = re.search(rb"<f\b([^>]*?)(?:/>|>(.*?)</f>)", body, re.S)
        formula = html.unescape(f.group(2).decode(errors="replace")) if f and f.group(2) else ""
        si = re.search(rb'\bsi="(\d+)"', f.group(1)) if f else None
        if si and formula:
            shared[si.group(1)] = formula  # a shared formula's first cell; the others name it by si
        elif si:
            formula = shared.get(si.group(1), "")
        shown = "=" + (formula if len(formula) <= 80 else formula[:80] + "...")
        v = re.search(rb"<v>(.*?)</v>", body, re.S)
        value = html.unescape(v.group(1).decode(errors="replace")).strip() if v else ""
        if kind and kind.group(1) == b"e":
            text_ = f"{ERROR}{value or '#VALUE!'}" + (f": {shown}" if f else "")
        elif not f:
            continue
        elif EXTERNAL.search(formula):
            text_ = EXTERNAL_LINK + shown
        elif recalc or not value:
            text_ = NO_VALUE + shown
        else:
            continue  # a formula of this workbook with its saved result: the result loads
        marks[(int(ref.group(2)) - 1, _letter_index(ref.group(1).decode()))] = text_
    return marks


def scan_sheet(path: Path, file: str, sheet: str) -> SheetScan:
    """Scan a sheet's XML as a stream (at most max_decompressed_bytes of it): reject a sheet whose used range
    (from its first to its last cell, as a reader allocates it) holds more than max_sheet_cells cells (one
    far-away cell would otherwise make the reader allocate the whole grid), and find where calamine's grid
    starts and the formula cells without a usable value (no saved result, an error, another workbook)."""
    conf = settings()
    rows, cols, vrows, vcols = [1 << 30, 0], [1 << 30, 0], [1 << 30, 0], [1 << 30, 0]
    marks: dict[tuple[int, int], str] = {}
    try:
        with zipfile.ZipFile(path) as z, z.open(_sheet_part(z, sheet)) as fh:
            recalc, shared, seen, tail = _recalculate(z), {}, 0, b""
            for block in iter(lambda: fh.read(1 << 20), b""):
                seen += len(block)
                if seen > conf.max_decompressed_bytes:
                    raise Rejected(
                        file,
                        f"sheet {sheet!r} expands to more than {conf.max_decompressed_bytes:,} bytes "
                        "(DWI_MAX_DECOMPRESSED_BYTES)",
                        "file:too_big",
                    )
                text = tail + block
                cut = text.rfind(b"</c>") + 4 if b"</c>" in text else 0
                if len(text) - cut > 1 << 24:  # no cell ends in 16 MiB: not a sheet calamine reads either
                    cut = len(text)
                done, tail = text[:cut], text[cut:]
                _bounds(CELL_REF.findall(done), rows, cols)
                _bounds(VALUE_REF.findall(done), vrows, vcols)
                marks |= _formula_marks(done, recalc, shared)
            _bounds(CELL_REF.findall(tail), rows, cols)
    except (KeyError, AttributeError, zipfile.BadZipFile, OSError, RuntimeError):
        return SheetScan()  # the reader names what is wrong with the workbook
    if rows[1]:
        cells = (rows[1] - rows[0] + 1) * (cols[1] - cols[0] + 1)
        if cells > conf.max_sheet_cells:
            far = f"{column_letter(cols[1])}{rows[1]}"
            raise Rejected(
                file,
                f"sheet {sheet!r} spans {column_letter(cols[0])}{rows[0]}:{far}, {cells:,} cells, more than "
                f"{conf.max_sheet_cells:,} (DWI_MAX_SHEET_CELLS); delete the stray cells (the last is {far}) or "
                "raise the limit",
                "file:too_big",
            )
    return SheetScan((vrows[0] - 1, vcols[0]) if vrows[1] else (0, 0), marks)


def _bounds(refs: list[tuple[bytes, bytes]], rows: list[int], cols: list[int]) -> None:
    """Widen [first, last] rows and columns (1-based rows, 0-based columns) to cover the cell references."""
    if not refs:
        return
    numbers = [int(n) for _, n in refs]
    letters = {c for c, _ in refs}
    rows[0], rows[1] = min(rows[0], *numbers), max(rows[1], *numbers)
    indices = [_letter_index(c.decode()) for c in letters]
    cols[0], cols[1] = min(cols[0], *indices), max(cols[1], *indices)


def refuse_huge_sheet(path: Path, file: str, sheet: str) -> None:
    """Reject a sheet too big to read (see scan_sheet)."""
    scan_sheet(path, file, sheet)


def _marked(grid: pl.DataFrame, scan: SheetScan) -> tuple[pl.DataFrame, tuple[int, int]]:
    """The grid with the marked cells' texts in place of their values, widened to hold the marked cells calamine
    leaves out (they hold no value), and the (row, column) where it starts."""
    if not scan.marks:
        return grid, scan.origin
    (r0, c0), where = scan.origin, list(scan.marks)
    if not grid.width:
        r0, c0 = min(r for r, _ in where), min(c for _, c in where)
    top, left = min(r0, *(r for r, _ in where)), min(c0, *(c for _, c in where))
    height = max(r0 + grid.height, *(r + 1 for r, _ in where)) - top
    width = max(c0 + grid.width, *(c + 1 for _, c in where)) - left
    by_column: dict[int, dict[int, str]] = {}
    for (r, c), text in scan.marks.items():
        by_column.setdefault(c - left, {})[r - top] = text
    columns = []
    for j in range(width):
        i = j - (c0 - left)
        inner = grid.get_column(grid.columns[i]).cast(pl.String) if 0 <= i < grid.width else None
        column = pl.concat(
            [
                pl.Series([None] * (r0 - top), dtype=pl.String),
                inner if inner is not None else pl.Series([None] * grid.height, dtype=pl.String),
                pl.Series([None] * (height - grid.height - (r0 - top)), dtype=pl.String),
            ]
        )
        if j in by_column:
            column = column.scatter(list(by_column[j]), list(by_column[j].values()))
        columns.append(column.alias(f"column_{j}"))
    return pl.DataFrame(columns), (top, left)


def read_sheet(path: Path, file: str, sheet: str | int) -> tuple[pl.DataFrame, str, tuple[int, int]]:
    """A sheet's cells as text (calamine's grid: from the first row and column holding a value), its name and
    the (row, column) of the grid's first cell, 0-based. A formula cell without a usable value (no saved
    result, an error, a reference to another workbook) holds a text saying so instead, for the checks to
    quarantine; a formula of this workbook with its saved result reads as that result."""
    try:
        import fastexcel

        names = fastexcel.read_excel(str(path)).sheet_names
    except Exception as exc:  # calamine raises several error types for a damaged workbook
        raise Rejected(
            file,
            f"not a readable .xlsx workbook ({str(exc).splitlines()[0][:120]}); "
            "open and save it again in a spreadsheet program",
            "file:xlsx",
        ) from None
    name = names[sheet] if isinstance(sheet, int) and sheet < len(names) else sheet
    if name not in names:
        raise Rejected(file, f"no sheet {sheet!r}; the workbook has {', '.join(map(repr, names))}", "file:sheet")
    scan = scan_sheet(path, file, name)
    frame = pl.read_excel(
        path,
        engine="calamine",
        sheet_name=name,
        has_header=False,
        infer_schema_length=0,
        drop_empty_rows=False,
        drop_empty_cols=False,
        raise_if_empty=False,
    )
    frame, origin = _marked(frame, scan)
    return frame, name, origin


def first_rows(path: Path, n: int = 1) -> list[list[str]]:
    """The first `n` rows of a workbook's first sheet, as text (for detection and identity); nothing when it
    cannot be read."""
    try:
        import fastexcel

        book = fastexcel.read_excel(str(path))
        refuse_huge_sheet(path, str(path), book.sheet_names[0])  # calamine allocates the whole used range
        sheet = book.load_sheet(0, header_row=None, n_rows=n).to_polars()
        return [["" if v is None else str(v) for v in row] for row in sheet.cast(pl.String).iter_rows()]
    except Exception:  # a damaged workbook: the reader says what is wrong with it
        return []


def detect(magic: bytes, names: list[str]) -> bool:
    """A zip archive with a workbook's parts (xl/...)."""
    return magic == b"PK\x03\x04" and any(n.startswith("xl/") for n in names)


def identify(path: Path, options: dict) -> Identity | None:
    """The table's title: the first row of the title block above the header (the rows before the first with
    two or more cells filled), on the layout's sheet (else the first). None for a sheet without a title."""
    try:
        sheet = read_layout(find_layout(path, path.name, options.get("layout")), path.name).get("sheet", 0)
    except Rejected:
        sheet = 0
    try:
        grid, name, _ = read_sheet(path, path.name, sheet)
    except Rejected:
        return None
    for row in grid.head(50).iter_rows():
        filled = [re.sub(r"\s+", " ", str(v)).strip() for v in row if v is not None and str(v).strip()]
        if len(filled) > 1:
            return None
        if filled:
            title = filled[0]
            return Identity(f"table:{_key(title)}", slug(title, 40), title)
    return None


def read(path: Path, file: str, options: dict) -> Read:
    layout_file = find_layout(path, file, options.get("layout"))
    layout = read_layout(layout_file, file)
    grid, sheet, (row0, col0) = read_sheet(path, file, layout.get("sheet", 0))
    cols = grid.columns
    where = lambda r, c: f"{column_letter(c + col0)}{r + row0 + 1}"  # noqa: E731
    target = _key(layout["region_header"])
    hits = [
        (r, c)
        for c, name in enumerate(cols)
        for r in grid.with_row_index("r").filter(
            pl.col(name).str.replace_all(r"\s+", " ").str.strip_chars().str.to_lowercase() == target
        )["r"]
    ]
    if not hits:
        raise Rejected(
            file,
            f"sheet {sheet!r}: no cell reads {layout['region_header']!r} (the layout's "
            f"region_header, {layout_file.name}); the header block was not found",
            "file:header",
        )
    hr, rc = hits[0]
    n_header = int(layout.get("header_rows", 2))
    measure_row = grid.row(hr, named=False)
    year_row = grid.row(hr + n_header - 1, named=False) if hr + n_header - 1 < grid.height else ()
    measures = {_key(k): v for k, v in layout["measures"].items()}
    years = {_key(k): v for k, v in (layout.get("years") or {}).items()}
    columns, current = [], None
    for c in range(rc + 1, len(cols)):
        head = measure_row[c]
        if head is not None and str(head).strip():
            current = _key(head)
            if current not in measures:
                raise Rejected(
                    file,
                    f"sheet {sheet!r}, cell {where(hr, c)}: expected a measure named in "
                    f"{layout_file.name} ({'; '.join(layout['measures'])}), found {str(head)!r}",
                    "file:header",
                    where(hr, c),
                )
        label = year_row[c] if c < len(year_row) else None
        if current is None or label is None or not str(label).strip():
            continue
        spec = years.get(_key(label))
        if spec is None:
            m = YEAR.match(str(label))
            if not m:
                raise Rejected(
                    file,
                    f"sheet {sheet!r}, cell {where(hr + n_header - 1, c)}: expected a year "
                    f"(e.g. 2011) or a period listed under `years` in {layout_file.name}, "
                    f"found {str(label)!r}",
                    "file:header",
                    where(hr + n_header - 1, c),
                )
            spec = {"year": int(m.group(1))}
        measure = measures[current]
        columns.append(
            {
                "column": cols[c],
                "letter": column_letter(c + col0),
                "indicator_code": measure["indicator"],
                "unit": measure.get("unit", layout.get("unit")),
                "year": str(spec["year"]),
                "period": spec.get("period", "Y"),
                "measure_text": str(measure_row_text(measure_row, c)),
                "year_text": str(label).strip(),
            }
        )
    if not columns:
        raise Rejected(file, f"sheet {sheet!r}: no measure x year columns right of {where(hr, rc)}", "file:header")
    body = grid.slice(hr + n_header).with_row_index("_row", offset=hr + n_header + row0 + 1)
    region = pl.col(cols[rc]).str.strip_chars()
    ends = body.with_row_index("i").filter(region.is_null() | (region == ""))["i"]
    if len(ends):
        body = body.head(int(ends[0]))  # the table ends at the first row without a region (footnotes follow)
    if not body.height:
        raise Rejected(file, f"sheet {sheet!r}: no data rows under the header at {where(hr, rc)}", "file:no_rows")
    spec = pl.DataFrame(columns)
    long = (
        body.select(pl.col("_row").cast(pl.Int64), region.alias("region"), *[pl.col(c["column"]) for c in columns])
        .unpivot(index=["_row", "region"], variable_name="column", value_name="value")
        .with_columns(pl.col("value").str.strip_chars())
        .filter(~(pl.col("value").is_null() | pl.col("value").is_in(layout.get("missing", MISSING))))
        .with_columns(number(pl.col("value")))  # "681 310", "12,5": spaces between digit groups, decimal comma
        .join(spec, on="column", how="left")
        .with_columns(
            pl.lit(layout.get("sex", "T")).alias("sex"),
            pl.lit(layout.get("country", "KAZ")).alias("country"),
            pl.concat_str(
                pl.lit(f"{file}, sheet '{sheet}', cell "),
                pl.col("letter"),
                pl.col("_row").cast(pl.String),
                pl.lit(" ("),
                pl.col("measure_text"),
                pl.lit(", "),
                pl.col("year_text"),
                pl.lit(")"),
            ).alias("source_ref"),
        )
        .sort("_row", "letter")
    )
    return Read(iter([tidy(long)]), [f"read with layout {layout_file}"], declared(layout, layout_file))


def declared(layout: dict, layout_file: Path) -> pl.DataFrame | None:
    """The indicators a layout declares itself (a measure with a `name`, besides its `indicator` code and
    `unit`, may give `element` and `definition`): registered with the file, so a table's own indicators need
    no entry in the package registry."""
    rows = [
        {
            "code": str(m["indicator"]),
            "name": str(m["name"]),
            "unit": m.get("unit", layout.get("unit")),
            "element": m.get("element"),
            "definition": m.get("definition"),
            "notes": f"declared in layout {layout_file.name}",
        }
        for m in layout["measures"].values()
        if isinstance(m, dict) and m.get("name")
    ]
    if not rows:
        return None
    frame = pl.concat([pl.DataFrame(schema=INDICATOR_FIELDS), pl.DataFrame(rows)], how="diagonal_relaxed")
    return frame.with_columns(pl.col("additive", "partial", "derived").fill_null(False)).unique("code", keep="first")


def number(text: pl.Expr) -> pl.Expr:
    """A spreadsheet's number as plain text (see dwi.readers.kazstat.number: digit-group spaces, decimal
    comma, a footnote mark); anything else as printed."""
    from dwi.readers import kazstat  # noqa: PLC0415  (kazstat builds on this module)

    return kazstat.number(text)


def measure_row_text(row: tuple, c: int) -> str:
    """The measure header over column c (merged cells hold their text in the first column only)."""
    while c >= 0 and (row[c] is None or not str(row[c]).strip()):
        c -= 1
    return re.sub(r"\s+", " ", str(row[c])).strip() if c >= 0 else ""
