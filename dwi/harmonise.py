"""Harmonise codes: region names to region codes, text to numbers, and the registry's expectations
attached to each row so that validation can check them. Nothing is dropped here."""

from __future__ import annotations

import polars as pl

from dwi.reference import Reference, normalise


def observations(frame: pl.DataFrame, ref: Reference) -> pl.DataFrame:
    """Add region_code, parsed year and value, and the registry's unit and kind for the indicator."""
    aliases = ref.aliases.select("alias_key", pl.col("region_code"))
    registry = ref.indicators.select(
        pl.col("code").alias("indicator_code"), pl.col("unit").alias("expected_unit"), "kind")
    parsed_value = pl.col("value_reported").cast(pl.Float64, strict=False)
    return (
        frame.rename({"value": "value_reported", "year": "year_reported"})
        .with_columns(
            pl.col("sex").fill_null("T"),
            pl.col("period").fill_null("Y"),
            pl.col("year_reported").cast(pl.Int32, strict=False).alias("year"),
            pl.when(parsed_value.is_finite()).then(parsed_value).alias("value"),
            normalise(pl.col("region")).alias("alias_key"),
        )
        .join(aliases, on="alias_key", how="left")
        .join(registry, on="indicator_code", how="left")
        .drop("alias_key")
        .sort("_row")
    )


def conventions(frame: pl.DataFrame, ref: Reference) -> pl.DataFrame:
    """Parse convention numbers and ISO dates (YYYY-MM-DD)."""
    return frame.with_columns(
        pl.col("convention_no").alias("convention_no_reported"),
        pl.col("ratification_date").alias("ratification_date_reported"),
        pl.col("convention_no").cast(pl.Int32, strict=False),
        pl.col("ratification_date").str.to_date("%Y-%m-%d", strict=False),
    )


def dwcp_assessments(frame: pl.DataFrame, ref: Reference) -> pl.DataFrame:
    """Parse grades; mark whether each node's parent exists at the level above it in the same programme,
    and whether it has children (a leaf activity is graded in whole points)."""
    from schemas.dwcp_assessments import PARENT_LEVEL

    parents = frame.select("programme", pl.col("code").alias("parent_code"), pl.col("level").alias("parent_level"))
    with_children = frame.select("programme", pl.col("parent_code").alias("code")).drop_nulls().unique()
    return (frame.rename({"grade": "grade_reported"})
            .with_columns(pl.col("grade_reported").cast(pl.Float64, strict=False).alias("grade"),
                          pl.col("level").replace_strict(PARENT_LEVEL, default=None).alias("expected_parent_level"))
            .join(parents.unique(["programme", "parent_code"]), on=["programme", "parent_code"], how="left")
            .with_columns(pl.when(pl.col("level") == "priority").then(pl.col("parent_code").is_null())
                          .otherwise(pl.col("parent_level") == pl.col("expected_parent_level"))
                          .fill_null(False).alias("parent_ok"))
            .join(with_children.with_columns(pl.lit(True).alias("has_children")), on=["programme", "code"],
                  how="left")
            .with_columns(pl.col("has_children").fill_null(False))
            .sort("_row"))
