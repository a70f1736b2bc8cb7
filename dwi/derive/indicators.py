"""Derived indicators: recomputed shares, GDP growth from levels, regional ratios, cumulated ratifications,
changes over time and regional rank/dispersion. Writes the computed rows only, to `_derived_values`; the
`_indicator_values` view (dwi/store/sql/marts/_indicator_values.sql) puts them after the observed values,
read from `observations`. Only the observations a derivation needs are read (`read_inputs`), so the memory
used does not grow with the warehouse (e.g. an all-countries ILOSTAT file).

What to derive is metadata in dwi/reference/indicators.yaml (entries with `derived: true`, the
`derived_variants` and `transforms` sections). Rules, everywhere:
- a derived value is missing (NULL, with a note naming the missing input) when any input is missing;
- nothing is interpolated: a change across a gap is the change over the whole gap, marked as such;
- partial sources (registry `partial: true`) never enter a derivation;
- regional indicators use Kazakhstan's regions only, never the national total row (region KZ) nor the
  rows of other countries (an ILOSTAT/WDI file's other areas, whose region_code is their area code).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import duckdb
import polars as pl

from dwi.config import REFERENCE_DIR, read_yaml
from dwi.reference import Reference

NATIONAL = "KZ"
UNPRINTED = ("implied", "corrected")  # obs_status of values a source did not print as such
BREAK = "B"  # obs_status: break in series (ILOSTAT); no change is computed across it
CLASSIF = ["classif1", "classif2"]  # ILOSTAT's breakdowns (age, ...): a derivation never mixes two of them
KEY = ["region_code", *CLASSIF, "year", "period"]

# Column order of _derived_values and of the _indicator_values view (the first eight are the view's
# contract).
SCHEMA: dict[str, pl.DataType] = {
    "indicator_code": pl.String,
    "region_code": pl.String,
    "year": pl.Int32,
    "period": pl.String,
    "value": pl.Float64,
    "unit": pl.String,
    "derived": pl.Boolean,
    "method": pl.String,
    "inputs": pl.String,  # derived: every input with its value and origin; observed: NULL
    "source_id": pl.String,  # observed: its source; derived: the sources of its inputs
    "source_row": pl.Int64,  # observed: the row in the source file
    "obs_status": pl.String,  # observed: the source's flag (P provisional, E estimate)
    "base_code": pl.String,  # the indicator a change/rank/dispersion row is computed from
    "span_from": pl.Int32,  # changes: the base year of the change
    "span_years": pl.Int32,  # changes: year - span_from (> 1 across a gap)
    "note": pl.String,  # why a value is missing, gaps, caveats
    "country": pl.String,  # KAZ (derivations use Kazakhstan's rows only)
    "sex": pl.String,  # T (derivations use totals only)
    "classif1": pl.String,  # the breakdown of the inputs (e.g. AGE_YTHADULT_YGE15), kept apart
    "classif2": pl.String,
}
DEFAULTS = {"country": "KAZ", "sex": "T"}


@cache
def registry(directory: Path = REFERENCE_DIR) -> dict:
    """The raw YAML of the indicator registry (with the extra derivation fields)."""
    return read_yaml(directory / "indicators.yaml")


def _conform(frame: pl.DataFrame) -> pl.DataFrame:
    missing = [pl.lit(DEFAULTS.get(c), dtype=t).alias(c) for c, t in SCHEMA.items() if c not in frame.columns]
    return frame.with_columns(missing).select([pl.col(c).cast(t) for c, t in SCHEMA.items()])


def read_inputs(con: duckdb.DuckDBPyConnection, ref: Reference) -> pl.DataFrame:
    """The current observations (sex T, as reported) that a derivation can use, filtered in SQL: Kazakhstan's
    rows of indicators that are not partial, and of those only the regional rows (regional ratios and sums,
    rank/dispersion), the national annual rows (changes, growth) and the national rows of the inputs of
    national ratios and sums. Bounded by Kazakhstan's data, whatever else the warehouse holds."""
    doc = registry()
    national = sorted(
        {
            c
            for e in doc["indicators"]
            if e.get("derived") and e.get("formula") in ("ratio", "sum") and e.get("scope") == "national"
            for c in _codes(e.get("numerator")) + _codes(e.get("denominator"))
        }
    )
    partial = ref.indicators.filter(pl.col("partial"))["code"].to_list()
    obs = con.sql(
        f"""SELECT indicator_code, region_code, classif1, classif2, year, period, value, unit, source_id,
                   source_row, obs_status, value_reported, note
            FROM observations
            WHERE sex = 'T' AND country = 'KAZ'
              AND indicator_code NOT IN (SELECT unnest($partial::VARCHAR[]))
              AND (region_code <> '{NATIONAL}'  -- regions: regional ratios and sums, rank and dispersion
                   OR period = 'Y'  -- national annual series: changes, growth
                   OR indicator_code IN (SELECT unnest($national::VARCHAR[])))  -- national ratios and sums""",
        params={"partial": partial, "national": national},
    ).pl()
    return obs.with_columns(pl.lit(False).alias("derived"), pl.lit("reported").alias("method"))


def _codes(expr: str | None) -> list[str]:
    return [c.strip() for c in (expr or "").split("+") if c.strip()]


def _origin(frame: pl.DataFrame) -> pl.Expr:
    """'CODE=value [source row n]' for one input observation."""
    return pl.concat_str(
        pl.col("indicator_code"),
        pl.lit(" "),
        pl.col("year").cast(pl.String),
        pl.lit("="),
        pl.col("value_reported"),
        pl.lit(" ["),
        pl.col("source_id"),
        pl.lit(" row "),
        pl.col("source_row").cast(pl.String),
        pl.lit("]"),
    )


def ratio_or_sum(obs: pl.DataFrame, entry: dict) -> pl.DataFrame:
    """scale * sum(numerator codes) / sum(denominator codes) per region/year/period (formula ratio), or the
    plain sum of the numerator codes (formula sum). NULL when any input is missing."""
    num, den = _codes(entry.get("numerator")), _codes(entry.get("denominator"))
    codes = list(dict.fromkeys(num + den))  # a code in both (ENT_SMALL in ENT_SMALL_SHARE) is one input
    scope = pl.col("region_code") == NATIONAL if entry["scope"] == "national" else pl.col("region_code") != NATIONAL
    inputs = obs.filter(pl.col("indicator_code").is_in(codes), scope)
    if inputs.is_empty():
        return _conform(pl.DataFrame())
    keys = inputs.select(KEY).unique()
    grid = keys.join(pl.DataFrame({"indicator_code": codes}), how="cross").join(
        inputs.with_columns(_origin(inputs).alias("origin")), on=[*KEY, "indicator_code"], how="left", nulls_equal=True
    )
    grid = grid.with_columns(pl.col("origin").fill_null(pl.col("indicator_code") + "=missing"))
    agg = grid.group_by(KEY).agg(
        pl.col("value").filter(pl.col("indicator_code").is_in(num)).sum().alias("num"),
        pl.col("value").filter(pl.col("indicator_code").is_in(den)).sum().alias("den"),
        pl.col("indicator_code").filter(pl.col("value").is_null()).alias("missing"),
        pl.col("origin").str.join("; ").alias("inputs"),
        pl.col("source_id").drop_nulls().unique().sort().str.join(", ").alias("source_id"),
    )
    value = pl.col("num") if entry["formula"] == "sum" else float(entry.get("scale", 1)) * pl.col("num") / pl.col("den")
    complete = pl.col("missing").list.len() == 0
    return _conform(
        agg.with_columns(
            pl.lit(entry["code"]).alias("indicator_code"),
            pl.when(complete & ((pl.col("den") != 0) if den else pl.lit(True))).then(value).alias("value"),
            pl.lit(entry["unit"]).alias("unit"),
            pl.lit(True).alias("derived"),
            pl.lit(entry["method"]).alias("method"),
            pl.when(~complete)
            .then(pl.lit("missing input: ") + pl.col("missing").list.join(", "))
            .when(pl.col("den") == 0 if den else pl.lit(False))
            .then(pl.lit("denominator is 0"))
            .alias("note"),
        )
    )


def growth(obs: pl.DataFrame, variant: dict, unit: str) -> pl.DataFrame:
    """100 * (L_t / L_(t-1) - 1) for consecutive years of a national annual level series."""
    levels = obs.filter(
        pl.col("indicator_code") == variant["input"],
        pl.col("region_code") == NATIONAL,
        pl.col("period") == "Y",
    )
    if levels.is_empty():
        return _conform(pl.DataFrame())
    on = [*CLASSIF, "year"]
    levels = (
        levels.filter(~pl.col("obs_status").fill_null("").is_in(UNPRINTED))
        .with_columns(_origin(levels).alias("origin"))
        .select(*on, "value", "origin", "source_id", (pl.col("obs_status").fill_null("") == BREAK).alias("brk"))
    )
    years = pl.concat([levels.select(on), levels.select(*CLASSIF, pl.col("year") + 1)]).unique()
    prev = (
        levels.drop("brk")
        .rename({"value": "prev", "origin": "prev_origin", "source_id": "prev_source"})
        .with_columns(pl.col("year") + 1)
    )
    frame = years.join(levels, on=on, how="left", nulls_equal=True).join(prev, on=on, how="left", nulls_equal=True)
    both = pl.col("value").is_not_null() & pl.col("prev").is_not_null() & ~pl.col("brk").fill_null(False)
    miss = pl.lit(variant["input"] + " ")
    return _conform(
        frame.with_columns(
            pl.lit(variant["code"]).alias("indicator_code"),
            pl.lit(NATIONAL).alias("region_code"),
            pl.lit("Y").alias("period"),
            pl.when(both).then(100 * (pl.col("value") / pl.col("prev") - 1)).otherwise(None).alias("value"),
            pl.lit(unit).alias("unit"),
            pl.lit(True).alias("derived"),
            pl.lit(variant["method"]).alias("method"),
            pl.concat_str(
                pl.col("prev_origin").fill_null(miss + (pl.col("year") - 1).cast(pl.String) + "=missing"),
                pl.col("origin").fill_null(miss + pl.col("year").cast(pl.String) + "=missing"),
                separator="; ",
            ).alias("inputs"),
            pl.coalesce("source_id", "prev_source").alias("source_id"),
            pl.when(pl.col("brk").fill_null(False))
            .then(pl.lit("break in series (obs_status B) at ") + miss + pl.col("year").cast(pl.String))
            .when(pl.col("prev").is_null())
            .then(pl.lit("missing input: ") + miss + (pl.col("year") - 1).cast(pl.String))
            .when(pl.col("value").is_null())
            .then(pl.lit("missing input: ") + miss + pl.col("year").cast(pl.String))
            .alias("note"),
        )
    )


def conventions_cumulated(con: duckdb.DuckDBPyConnection, entry: dict) -> pl.DataFrame:
    """Conventions ratified by the end of each year, from the first to the last ratification year."""
    frame = con.sql("""
        WITH c AS (SELECT year(ratification_date) AS year, convention_no, ratification_date, source_id
                   FROM conventions),
             years AS (SELECT unnest(range(min(year), max(year) + 1)) AS year FROM c)
        SELECT y.year::INTEGER AS year,
               (SELECT count(*) FROM c WHERE c.year <= y.year)::DOUBLE AS value,
               coalesce((SELECT 'ratified in ' || y.year || ': ' ||
                                string_agg('C' || convention_no || ' (' || ratification_date || ')', ', '
                                           ORDER BY convention_no)
                         FROM c WHERE c.year = y.year), 'none ratified in ' || y.year) AS inputs,
               (SELECT min(source_id) FROM c) AS source_id
        FROM years y ORDER BY y.year""").pl()
    return _conform(
        frame.with_columns(
            pl.lit(entry["code"]).alias("indicator_code"),
            pl.lit(NATIONAL).alias("region_code"),
            pl.lit("Y").alias("period"),
            pl.lit(entry["unit"]).alias("unit"),
            pl.lit(True).alias("derived"),
            pl.lit(entry["method"]).alias("method"),
        )
    )


def changes(base: pl.DataFrame, kinds: dict[str, str]) -> pl.DataFrame:
    """Changes and average annual change over the whole span, for every national annual series, one series
    per indicator, origin (reported/derived) and source: sources and vintages are never mixed.
    - Year-on-year (<CODE>_YOY_ABS, _YOY_PCT) only between consecutive years. Across a gap the change is
      over the gap's span and is NAMED for it: <CODE>_<n>Y_ABS, _<n>Y_PCT (span_years = n), never
      interpolated, never annualised.
    - No change across a break in series: a value flagged B (obs_status) starts a new series; the change
      into it is missing, with a note, and the average annual change is computed from the break on.
    - Values the source implies but does not print, or whose key corrects a misprint (obs_status implied,
      corrected), are left out of every change."""
    series = ["indicator_code", *CLASSIF, "derived", "source_id"]
    nat = (
        base.filter(
            pl.col("region_code") == NATIONAL,
            pl.col("period") == "Y",
            pl.col("value").is_not_null(),
            ~pl.col("obs_status").fill_null("").is_in(UNPRINTED),
        )
        .with_columns(pl.col("indicator_code").replace_strict(kinds, default="").alias("kind"))
        .sort([*series, "year"])
        # a break (B) starts a new segment of the series: nothing is computed across it
        .with_columns((pl.col("obs_status").fill_null("") == BREAK).cum_sum().over(series).alias("segment"))
    )
    broken = pl.col("obs_status").fill_null("") == BREAK
    nat = nat.with_columns(
        pl.col("year").shift(1).over(series).alias("span_from"),
        pl.col("value").shift(1).over(series).alias("prev"),
    )
    suffix = pl.when(pl.col("span_years") > 1).then(pl.lit("_") + pl.col("span_years").cast(pl.String) + "Y")
    pp = pl.when(pl.col("unit") == "percent").then(pl.lit("percentage points")).otherwise(pl.col("unit"))
    origin = pl.when(pl.col("derived")).then(pl.lit("derived ")).otherwise(pl.lit("reported "))
    signed = pl.col("kind") == "rate"
    step = nat.filter(pl.col("prev").is_not_null()).with_columns(
        (pl.col("year") - pl.col("span_from")).alias("span_years")
    )
    gap = (
        pl.when(broken)
        .then(
            pl.concat_str(
                pl.lit("break in series at "),
                pl.col("year").cast(pl.String),
                pl.lit(" (obs_status B): no change across it"),
            )
        )
        .when(pl.col("span_years") > 1)
        .then(
            pl.concat_str(
                pl.lit("change over "),
                pl.col("span_years").cast(pl.String),
                pl.lit(" years "),
                pl.col("span_from").cast(pl.String),
                pl.lit("-"),
                pl.col("year").cast(pl.String),
                pl.lit(" (no value in between): not year-on-year, not interpolated, not annualised"),
            )
        )
    )
    common = [
        pl.col("indicator_code").alias("base_code"),
        pl.lit(True).alias("derived"),
        pl.concat_str(
            origin,
            pl.col("indicator_code"),
            pl.lit(" "),
            pl.col("span_from").cast(pl.String),
            pl.lit("="),
            pl.col("prev").cast(pl.String),
            pl.lit("; "),
            pl.col("year").cast(pl.String),
            pl.lit("="),
            pl.col("value").cast(pl.String),
        ).alias("inputs"),
    ]
    yoy_abs = step.with_columns(
        *common,
        (pl.col("indicator_code") + suffix.otherwise(pl.lit("_YOY")) + "_ABS").alias("indicator_code"),
        pl.when(~broken).then(pl.col("value") - pl.col("prev")).alias("value"),
        pp.alias("unit"),
        pl.when(pl.col("span_years") > 1)
        .then(pl.lit("value_t - value_(t-n), n = span_years (no value in between)"))
        .otherwise(pl.lit("value_t - value_(t-1)"))
        .alias("method"),
        gap.alias("note"),
    )
    yoy_pct = step.filter(~signed).with_columns(
        *common,
        (pl.col("indicator_code") + suffix.otherwise(pl.lit("_YOY")) + "_PCT").alias("indicator_code"),
        pl.when((pl.col("prev") != 0) & ~broken).then(100 * (pl.col("value") / pl.col("prev") - 1)).alias("value"),
        pl.lit("percent").alias("unit"),
        pl.when(pl.col("span_years") > 1)
        .then(pl.lit("100 * (value_t / value_(t-n) - 1), n = span_years (no value in between)"))
        .otherwise(pl.lit("100 * (value_t / value_(t-1) - 1)"))
        .alias("method"),
        pl.when((pl.col("prev") == 0) & ~broken).then(pl.lit("previous value is 0")).otherwise(gap).alias("note"),
    )
    ends = (
        nat.filter(pl.col("segment") == pl.col("segment").max().over(series))  # from the last break on
        .group_by(series)
        .agg(
            pl.col("unit").first(),
            pl.col("kind").first(),
            pl.len().alias("n"),
            pl.col("year").first().alias("span_from"),
            pl.col("year").last(),
            pl.col("value").first().alias("prev"),
            pl.col("value").last(),
            pl.col("year").cast(pl.String).str.join(",").alias("years"),
        )
        .filter(pl.col("n") >= 2)
        .with_columns((pl.col("year") - pl.col("span_from")).alias("span_years"))
    )
    span_note = pl.concat_str(
        pl.lit("end points "),
        pl.col("span_from").cast(pl.String),
        pl.lit(" and "),
        pl.col("year").cast(pl.String),
        pl.lit("; years available: "),
        pl.col("years"),
    )
    aac_abs = ends.with_columns(
        *common,
        (pl.col("indicator_code") + "_AAC_ABS").alias("indicator_code"),
        ((pl.col("value") - pl.col("prev")) / pl.col("span_years")).alias("value"),
        (pp + pl.lit(" per year")).alias("unit"),
        pl.lit("(value_last - value_first) / (year_last - year_first)").alias("method"),
        span_note.alias("note"),
    )
    positive = (pl.col("prev") > 0) & (pl.col("value") > 0)
    aac_pct = ends.filter(~signed).with_columns(
        *common,
        (pl.col("indicator_code") + "_AAC_PCT").alias("indicator_code"),
        pl.when(positive)
        .then(100 * ((pl.col("value") / pl.col("prev")).pow(1 / pl.col("span_years")) - 1))
        .alias("value"),
        pl.lit("percent per year").alias("unit"),
        pl.lit("100 * ((value_last / value_first) ^ (1 / (year_last - year_first)) - 1)").alias("method"),
        pl.when(positive).then(span_note).otherwise(pl.lit("an end point is not positive")).alias("note"),
    )
    return pl.concat(
        [
            _conform(f.with_columns(pl.lit(NATIONAL).alias("region_code"), pl.lit("Y").alias("period")))
            for f in (yoy_abs, yoy_pct, aac_abs, aac_pct)
        ]
    )


def rank_dispersion(base: pl.DataFrame, names: dict[str, str]) -> pl.DataFrame:
    """Per regional indicator (year, period, source): each region's rank (1 = highest) and the min, max and
    coefficient of variation across the regions. Regions are Kazakhstan's (the codes of `names`, the region
    reference): the national total row and the rows of other countries (ILOSTAT/WDI areas) are excluded."""
    group = ["indicator_code", *CLASSIF, "year", "period", "derived", "source_id"]
    regions = [c for c in names if c != NATIONAL]
    reg = base.filter(pl.col("region_code").is_in(regions), pl.col("value").is_not_null()).with_columns(
        pl.col("region_code").replace_strict(names, default=pl.col("region_code")).alias("region_name"),
        pl.len().over(group).alias("n"),
    )
    reg = reg.filter(pl.col("n") >= 2)
    label = pl.concat_str(pl.col("n").cast(pl.String), pl.lit(" regions (national total row excluded)"))
    common = [pl.col("indicator_code").alias("base_code"), pl.lit(True).alias("derived")]
    rank = reg.with_columns(
        *common,
        (pl.col("indicator_code") + "_RANK").alias("indicator_code"),
        pl.col("value").rank("min", descending=True).over(group).cast(pl.Float64).alias("value"),
        pl.lit("rank").alias("unit"),
        pl.lit("rank among the regions, 1 = highest; ties share the best rank").alias("method"),
        pl.concat_str(
            pl.col("region_name"),
            pl.lit(" = "),
            pl.col("value").round(4).cast(pl.String),
            pl.lit(" among "),
            label,
        ).alias("inputs"),
    )
    stats = (
        reg.sort("value")
        .group_by(group)
        .agg(
            pl.col("unit").first(),
            pl.len().alias("n"),
            pl.col("value").min().alias("min"),
            pl.col("value").max().alias("max"),
            (pl.col("value").std(ddof=0) / pl.col("value").mean()).alias("cv"),
            pl.col("region_name").first().alias("at_min"),
            pl.col("region_name").last().alias("at_max"),
        )
    )
    out = [rank]
    for suffix, col, unit, method, inputs in (
        (
            "MIN",
            "min",
            pl.col("unit"),
            "lowest regional value",
            pl.col("at_min") + " = " + pl.col("min").round(4).cast(pl.String),
        ),
        (
            "MAX",
            "max",
            pl.col("unit"),
            "highest regional value",
            pl.col("at_max") + " = " + pl.col("max").round(4).cast(pl.String),
        ),
        (
            "CV",
            "cv",
            pl.lit("ratio"),
            "population standard deviation (ddof=0) / mean across the regions",
            label,
        ),
    ):
        out.append(
            stats.with_columns(
                *common,
                (pl.col("indicator_code") + "_" + suffix).alias("indicator_code"),
                pl.lit(NATIONAL).alias("region_code"),
                pl.col(col).alias("value"),
                unit.alias("unit"),
                pl.lit(method).alias("method"),
                pl.concat_str(inputs, pl.lit("; "), label).alias("inputs"),
            )
        )
    return pl.concat([_conform(f) for f in out])


def compute(con: duckdb.DuckDBPyConnection, ref: Reference) -> pl.DataFrame:
    """The derived values (the content of `_derived_values`; with the observed values: `indicator_values`)."""
    doc = registry()
    ind = ref.indicators
    partial = ind.filter(pl.col("partial"))["code"]
    obs = read_inputs(con, ref)  # Kazakhstan only; never a partial indicator
    entries = [e for e in doc["indicators"] if e.get("derived")]
    derived = [ratio_or_sum(obs, e) for e in entries if e.get("formula") in ("ratio", "sum")]
    derived += [conventions_cumulated(con, e) for e in entries if e.get("formula") == "cumulative_count"]
    units = dict(ind.select("code", "unit").iter_rows())
    derived += [
        growth(obs, v, units[v["code"]]) for v in doc.get("derived_variants", []) if v.get("formula") == "growth"
    ]
    derived = pl.concat(derived)
    base = pl.concat([_conform(obs), derived.filter(~pl.col("indicator_code").is_in(partial.implode()))])
    kinds = dict(ind.select("code", "kind").iter_rows())
    names = dict(ref.regions.select("code", "name_en").iter_rows())
    return pl.concat([derived, changes(base, kinds), rank_dispersion(base, names)]).sort(
        "indicator_code", "region_code", "year", "period"
    )
