"""World Bank / WDI-style CSV: metadata lines above the header, one column per year ('2011' or
'2011 [YR2011]'), '..' or an empty cell = missing. Unpivoted to one observation per non-missing cell;
missing cells are not observations. Codes map through dwi/reference/wdi_map.csv like ILOSTAT's."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import polars as pl

from dwi.readers import Identity, Read, slug
from dwi.readers.codes import apply_code_map, merge_indicators, read_code_map, tidy
from dwi.readers.text import CsvFile, Rejected, head_records, head_text

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


def detect(lines: list[str]) -> bool:
    return header_line(lines) is not None


def identify(path: Path, options: dict) -> Identity | None:
    """The World Bank dataset: its indicator (series) code, e.g. 'NY.GDP.MKTP.CD' for every download of GDP
    in current US$; the sorted codes of a file with several (a DataBank export). None without a code."""
    records = head_records(path)
    at = next((i for i, r in enumerate(records[:SCAN]) if COUNTRY in r and any(c in r for c in CODE)), None)
    if at is None:
        return None
    header = [c.strip() for c in records[at]]
    col = header.index(next(c for c in CODE if c in header))
    codes = sorted({r[col].strip() for r in records[at + 1 :] if len(r) > col and r[col].strip()})
    if not codes:
        return None
    more = f"_and_{len(codes) - 1}_more" if len(codes) > 1 else ""
    return Identity(f"worldbank:{'+'.join(codes)}", slug(codes[0]) + more, f"World Bank {', '.join(codes)}")


def read(path: Path, file: str, options: dict) -> Read:
    h = header_line(head_text(path).splitlines())
    if h is None:
        CsvFile(path, file).close()  # the file's own problems (not text, empty) are named first
        raise Rejected(
            file,
            f"no header row with '{COUNTRY}' and '{CODE[0]}' (or '{CODE[1]}') in the first "
            f"{SCAN} lines; expected a WDI-style CSV",
            "file:columns",
        )
    csv_file = CsvFile(path, file, skip=h)
    columns = [c.strip() for c in csv_file.header]
    named = [c for c in columns if c]  # WDI lines end with a comma
    code = next((c for c in CODE if c in named), None)
    if COUNTRY not in named or code is None:
        raise Rejected(
            file,
            f"no header row with '{COUNTRY}' and '{CODE[0]}' (or '{CODE[1]}') in the first "
            f"{SCAN} lines; expected a WDI-style CSV",
            "file:columns",
        )
    label = next((c for c in LABEL if c in named), None)
    years = [c for c in named if YEAR_COLUMN.match(c)]
    if not years:
        raise Rejected(file, "no year columns (headers such as 2011 or '2011 [YR2011]')", "file:columns")
    other = [c for c in named if c not in KNOWN and c not in years]
    if other:
        raise Rejected(
            file,
            f"unexpected column(s) {', '.join(repr(c) for c in other)}; expected {COUNTRY}, "
            f"{code}, names and one column per year",
            "file:columns",
            other[0],
        )
    renamed = [c or f"_unnamed_{i}" for i, c in enumerate(columns)]
    result = Read(iter(()), csv_file.notes)
    result.batches = _batches(csv_file.batches(renamed), file, code, label, years, result)
    return result


def _batches(
    frames: Iterator[pl.DataFrame], file: str, code: str, label: str | None, years: list[str], result: Read
) -> Iterator[pl.DataFrame]:
    """One observation per year cell that holds something; empty and '..' cells are missing values."""
    code_map, n_missing, kept = read_code_map(MAP), 0, 0
    for frame in frames:
        long = frame.unpivot(
            index=["_row", COUNTRY, code, *([label] if label else [])],
            on=years,
            variable_name="column",
            value_name="value",
        ).with_columns(pl.col("value").str.strip_chars())
        missing = pl.col("value").is_null() | pl.col("value").is_in(["", ".."])
        n_missing += long.filter(missing).height
        long = long.filter(~missing)
        if not long.height:
            continue
        kept += long.height
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
        mapped, fresh = apply_code_map(long, code_map, file, MAP, ilostat=False)
        result.indicators = merge_indicators(result.indicators, fresh)
        yield tidy(mapped)
    if not kept:
        raise Rejected(file, "every year cell is empty or '..'; nothing to load", "file:no_rows")
    result.notes.append(f"{n_missing} empty or '..' year cell(s) are missing values, not observations")
