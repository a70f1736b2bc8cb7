"""ILOSTAT bulk CSV (`<INDICATOR>_A.csv.gz` or plain .csv; codes only or with `<column>.label` columns).

ref_area stays in the `country` dimension (ISO3 or aggregate code); rows for KAZ get region KZ, rows for
any other area get the area code itself as their region. Indicator codes map to dwi codes through
dwi/reference/ilostat_map.csv; codes it does not cover load under their own ILOSTAT code."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import polars as pl

from dwi.readers import Identity, Read, slug
from dwi.readers.codes import apply_code_map, merge_indicators, per_distinct, read_code_map, split_time, tidy
from dwi.readers.text import Rejected, head_records, read_table, table_batches

REQUIRED = ["ref_area", "indicator", "time", "obs_value"]
CODES = [
    "ref_area",
    "source",
    "indicator",
    "sex",
    "classif1",
    "classif2",
    "time",
    "obs_value",
    "obs_status",
    "note_classif",
    "note_indicator",
    "note_source",
]
OPTIONAL = [c for c in CODES if c not in REQUIRED] + [f"{c}.label" for c in CODES if c != "obs_value"]
NOTES = ("note_classif", "note_indicator", "note_source")
MAP = "ilostat_map.csv"


def _text(col: str) -> pl.Expr:
    """The label where the file has one, else the code."""
    return pl.coalesce(pl.col(f"{col}.label"), pl.col(col))


def detect(header: set[str]) -> bool:
    """A header with ILOSTAT's code columns (or their `.label` twins)."""
    return set(REQUIRED) <= {c.removesuffix(".label") for c in header}


FREQUENCY = {"": "A", "Q": "Q", "M": "M"}  # from the time code: 2011, 2011Q1, 2011M01


def identify(path: Path, options: dict) -> Identity | None:
    """ILOSTAT's dataset: the indicator id and the frequency of the first observation ('UNE_2EAP_SEX_AGE_RT',
    annual), the same for every download of it whatever the file's name or date stamp. The indicator's label
    stands in for a file without the code column. None when the head holds no observation."""
    records = head_records(path)
    if len(records) < 2:
        return None
    header = [c.strip() for c in records[0]]
    row = dict(zip(header, records[1], strict=False))
    indicator = (row.get("indicator") or row.get("indicator.label") or "").strip()
    time = re.match(r"^\s*\d{4}([QM]?)", row.get("time") or row.get("time.label") or "")
    if not indicator or time is None:
        return None
    freq = FREQUENCY[time.group(1)]
    words = {"A": "annual", "Q": "quarterly", "M": "monthly"}[freq]
    return Identity(f"ilostat:{indicator}:{freq}", slug(f"{indicator}_{freq}"), f"ILOSTAT {indicator} ({words})")


def read(path: Path, file: str, options: dict) -> Read:
    csv_file, columns = read_table(path, file, REQUIRED, OPTIONAL)
    result = Read(iter(()), csv_file.notes)
    result.batches = _batches(table_batches(csv_file, columns, OPTIONAL), file, result)
    return result


def _batches(frames: Iterator[pl.DataFrame], file: str, result: Read) -> Iterator[pl.DataFrame]:
    """Rows without obs_value are missing values, not observations: counted in a note, not read."""
    code_map, empty, empty_rows, kept = read_code_map(MAP), 0, [], 0
    for frame in frames:
        missing = frame.filter(pl.col("obs_value").is_null())["_row"]
        empty += missing.len()
        empty_rows += missing.head(10 - len(empty_rows)).to_list()
        frame = frame.filter(pl.col("obs_value").is_not_null())
        if frame.height:
            kept += frame.height
            rows, fresh = from_strings(frame, file, code_map)
            result.indicators = merge_indicators(result.indicators, fresh)
            yield rows
    if empty:
        result.notes.append(
            f"{empty} row(s) have no obs_value (rows {', '.join(map(str, empty_rows))}"
            f"{' ...' if empty > 10 else ''}); empty cells are missing values, not observations"
        )
    if not kept:
        raise Rejected(file, "no row has an obs_value; nothing to load", "file:no_rows", "obs_value")


def from_strings(frame: pl.DataFrame, file: str, code_map: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Rows as read (strings + `_row`, every one with an obs_value) to the tidy layout, and the codes the
    mapping table does not cover (registered as indicators of their own)."""
    year, period = split_time(pl.col("time"))
    note = pl.concat_str(
        [pl.when(_text(n).is_not_null()).then(pl.concat_str(pl.lit(f"{n}: "), _text(n))) for n in NOTES],
        separator="; ",
        ignore_nulls=True,
    )
    # Codes, periods and sexes are few: parse them once per distinct value (per_distinct), not per row.
    frame = per_distinct(
        frame.with_columns(pl.col("indicator").alias("source_code"), pl.col("indicator.label").alias("source_label")),
        ["ref_area", "sex", "time"],
        country=pl.col("ref_area").str.to_uppercase(),
        region=pl.col("ref_area").str.to_uppercase(),
        sex=pl.col("sex").fill_null("SEX_T").str.replace(r"^SEX_", ""),
        year=year,
        period=period,
    ).with_columns(
        pl.col("obs_value").alias("value"),
        pl.concat_str(
            pl.lit("ILOSTAT "),
            pl.col("indicator"),
            pl.lit(", source "),
            _text("source").fill_null("not stated"),
            pl.lit(", "),
            pl.col("ref_area"),
            pl.lit(" "),
            pl.col("time"),
        ).alias("source_ref"),
        pl.when(note != "").then(note).alias("note"),
    )
    mapped, fresh = apply_code_map(frame, code_map, file, MAP, ilostat=True)
    return tidy(mapped), fresh
