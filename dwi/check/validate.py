"""The checks as functions of frames: pandera's row rules turned into issues (a failure quarantines the row),
and the findings that compare rows (inconsistencies in what the source reports are warnings; the rows still
load). dwi.check.engine runs them on every batch of a file and on the file as a whole."""

from __future__ import annotations

import pandera.polars as pa
import polars as pl

from dwi.check.batch import ISSUE_SCHEMA
from dwi.reference import Reference
from dwi.sources.manifest import Source

REPORTED = {
    "value": "value_reported",
    "year": "year_reported",
    "convention_no": "convention_no_reported",
    "ratification_date": "ratification_date_reported",
    "grade": "grade_reported",
}


def schema_issues(
    source: Source, frame: pl.DataFrame, schema: pa.DataFrameSchema, key: list[str], messages: dict[str, str]
) -> pl.DataFrame:
    """Run a pandera schema on an eager frame (so the data checks fire) and turn failures into issue rows,
    with `_i` (the failing row's `_i`) beside the issue columns."""
    try:
        schema.validate(frame, lazy=True)
        return issues_frame()
    except pa.errors.SchemaErrors as err:
        return failure_issues(source, frame, err.failure_cases, key, messages)


def issues_frame() -> pl.DataFrame:
    """No issues, with the internal `_i` column (the row of the checked frame an issue belongs to)."""
    return pl.DataFrame(schema={**ISSUE_SCHEMA, "_i": pl.Int64})


def failure_issues(
    source: Source, frame: pl.DataFrame, cases: pl.DataFrame, key: list[str], messages: dict[str, str]
) -> pl.DataFrame:
    """pandera failure cases (`index` = position in `frame`, `check`, `column`) as issue rows. A rule's
    expectation comes from `messages` (the schema's MESSAGES, by rule name)."""
    structural = cases.filter(pl.col("index").is_null())
    if structural.height:
        first = structural.row(0, named=True)
        raise RuntimeError(f"schema mismatch after harmonising {source.display}: {first}")
    # Every rule is a row-wise check named "<column>:<rule>" (dwi.schemas.rule): pandera's built-in checks
    # would be reported by their error text instead, so the schemas do not use them.
    cases = cases.select(
        pl.col("index").cast(pl.UInt32),
        pl.col("check"),
        pl.when(pl.col("check") == "multiple_fields_uniqueness")
        .then(pl.lit("key"))
        .when(pl.col("check").str.contains(":"))
        .then(pl.col("check").str.split(":").list.first())
        .otherwise(pl.col("column"))
        .alias("column"),
        pl.when(pl.col("check") == "multiple_fields_uniqueness")
        .then(pl.lit("duplicate_key"))
        .otherwise(pl.col("check").str.split(":").list.last().str.replace(r"\(.*$", ""))
        .alias("rule"),
    )
    shown = [c for c in frame.columns if not c.startswith("_")]
    frame = frame.with_columns(_cell(frame).alias("_cell"))  # a spreadsheet's sheet and cell, if named
    long = (
        frame.with_row_index("index")
        .select(
            "index",
            "_row",
            "_i",
            "_cell",
            *[pl.col(c).cast(pl.String) for c in shown],
            pl.concat_str(
                [pl.col(k).cast(pl.String).fill_null("") for k in key if k in frame.columns], separator="|"
            ).alias("key"),
        )
        .unpivot(index=["index", "_row", "_i", "_cell"], variable_name="shown_column", value_name="found")
    )
    display = pl.col("column").replace(REPORTED)
    expected_unit = frame.select(
        pl.col("expected_unit")
        if "expected_unit" in frame.columns
        else pl.repeat(None, frame.height, dtype=pl.String).alias("expected_unit")
    )
    # A wide file's cell (a column per year): its value and year problems name the file's column ('1983').
    wide = pl.col("_column") if "_column" in frame.columns else pl.lit(None, pl.String)
    wide_cells = frame.with_row_index("index").select("index", wide.alias("_wide"))
    out = (
        cases.with_columns(display.alias("shown_column"))
        .join(long, on=["index", "shown_column"], how="left")
        .join(wide_cells, on="index", how="left")
        .with_columns(
            pl.when(pl.col("column").is_in(["value", "year"]) & pl.col("_wide").is_not_null())
            .then(pl.col("_wide"))
            .otherwise(pl.col("column"))
            .alias("column")
        )
        .join(
            frame.with_row_index("index").select("index", expected_unit.to_series().alias("expected_unit")),
            on="index",
            how="left",
        )
        .with_columns(pl.col("rule").replace_strict(messages, default=pl.col("rule")).alias("expected"))
    )
    expected = (
        pl.when(pl.col("rule") == "registry_unit")
        .then(pl.concat_str(pl.lit("the registry unit '"), pl.col("expected_unit"), pl.lit("'")))
        .otherwise(pl.col("expected"))
    )
    found = (
        pl.when(pl.col("found").is_null())
        .then(pl.lit("nothing"))
        .otherwise(pl.concat_str(pl.lit("'"), pl.col("found"), pl.lit("'")))
    )
    return out.select(
        pl.lit(source.id).alias("source_id"),
        pl.lit(source.display).alias("file"),
        pl.col("_row").alias("row"),
        pl.col("column"),
        pl.col("rule").alias("check"),
        pl.col("found").alias("value"),
        pl.concat_str(
            pl.lit(source.display),
            pl.lit(", row "),
            pl.col("_row").cast(pl.String),
            pl.lit(", column "),
            pl.col("column"),
            pl.col("_cell"),
            pl.lit(": expected "),
            expected,
            pl.lit(", found "),
            found,
            pl.lit(" (rule "),
            pl.col("rule"),
            pl.lit(")"),
        ).alias("message"),
        pl.lit("error").alias("severity"),
        pl.col("_i"),
    ).sort("row", "column")


def _warnings(
    source: Source, frame: pl.DataFrame, check: str, message: pl.Expr, value: pl.Expr, column: str = "value"
) -> pl.DataFrame:
    return frame.select(
        pl.lit(source.id).alias("source_id"),
        pl.lit(source.display).alias("file"),
        pl.col("_row").alias("row"),
        pl.lit(column).alias("column"),
        pl.lit(check).alias("check"),
        value.cast(pl.String).alias("value"),
        pl.concat_str(
            pl.lit(source.display),
            pl.lit(", row "),
            pl.col("_row").cast(pl.String),
            pl.lit(f", column {column}"),
            _cell(frame),
            pl.lit(": "),
            message,
            pl.lit(f" (rule {check})"),
        ).alias("message"),
        pl.lit("warning").alias("severity"),
        (pl.col("_i") if "_i" in frame.columns else pl.lit(None, pl.Int64)).alias("_i"),
    )


def _cell(frame: pl.DataFrame) -> pl.Expr:
    """' (sheet 'S', cell B5)' where a spreadsheet reader's source_ref names them, else ''."""
    if "source_ref" not in frame.columns:
        return pl.lit("")
    cell = pl.col("source_ref").str.extract(r"(sheet '[^']*', cell [A-Z]+\d+)", 1)
    return pl.when(cell.is_not_null()).then(pl.concat_str(pl.lit(" ("), cell, pl.lit(")"))).otherwise(pl.lit(""))


def printed_tolerance(reported: pl.Expr) -> pl.Expr:
    """Half a unit of the last printed decimal: '29.9' -> 0.05, '95.5' -> 0.05, '7' -> 0.5."""
    decimals = (
        pl.when(reported.str.contains(r"\.")).then(reported.str.split(".").list.last().str.len_chars()).otherwise(0)
    )
    return 0.5 * pl.lit(10.0).pow(-decimals.cast(pl.Float64)) + 1e-9


def group_warnings(source: Source, frame: pl.DataFrame, ref: Reference) -> pl.DataFrame:
    """The checks that compare rows with each other (all within one year): totals against their regions,
    shares against their numerator and denominator."""
    ind = ref.indicators
    out = []
    partial = source.meta.get("coverage", "").startswith("partial")
    key = ["indicator_code", "country", "sex", "year", "period", "classif1", "classif2"]
    additive = ind.filter(pl.col("additive"))["code"]
    if not partial:
        regional = (
            frame.filter(pl.col("indicator_code").is_in(additive.implode()), pl.col("region_code") != "KZ")
            .group_by(key)
            .agg(pl.col("value").sum().alias("regions_sum"), pl.len().alias("n_regions"))
        )
        totals = frame.filter(pl.col("region_code") == "KZ").join(regional, on=key, how="inner", nulls_equal=True)
        bad = totals.filter((pl.col("regions_sum") - pl.col("value")).abs() > 1e-6)
        out.append(
            _warnings(
                source,
                bad,
                "regions_sum_to_total",
                pl.concat_str(
                    pl.lit("the reported total "),
                    pl.col("value_reported"),
                    pl.lit(" of "),
                    pl.col("indicator_code"),
                    pl.lit(" differs from the sum of its "),
                    pl.col("n_regions").cast(pl.String),
                    pl.lit(" regional rows, "),
                    pl.when(pl.col("regions_sum").abs() < 1e15)  # whole counts as such; a huge sum as a float
                    .then(pl.col("regions_sum").round(0).cast(pl.Int64, strict=False).cast(pl.String))
                    .otherwise(pl.col("regions_sum").cast(pl.String)),
                ),
                pl.col("value_reported"),
            )
        )
    shares = ind.filter(pl.col("numerator").is_not_null()).select(
        pl.col("code").alias("indicator_code"), "numerator", "denominator"
    )
    cell = ["country", "region_code", "sex", "year", "period", "classif1", "classif2"]
    parts = frame.select(*cell, pl.col("indicator_code").alias("part"), pl.col("value").alias("part_value"))
    checked = (
        frame.join(shares, on="indicator_code")
        .join(parts.rename({"part": "numerator", "part_value": "num"}), on=[*cell, "numerator"], nulls_equal=True)
        .join(parts.rename({"part": "denominator", "part_value": "den"}), on=[*cell, "denominator"], nulls_equal=True)
        .with_columns(
            (pl.col("num") / pl.col("den") * 100).alias("recomputed"),
            printed_tolerance(pl.col("value_reported")).alias("tolerance"),
        )
    )
    bad = checked.filter((pl.col("recomputed") - pl.col("value")).abs() > pl.col("tolerance"))
    out.append(
        _warnings(
            source,
            bad,
            "share_matches_parts",
            pl.concat_str(
                pl.col("indicator_code"),
                pl.lit(" is reported as "),
                pl.col("value_reported"),
                pl.lit(" but "),
                pl.col("numerator"),
                pl.lit(" / "),
                pl.col("denominator"),
                pl.lit(" x 100 = "),
                pl.col("recomputed").round(3).cast(pl.String),
                pl.lit(" (tolerance "),
                pl.col("tolerance").round(4).cast(pl.String),
                pl.lit(")"),
            ),
            pl.col("value_reported"),
        )
    )
    out += sex_warnings(source, frame)
    return pl.concat([o.select(*ISSUE_SCHEMA, "_i") for o in out])


def sex_warnings(source: Source, frame: pl.DataFrame) -> list[pl.DataFrame]:
    """The checks between the values of one cell by sex (same indicator, place, period and breakdowns):

    - `total_between_sexes`: a total that is not the sum of men and women (a count) is a rate or share, and
      a rate of everyone lies between the rates of men and of women (strictly, unless they are equal: a total
      equal to one sex's value while the other's differs by more than rounding means the other group is empty).
      A total outside, or at one end, says the values by sex are swapped or mislabelled.
    - `sexes_add_to_100`: a percentage given for men and for women with no total, whose two values come to
      about 100 (75 to 125), is the split of one whole by sex; it must add to 100 within the printed precision.
    Tolerances are the printed precision of the values compared."""
    cell = ["indicator_code", "country", "region_code", "year", "period", "classif1", "classif2"]
    by_sex = frame.filter(pl.col("sex").is_in(["M", "F"]))
    if not by_sex.height:
        return []
    men = by_sex.filter(pl.col("sex") == "M").select(
        *cell, pl.col("value").alias("m"), pl.col("value_reported").alias("m_rep"), pl.col("_row").alias("m_row")
    )
    women = by_sex.filter(pl.col("sex") == "F").select(
        *cell, pl.col("value").alias("f"), pl.col("value_reported").alias("f_rep"), pl.col("_row").alias("f_row")
    )
    pairs = men.join(women, on=cell, nulls_equal=True)
    tol_m, tol_f = printed_tolerance(pl.col("m_rep")), printed_tolerance(pl.col("f_rep"))
    totals = frame.filter(pl.col("sex") == "T").join(pairs, on=cell, nulls_equal=True)
    tol = pl.max_horizontal(printed_tolerance(pl.col("value_reported")), tol_m, tol_f)
    lo, hi = pl.min_horizontal("m", "f"), pl.max_horizontal("m", "f")
    checked = totals.with_columns(tol.alias("tol")).filter(
        (pl.col("value") - pl.col("m") - pl.col("f")).abs() > 3 * pl.col("tol")  # not a count split by sex
    )
    outside = (pl.col("value") < lo - pl.col("tol")) | (pl.col("value") > hi + pl.col("tol"))
    at_end = ((hi - lo) > 10 * pl.col("tol")) & (
        pl.min_horizontal((pl.col("value") - pl.col("m")).abs(), (pl.col("value") - pl.col("f")).abs()) <= pl.col("tol")
    )
    between = checked.filter(outside | at_end).with_columns(
        pl.when(outside)
        .then(pl.lit(" does not lie between"))
        .otherwise(pl.lit(" equals one end of the range of"))
        .alias("how"),
        pl.when(outside)
        .then(pl.lit("the total and the values by sex cannot all be right"))
        .otherwise(pl.lit("the values by sex look swapped or mislabelled"))
        .alias("verdict"),
    )
    found = [
        _warnings(
            source,
            between,
            "total_between_sexes",
            pl.concat_str(
                pl.lit("the total "),
                pl.col("value_reported"),
                pl.lit(" of "),
                pl.col("indicator_code"),
                pl.lit(" in "),
                pl.col("year").cast(pl.String),
                pl.col("how"),
                pl.lit(" men's "),
                pl.col("m_rep"),
                pl.lit(" and women's "),
                pl.col("f_rep"),
                pl.lit(" (rows "),
                pl.col("m_row").cast(pl.String),
                pl.lit(" and "),
                pl.col("f_row").cast(pl.String),
                pl.lit("); it is not their sum either, so it is a rate, which lies strictly between them: "),
                pl.col("verdict"),
            ),
            pl.col("value_reported"),
        )
    ]
    no_total = pairs.join(frame.filter(pl.col("sex") == "T").select(cell), on=cell, how="anti", nulls_equal=True)
    percent = frame.filter(pl.col("unit").str.contains(r"%|(?i)percent|процент")).select(cell).unique()
    split = (
        no_total.join(percent, on=cell, nulls_equal=True)
        .with_columns((pl.col("m") + pl.col("f")).alias("sum"), (tol_m + tol_f).alias("tol"))
        .filter(pl.col("sum").is_between(75, 125), (pl.col("sum") - 100).abs() > pl.col("tol"))
        .with_columns(pl.col("m_row").alias("_row"), pl.lit(None, pl.Int64).alias("_i"))
    )
    found.append(
        _warnings(
            source,
            split,
            "sexes_add_to_100",
            pl.concat_str(
                pl.col("indicator_code"),
                pl.lit(" in "),
                pl.col("year").cast(pl.String),
                pl.lit(": men's share "),
                pl.col("m_rep"),
                pl.lit(" and women's "),
                pl.col("f_rep"),
                pl.lit(" add up to "),
                pl.col("sum").round(6).cast(pl.String),
                pl.lit(", not 100 (tolerance "),
                pl.col("tol").round(4).cast(pl.String),
                pl.lit(")"),
            ),
            pl.col("sum").round(6),
        )
    )
    return found


def dated_regions(ref: Reference) -> pl.Series:
    """Codes of the regions with a start or end date (the only ones a region_validity warning can name)."""
    return ref.regions.filter(pl.col("valid_from").is_not_null() | pl.col("valid_to").is_not_null())["code"]


def region_date_warnings(source: Source, frame: pl.DataFrame, ref: Reference) -> pl.DataFrame:
    """A region used for a period not entirely inside its validity (it did not exist, or its territory
    changed during the period: South Kazakhstan in 2018, Turkistan in 2017), and a time-bound name used
    outside its dates (Nur-Sultan outside 2019-03-20..2022-09-17) are warnings; the rows still load."""
    from dwi.check.harmonise import period_dates  # noqa: PLC0415  (harmonise imports nothing from here)

    bounded = dated_regions(ref)
    dated_alias = (
        pl.col("alias_valid_from").is_not_null() | pl.col("alias_valid_to").is_not_null()
        if "alias_valid_from" in frame.columns
        else pl.lit(False)
    )
    frame = frame.filter(pl.col("region_code").is_in(bounded.implode()) | dated_alias)  # the only candidates
    start, end = period_dates(pl.col("year"), pl.col("period"))
    span = pl.concat_str(
        pl.col("year").cast(pl.String),
        pl.when(pl.col("period") != "Y").then(pl.concat_str(pl.lit(" "), pl.col("period"))).otherwise(pl.lit("")),
    )
    regions = ref.regions.select(pl.col("code").alias("region_code"), "valid_from", "valid_to")
    dated = frame.join(regions, on="region_code").with_columns(start.alias("_start"), end.alias("_end"))
    dated = dated.filter(
        (pl.col("valid_to").is_not_null() & (pl.col("valid_to") <= pl.col("_end")))
        | (pl.col("valid_from").is_not_null() & (pl.col("valid_from") > pl.col("_start")))
    )
    by_region = _warnings(
        source,
        dated,
        "region_validity",
        pl.concat_str(
            pl.lit("region '"),
            pl.col("region"),
            pl.lit("' ("),
            pl.col("region_code"),
            pl.lit(") existed from "),
            pl.col("valid_from").cast(pl.String).fill_null("before 1991"),
            pl.lit(" to "),
            pl.col("valid_to").cast(pl.String).fill_null("now"),
            pl.lit("; the period "),
            span,
            pl.lit(" is not (entirely) within that"),
        ),
        pl.col("region"),
        column="region",
    )
    if "alias_valid_from" not in frame.columns:
        return by_region
    named = frame.with_columns(start.alias("_start"), end.alias("_end")).filter(
        (pl.col("alias_valid_to").is_not_null() & (pl.col("alias_valid_to") <= pl.col("_start")))
        | (pl.col("alias_valid_from").is_not_null() & (pl.col("alias_valid_from") > pl.col("_end")))
    )
    by_name = _warnings(
        source,
        named,
        "region_name_validity",
        pl.concat_str(
            pl.lit("the name '"),
            pl.col("region"),
            pl.lit("' was used for "),
            pl.col("region_code"),
            pl.lit(" from "),
            pl.col("alias_valid_from").cast(pl.String).fill_null("before 1991"),
            pl.lit(" to "),
            pl.col("alias_valid_to").cast(pl.String).fill_null("now"),
            pl.lit(", not in "),
            span,
            pl.lit("; resolved to "),
            pl.col("region_code"),
            pl.lit(" anyway"),
        ),
        pl.col("region"),
        column="region",
    )
    return pl.concat([by_region, by_name])


def group_codes(ref: Reference) -> list[str]:
    """The indicators `group_warnings` looks at: additive ones (regions against the total) and shares with their
    numerators and denominators. Rows of other indicators cannot raise those warnings."""
    ind = ref.indicators
    shares = ind.filter(pl.col("numerator").is_not_null())
    codes = (
        pl.concat([ind.filter(pl.col("additive"))["code"], shares["code"], shares["numerator"], shares["denominator"]])
        .drop_nulls()
        .unique()
    )
    return codes.sort().to_list()
