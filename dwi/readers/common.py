"""What the readers share: the result type, the code-mapping tables and on-the-fly indicators."""

from __future__ import annotations

import dataclasses
import importlib
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from dwi.config import REFERENCE_DIR
from dwi.reference import INDICATOR_FIELDS, Reference

# Formats read by a module in dwi/readers/ and loaded as observations.
READER_FORMATS = ("ilostat", "wdi", "xlsx")
TIDY_COLUMNS = [
    "indicator_code",
    "region",
    "sex",
    "year",
    "period",
    "value",
    "unit",
    "obs_status",
    "source_ref",
    "note",
    "country",
    "classif1",
    "classif2",
    "scale",
]
AS_IN_SOURCE = "as in source"


@dataclass
class Tidy:
    frame: pl.DataFrame  # TIDY_COLUMNS as strings + `_row` (Int64)
    indicators: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=INDICATOR_FIELDS))
    notes: list[str] = field(default_factory=list)


def frame_format(fmt: str) -> str:
    """The format whose harmonise/schema/load target a frame of this file format uses."""
    return "observations" if fmt in READER_FORMATS else fmt


def read_source(path: Path, file: str, fmt: str, options: dict | None = None) -> Tidy:
    """Read a file with the reader for `fmt` (a module in dwi/readers/ with a `read` function)."""
    return importlib.import_module(f"dwi.readers.{fmt}").read(path, file, options or {})


def tidy(frame: pl.DataFrame) -> pl.DataFrame:
    """Select TIDY_COLUMNS (missing ones as nulls) as strings, plus `_row`."""
    cols = [
        (pl.col(c) if c in frame.columns else pl.lit(None)).cast(pl.String).alias(c) for c in TIDY_COLUMNS
    ]
    return frame.select(pl.col("_row").cast(pl.Int64), *cols)


def read_code_map(name: str) -> pl.DataFrame:
    """A mapping table in dwi/reference/ (columns: see the header of ilostat_map.csv)."""
    return pl.read_csv(REFERENCE_DIR / name, infer_schema=False, comment_prefix="#").with_columns(
        pl.col("scale").cast(pl.Float64)
    )


UNIT_WORDS = r"%|thousand|million|billion|currency|persons|number|hours|US\$|per "


def label_unit(label: pl.Expr) -> pl.Expr:
    """The unit in a label's parentheses: 'Employment by sex and age (thousands)' -> 'thousands';
    the last parenthesis that names a unit wins ('(% of ...) (modeled ILO estimate)' -> '% of ...')."""
    return (
        label.str.extract_all(r"\([^()]*\)")
        .list.eval(pl.element().str.strip_chars("()"))
        .list.filter(pl.element().str.contains(UNIT_WORDS))
        .list.last()
    )


def apply_code_map(
    frame: pl.DataFrame, code_map: pl.DataFrame, file: str, map_name: str, ilostat: bool
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Map source indicator codes to dwi codes (with unit and scale); register unmapped codes as indicators.

    `frame` has `source_code`, `source_label` (may be null) and `classif1` (may be null). A map row with a
    classif1 applies only to rows with that classif1; one without applies to every row of the code.
    Rows of a code the map does not cover keep the source code as their indicator code (never dropped)."""
    specific = code_map.filter(pl.col("classif1").is_not_null()).select(
        pl.col("source_code"),
        "classif1",
        pl.col("dwi_code").alias("c1"),
        pl.col("scale").alias("s1"),
        pl.col("dwi_unit").alias("u1"),
    )
    general = code_map.filter(pl.col("classif1").is_null()).select(
        pl.col("source_code"),
        pl.col("dwi_code").alias("c2"),
        pl.col("scale").alias("s2"),
        pl.col("dwi_unit").alias("u2"),
    )
    source_units = (
        code_map.filter(pl.col("source_unit").is_not_null())
        .group_by("source_code")
        .agg(pl.col("source_unit").first())
    )
    out = (
        frame.join(specific, on=["source_code", "classif1"], how="left", nulls_equal=False)
        .join(general, on="source_code", how="left")
        .join(source_units, on="source_code", how="left")
        .with_columns(pl.coalesce("c1", "c2").alias("dwi_code"))
    )
    mapped = pl.col("dwi_code").is_not_null()
    out = out.with_columns(
        pl.coalesce("dwi_code", "source_code").alias("indicator_code"),
        pl.when(mapped)
        .then(pl.coalesce("u1", "u2"))
        .otherwise(pl.coalesce("source_unit", label_unit(pl.col("source_label")), pl.lit(AS_IN_SOURCE)))
        .alias("unit"),
        pl.when(mapped).then(pl.coalesce("s1", "s2")).otherwise(None).alias("scale"),
    )
    fresh = (
        out.filter(~mapped)
        .group_by("source_code", maintain_order=True)
        .agg(pl.col("source_label").drop_nulls().first(), pl.col("unit").first())
        .select(
            pl.col("source_code").alias("code"),
            pl.coalesce("source_label", "source_code").alias("name"),
            "unit",
            (pl.col("source_code") if ilostat else pl.lit(None, pl.String)).alias("ilostat"),
            pl.lit(
                f"registered on the fly from {file}: the code is not in dwi/reference/{map_name}, "
                f"so it loads as an indicator of its own; unit as in the source"
            ).alias("notes"),
        )
    )
    registry = pl.DataFrame(schema=INDICATOR_FIELDS)
    fresh = (
        pl.concat([registry, fresh], how="diagonal_relaxed")
        .with_columns(pl.col("additive", "partial", "derived").fill_null(False))
        .select(list(INDICATOR_FIELDS))
    )
    return out.drop("c1", "c2", "s1", "s2", "u1", "u2", "dwi_code", "source_unit"), fresh


def extend_reference(ref: Reference, indicators: pl.DataFrame | None) -> Reference:
    """The reference with the indicators a file registered on the fly (those not already in the registry)."""
    if indicators is None or not indicators.height:
        return ref
    new = indicators.filter(~pl.col("code").is_in(ref.indicators["code"].implode()))
    return dataclasses.replace(
        ref, indicators=pl.concat([ref.indicators, new.select(ref.indicators.columns)])
    )


PERIOD_RE = r"^(\d{4})(?:([QM])(\d{1,2}))?$"


def split_time(time: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """ILOSTAT time '2011' / '2011Q1' / '2011M01' -> (year string, period string Y/Q1/M01); else nulls
    (year keeps the text as found so validation can name it)."""
    year = time.str.extract(PERIOD_RE, 1)
    kind, num = time.str.extract(PERIOD_RE, 2), time.str.extract(PERIOD_RE, 3)
    period = (
        pl.when(year.is_null())
        .then(pl.lit("?"))
        .when(kind.is_null())
        .then(pl.lit("Y"))
        .when(kind == "Q")
        .then(pl.concat_str(pl.lit("Q"), num.cast(pl.Int32).cast(pl.String)))
        .otherwise(pl.concat_str(pl.lit("M"), num.str.zfill(2)))
    )
    return pl.coalesce(year, time), period
