"""Row rules for a programme's structure and grades (format `dwcp_assessments`).

One row per node: priority > outcome > activity > sub_activity. `grade` is on the six-point scale
of the review's Table 2 (1 = not complete ... 6 = over accomplished); outcome and priority grades are
the ones the source REPORTS (dwi recomputes them). Works for any programme, not just Kazakhstan's.
"""

from __future__ import annotations

import pandera.polars as pa
import polars as pl
from dwi.schemas import COMMON, rule

REQUIRED = [
    "programme",
    "level",
    "code",
    "parent_code",
    "title",
    "status_text",
    "grade",
    "grade_basis",
    "evidence",
    "location",
    "note",
]
OPTIONAL: list[str] = []
KEY = ["programme", "code"]
LEVELS = ["priority", "outcome", "activity", "sub_activity"]
PARENT_LEVEL = {"outcome": "priority", "activity": "outcome", "sub_activity": "activity"}
BASES = ["stated", "implied", "inferred", "missing"]
SCALE = (1, 6)
# Graded on the scale itself (whole points) when they have no children.
LEAF_LEVELS = ["activity", "sub_activity"]


def schema(ref) -> pa.DataFrameSchema:
    return pa.DataFrameSchema(
        {
            "_row": pa.Column(pl.Int64),
            "programme": pa.Column(pl.String),
            "level": pa.Column(pl.String),
            "code": pa.Column(pl.String),
            "grade": pa.Column(pl.Float64, nullable=True),
            "grade_basis": pa.Column(pl.String),
        },
        # Custom row rules rather than pandera's built-in isin/str_matches: those report their own
        # name ('isin'), not "<column>:<rule>", so the message could not say what was expected.
        checks=[
            rule("programme:programme_id", pl.col("programme").str.contains(r"^[A-Za-z0-9_.-]+$")),
            rule("level:known_level", pl.col("level").is_in(LEVELS)),
            rule("code:code_format", pl.col("code").str.contains(r"^\d+(\.\d+)*(\.[a-z])?$")),
            rule("grade_basis:known_basis", pl.col("grade_basis").is_in(BASES)),
            rule("grade:number", pl.col("grade").is_not_null() | pl.col("grade_reported").is_null()),
            rule("grade:in_scale", pl.col("grade").is_between(*SCALE)),
            rule(
                "grade:missing_has_no_grade", (pl.col("grade_basis") != "missing") | pl.col("grade_reported").is_null()
            ),
            rule(
                "grade:graded_has_grade", (pl.col("grade_basis") == "missing") | pl.col("grade_reported").is_not_null()
            ),
            rule(
                "grade:whole_point",
                ~(pl.col("level").is_in(LEAF_LEVELS) & ~pl.col("has_children"))
                | (pl.col("grade") == pl.col("grade").round(0)),
            ),
            rule("parent_code:parent_exists", pl.col("parent_ok")),
            # A child's code extends its parent's by one segment (1 > 1.2 > 1.2.3 > 1.2.3.a).
            rule(
                "code:matches_parent",
                pl.when(pl.col("level") == "priority")
                .then(~pl.col("code").str.contains(r"\."))
                .otherwise(pl.col("code").str.replace(r"\.[^.]+$", "") == pl.col("parent_code")),
            ),
            # Never a guess recorded as a fact: an inferred or missing grade says why.
            rule(
                "note:reasoning_required",
                ~pl.col("grade_basis").is_in(["inferred", "missing"]) | pl.col("note").is_not_null(),
            ),
            rule(
                "evidence:graded_has_evidence",
                (pl.col("grade_basis") == "missing")
                | (pl.col("evidence").is_not_null() & pl.col("location").is_not_null()),
            ),
            rule("title:required", pl.col("title").is_not_null()),
        ],
        strict=False,
    )


def held_back(file: str, frame: pl.DataFrame, bad_rows: list[int]) -> tuple[str, str]:
    """A programme file loads whole or not at all: grades are averaged up a tree, and a tree with a
    quarantined node (or a row that a typo moved to another programme) would give wrong means without
    saying so. For a file with rows breaking a rule (`bad_rows`): the programmes held back and the message."""
    bad = ", ".join(str(r) for r in sorted(bad_rows))
    programmes = ", ".join(frame["programme"].drop_nulls().unique(maintain_order=True).to_list())
    return programmes, (
        f"{file}: expected every row valid, found {len(bad_rows)} row(s) breaking a rule "
        f"(rows {bad}), so all {frame.height} rows (programme {programmes}) are held back: "
        "a grade tree with a node missing would give wrong means; fix those rows and run again"
    )


MESSAGES = {
    **COMMON,
    "number": "a plain number with '.' as the decimal separator and no thousands separators",
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
