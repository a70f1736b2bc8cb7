"""What the readers of other agencies' files share: the tidy observation layout, code-mapping tables,
indicators registered on the fly, and computing a column once per distinct code rather than per row."""

from __future__ import annotations

import dataclasses

import polars as pl

from dwi.config import REFERENCE_DIR
from dwi.reference import INDICATOR_FIELDS, Reference

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


def tidy(frame: pl.DataFrame) -> pl.DataFrame:
    """Select TIDY_COLUMNS (missing ones as nulls) as strings, plus `_row` and, for a wide file (a column per
    year), `_column`: the file's column the value came from, named by the issues about that cell."""
    cols = [(pl.col(c) if c in frame.columns else pl.lit(None)).cast(pl.String).alias(c) for c in TIDY_COLUMNS]
    cell = [pl.col("_column")] if "_column" in frame.columns else []
    return frame.select(pl.col("_row").cast(pl.Int64), *cols, *cell)


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


def join_distinct(frame: pl.DataFrame, values: pl.DataFrame, on: list[str]) -> pl.DataFrame:
    """`frame` with the other columns of `values` (one row per distinct `on`; nulls match nulls) added or
    replaced, in row order. Only the key is joined (on a 64-bit hash of `on` when the hash has no collision
    among `values`' keys, else on the columns), so the frame's own columns are not copied."""
    key = pl.struct(on).hash().alias("_key_hash")
    hashed = values.with_columns(key)
    if hashed["_key_hash"].n_unique() == hashed.height:
        joined = frame.select(key).join(hashed.drop(on), on="_key_hash", how="left", maintain_order="left")
    else:
        joined = frame.select(on).join(values, on=on, how="left", nulls_equal=True, maintain_order="left")
    return frame.with_columns(joined.drop("_key_hash", *on, strict=False))


def per_distinct(frame: pl.DataFrame, on: list[str], **exprs: pl.Expr) -> pl.DataFrame:
    """Add (or replace) columns computed from `on` alone, computed once per distinct combination of `on`
    and joined back in row order: a big file has millions of rows but a few thousand codes and periods."""
    keys = frame.select(on).unique(maintain_order=True)
    values = keys.with_columns(**{f"_pd_{name}": expr for name, expr in exprs.items()})
    out = join_distinct(frame, values, on)
    return out.with_columns(**{name: pl.col(f"_pd_{name}") for name in exprs}).drop([f"_pd_{name}" for name in exprs])


def apply_code_map(
    frame: pl.DataFrame, code_map: pl.DataFrame, file: str, map_name: str, ilostat: bool
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Map source indicator codes to dwi codes (with unit and scale); register unmapped codes as indicators.

    `frame` has `source_code`, `source_label` (may be null) and `classif1` (may be null). A map row with a
    classif1 applies only to rows with that classif1; one without applies to every row of the code.
    Rows of a code the map does not cover keep the source code as their indicator code (never dropped).
    The mapping is worked out once per distinct (source_code, source_label, classif1), in order of first
    appearance, and joined back to the rows."""
    on = ["source_code", "source_label", "classif1"]
    keys = frame.select(on).unique(maintain_order=True)
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
        code_map.filter(pl.col("source_unit").is_not_null()).group_by("source_code").agg(pl.col("source_unit").first())
    )
    out = (
        keys.join(specific, on=["source_code", "classif1"], how="left", nulls_equal=False, maintain_order="left")
        .join(general, on="source_code", how="left", maintain_order="left")
        .join(source_units, on="source_code", how="left", maintain_order="left")
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
    rows = join_distinct(
        frame.drop([c for c in ("indicator_code", "unit", "scale") if c in frame.columns]),
        out.select(*on, "indicator_code", "unit", "scale"),
        on,
    )
    return rows, fresh


def merge_indicators(known: pl.DataFrame | None, fresh: pl.DataFrame) -> pl.DataFrame:
    """Indicators registered so far plus those of a new batch (the first registration of a code wins)."""
    if known is None or not known.height:
        return fresh
    return pl.concat([known, fresh.filter(~pl.col("code").is_in(known["code"].implode()))])


def extend_reference(ref: Reference, indicators: pl.DataFrame | None) -> Reference:
    """The reference with the indicators a file registered on the fly (those not already in the registry)."""
    if indicators is None or not indicators.height:
        return ref
    new = indicators.filter(~pl.col("code").is_in(ref.indicators["code"].implode()))
    return dataclasses.replace(ref, indicators=pl.concat([ref.indicators, new.select(ref.indicators.columns)]))


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
