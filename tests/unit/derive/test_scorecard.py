"""The programme scorecard (issue 4): the review's grades as transcribed, the grades dwi recomputes, the
review's own inconsistencies, a made-up programme loaded without code changes, one broken file per rule."""

from __future__ import annotations

import os
import subprocess
import sys
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import duckdb
import polars as pl
import pytest

from dwi import stages
from dwi.derive.scorecard import DEC, half_up, radar_series, score, tree
from dwi.store import build
from tests.conftest import FIXTURES, RAW

FIXTURES = FIXTURES / "scorecard"
KAZ = "KAZ_DWCP_2010_2012"


@pytest.fixture(scope="module")
def kaz_warehouse(tmp_path_factory) -> Path:
    wh = tmp_path_factory.mktemp("kaz") / "dwi.duckdb"
    stages.run(RAW, wh)
    return wh


@pytest.fixture(scope="module")
def kaz(kaz_warehouse) -> dict[str, dict]:
    con = duckdb.connect(str(kaz_warehouse), read_only=True)
    try:
        rows = con.sql(f"SELECT * FROM dwcp_scores WHERE programme = '{KAZ}'").pl()
    finally:
        con.close()
    return {r["code"]: r for r in rows.iter_rows(named=True)}


@pytest.fixture(scope="module")
def made_up(tmp_path_factory) -> dict[str, dict]:
    """The made-up programme in tests/fixtures/scorecard, loaded by the ordinary job (no code changes)."""
    wh = tmp_path_factory.mktemp("made_up") / "dwi.duckdb"
    p = stages.run(FIXTURES, wh)
    loaded = [(b.source.id, b.rows_loaded, b.rows_quarantined) for b in p.batches]
    assert loaded == [("test_programme", 17, 0)]
    con = duckdb.connect(str(wh), read_only=True)
    try:
        rows = con.sql("SELECT * FROM dwcp_scores").pl()
    finally:
        con.close()
    return {r["code"]: r for r in rows.iter_rows(named=True)}


# What the review prints (raw/review_2012/dwcp_assessments.md); None = the review prints no grade.
REVIEW_OUTCOMES = {
    "1.1": 4.7,
    "1.2": 5,
    "1.3": 5.3,
    "2.1": 5.5,
    "2.2": None,
    "2.3": 4.5,
    "2.4": 4.8,
    "2.5": 5.3,
    "3.1": 5.2,
    "3.2": 5,
    "3.3": 5.3,
}
REVIEW_PRIORITIES = {"1": None, "2": 5.2, "3": 5.1}
# Means of the children's grades, rounded half up to one decimal; None = a child has no grade.
COMPUTED_OUTCOMES = {
    "1.1": 4.7,
    "1.2": 5.0,
    "1.3": 5.3,
    "2.1": 5.5,
    "2.2": 5.0,
    "2.3": 4.5,
    "2.4": None,
    "2.5": 5.3,
    "3.1": 5.2,
    "3.2": 5.0,
    "3.3": 5.3,
}
COMPUTED_PRIORITIES = {"1": 5.0, "2": 5.0, "3": 5.2}


def test_reported_grades_are_the_reviews(kaz):
    assert {c: kaz[c]["reported_grade"] for c in REVIEW_OUTCOMES} == REVIEW_OUTCOMES
    assert {c: kaz[c]["reported_grade"] for c in REVIEW_PRIORITIES} == REVIEW_PRIORITIES
    assert kaz["1.1.1"]["reported_grade"] == 5.3 and kaz["1.1.1"]["reported_text"] == "5.3"


def test_computed_grades(kaz):
    assert {c: kaz[c]["computed_grade"] for c in COMPUTED_OUTCOMES} == COMPUTED_OUTCOMES
    assert {c: kaz[c]["computed_grade"] for c in COMPUTED_PRIORITIES} == COMPUTED_PRIORITIES
    assert kaz["1.1"]["computed_mean"] == pytest.approx(23.3 / 5)  # 5.3, 4, 5, 4, 5 -> 4.66
    assert kaz["1.1"]["children"] == "1.1.1=5.3; 1.1.2=4; 1.1.3=5; 1.1.4=4; 1.1.5=5"
    assert kaz["3.1"]["computed_mean"] == pytest.approx(31 / 6)
    # The programme row (not in the source): priorities 1 (computed 5.0), 2 (5.2) and 3 (5.1) -> 5.1.
    assert kaz[KAZ]["level"] == "programme" and kaz[KAZ]["computed_grade"] == 5.1
    assert kaz[KAZ]["verdict"] == "not reported"


def test_half_up_rounding_of_activity_1_1_1(kaz):
    # (5 + 5 + 5 + 6) / 4 = 5.25: the review prints 5.3 (half up); Python's round() would give 5.2.
    row = kaz["1.1.1"]
    assert row["computed_mean"] == 5.25 and row["computed_grade"] == 5.3
    assert row["verdict"] == "consistent" and row["difference"] == 0
    assert round(5.25, 1) == 5.2  # why dwi does not use round()


def test_half_up_helper_is_exact():
    values = ["5.25", "4.65", "0.05", "5.15", "2.35", "5.1666666"]
    got = pl.DataFrame({"x": values}).select(half_up(pl.col("x").cast(DEC), 1).cast(pl.String))["x"]
    expected = [Decimal(v).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP) for v in values]
    assert [Decimal(g) for g in got] == expected == [Decimal(x) for x in ("5.3", "4.7", "0.1", "5.2", "2.4", "5.2")]


def test_verdicts(kaz):
    verdicts = {c: kaz[c]["verdict"] for c in [*COMPUTED_OUTCOMES, *COMPUTED_PRIORITIES]}
    assert verdicts == {
        **{c: "consistent" for c in COMPUTED_OUTCOMES},
        "2.2": "not reported",
        "2.4": "not computable",
        "1": "not reported",
        "2": "inconsistent",
        "3": "inconsistent",
    }
    assert kaz["1.1.1.a"]["level"] == "sub_activity" and kaz["1.1.1.a"]["verdict"] == "input"
    assert [c for c, r in kaz.items() if r["verdict"] == "missing"] == ["2.4.4", "2.4.5", "2.4.6"]


def test_priority_3_disagrees_with_its_outcomes(kaz):
    p3 = kaz["3"]
    assert p3["reported_grade"] == 5.1 and p3["computed_grade"] == 5.2
    assert p3["computed_mean"] == pytest.approx(15.5 / 3)  # (5.2 + 5 + 5.3) / 3 = 5.17
    assert p3["difference"] == pytest.approx(-0.1)
    assert "= 5.17 -> 5.2" in p3["note"] and "reported 5.1 needs a mean in [5.05, 5.15)" in p3["note"]


def test_priority_2_implies_an_interval_for_outcome_2_2(kaz):
    o22 = kaz["2.2"]
    # 5 outcomes, reported 5.2 -> sum in [25.75, 26.25); the others sum to 5.5 + 4.5 + 4.8 + 5.3 = 20.1.
    assert (o22["implied_low"], o22["implied_high"]) == (pytest.approx(5.65), 6.0)  # capped at the scale's 6
    assert "Priority 2's reported 5.2 implies 2.2 in [5.65, 6]" in o22["note"]
    assert "the computed mean 5 lies outside" in o22["note"]
    assert o22["computed_grade"] == 5.0 and o22["grade_used_basis"] == "computed"
    assert "inputs include inferred grades: 2.2.3" in o22["note"]
    p2 = kaz["2"]
    assert p2["computed_mean"] == pytest.approx(25.1 / 5) and p2["verdict"] == "inconsistent"
    assert "uses the computed (not reported) grade of outcome 2.2" in p2["note"]


def test_outcome_2_4_is_not_computable_and_bounds_its_missing_activities(kaz):
    o24 = kaz["2.4"]
    assert o24["computed_grade"] is None and o24["n_children"] == 6 and o24["n_graded_children"] == 3
    assert "no grade for 3 of 6 activities: 2.4.4, 2.4.5, 2.4.6" in o24["note"]
    # 6 x [4.75, 4.85) - (5 + 5 + 4) = [14.5, 15.1) for the three ungraded activities.
    assert "the sum of 2.4.4, 2.4.5, 2.4.6 in [14.5, 15.1)" in o24["note"]
    assert "Outcome 2.4's reported 4.8 implies the sum of 2.4.4, 2.4.5, 2.4.6" in kaz["2.4.5"]["note"]


def test_radar_series(kaz_warehouse):
    con = duckdb.connect(str(kaz_warehouse), read_only=True)
    try:
        radar = radar_series(con)
    finally:
        con.close()
    assert radar.columns[:8] == [
        "programme",
        "chart_code",
        "chart_level",
        "chart_title",
        "axis_code",
        "axis_label",
        "grade",
        "basis",
    ]
    charts = radar.unique(["chart_code", "chart_level"])
    assert sorted(charts.group_by("chart_level").len().rows()) == [("outcome", 11), ("priority", 3)]
    o11 = radar.filter(pl.col("chart_code") == "1.1")
    assert o11["axis_label"].to_list() == [f"Activity 1.1.{i}" for i in range(1, 6)]
    assert o11["grade"].to_list() == [5.3, 4, 5, 4, 5]
    p2 = radar.filter(pl.col("chart_code") == "2")
    assert p2.select("axis_code", "grade", "basis").rows() == [
        ("2.1", 5.5, "stated"),
        ("2.2", 5.0, "computed"),
        ("2.3", 4.5, "stated"),
        ("2.4", 4.8, "stated"),
        ("2.5", 5.3, "stated"),
    ]
    o24 = radar.filter(pl.col("chart_code") == "2.4")
    assert o24.filter(pl.col("grade").is_null()).select("axis_code", "basis").rows() == [
        ("2.4.4", "missing"),
        ("2.4.5", "missing"),
        ("2.4.6", "missing"),
    ]


def test_run_fills_dwcp_scores_and_sql_assertions_pass(kaz_warehouse, kaz):
    assert len(kaz) == 57 + 1  # every node of the transcription plus the programme row
    con = duckdb.connect(str(kaz_warehouse), read_only=True)
    try:
        assert build.sql_tests(con)["assert_dwcp_scores_cover_tree"] == 0
        columns = [r[0] for r in con.execute("DESCRIBE dwcp_scores").fetchall()]
    finally:
        con.close()
    assert columns[:8] == [
        "level",
        "code",
        "title",
        "computed_grade",
        "reported_grade",
        "difference",
        "verdict",
        "note",
    ]


def test_made_up_programme_loads_without_code_changes(made_up):
    assert {r["programme"] for r in made_up.values()} == {"TST_DWCP_2030_2032"}
    assert made_up["1.1"]["computed_grade"] == 4.3 and made_up["1.1"]["verdict"] == "consistent"
    # The deliberate inconsistency: reported 5, activities 5 and 6.
    assert made_up["1.2"]["verdict"] == "inconsistent" and made_up["1.2"]["computed_grade"] == 5.5
    assert [c for c, r in made_up.items() if r["verdict"] == "inconsistent"] == ["1.2"]
    # (4.3 + 5) / 2 = 4.65 -> 4.7 half up (half to even would give 4.6 and call it inconsistent).
    assert made_up["1"]["computed_grade"] == 4.7 and made_up["1"]["verdict"] == "consistent"
    assert made_up["TST_DWCP_2030_2032"]["computed_grade"] == 4.7  # (4.7 + 4.6) / 2 = 4.65
    assert made_up["2.1.1"]["computed_grade"] == 5.5 and made_up["2.1.1.b"]["level"] == "sub_activity"
    # Outcome 2.1 prints no grade: computed (5.5 + 5) / 2 = 5.25 -> 5.3; Priority 2's 4.6 bounds it.
    o21 = made_up["2.1"]
    assert o21["verdict"] == "not reported" and o21["computed_grade"] == 5.3
    assert (o21["implied_low"], o21["implied_high"]) == (pytest.approx(5.1), pytest.approx(5.3))
    assert "lies outside" not in o21["note"]
    assert made_up["2"]["computed_grade"] == 4.6 and made_up["2"]["verdict"] == "consistent"
    assert made_up["2.2"]["verdict"] == "not computable"
    assert made_up["2.2.2"]["verdict"] == "missing"
    assert (made_up["2.2.2"]["implied_low"], made_up["2.2.2"]["implied_high"]) == (
        pytest.approx(3.9),
        pytest.approx(4.1),
    )


BROKEN = {  # file -> (column, rule) expected at file row 5
    "grade_7": ("grade", "in_scale"),
    "orphan_activity": ("parent_code", "parent_exists"),
    "unknown_basis": ("grade_basis", "known_basis"),
    "duplicate_code": ("key", "duplicate_key"),
    "grade_with_basis_missing": ("grade", "missing_has_no_grade"),
    "half_point_activity": ("grade", "whole_point"),
    "code_not_under_parent": ("code", "matches_parent"),
    "inferred_without_reasoning": ("note", "reasoning_required"),
    "grade_without_evidence": ("evidence", "graded_has_evidence"),
    "programme_id_with_space": ("programme", "programme_id"),
}


@pytest.fixture(scope="module")
def broken_run(tmp_path_factory):
    wh = tmp_path_factory.mktemp("broken") / "dwi.duckdb"
    p = stages.run(FIXTURES / "broken", wh)
    con = duckdb.connect(str(wh), read_only=True)
    try:
        scores = con.execute("SELECT count(*) FROM dwcp_scores").fetchall()[0][0]
    finally:
        con.close()
    return {b.source.id: b for b in p.batches}, scores


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_broken_file_is_held_back_with_a_readable_error(broken_run, name):
    batches, _ = broken_run
    batch = batches[name]
    column, rule = BROKEN[name]
    errors = batch.issues.filter(pl.col("severity") == "error")
    hit = errors.filter(pl.col("check") == rule, pl.col("row") == 5, pl.col("column") == column)
    assert hit.height == 1, errors.select("row", "column", "check").rows()
    message = hit["message"][0]
    assert message.startswith(f"broken/{name}.csv, row 5, column {column}: expected ")
    assert ", found " in message
    assert rule in message
    # The whole file is held back: no partial programme tree reaches the warehouse.
    assert (batch.rows_in, batch.rows_loaded, batch.rows_quarantined) == (4, 0, 4)
    assert errors.filter(pl.col("check") == "programme_held_back").height == 1


def test_broken_files_leave_an_empty_scorecard(broken_run):
    assert set(broken_run[0]) == set(BROKEN)
    assert broken_run[1] == 0


def _dwi(*args: str) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).parent / "dwi"
    return subprocess.run(
        [str(exe), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "250", "NO_COLOR": "1"},
    )


def test_cli_scorecard_shows_the_discrepancies(kaz_warehouse):
    res = _dwi("scorecard", "--warehouse", str(kaz_warehouse), "--programme", KAZ)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    p3 = next(line for line in lines if "3 Further development of tripartite cooperation" in line)
    assert "reported 5.1 · computed 5.2" in p3 and "INCONSISTENT" in p3
    p2 = next(line for line in lines if "2 Promotion of efficient employment" in line)
    assert "reported 5.2 · computed 5" in p2 and "INCONSISTENT" in p2
    assert "Priority 2's reported 5.2 implies 2.2 in [5.65, 6]" in res.stdout
    assert "2.4.5" in res.stdout and "MISSING grade" in res.stdout
    assert "3.3.3" in res.stdout and "[inferred]" in res.stdout
    assert (
        f"{KAZ}: 2 inconsistent (2, 3); 1 not computable (2.4); 2 not reported (1, 2.2); "
        "3 missing grades (2.4.4, 2.4.5, 2.4.6)" in res.stdout
    )


def test_cli_scorecard_unknown_programme_is_one_line(kaz_warehouse):
    res = _dwi("scorecard", "--warehouse", str(kaz_warehouse), "--programme", "NOPE")
    assert res.returncode == 2
    assert res.stderr.strip() == f"error: programme 'NOPE' is not in {kaz_warehouse}; known: {KAZ}"


def _score(rows: list[tuple]) -> dict[str, dict]:
    """Score a synthetic tree: rows of (level, code, parent_code, grade as printed or None)."""
    frame = pl.DataFrame(
        [
            {
                "programme": "SYN",
                "level": lvl,
                "code": code,
                "parent_code": parent,
                "title": f"node {code}",
                "status_text": None,
                "grade_reported": grade,
                "grade_basis": "stated" if grade else "missing",
                "source_id": "synthetic",
                "source_row": i,
            }
            for i, (lvl, code, parent, grade) in enumerate(rows, 2)
        ],
        schema_overrides={"source_row": pl.Int32},
    )
    return {r["code"]: r for r in score(tree(frame)).iter_rows(named=True)}


def test_no_grade_on_the_scale_fits():
    # Outcome 1.1 reported 5.0 over two activities, one graded 2: the other would need [7.9, 8.1).
    got = _score(
        [
            ("priority", "1", None, None),
            ("outcome", "1.1", "1", "5.0"),
            ("activity", "1.1.1", "1.1", "2"),
            ("activity", "1.1.2", "1.1", None),
        ]
    )
    assert "no grades on the scale 1-6 for 1.1.2 fit" in got["1.1"]["note"]
    assert got["1.1.2"]["implied_low"] is None and got["1.1"]["verdict"] == "not computable"


def test_implied_interval_is_half_open():
    # Priority 1 reported 4.5 with Outcome 1.1 = 3.9: Outcome 1.2 must lie in [5, 5.2); its activities
    # give exactly 5.2, which is outside (and the priority's mean, 4.55, rounds to 4.6, not 4.5).
    got = _score(
        [
            ("priority", "1", None, "4.5"),
            ("outcome", "1.1", "1", "3.9"),
            ("outcome", "1.2", "1", None),
            *[("activity", f"1.2.{i}", "1.2", g) for i, g in enumerate(["5", "5", "5", "5", "6"], 1)],
        ]
    )
    assert (got["1.2"]["implied_low"], got["1.2"]["implied_high"]) == (5.0, pytest.approx(5.2))
    assert "implies 1.2 in [5, 5.2); the computed mean 5.2 lies outside" in got["1.2"]["note"]
    assert got["1"]["computed_grade"] == 4.6 and got["1"]["verdict"] == "inconsistent"
