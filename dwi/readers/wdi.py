"""World Bank CSV, one column per year, in the shapes the World Bank serves it:

- the bulk download (API_<code>_DS2_*.csv): a byte-order mark, four metadata lines ("Data Source", "Last
  Updated Date") above the header, every line ending with a comma;
- the same data CSV without the metadata lines;
- a DataBank export: `Series Name, Series Code, Country Name, Country Code, 2017 [YR2017], ...` ('Country' or
  'Economy' for the name column), '..' for missing, and footer lines ("Data from database: ...",
  "Last Updated: ...") under the data.

Unpivoted to one observation per cell that holds something; empty and '..' cells are missing values, not
observations. Each observation keeps the file's column it came from (`_column`), so a bad cell is named by
its row and column and quarantines that cell alone, never the row's other years. Every area loads, countries
and the World Bank's aggregates (WLD, ECA, HIC ...) alike. Codes map through dwi/reference/wdi_map.csv like
ILOSTAT's; a code it does not cover loads under its own World Bank code."""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import polars as pl

from dwi.readers import Identity, Read, slug
from dwi.readers.codes import apply_code_map, merge_indicators, read_code_map, tidy
from dwi.readers.text import CsvFile, Rejected, clean, head_records, head_text

YEAR_COLUMN = re.compile(r"^(\d{4})(?: \[YR\d{4}\])?$")
COUNTRY = "Country Code"
CODE = ("Indicator Code", "Series Code")
LABEL = ("Indicator Name", "Series Name")
NAMES = ("Country Name", "Country", "Economy", "Economy Name")
KNOWN = {COUNTRY, *NAMES, *CODE, *LABEL}
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
    lines = head_text(path).splitlines()
    h = header_line(lines)
    if h is None:
        CsvFile(path, file).close()  # the file's own problems (not text, empty) are named first
        raise Rejected(
            file,
            f"no header row with '{COUNTRY}' and '{CODE[0]}' (or '{CODE[1]}') in the first "
            f"{SCAN} lines; expected a WDI-style CSV",
            "file:columns",
        )
    above = [m for m in map(_metadata, lines[:h]) if m]
    csv_file = CsvFile(path, file, skip=h)
    if above:
        csv_file.notes.append(f"metadata above the header: {'; '.join(above)}")
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
    """One observation per year cell that holds something; empty and '..' cells are missing values. Rows
    without a country code and a series code are not data: blank lines are skipped and DataBank's footer
    lines ("Data from database: ...") become notes."""
    code_map, n_missing, kept, footer = read_code_map(MAP), 0, 0, []
    for frame in frames:
        frame = frame.with_columns(pl.col(COUNTRY, code).str.strip_chars().replace("", None))
        apart = pl.col(COUNTRY).is_null() & pl.col(code).is_null()
        texts = frame.filter(apart).select(
            "_row", pl.concat_str(pl.exclude("_row").str.strip_chars(), separator=" ", ignore_nulls=True).alias("t")
        )
        footer += [f"row {r}: '{t.strip()}'" for r, t in texts.iter_rows() if t.strip()]
        frame = frame.filter(~apart)
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
            pl.col("column").alias("_column"),
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
    if footer:
        result.notes.append(f"lines under the data, not observations: {', '.join(footer)}")


def _metadata(line: str) -> str:
    """A metadata line above the header ('"Last Updated Date","2025-04-15",') as 'Last Updated Date: 2025-04-15'."""
    return ": ".join(c.strip() for c in next(csv.reader([line]), []) if c.strip())


def identify_countries(path: Path, options: dict) -> Identity:
    """Every download's Metadata_Country is the World Bank's one list of areas: a new one is a new vintage."""
    return Identity("worldbank:countries", "wb_countries", "World Bank areas (Metadata_Country)")


def identify_indicators(path: Path, options: dict) -> Identity | None:
    """A Metadata_Indicator file describes the indicator(s) it names: 'worldbank-metadata:NY.GDP.MKTP.CD'."""
    records = head_records(path)
    codes = sorted({r[0].strip() for r in records[1:] if r and r[0].strip()})
    if not codes:
        return None
    more = f"_and_{len(codes) - 1}_more" if len(codes) > 1 else ""
    return Identity(
        f"worldbank-metadata:{'+'.join(codes)}",
        f"wb_indicator_{slug(codes[0])}{more}",
        f"World Bank indicator metadata, {', '.join(codes)}",
    )


def metadata_reader(columns: dict[str, str]) -> Callable[[Path, str, dict], Read]:
    """The reader of a bulk download's metadata companion (Metadata_Country_*.csv, Metadata_Indicator_*.csv):
    the World Bank's `columns` renamed to dwi's, the empty column of the trailing comma dropped."""

    def read(path: Path, file: str, options: dict) -> Read:
        csv_file = CsvFile(path, file)
        header = [c.strip() for c in csv_file.header]
        missing = [c for c in columns if c not in header]
        extra = [c for c in header if c and c not in columns]
        if missing or extra:
            csv_file.close()
            raise Rejected(
                file,
                f"expected the columns {', '.join(columns)}"
                + (f"; missing {', '.join(missing)}" if missing else "")
                + (f"; unexpected {', '.join(repr(c) for c in extra)}" if extra else ""),
                "file:columns",
                (missing or extra)[0],
            )
        names = [columns.get(c) or f"_unnamed_{i}" for i, c in enumerate(header)]
        frames = (clean(f.select("_row", *columns.values())) for f in csv_file.batches(names))
        return Read(_not_empty(frames, file), csv_file.notes)

    return read


def _not_empty(frames: Iterator[pl.DataFrame], file: str) -> Iterator[pl.DataFrame]:
    rows = 0
    for frame in frames:
        rows += frame.height
        yield frame
    if not rows:
        raise Rejected(file, "header only, no data rows", "file:no_rows")
