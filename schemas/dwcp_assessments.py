"""Row rules for a programme's structure and grades (format `dwcp_assessments`).

One row per node: priority > outcome > activity > sub_activity. `grade` is on the six-point scale
of the review's Table 2 (1 = not complete ... 6 = over accomplished); outcome and priority grades are
the ones the source REPORTS (dwi recomputes them). Works for any programme, not just Kazakhstan's.
"""

from __future__ import annotations

import pandera.polars as pa
import polars as pl

REQUIRED = ["programme", "level", "code", "parent_code", "title", "status_text", "grade", "grade_basis",
            "evidence", "location", "note"]
OPTIONAL: list[str] = []
KEY = ["programme", "code"]
LEVELS = ["priority", "outcome", "activity", "sub_activity"]
PARENT_LEVEL = {"outcome": "priority", "activity": "outcome", "sub_activity": "activity"}
BASES = ["stated", "implied", "inferred", "missing"]
SCALE = (1, 6)
# Graded on the scale itself (whole points) when they have no children.
LEAF_LEVELS = ["activity", "sub_activity"]


def _rule(name: str, expr: pl.Expr) -> pa.Check:
    return pa.Check(lambda data: data.lazyframe.select(expr.fill_null(True)), name=name)


def schema(ref) -> pa.DataFrameSchema:
    return pa.DataFrameSchema(
        {
            "_row": pa.Column(pl.Int64),
            "programme": pa.Column(pl.String, pa.Check.str_matches(r"^[A-Za-z0-9_.-]+$",
                                                                   name="programme:programme_id")),
            "level": pa.Column(pl.String, pa.Check.isin(LEVELS, name="level:known_level")),
            "code": pa.Column(pl.String, pa.Check.str_matches(r"^\d+(\.\d+)*(\.[a-z])?$", name="code:code_format")),
            "grade": pa.Column(pl.Float64, nullable=True),
            "grade_basis": pa.Column(pl.String, pa.Check.isin(BASES, name="grade_basis:known_basis")),
        },
        checks=[
            _rule("grade:number", pl.col("grade").is_not_null() | pl.col("grade_reported").is_null()),
            _rule("grade:in_scale", pl.col("grade").is_between(*SCALE)),
            _rule("grade:missing_has_no_grade",
                  (pl.col("grade_basis") != "missing") | pl.col("grade_reported").is_null()),
            _rule("grade:graded_has_grade",
                  (pl.col("grade_basis") == "missing") | pl.col("grade_reported").is_not_null()),
            _rule("grade:whole_point", ~(pl.col("level").is_in(LEAF_LEVELS) & ~pl.col("has_children"))
                  | (pl.col("grade") == pl.col("grade").round(0))),
            _rule("parent_code:parent_exists", pl.col("parent_ok")),
            # A child's code extends its parent's by one segment (1 > 1.2 > 1.2.3 > 1.2.3.a).
            _rule("code:matches_parent",
                  pl.when(pl.col("level") == "priority").then(~pl.col("code").str.contains(r"\."))
                  .otherwise(pl.col("code").str.replace(r"\.[^.]+$", "") == pl.col("parent_code"))),
            # Never a guess recorded as a fact: an inferred or missing grade says why.
            _rule("note:reasoning_required",
                  ~pl.col("grade_basis").is_in(["inferred", "missing"]) | pl.col("note").is_not_null()),
            _rule("evidence:graded_has_evidence",
                  (pl.col("grade_basis") == "missing") | (pl.col("evidence").is_not_null()
                                                          & pl.col("location").is_not_null())),
            _rule("title:required", pl.col("title").is_not_null()),
        ],
        unique=KEY,
        strict=False,
    )


def held_back(batch, frame: pl.DataFrame, kept: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """A programme loads whole or not at all: its grades are averaged up a tree, and a tree with a
    quarantined node would give wrong means without saying so. Returns the rows kept and one error
    per programme held back."""
    from dwi.batch import ISSUE_SCHEMA

    counts = (frame.group_by("programme").agg(pl.len().alias("n"), pl.col("_row").alias("rows"))
              .join(kept.group_by("programme").agg(pl.len().alias("n_kept")), on="programme", how="left")
              .with_columns(pl.col("n_kept").fill_null(0)))
    broken = counts.filter(pl.col("n_kept") < pl.col("n"))
    bad_rows = frame.filter(~pl.col("_row").is_in(kept["_row"].implode())).group_by("programme").agg(
        pl.col("_row").sort().cast(pl.String).str.join(", ").alias("bad_rows"), pl.len().alias("n_bad"))
    issues = broken.join(bad_rows, on="programme").select(
        pl.lit(batch.source.id).alias("source_id"), pl.lit(batch.source.display).alias("file"),
        pl.lit(None, pl.Int64).alias("row"), pl.lit("programme").alias("column"),
        pl.lit("programme_held_back").alias("check"), pl.col("programme").alias("value"),
        pl.concat_str(pl.lit(batch.source.display), pl.lit(": programme "), pl.col("programme"),
                      pl.lit(": expected every row valid, found "), pl.col("n_bad").cast(pl.String),
                      pl.lit(" row(s) breaking a rule (rows "), pl.col("bad_rows"),
                      pl.lit("), so all "), pl.col("n").cast(pl.String),
                      pl.lit(" rows of the programme are held back (a grade tree with a node missing would "
                             "give wrong means); fix those rows and run again")).alias("message"),
        pl.lit("error").alias("severity")).select(list(ISSUE_SCHEMA))
    return kept.filter(~pl.col("programme").is_in(broken["programme"].implode())), issues
