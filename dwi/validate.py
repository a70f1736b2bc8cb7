"""Validate harmonised frames: pandera row rules (failures quarantine the row) and cross-row checks
(inconsistencies in what the source reports become warnings; the rows still load)."""

from __future__ import annotations

import importlib

import pandera.polars as pa
import polars as pl

from dwi.batch import ISSUE_SCHEMA, Batch
from dwi.readers.common import frame_format
from dwi.reference import Reference
from schemas.observations import FIRST_YEAR, KEY

EXPECTED = {
    "known_indicator": "an indicator code from the registry (dwi/reference/indicators.yaml)",
    "known_region": "a region name or code from the alias table (dwi/reference/region_aliases.csv)",
    "required": "a value",
    "known_sex": "T, M or F",
    "known_period": "Y, H1-H2, Q1-Q4 or M01-M12",
    "known_status": "an ILOSTAT obs_status flag (A, B, E, F, I, P, U) or nothing",
    "integer": "a whole year such as 2011",
    "in_range": f"a value in the allowed range (years: {FIRST_YEAR} to next year)",
    "number": "a plain number with '.' as the decimal separator and no thousands separators",
    "non_negative": "a value >= 0",
    "whole_count": "a whole number (it is a count)",
    "share_range": "a percentage from 0 to 100",
    "registry_unit": "the registry's unit for this indicator",
    "duplicate_key": "one row per key (no duplicates)",
    "date": "a date written YYYY-MM-DD",
    "known_level": "priority, outcome, activity or sub_activity",
    "code_format": "a dotted code such as 1, 1.2, 1.2.3 or 1.1.1.a",
    "known_basis": "stated, implied, inferred or missing",
    "in_scale": "a grade from 1 to 6 (the six-point scale)",
    "missing_has_no_grade": "no grade when grade_basis is 'missing'",
    "graded_has_grade": "a grade unless grade_basis is 'missing'",
    "parent_exists": "the code of an existing node one level up (priority > outcome > activity > sub_activity)",
    "programme_id": "a programme id of letters, digits, '_', '-' or '.' (no spaces)",
    "whole_point": "a whole point 1-6 for an activity without sub-activities (Table 2 has no half points)",
    "matches_parent": "the parent's code plus one segment (1 > 1.2 > 1.2.3 > 1.2.3.a; a priority: no dot)",
    "reasoning_required": "a note with the reasoning when grade_basis is 'inferred' or 'missing'",
    "graded_has_evidence": "an evidence quote and its location when a grade is given",
    "programme_held_back": "every row of the programme valid (a tree with a node missing gives wrong means)",
}
REPORTED = {"value": "value_reported", "year": "year_reported", "convention_no": "convention_no_reported",
            "ratification_date": "ratification_date_reported", "grade": "grade_reported"}


def schema_issues(batch: Batch, frame: pl.DataFrame, schema: pa.DataFrameSchema) -> pl.DataFrame:
    """Run a pandera schema eagerly (so data checks fire) and turn failures into issue rows."""
    try:
        schema.validate(frame, lazy=True)
        return pl.DataFrame(schema=ISSUE_SCHEMA)
    except pa.errors.SchemaErrors as err:
        return failure_issues(batch, frame, err.failure_cases)


def failure_issues(batch: Batch, frame: pl.DataFrame, cases: pl.DataFrame) -> pl.DataFrame:
    """pandera failure cases (`index` = position in `frame`, `check`, `column`) as issue rows."""
    structural = cases.filter(pl.col("index").is_null())
    if structural.height:
        first = structural.row(0, named=True)
        raise RuntimeError(f"schema mismatch after harmonising {batch.source.display}: {first}")
    # Every rule is a row-wise check named "<column>:<rule>" (schemas.rule): pandera's built-in checks
    # would be reported by their error text instead, so the schemas do not use them.
    cases = cases.select(
        pl.col("index").cast(pl.UInt32),
        pl.col("check"),
        pl.when(pl.col("check") == "multiple_fields_uniqueness").then(pl.lit("key"))
        .when(pl.col("check").str.contains(":")).then(pl.col("check").str.split(":").list.first())
        .otherwise(pl.col("column")).alias("column"),
        pl.when(pl.col("check") == "multiple_fields_uniqueness").then(pl.lit("duplicate_key"))
        .otherwise(pl.col("check").str.split(":").list.last().str.replace(r"\(.*$", "")).alias("rule"),
    )
    shown = [c for c in frame.columns if not c.startswith("_")]
    # The format's own key (a dwcp_assessments frame has no observation key columns).
    key = getattr(importlib.import_module(f"schemas.{batch.source.format}"), "KEY", KEY)
    long = (frame.with_row_index("index")
            .select("index", "_row", *[pl.col(c).cast(pl.String) for c in shown],
                    pl.concat_str([pl.col(k).cast(pl.String).fill_null("")
                                   for k in key if k in frame.columns],
                                  separator="|").alias("key"))
            .unpivot(index=["index", "_row"], variable_name="shown_column", value_name="found"))
    display = pl.col("column").replace(REPORTED)
    expected_unit = frame.select(pl.col("expected_unit") if "expected_unit" in frame.columns
                                 else pl.repeat(None, frame.height, dtype=pl.String).alias("expected_unit"))
    out = (cases.with_columns(display.alias("shown_column"))
           .join(long, on=["index", "shown_column"], how="left")
           .join(frame.with_row_index("index").select("index", expected_unit.to_series().alias("expected_unit")),
                 on="index", how="left")
           .with_columns(pl.col("rule").replace_strict(EXPECTED, default=pl.col("rule")).alias("expected")))
    expected = pl.when(pl.col("rule") == "registry_unit").then(
        pl.concat_str(pl.lit("the registry unit '"), pl.col("expected_unit"), pl.lit("'"))
    ).otherwise(pl.col("expected"))
    found = pl.when(pl.col("found").is_null()).then(pl.lit("nothing")).otherwise(
        pl.concat_str(pl.lit("'"), pl.col("found"), pl.lit("'")))
    return out.select(
        pl.lit(batch.source.id).alias("source_id"),
        pl.lit(batch.source.display).alias("file"),
        pl.col("_row").alias("row"),
        pl.col("column"),
        pl.col("rule").alias("check"),
        pl.col("found").alias("value"),
        pl.concat_str(pl.lit(batch.source.display), pl.lit(", row "), pl.col("_row").cast(pl.String),
                      pl.lit(", column "), pl.col("column"), pl.lit(": expected "), expected,
                      pl.lit(", found "), found, pl.lit(" (rule "), pl.col("rule"), pl.lit(")")).alias("message"),
        pl.lit("error").alias("severity"),
    ).sort("row", "column")


def quarantine(batch: Batch, frame: pl.DataFrame, errors: pl.DataFrame) -> pl.DataFrame:
    """Keep the rows without errors; count the others as quarantined."""
    bad = errors.filter(pl.col("severity") == "error")["row"].unique()
    kept = frame.filter(~pl.col("_row").is_in(bad.implode()))
    batch.rows_quarantined = frame.height - kept.height
    return kept


def _warnings(batch: Batch, frame: pl.DataFrame, check: str, message: pl.Expr, value: pl.Expr,
              column: str = "value") -> pl.DataFrame:
    return frame.select(
        pl.lit(batch.source.id).alias("source_id"), pl.lit(batch.source.display).alias("file"),
        pl.col("_row").alias("row"), pl.lit(column).alias("column"), pl.lit(check).alias("check"),
        value.cast(pl.String).alias("value"),
        pl.concat_str(pl.lit(batch.source.display), pl.lit(", row "), pl.col("_row").cast(pl.String),
                      pl.lit(f", column {column}: "), message, pl.lit(f" (rule {check})")).alias("message"),
        pl.lit("warning").alias("severity"))


def printed_tolerance(reported: pl.Expr) -> pl.Expr:
    """Half a unit of the last printed decimal: '29.9' -> 0.05, '95.5' -> 0.05, '7' -> 0.5."""
    decimals = pl.when(reported.str.contains(r"\.")).then(
        reported.str.split(".").list.last().str.len_chars()).otherwise(0)
    return 0.5 * pl.lit(10.0).pow(-decimals.cast(pl.Float64)) + 1e-9


def cross_row_warnings(batch: Batch, frame: pl.DataFrame, ref: Reference) -> pl.DataFrame:
    """Totals against their regions, shares against their numerator and denominator, regions against dates."""
    return pl.concat([group_warnings(batch, frame, ref), region_date_warnings(batch, frame, ref)])


def group_warnings(batch: Batch, frame: pl.DataFrame, ref: Reference) -> pl.DataFrame:
    """The checks that compare rows with each other (all within one year): totals against their regions,
    shares against their numerator and denominator."""
    ind = ref.indicators
    out = []
    partial = batch.source.meta.get("coverage", "").startswith("partial")
    key = ["indicator_code", "country", "sex", "year", "period", "classif1", "classif2"]
    additive = ind.filter(pl.col("additive"))["code"]
    if not partial:
        regional = (frame.filter(pl.col("indicator_code").is_in(additive.implode()), pl.col("region_code") != "KZ")
                    .group_by(key).agg(pl.col("value").sum().alias("regions_sum"), pl.len().alias("n_regions")))
        totals = frame.filter(pl.col("region_code") == "KZ").join(regional, on=key, how="inner", nulls_equal=True)
        bad = totals.filter((pl.col("regions_sum") - pl.col("value")).abs() > 1e-6)
        out.append(_warnings(batch, bad, "regions_sum_to_total", pl.concat_str(
            pl.lit("the reported total "), pl.col("value_reported"), pl.lit(" of "), pl.col("indicator_code"),
            pl.lit(" differs from the sum of its "), pl.col("n_regions").cast(pl.String), pl.lit(" regional rows, "),
            pl.col("regions_sum").cast(pl.Int64).cast(pl.String)), pl.col("value_reported")))
    shares = ind.filter(pl.col("numerator").is_not_null()).select(
        pl.col("code").alias("indicator_code"), "numerator", "denominator")
    cell = ["country", "region_code", "sex", "year", "period", "classif1", "classif2"]
    parts = frame.select(*cell, pl.col("indicator_code").alias("part"), pl.col("value").alias("part_value"))
    checked = (frame.join(shares, on="indicator_code")
               .join(parts.rename({"part": "numerator", "part_value": "num"}), on=[*cell, "numerator"],
                     nulls_equal=True)
               .join(parts.rename({"part": "denominator", "part_value": "den"}), on=[*cell, "denominator"],
                     nulls_equal=True)
               .with_columns((pl.col("num") / pl.col("den") * 100).alias("recomputed"),
                             printed_tolerance(pl.col("value_reported")).alias("tolerance")))
    bad = checked.filter((pl.col("recomputed") - pl.col("value")).abs() > pl.col("tolerance"))
    out.append(_warnings(batch, bad, "share_matches_parts", pl.concat_str(
        pl.col("indicator_code"), pl.lit(" is reported as "), pl.col("value_reported"), pl.lit(" but "),
        pl.col("numerator"), pl.lit(" / "), pl.col("denominator"), pl.lit(" x 100 = "),
        pl.col("recomputed").round(3).cast(pl.String), pl.lit(" (tolerance "),
        pl.col("tolerance").round(4).cast(pl.String), pl.lit(")")), pl.col("value_reported")))
    return pl.concat([o.select(list(ISSUE_SCHEMA)) for o in out])


def dated_regions(ref: Reference) -> pl.Series:
    """Codes of the regions with a start or end date (the only ones a region_validity warning can name)."""
    return ref.regions.filter(pl.col("valid_from").is_not_null() | pl.col("valid_to").is_not_null())["code"]


def region_date_warnings(batch: Batch, frame: pl.DataFrame, ref: Reference) -> pl.DataFrame:
    """A region used for a period not entirely inside its validity (it did not exist, or its territory
    changed during the period: South Kazakhstan in 2018, Turkistan in 2017), and a time-bound name used
    outside its dates (Nur-Sultan outside 2019-03-20..2022-09-17) are warnings; the rows still load."""
    from dwi.harmonise import period_dates

    bounded = dated_regions(ref)
    dated_alias = (pl.col("alias_valid_from").is_not_null() | pl.col("alias_valid_to").is_not_null()
                   if "alias_valid_from" in frame.columns else pl.lit(False))
    frame = frame.filter(pl.col("region_code").is_in(bounded.implode()) | dated_alias)  # the only candidates
    start, end = period_dates(pl.col("year"), pl.col("period"))
    span = pl.concat_str(pl.col("year").cast(pl.String), pl.when(pl.col("period") != "Y")
                         .then(pl.concat_str(pl.lit(" "), pl.col("period"))).otherwise(pl.lit("")))
    regions = ref.regions.select(pl.col("code").alias("region_code"), "valid_from", "valid_to")
    dated = frame.join(regions, on="region_code").with_columns(start.alias("_start"), end.alias("_end"))
    dated = dated.filter(
        (pl.col("valid_to").is_not_null() & (pl.col("valid_to") <= pl.col("_end")))
        | (pl.col("valid_from").is_not_null() & (pl.col("valid_from") > pl.col("_start"))))
    by_region = _warnings(batch, dated, "region_validity", pl.concat_str(
        pl.lit("region '"), pl.col("region"), pl.lit("' ("), pl.col("region_code"), pl.lit(") existed from "),
        pl.col("valid_from").cast(pl.String).fill_null("before 1991"), pl.lit(" to "),
        pl.col("valid_to").cast(pl.String).fill_null("now"), pl.lit("; the period "), span,
        pl.lit(" is not (entirely) within that")), pl.col("region"), column="region")
    if "alias_valid_from" not in frame.columns:
        return by_region
    named = frame.with_columns(start.alias("_start"), end.alias("_end")).filter(
        (pl.col("alias_valid_to").is_not_null() & (pl.col("alias_valid_to") <= pl.col("_start")))
        | (pl.col("alias_valid_from").is_not_null() & (pl.col("alias_valid_from") > pl.col("_end"))))
    by_name = _warnings(batch, named, "region_name_validity", pl.concat_str(
        pl.lit("the name '"), pl.col("region"), pl.lit("' was used for "), pl.col("region_code"),
        pl.lit(" from "),
        pl.col("alias_valid_from").cast(pl.String).fill_null("before 1991"), pl.lit(" to "),
        pl.col("alias_valid_to").cast(pl.String).fill_null("now"), pl.lit(", not in "), span,
        pl.lit("; resolved to "), pl.col("region_code"), pl.lit(" anyway")), pl.col("region"), column="region")
    return pl.concat([by_region, by_name])


def schema_for(fmt: str, ref: Reference) -> pa.DataFrameSchema:
    return importlib.import_module(f"schemas.{fmt}").schema(ref)


def validate(batch: Batch, ref: Reference) -> Batch:
    """Quarantine rows that break a rule; add warnings for cross-row inconsistencies."""
    frame = batch.frame
    fmt = frame_format(batch.source.format)
    errors = schema_issues(batch, frame, schema_for(fmt, ref))
    batch.add_issues(errors)
    kept = quarantine(batch, frame, errors)
    held_back = getattr(importlib.import_module(f"schemas.{fmt}"), "held_back", None)
    if held_back is not None:  # a format whose rows only make sense together (a programme's grade tree)
        kept, more = held_back(batch, frame, kept)
        batch.add_issues(more)
        batch.rows_quarantined = frame.height - kept.height
    if fmt == "observations":
        batch.add_issues(cross_row_warnings(batch, kept, ref))
    batch.frame = kept
    batch.status = "checked"
    return batch
