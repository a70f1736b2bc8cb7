"""Each relation of the reconciliation and each verdict, on a small fixture of its own (no warehouse run).
Every test here fails under the rules before issue 14 (equality everywhere, one-sided correlation
verdicts, tolerances from a machine float's 15 decimals)."""

from __future__ import annotations

import datetime as dt

import duckdb
import polars as pl
import pytest

from dwi.derive import reconcile as rc

OBS_COLUMNS = {
    "indicator_code": pl.String,
    "region_code": pl.String,
    "year": pl.Int32,
    "period": pl.String,
    "value": pl.Float64,
    "value_reported": pl.String,
    "source_id": pl.String,
    "source_row": pl.Int64,
    "source_ref": pl.String,
    "obs_status": pl.String,
}


def obs(*rows: tuple) -> pl.DataFrame:
    """(code, region, year, period, printed[, source, status]) -> observation rows."""
    out = []
    for i, r in enumerate(rows):
        code, region, year, period, printed, *rest = r
        source = rest[0] if rest else "src"
        status = rest[1] if len(rest) > 1 else None
        out.append((code, region, year, period, float(printed), printed, source, i + 1, f"row {i + 1}", status))
    return pl.DataFrame(out, schema=OBS_COLUMNS, orient="row")


def claim(**kw) -> dict:
    return {"check": "c", "location": "here", **kw}


# --- printed precision --------------------------------------------------------------------------------


def test_a_machine_float_is_read_at_its_short_precision():
    printed = ["29.9", "7", "9.69999999999999", "1.19964454976304", "2.50", "1.2e-05", "1069"]
    got = pl.select(rc.half_unit(pl.Series(printed))).to_series().to_list()
    # 9.69999999999999 is 9.7 written out by a machine: +-0.05, not +-5e-15; 1.19964454976304 has no short
    # form and keeps its 14 decimals; '2.50' keeps its printed trailing zero
    assert got == pytest.approx([0.05, 0.5, 0.05, 5e-15, 0.005, 5e-7, 0.5])


def test_world_bank_growth_agrees_with_levels_at_the_less_precise_side():
    """Eight World Bank growth years written as full floats against growth derived from levels printed to
    one decimal: all 'consistent' (before: tolerance 5e-15, all 'inconsistent')."""
    growth = [9.8, 13.5, 9.8, 9.3, 9.7, 10.7, 8.9, 3.3]  # the World Bank's figures, one decimal
    levels = {2000: 1000.0}
    for i, g in enumerate(growth):
        levels[2001 + i] = round(levels[2000 + i] * (1 + g / 100), 1)  # printed to one decimal
    rows = [("GDP_REAL", "KZ", y, "Y", f"{v:.1f}", "imf") for y, v in levels.items()]
    rows += [("GDP_GROWTH", "KZ", 2001 + i, "Y", f"{g - 1e-14:.14f}", "wb") for i, g in enumerate(growth)]
    derived = [
        ("GDP_GROWTH", "KZ", y, "Y", 100 * (levels[y] / levels[y - 1] - 1), "growth", "levels", None)
        for y in range(2001, 2009)
    ]
    assert rows[9][4] == "9.79999999999999"
    con = duckdb.connect()
    con.sql(
        "CREATE TABLE _indicator_values (indicator_code VARCHAR, region_code VARCHAR, year INTEGER, period VARCHAR,"
        " value DOUBLE, method VARCHAR, inputs VARCHAR, note VARCHAR, derived BOOLEAN, base_code VARCHAR)"
    )
    for d in derived:
        con.execute("INSERT INTO _indicator_values VALUES (?, ?, ?, ?, ?, ?, ?, ?, true, NULL)", list(d))
    out = rc.revisions(con, obs(*rows))
    assert out.height == 8
    assert out["verdict"].to_list() == ["consistent"] * 8
    assert out["tolerance"].min() == pytest.approx(0.05)  # the World Bank side, read as 1 decimal


# --- equal within printed precision / revision ----------------------------------------------------------


def test_revision_is_revised_not_inconsistent():
    con = duckdb.connect()
    con.sql(
        "CREATE TABLE _indicator_values AS SELECT 'GDP_GROWTH' AS indicator_code, 'KZ' AS region_code,"
        " 2009 AS year, 'Y' AS period, 1.1996 AS value, 'growth' AS method, 'levels' AS inputs, NULL AS note,"
        " true AS derived, NULL::VARCHAR AS base_code"
    )
    frame = obs(
        ("GDP_GROWTH", "KZ", 2009, "Y", "1.1", "reported", "P"),
        ("GDP_REAL", "KZ", 2008, "Y", "9452.80", "imf"),
        ("GDP_REAL", "KZ", 2009, "Y", "9566.20", "imf"),
    )
    row = rc.revisions(con, frame).row(0, named=True)
    assert (row["relation"], row["verdict"]) == ("revision", "revised")
    assert "preliminary" in row["detail"]


# --- part <= whole -----------------------------------------------------------------------------------------

PART_WHOLE = {
    "check": "private <= acting",
    "location": "T3/T5",
    "whole": "ACTING",
    "parts": ["LARGE", "SMALL"],
    "note": "different dates",
}


def test_part_within_whole_is_consistent_and_above_it_inconsistent():
    frame = obs(
        ("ACTING", "A", 2012, "Q2", "100"),
        ("LARGE", "A", 2011, "Y", "10"),
        ("SMALL", "A", 2011, "Y", "70"),  # 80 <= 100: consistent (before: 'inconsistent', not equal)
        ("ACTING", "B", 2012, "Q2", "50"),
        ("LARGE", "B", 2011, "Y", "20"),
        ("SMALL", "B", 2011, "Y", "40"),  # 60 > 50: inconsistent
        ("ACTING", "C", 2012, "Q2", "50"),
        ("LARGE", "C", 2011, "Y", "20"),  # SMALL missing: not checkable
    )
    got = dict(rc.part_whole(frame, PART_WHOLE).select("region_code", "verdict").iter_rows())
    assert got == {"A": "consistent", "B": "inconsistent", "C": "not checkable"}


def test_including_columns_below_their_total_are_consistent():
    spec = {"check": "t", "total": "T", "parts": ["P1", "P2"]}
    frame = obs(("T", "A", 2011, "Y", "610"), ("P1", "A", 2011, "Y", "563"), ("P2", "A", 2011, "Y", "4"))
    row = rc.components(frame, spec).row(0, named=True)
    assert (row["relation"], row["verdict"], row["recomputed"]) == ("part <= whole", "consistent", 567)
    assert "fall short by 43" in row["detail"]


# --- order in time ---------------------------------------------------------------------------------------


@pytest.fixture
def annex():
    con = duckdb.connect()
    con.sql(
        "CREATE TABLE conventions AS SELECT * FROM (VALUES (87, DATE '2000-12-13', NULL, 'annex'),"
        " (98, DATE '2001-05-18', NULL, 'annex'), (183, DATE '2012-02-14', NULL, 'annex'))"
        " t(convention_no, ratification_date, note, source_id)"
    )
    return con


@pytest.mark.parametrize(
    ("no", "text", "precision", "verdict"),
    [
        (87, dt.date(1999, 12, 30), "day", "consistent"),  # the law precedes the registration (before: unequal)
        (98, dt.date(2001, 12, 14), "day", "inconsistent"),  # the law 210 days AFTER the registration
        (183, dt.date(2012, 2, 1), "month", "consistent"),  # February 2012 <= February 2012
        (162, dt.date(2011, 1, 17), "day", "not checkable"),  # not in the annex
    ],
)
def test_order_in_time(annex, no, text, precision, verdict):
    row = rc.text_claim(
        annex, obs(), claim(type="convention_date", convention_no=no, text_date=text, precision=precision)
    )
    assert (row["relation"], row["verdict"]) == ("order in time", verdict)


# --- verbal quantifiers ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("share", "verdict"),
    [("18.3", "consistent"), ("18.4", "inconsistent"), ("15.5", "consistent"), ("15.4", "inconsistent")],
)
def test_every_kth_is_the_nearest_unit_fraction(share, verdict):
    """1/6 = 16.67 %: 'every sixth' covers (15.48, 18.33]; 18.3 is nearer 1/6 than 1/5 (before: inconsistent)."""
    row = rc.text_claim(
        None, obs(("S", "KZ", 2005, "Y", share)), claim(type="one_in_k", value={"code": "S", "year": 2005}, k=6)
    )
    assert row["verdict"] == verdict


@pytest.mark.parametrize(
    ("a", "b", "verdict"),
    [
        ("1.3", "1.4", "inconsistent"),
        ("3.7", "2.8", "consistent"),
        ("1.4", "1.4", "inconclusive"),  # equal as printed: the true values may differ either way
        ("1.45", "1.4", "inconclusive"),
    ],
)
def test_exceeded_with_printed_intervals(a, b, verdict):
    frame = obs(("A", "KZ", 2010, "Y", a), ("B", "KZ", 2010, "Y", b))
    row = rc.text_claim(
        None,
        frame,
        claim(type="exceeds", quantifier="exceeded", a={"code": "A", "year": 2010}, b={"code": "B", "year": 2010}),
    )
    assert (row["relation"], row["verdict"]) == ("verbal quantifier 'exceeded'", verdict)


@pytest.mark.parametrize(("num", "verdict"), [("1069", "inconsistent"), ("1771", "consistent"), ("2000", "consistent")])
def test_n_times(num, verdict):
    """'seven times': 1069 / 253 = 4.2 fits neither x7 nor 'increased by 7 times' (x8); 1771 / 253 = 7;
    2000 / 253 = 7.9 (x8 reading)."""
    frame = obs(("X", "KZ", 2011, "Y", num), ("X", "KZ", 2010, "Y", "253"))
    c = claim(
        type="ratio",
        quantifier="seven times",
        numerator={"code": "X", "year": 2011},
        denominator={"code": "X", "year": 2010},
        claimed="7",
    )
    assert rc.text_claim(None, frame, c)["verdict"] == verdict


@pytest.mark.parametrize(("num", "verdict"), [("53336", "inconsistent"), ("44000", "consistent")])
def test_less_than_a_quarter(num, verdict):
    frame = obs(("N", "KZ", 2012, "Q2", num), ("D", "KZ", 2012, "Q2", "178450"))
    c = claim(
        type="below",
        quantifier="less than a quarter",
        numerator={"code": "N", "year": 2012, "period": "Q2"},
        denominator={"code": "D", "year": 2012, "period": "Q2"},
        threshold=25,
    )
    assert rc.text_claim(None, frame, c)["verdict"] == verdict


@pytest.mark.parametrize(("bound", "verdict"), [("1069", "consistent"), ("40000", "inconclusive")])
def test_rarely_with_an_upper_bound(bound, verdict):
    frame = obs(("OSH", "KZ", 2011, "Y", bound), ("SMALL", "KZ", 2011, "Y", "151734"))
    c = claim(
        type="rarely",
        quantifier="rarely",
        upper_bound={"code": "OSH", "year": 2011},
        group={"code": "SMALL", "year": 2011},
        threshold=10,
    )
    assert rc.text_claim(None, frame, c)["verdict"] == verdict


def test_extremum_with_a_year_missing_is_inconclusive():
    series = [
        ("J", "KZ", y, "Y", v) for y, v in ((2005, "8.6"), (2006, "5.2"), (2007, "4.2"), (2008, "4.4"), (2010, "3.3"))
    ]
    fall = claim(
        type="extremum", which="largest_fall", quantifier="the largest fall", code="J", year=2006, years=[2005, 2010]
    )
    row = rc.text_claim(None, obs(*series), fall)
    assert row["verdict"] == "inconclusive" and "below 1 or above 6.7" in row["detail"]
    full = obs(*series, ("J", "KZ", 2009, "Y", "4.0"))
    assert rc.text_claim(None, full, fall)["verdict"] == "consistent"
    assert rc.text_claim(None, full, {**fall, "year": 2007})["verdict"] == "inconsistent"
    low = claim(type="extremum", which="min", quantifier="the smallest", code="J", year=2007, years=[2005, 2010])
    assert rc.text_claim(None, full, low)["verdict"] == "inconsistent"  # 2010 (3.3) is lower


GRADES = pl.DataFrame(
    {
        "code": ["3", "3.1", "3.1.1", "3.1.2", "3.1.3", "9", "9.1", "9.2"],
        "parent_code": [None, "3", "3.1", "3.1", "3.1", None, "9", "9"],
        "level": ["priority", "outcome", "activity", "activity", "activity", "priority", "outcome", "outcome"],
        "reported_grade": [5.1, 5.0, 5.0, 6.0, 4.0, 5.6, 5.0, 6.0],
        "grade": [5.1, 5.0, 5.0, 6.0, 4.0, 5.6, 5.0, 6.0],
        "source_id": ["dwcp"] * 8,
    }
)


@pytest.mark.parametrize(("node", "verdict"), [("3", "inconsistent"), ("9", "consistent")])
def test_grade_label_against_the_six_point_scale(node, verdict):
    row = rc.text_claim(
        None, obs(), claim(type="grade_label", quantifier="over accomplished", node=node, point=6), GRADES
    )
    assert row["verdict"] == verdict


@pytest.mark.parametrize(
    ("quantifier", "node", "verdict"),
    [("all", "3.1", "inconsistent"), ("almost all", "3.1", "inconsistent"), ("all", "9", "consistent")],
)
def test_all_and_almost_all_completed(quantifier, node, verdict):
    """3.1: 2 of 3 completed (4.0 is 'in progress'): neither all nor almost all (>= 80 %)."""
    row = rc.text_claim(None, obs(), claim(type="children_done", quantifier=quantifier, node=node), GRADES)
    assert row["verdict"] == verdict


# --- statistical claim -----------------------------------------------------------------------------------


def _series_con(xs: list[float], ys: list[float]) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.sql(
        "CREATE TABLE _indicator_values (indicator_code VARCHAR, region_code VARCHAR, year INTEGER, period VARCHAR,"
        " value DOUBLE, derived BOOLEAN, source_id VARCHAR, obs_status VARCHAR, sex VARCHAR, classif1 VARCHAR,"
        " classif2 VARCHAR)"
    )
    for i, (x, y) in enumerate(zip(xs, ys, strict=True)):
        for code, v in (("X", x), ("Y", y)):
            con.execute(
                "INSERT INTO _indicator_values VALUES (?, 'KZ', ?, 'Y', ?, false, 's', NULL, 'T', NULL, NULL)",
                [code, 2000 + i, v],
            )
    return con


@pytest.mark.parametrize(
    ("ys", "verdict"),
    [
        ([8.6, 5.2, 4.2, 4.4], "inconclusive"),  # n = 4: r = +0.41, CI [-0.91, 0.98] (before: inconsistent)
        ([10, 9, 8, 7, 6.5, 5, 4, 3.2, 2, 1], "consistent"),  # close negative, CI below zero
        ([1, 2, 3, 4, 5.5, 6, 7, 8.1, 9, 10], "inconsistent"),  # CI above zero: contradicted
        ([1, 2, 3], "not checkable"),  # n = 3: no interval
    ],
)
def test_correlation_claims_are_judged_with_the_interval(ys, verdict):
    xs = {4: [9.7, 10.7, 8.9, 3.3], 10: list(range(10)), 3: [1, 2, 4]}[len(ys)]
    con = _series_con([float(x) for x in xs], [float(y) for y in ys])
    row = rc.text_claim(con, obs(), claim(type="correlation", x="X", y="Y"))
    assert (row["relation"], row["verdict"]) == ("statistical claim (95% confidence interval)", verdict)


# --- one indicator, several sources ----------------------------------------------------------------------

SOURCES = {
    "check": "unemployment rate: review vs bureau",
    "location": "x",
    "codes": ["UNEMP_RATE"],
    "definitions": {"review": "15+", "bureau": "working age (16-62/63)", "bureau_copy": "working age (16-62/63)"},
    "precedence": ["bureau", "bureau_copy", "review"],
}


def test_sources_with_different_definitions_are_not_judged_unequal():
    frame = obs(
        ("UNEMP_RATE", "KZ", 2008, "Y", "6.6", "review", "implied"),
        ("UNEMP_RATE", "KZ", 2008, "Y", "6.7", "bureau"),
        ("UNEMP_RATE", "KZ", 2009, "Y", "6.6", "review"),
        ("UNEMP_RATE", "KZ", 2009, "Y", "6.6", "bureau"),
        ("UNEMP_RATE", "KZ", 2009, "Y", "6.7", "bureau_copy"),
    )
    out = rc.across_sources(frame, SOURCES).sort("year", "source_id")
    got = [(r["year"], r["source_id"], r["verdict"]) for r in out.iter_rows(named=True)]
    # review vs bureau: definitions differ, never 'inconsistent'; bureau vs its own copy: same definition
    assert got == [
        (2008, "review", "not checkable"),
        (2009, "bureau_copy", "inconsistent"),
        (2009, "review", "not checkable"),
    ]
    first = out.row(0, named=True)
    assert first["detail"].startswith("definitions differ") and "implied by the text" in first["detail"]
    assert "precedence: bureau > bureau_copy > review" in first["detail"]


def test_verdict_vocabulary_is_the_documented_one():
    assert set(rc.VERDICTS) == {"consistent", "inconsistent", "revised", "inconclusive", "not checkable"}
    assert pl.select(rc.severity(pl.lit("revised"), pl.lit("revision"))).item() == "warning"
    assert pl.select(rc.severity(pl.lit("inconsistent"), pl.lit("part <= whole"))).item() == "finding"


def test_implied_values_are_left_out_of_correlations_unless_asked():
    from dwi.derive.correlations import correlate

    con = _series_con([1.0, 2.0, 3.0, 4.0, 5.0], [2.0, 1.0, 4.0, 3.0, 6.0])
    con.sql("UPDATE _indicator_values SET obs_status = 'implied' WHERE indicator_code = 'X' AND year = 2004")
    left = correlate(con, "X", "Y", "national")
    assert left["n"] == 4 and "X 2004 (implied)" in left["flags"]
    asked = correlate(con, "X", "Y", "national", include_unprinted=True)
    assert asked["n"] == 5 and "left out" not in (asked["flags"] or "") and "s (implied) for 2004" in asked["flags"]
