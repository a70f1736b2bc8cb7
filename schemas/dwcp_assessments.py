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


def _rule(name: str, expr: pl.Expr) -> pa.Check:
    return pa.Check(lambda data: data.lazyframe.select(expr.fill_null(True)), name=name)


def schema(ref) -> pa.DataFrameSchema:
    return pa.DataFrameSchema(
        {
            "_row": pa.Column(pl.Int64),
            "programme": pa.Column(pl.String),
            "level": pa.Column(pl.String, nullable=True),
            "code": pa.Column(pl.String, nullable=True),
            "grade": pa.Column(pl.Float64, nullable=True),
            "grade_basis": pa.Column(pl.String, nullable=True),
        },
        checks=[
            _rule("level:known_level", pl.col("level").is_in(LEVELS) & pl.col("level").is_not_null()),
            _rule("code:code_format", pl.col("code").str.contains(r"^\d+(\.\d+)*(\.[a-z])?$")
                  & pl.col("code").is_not_null()),
            _rule("grade_basis:known_basis", pl.col("grade_basis").is_in(BASES) & pl.col("grade_basis").is_not_null()),
            _rule("grade:number", pl.col("grade").is_not_null() | pl.col("grade_reported").is_null()),
            _rule("grade:in_scale", pl.col("grade").is_between(*SCALE)),
            _rule("grade:missing_has_no_grade",
                  (pl.col("grade_basis") != "missing") | pl.col("grade_reported").is_null()),
            _rule("grade:graded_has_grade",
                  (pl.col("grade_basis") == "missing") | pl.col("grade_reported").is_not_null()),
            _rule("parent_code:parent_exists", pl.col("parent_ok")),
            _rule("title:required", pl.col("title").is_not_null()),
        ],
        unique=KEY,
        strict=False,
    )
