"""ILOSTAT bulk CSV (`<INDICATOR>_A.csv.gz` or plain .csv; codes only or with `<column>.label` columns).

ref_area stays in the `country` dimension (ISO3 or aggregate code); rows for KAZ get region KZ, rows for
any other area get the area code itself as their region. Indicator codes map to dwi codes through
dwi/reference/ilostat_map.csv; codes it does not cover load under their own ILOSTAT code."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from dwi.read import Rejected, read_csv
from dwi.readers.common import Tidy, apply_code_map, per_distinct, read_code_map, split_time, tidy

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


def read(path: Path, file: str, options: dict) -> Tidy:
    frame, notes = read_csv(path, file, REQUIRED, OPTIONAL)
    return from_strings(frame, file, notes)


def from_strings(frame: pl.DataFrame, file: str, notes: list[str]) -> Tidy:
    """Rows as read (strings + `_row`) to the tidy layout; also used per batch on big files (dwi.bulk)."""
    empty = frame.filter(pl.col("obs_value").is_null())
    if empty.height:
        notes.append(
            f"{empty.height} row(s) have no obs_value (rows {', '.join(map(str, empty['_row'][:10]))}"
            f"{' ...' if empty.height > 10 else ''}); empty cells are missing values, not observations"
        )
        frame = frame.filter(pl.col("obs_value").is_not_null())
    if not frame.height:
        raise Rejected(file, "no row has an obs_value; nothing to load", "file:no_rows", "obs_value")
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
    mapped, fresh = apply_code_map(frame, read_code_map(MAP), file, MAP, ilostat=True)
    return Tidy(tidy(mapped), fresh, notes)
