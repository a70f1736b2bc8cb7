"""The XLSX workbook of `dwi export`: README sheet, one sheet per table, a quality sheet (XlsxWriter).

Text is always written as a string cell (the workbook is opened with strings_to_formulas off), so a
value such as "=HYPERLINK(...)" is shown as text and never evaluated.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import xlsxwriter

MAX_WIDTH = 60


def _width(frame: pl.DataFrame, name: str) -> int:
    longest = frame.select(pl.col(name).cast(pl.String).str.len_chars().max()).item() if frame.height else 0
    return max(8, min(MAX_WIDTH, max(len(name), longest or 0) + 2))


def _write_table(book, sheet_name: str, frame: pl.DataFrame, fmt: dict) -> None:
    ws = book.add_worksheet(sheet_name)
    ws.freeze_panes(1, 0)
    for j, (name, dtype) in enumerate(frame.schema.items()):
        ws.write_string(0, j, name, fmt["header"])
        col = frame[name]
        if dtype == pl.String:
            ws.set_column(j, j, _width(frame, name), fmt["text"])
            for i, v in enumerate(col.to_list(), start=1):  # typed string cells: never a formula
                if v is not None:
                    ws.write_string(i, j, v)
        elif dtype.is_integer():
            big = name not in ("year", "load_id", "row", "source_row", "convention_no", "n", "diff_n")
            ws.set_column(j, j, _width(frame, name), fmt["count" if big else "int"])
            ws.write_column(1, j, col.to_list())
        elif dtype.is_float():
            ws.set_column(j, j, max(_width(frame, name), 12), fmt["float"])
            if name == "value" and "unit" in frame.columns:
                _write_values(ws, j, frame, fmt)
            else:
                ws.write_column(1, j, [None if v is None or v != v else v for v in col.to_list()])
        elif dtype == pl.Boolean:
            ws.set_column(j, j, _width(frame, name))
            ws.write_column(1, j, col.to_list())
        elif dtype in (pl.Date, pl.Datetime) or isinstance(dtype, pl.Datetime):
            ws.set_column(j, j, 20, fmt["date" if dtype == pl.Date else "datetime"])
            for i, v in enumerate(col.to_list(), start=1):
                if v is not None:
                    ws.write_datetime(i, j, v, fmt["date" if dtype == pl.Date else "datetime"])
        else:
            ws.set_column(j, j, _width(frame, name), fmt["text"])
            for i, v in enumerate(col.cast(pl.String).to_list(), start=1):
                if v is not None:
                    ws.write_string(i, j, v)
    if frame.width:
        ws.autofilter(0, 0, max(frame.height, 1), frame.width - 1)


def _write_values(ws, j: int, frame: pl.DataFrame, fmt: dict) -> None:
    """The value column: whole numbers with thousands separators, shares with one decimal or more."""
    values = frame["value"].to_list()
    units = frame["unit"].to_list()
    for i, (v, unit) in enumerate(zip(values, units, strict=True), start=1):
        if v is None or v != v:
            continue
        style = "percent" if unit == "percent" else ("count" if float(v).is_integer() else "float")
        ws.write_number(i, j, v, fmt[style])


def write_workbook(
    path: Path, tables: dict[str, pl.DataFrame], meta: dict, columns: dict[str, str], missing: list[str]
) -> None:
    book = xlsxwriter.Workbook(
        str(path),
        {
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "strings_to_numbers": False,
            "nan_inf_to_errors": False,
        },
    )
    fmt = {
        "header": book.add_format({"bold": True, "bg_color": "#DDE4EE", "bottom": 1, "text_wrap": False}),
        "text": book.add_format({}),
        "int": book.add_format({"num_format": "0"}),
        "count": book.add_format({"num_format": "#,##0"}),
        "float": book.add_format({"num_format": "#,##0.0##"}),
        "percent": book.add_format({"num_format": "0.0##"}),
        "date": book.add_format({"num_format": "yyyy-mm-dd"}),
        "datetime": book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"}),
        "title": book.add_format({"bold": True, "font_size": 14}),
        "bold": book.add_format({"bold": True}),
        "wrap": book.add_format({"text_wrap": True, "valign": "top"}),
    }
    _readme(book, tables, meta, columns, missing, fmt)
    for name, frame in tables.items():
        _write_table(book, name[:31], frame, fmt)
    book.close()


def _readme(book, tables, meta, columns, missing, fmt) -> None:
    ws = book.add_worksheet("README")
    ws.set_column(0, 0, 24)
    ws.set_column(1, 1, 60)
    ws.set_column(2, 4, 18)
    ws.set_column(3, 3, 66)
    row = 0

    def line(a: str, b: str = "", style=None) -> None:
        nonlocal row
        ws.write_string(row, 0, a, style or fmt["bold"])
        if b:
            ws.write_string(row, 1, b)
        row += 1

    line("dwi: decent-work indicators", style=fmt["title"])
    line("generated (UTC)", meta["generated"])
    line("dwi version", str(meta["dwi_version"]))
    line("build fingerprint", str(meta["build_fingerprint"]))
    line("SDMX dataflow", meta["dataflow"])
    line(
        "formula injection",
        "Text is stored as text cells and never evaluated; the CSV/JSON/Parquet "
        "exports prefix text starting with = + - @ (or a tab/CR) with an apostrophe.",
    )
    row += 1
    line("Sheets")
    for name, frame in tables.items():
        line(f"  {name}", f"{frame.height} rows")
    for view in missing:
        line(f"  ({view})", "not available in this warehouse")
    row += 1
    line("Vintage: the current load of each source")
    for j, head in enumerate(("source_id", "title", "load_id", "sha256", "reference_date")):
        ws.write_string(row, j, head, fmt["header"])
    row += 1
    for v in meta["vintage"]:
        ws.write_string(row, 0, str(v["source_id"]))
        ws.write_string(row, 1, str(v["title"] or ""))
        if v["load_id"] is not None:
            ws.write_number(row, 2, v["load_id"], fmt["int"])
        ws.write_string(row, 3, str(v["sha256"] or ""))
        ws.write_string(row, 4, str(v["reference_date"] or ""))
        row += 1
    row += 1
    line("Columns of indicator_values")
    for name, meaning in columns.items():
        ws.write_string(row, 0, name)
        ws.write_string(row, 1, meaning)
        row += 1
    row += 1
    line("Definitions", "of each indicator: the indicators sheet (name, unit, element, definition, method)")
