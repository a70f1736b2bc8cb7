"""Harmonise codes: region names to region codes, text to numbers, and the registry's expectations
attached to each row so that validation can check them. Nothing is dropped here."""

from __future__ import annotations

import polars as pl

from dwi.readers.codes import join_distinct
from dwi.reference import Reference, normalise

# Months each period covers: Y, H1-H2, Q1-Q4, M01-M12 (anything else: null, left to validation).
_PERIOD_MONTHS = {
    "Y": (1, 12),
    "H1": (1, 6),
    "H2": (7, 12),
    **{f"Q{q}": (3 * q - 2, 3 * q) for q in range(1, 5)},
    **{f"M{m:02d}": (m, m) for m in range(1, 13)},
}


def period_dates(year: pl.Expr, period: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """First and last day a (year, period) covers."""
    first, last = (
        period.replace_strict({k: v[i] for k, v in _PERIOD_MONTHS.items()}, default=None, return_dtype=pl.Int8)
        for i in (0, 1)
    )
    ok = year.is_between(1, 9999)
    return (pl.when(ok).then(pl.date(year, first, 1)), pl.when(ok).then(pl.date(year, last, 1).dt.month_end()))


def resolve_regions(frame: pl.DataFrame, ref: Reference) -> pl.DataFrame:
    """region_code for each row through the alias table, by date: where a name has several meanings,
    the alias valid during the row's period wins; an alias used outside its dates still resolves (the
    validity is kept in alias_valid_from/alias_valid_to for a warning). Rows of another country keep
    their area code as region_code. Worked out once per distinct (region, year, period, country)."""
    on = ["region", "year", "period", "country"]
    keys = frame.select(on).unique(maintain_order=True).with_row_index("_i")
    aliases = ref.aliases.select(
        "alias_key",
        "region_code",
        pl.col("valid_from").alias("alias_valid_from"),
        pl.col("valid_to").alias("alias_valid_to"),
    )
    start, end = period_dates(pl.col("year"), pl.col("period"))
    key = normalise(pl.col("region")).str.replace(r" обл$", " область")  # the usual abbreviation
    rows = keys.select("_i", key.alias("alias_key"), start.alias("_start"), end.alias("_end"))
    fits = (
        (pl.col("alias_valid_from").is_null() | (pl.col("alias_valid_from") <= pl.col("_end")))
        & (pl.col("alias_valid_to").is_null() | (pl.col("alias_valid_to") > pl.col("_start")))
    ).fill_null(True)
    best = (
        rows.join(aliases, on="alias_key", how="inner")
        .with_columns(fits.alias("_fits"))
        .sort("_i", "_fits", descending=[False, True])
        .unique("_i", keep="first")
        .select("_i", "region_code", "alias_valid_from", "alias_valid_to")
    )
    kaz = pl.col("country") == "KAZ"
    resolved = (
        keys.join(best, on="_i", how="left")
        .drop("_i")
        .with_columns(  # Kazakhstan's region names and their dates concern Kazakhstan's rows only
            pl.when(kaz).then(pl.col("region_code")).otherwise(pl.col("region")).alias("region_code"),
            *(pl.when(kaz).then(pl.col(c)).alias(c) for c in ("alias_valid_from", "alias_valid_to")),
        )
    )
    return join_distinct(frame, resolved, on)


def value() -> pl.Expr:
    """The number in `value_reported` times the reader's `scale` (e.g. ILOSTAT thousands to persons), rounded
    to 6 decimals when scaled; null when it is not a finite number."""
    parsed = pl.col("value_reported").cast(pl.Float64, strict=False)
    scale = pl.col("scale").cast(pl.Float64, strict=False).fill_null(1.0)
    scaled = pl.when(scale == 1.0).then(parsed).otherwise((parsed * scale).round(6))
    return pl.when(parsed.is_finite()).then(scaled)


def observations(frame: pl.DataFrame, ref: Reference) -> pl.DataFrame:
    """Add region_code (by name and date), parsed year and value (times the reader's `scale`, e.g. ILOSTAT
    thousands to persons), and the registry's unit and kind for the indicator."""
    registry = ref.indicators.select(
        pl.col("code").alias("indicator_code"), pl.col("unit").alias("expected_unit"), "kind"
    )
    defaults = {
        "country": pl.lit("KAZ"),
        "classif1": pl.lit(None, pl.String),
        "classif2": pl.lit(None, pl.String),
        "scale": pl.lit(None, pl.String),
    }
    frame = frame.with_columns([v.alias(k) for k, v in defaults.items() if k not in frame.columns])
    frame = frame.rename({"value": "value_reported", "year": "year_reported"}).with_columns(
        pl.col("sex").fill_null("T"),
        pl.col("period").fill_null("Y"),
        pl.col("country").fill_null("KAZ"),
        pl.col("year_reported").cast(pl.Int32, strict=False).alias("year"),
        value().alias("value"),
    )
    out = resolve_regions(frame, ref).join(registry, on="indicator_code", how="left", maintain_order="left")
    return out if out["_row"].is_sorted() else out.sort("_row")


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
    from dwi.schemas.dwcp_assessments import PARENT_LEVEL

    parents = frame.select("programme", pl.col("code").alias("parent_code"), pl.col("level").alias("parent_level"))
    with_children = frame.select("programme", pl.col("parent_code").alias("code")).drop_nulls().unique()
    return (
        frame.rename({"grade": "grade_reported"})
        .with_columns(
            pl.col("grade_reported").cast(pl.Float64, strict=False).alias("grade"),
            pl.col("level").replace_strict(PARENT_LEVEL, default=None).alias("expected_parent_level"),
        )
        .join(parents.unique(["programme", "parent_code"]), on=["programme", "parent_code"], how="left")
        .with_columns(
            pl.when(pl.col("level") == "priority")
            .then(pl.col("parent_code").is_null())
            .otherwise(pl.col("parent_level") == pl.col("expected_parent_level"))
            .fill_null(False)
            .alias("parent_ok")
        )
        .join(with_children.with_columns(pl.lit(True).alias("has_children")), on=["programme", "code"], how="left")
        .with_columns(pl.col("has_children").fill_null(False))
        .sort("_row")
    )
