"""World Bank / WDI-style CSV: metadata lines above the header, one column per year ('2011' or
'2011 [YR2011]'), '..' or an empty cell = missing. Unpivoted to one observation per non-missing cell;
missing cells are not observations. Codes map through dwi/reference/wdi_map.csv like ILOSTAT's."""

from __future__ import annotations

import io
import re
from pathlib import Path

import polars as pl

from dwi.read import Rejected, decode
from dwi.readers.common import Tidy, apply_code_map, read_code_map, tidy

YEAR_COLUMN = re.compile(r"^(\d{4})(?: \[YR\d{4}\])?$")
COUNTRY = "Country Code"
CODE = ("Indicator Code", "Series Code")
LABEL = ("Indicator Name", "Series Name")
KNOWN = {COUNTRY, "Country Name", *CODE, *LABEL}
MAP = "wdi_map.csv"
SCAN = 30  # metadata lines allowed above the header


def header_line(lines: list[str]) -> int | None:
    """Index of the first line that names a country-code column and an indicator/series-code column."""
    for i, line in enumerate(lines[:SCAN]):
        if COUNTRY in line and any(c in line for c in CODE):
            return i
    return None


def read(path: Path, file: str, options: dict) -> Tidy:
    text, notes = decode(path.read_bytes(), file)
    lines = text.splitlines()
    h = header_line(lines)
    if h is None:
        raise Rejected(
            file,
            f"no header row with '{COUNTRY}' and '{CODE[0]}' (or '{CODE[1]}') in the first "
            f"{SCAN} lines; expected a WDI-style CSV",
            "file:columns",
        )
    try:
        frame = pl.read_csv(io.StringIO("\n".join(lines[h:])), infer_schema=False, has_header=True)
    except (pl.exceptions.ComputeError, pl.exceptions.NoDataError) as exc:
        raise Rejected(
            file, f"not a readable comma-separated file: {str(exc).splitlines()[0]}", "file:csv"
        ) from None
    frame = frame.select([c for c in frame.columns if c.strip()])  # WDI lines end with a comma
    frame.columns = [c.strip() for c in frame.columns]
    code = next(c for c in CODE if c in frame.columns)
    label = next((c for c in LABEL if c in frame.columns), None)
    years = [c for c in frame.columns if YEAR_COLUMN.match(c)]
    if not years:
        raise Rejected(file, "no year columns (headers such as 2011 or '2011 [YR2011]')", "file:columns")
    other = [c for c in frame.columns if c not in KNOWN and c not in years]
    if other:
        raise Rejected(
            file,
            f"unexpected column(s) {', '.join(repr(c) for c in other)}; expected {COUNTRY}, "
            f"{code}, names and one column per year",
            "file:columns",
            other[0],
        )
    frame = frame.with_row_index("_row", offset=h + 2).with_columns(pl.col("_row").cast(pl.Int64))
    # Line numbers assume one line per record (WDI files have no embedded newlines).
    long = frame.unpivot(
        index=["_row", COUNTRY, code, *([label] if label else [])],
        on=years,
        variable_name="column",
        value_name="value",
    ).with_columns(pl.col("value").str.strip_chars())
    missing = pl.col("value").is_null() | pl.col("value").is_in(["", ".."])
    n_missing = long.filter(missing).height
    long = long.filter(~missing)
    if not long.height:
        raise Rejected(file, "every year cell is empty or '..'; nothing to load", "file:no_rows")
    notes.append(f"{n_missing} empty or '..' year cell(s) are missing values, not observations")
    long = long.with_columns(
        pl.col(code).alias("source_code"),
        (pl.col(label) if label else pl.lit(None, pl.String)).alias("source_label"),
        pl.lit(None, pl.String).alias("classif1"),
        pl.col(COUNTRY).str.to_uppercase().alias("country"),
        pl.col(COUNTRY).str.to_uppercase().alias("region"),
        pl.col("column").str.extract(YEAR_COLUMN.pattern, 1).alias("year"),
        pl.lit("Y").alias("period"),
        pl.concat_str(
            pl.lit("WDI "),
            pl.col(code),
            pl.lit(", "),
            pl.col(COUNTRY),
            pl.lit(", column '"),
            pl.col("column"),
            pl.lit("'"),
        ).alias("source_ref"),
    ).sort("_row", "year")
    mapped, fresh = apply_code_map(long, read_code_map(MAP), file, MAP, ilostat=False)
    return Tidy(tidy(mapped), fresh, notes)
