"""indicator_values: derived values pinned against plain arithmetic on the seed's printed figures."""

from __future__ import annotations

import math
import statistics

import polars as pl
import pytest

from tests.views import records as rows

# Table 3 (large, medium, small, OSH standard) and Table 5 (acting enterprises, agreements), as printed.
TABLE3 = {
    "KZ-11": (60, 274, 4246, 61),
    "KZ-15": (36, 375, 6244, 55),
    "KZ-19": (74, 268, 7152, 68),
    "KZ-23": (59, 175, 5159, 55),
    "KZ-63": (97, 338, 8391, 112),
    "KZ-31": (21, 115, 3939, 56),
    "KZ-27": (37, 132, 3734, 78),
    "KZ-35": (85, 383, 12154, 152),
    "KZ-43": (38, 171, 3495, 41),
    "KZ-39": (77, 306, 5490, 71),
    "KZ-47": (59, 219, 6394, 17),
    "KZ-55": (46, 167, 5522, 29),
    "KZ-59": (39, 252, 3619, 61),
    "KZ-YUZ": (90, 303, 10587, 69),
    "KZ-71": (118, 385, 18541, 115),
    "KZ-75": (412, 1483, 47067, 29),
}
TABLE5 = {
    "KZ-11": (6513, 3382),
    "KZ-15": (8276, 2559),
    "KZ-19": (9325, 5680),
    "KZ-23": (6380, 2149),
    "KZ-63": (11816, 8690),
    "KZ-31": (5643, 1730),
    "KZ-27": (5748, 1223),
    "KZ-35": (14875, 3251),
    "KZ-43": (5109, 4407),
    "KZ-39": (7709, 3358),
    "KZ-47": (7523, 1391),
    "KZ-55": (7449, 2645),
    "KZ-59": (5499, 3516),
    "KZ-YUZ": (13484, 5018),
    "KZ-71": (19680, 1792),
    "KZ-75": (43421, 2545),
}


def values(con, code: str, **where) -> dict:
    cond = " AND ".join(f"{k} = ${k}" for k in where)
    found = rows(
        con,
        f"SELECT * FROM indicator_values WHERE indicator_code = $code{' AND ' + cond if cond else ''}",
        code=code,
        **where,
    )
    return {(r["region_code"], r["year"]): r for r in found}


def test_view_columns_start_with_the_contract(db):
    cols = [r["column_name"] for r in rows(db, "SELECT column_name FROM (DESCRIBE indicator_values)")]
    assert cols[:8] == [
        "indicator_code",
        "region_code",
        "year",
        "period",
        "value",
        "unit",
        "derived",
        "method",
    ]


def test_osh_adoption_per_1000_per_region(db):
    got = values(db, "OSH_ADOPTION_PER_1000")
    assert {k[0] for k in got} == set(TABLE3)  # every region, never the national total row KZ
    assert got[("KZ-75", 2011)]["value"] == pytest.approx(29 / (412 + 1483 + 47067) * 1000)
    for region, (large, medium, small, osh) in TABLE3.items():
        assert got[(region, 2011)]["value"] == pytest.approx(1000 * osh / (large + medium + small))
        assert got[(region, 2011)]["derived"] is True
    assert "ENT_OSH_STANDARD 2011=29" in got[("KZ-75", 2011)]["inputs"]


def test_small_share_and_recomputed_coverage(db):
    small = values(db, "ENT_SMALL_SHARE")
    assert small[("KZ-75", 2011)]["value"] == pytest.approx(100 * 47067 / 48962)
    cba = values(db, "CBA_COVERAGE_RECOMPUTED")
    assert set(k[0] for k in cba) == set(TABLE5)
    for region, (ent, agreements) in TABLE5.items():
        assert cba[(region, 2012)]["value"] == pytest.approx(100 * agreements / ent)
    assert cba[("KZ-43", 2012)]["value"] == pytest.approx(86.2595, abs=1e-4)  # printed 86.3


def test_gdp_growth_derived_from_levels_and_reported_kept(db):
    derived = values(db, "GDP_GROWTH", derived=True)
    assert derived[("KZ", 2005)]["value"] == pytest.approx(100 * (7590.7 / 6919.4 - 1))
    assert round(derived[("KZ", 2005)]["value"], 2) == 9.70
    assert derived[("KZ", 2009)]["value"] == pytest.approx(100 * (9566.2 / 9452.8 - 1))
    assert round(derived[("KZ", 2009)]["value"], 1) == 1.2
    # 2010: no constant-price level -> missing, with the reason; never filled in
    assert derived[("KZ", 2010)]["value"] is None
    assert "GDP_REAL 2010" in derived[("KZ", 2010)]["note"]
    reported = values(db, "GDP_GROWTH", derived=False)
    assert {y: r["value"] for (_, y), r in reported.items()} == {2009: 1.1, 2010: 7.0, 2011: 7.5}


def test_shares_recomputed_against_employed_total(db):
    temp = values(db, "TEMP_EMP_SHARE_RECOMPUTED")
    assert temp[("KZ", 2005)]["value"] == pytest.approx(100 * 467312 / 7262000)
    assert temp[("KZ", 2011)]["value"] == pytest.approx(100 * 189809 / 8301600)
    assert temp[("KZ", 2008)]["value"] is None and "EMP_TOTAL" in temp[("KZ", 2008)]["note"]
    hazard = values(db, "HAZARD_EMP_SHARE_RECOMPUTED")
    assert hazard[("KZ", 2011)]["value"] == pytest.approx(100 * 852582 / 8301600)
    assert hazard[("KZ", 2005)]["value"] is None  # HAZARD_EMP 2005 is not in the review


def test_conventions_cumulated_by_year(db):
    cum = {y: r["value"] for (_, y), r in values(db, "CONVENTIONS_RATIFIED_CUM").items()}
    # annex: 1996 C148, C155; 1999 C111, C122; 2000 C87, C135, C144; 2001 eight; 2003 C182; 2008 C167;
    # 2010 C185; 2011 C162; 2012 C183
    assert cum[1996] == 2 and cum[1998] == 2 and cum[1999] == 4 and cum[2000] == 7
    assert cum[2001] == 15 and cum[2003] == 16 and cum[2008] == 17 and cum[2011] == 19 and cum[2012] == 20
    assert min(cum) == 1996 and max(cum) == 2012


def test_year_on_year_changes_span_gaps_without_interpolation(db):
    yoy = values(db, "JOB_INSECURE_SHARE_YOY_ABS")
    assert yoy[("KZ", 2006)]["value"] == pytest.approx(5.2 - 8.6)
    assert ("KZ", 2009) not in yoy  # no 2009 value: no change invented
    assert ("KZ", 2010) not in yoy  # 2008 -> 2010 is not year-on-year ...
    gap = values(db, "JOB_INSECURE_SHARE_2Y_ABS")[("KZ", 2010)]  # ... it is named for its span
    assert gap["value"] == pytest.approx(3.3 - 4.4)
    assert (gap["span_from"], gap["span_years"]) == (2008, 2)
    assert "not year-on-year" in gap["note"] and gap["unit"] == "percentage points"
    assert values(db, "EMP_TOTAL_YOY_PCT") == {}  # 2005 -> 2011 is EMP_TOTAL_6Y_PCT
    assert values(db, "EMP_TOTAL_6Y_PCT")[("KZ", 2011)]["value"] == pytest.approx(100 * (8301600 / 7262000 - 1))
    # values the text implies (UNEMP_RATE 2008) or whose year was corrected (LONG_HOURS_EMP 2011): no change
    assert values(db, "UNEMP_RATE_YOY_ABS") == {}
    assert set(values(db, "LONG_HOURS_EMP_4Y_ABS")) == {("KZ", 2009)} and values(db, "LONG_HOURS_EMP_2Y_ABS") == {}
    pct = values(db, "OSH_STD_IMPLEMENTED_YOY_PCT")
    assert pct[("KZ", 2011)]["value"] == pytest.approx(100 * (1069 / 253 - 1))
    aac = values(db, "EMP_TOTAL_AAC_PCT")
    assert aac[("KZ", 2011)]["value"] == pytest.approx(100 * ((8301600 / 7262000) ** (1 / 6) - 1))
    assert values(db, "EMP_TOTAL_AAC_ABS")[("KZ", 2011)]["value"] == pytest.approx((8301600 - 7262000) / 6)
    # a percent change of a signed rate means nothing: not computed
    assert values(db, "GDP_GROWTH_YOY_PCT") == {}


def test_rank_and_dispersion_across_regions(db):
    expected = {r: 1000 * v[3] / sum(v[:3]) for r, v in TABLE3.items()}
    order = sorted(expected, key=expected.get, reverse=True)
    rank = values(db, "OSH_ADOPTION_PER_1000_RANK")
    assert {k[0]: r["value"] for k, r in rank.items()} == {reg: i + 1 for i, reg in enumerate(order)}
    assert rank[("KZ-75", 2011)]["value"] == 16  # Almaty city: lowest
    cov = [100 * a / e for e, a in TABLE5.values()]
    cv = values(db, "CBA_COVERAGE_RECOMPUTED_CV")[("KZ", 2012)]["value"]
    assert cv == pytest.approx(statistics.pstdev(cov) / statistics.mean(cov))
    assert values(db, "CBA_COVERAGE_MIN")[("KZ", 2012)]["value"] == 5.9  # printed, Almaty city
    assert values(db, "CBA_COVERAGE_MAX")[("KZ", 2012)]["value"] == 86.3  # printed, Kyzylorda
    assert not math.isnan(cv)


def test_partial_sources_never_derived(db):
    found = rows(
        db,
        "SELECT DISTINCT indicator_code FROM indicator_values WHERE derived "
        "AND (indicator_code LIKE 'LI\\_%' ESCAPE '\\' OR base_code LIKE 'LI\\_%' ESCAPE '\\')",
    )
    assert found == []
    observed = rows(db, "SELECT count(*) AS n FROM indicator_values WHERE indicator_code LIKE 'LI_%'")
    assert observed[0]["n"] > 0  # the partial table's own values are shown as reported


def test_every_derived_value_names_its_inputs_and_explains_a_gap(db):
    unexplained = rows(
        db,
        "SELECT indicator_code, region_code, year FROM indicator_values "
        "WHERE derived AND (inputs IS NULL OR (value IS NULL AND note IS NULL))",
    )
    assert unexplained == []
    gaps = rows(db, "SELECT count(*) AS n FROM indicator_values WHERE derived AND value IS NULL")
    assert gaps[0]["n"] > 0  # there are missing derived values, each with its note


def test_changes_on_a_small_fixture_never_cross_gaps_breaks_or_unprinted_values():
    """One series with a gap (2003 missing), a break (2006 flagged B) and an implied value (2008)."""
    from dwi.derive.indicators import changes

    rows = [(2001, 10.0, None), (2002, 11.0, None), (2004, 12.0, None), (2005, 13.0, None)]
    rows += [(2006, 20.0, "B"), (2007, 21.0, None), (2008, 21.0, "implied"), (2009, 22.0, None)]
    rows += [(2010, 30.0, "corrected")]  # a misprinted year, corrected: left out too
    base = pl.DataFrame(
        {
            "indicator_code": ["X"] * len(rows),
            "region_code": ["KZ"] * len(rows),
            "year": [r[0] for r in rows],
            "period": ["Y"] * len(rows),
            "value": [r[1] for r in rows],
            "unit": ["persons"] * len(rows),
            "derived": [False] * len(rows),
            "source_id": ["s"] * len(rows),
            "obs_status": [r[2] for r in rows],
            "sex": ["T"] * len(rows),
            "classif1": [None] * len(rows),
            "classif2": [None] * len(rows),
        },
        schema_overrides={"year": pl.Int32, "classif1": pl.String, "classif2": pl.String},
    )
    out = changes(base, {"X": "count"})
    got = {(r["indicator_code"], r["year"]): r for r in out.iter_rows(named=True)}
    assert got[("X_YOY_ABS", 2002)]["value"] == 1.0
    assert ("X_YOY_ABS", 2004) not in got and got[("X_2Y_ABS", 2004)]["value"] == 1.0  # named for its span
    assert got[("X_2Y_ABS", 2004)]["span_years"] == 2
    assert got[("X_YOY_ABS", 2006)]["value"] is None and "break in series" in got[("X_YOY_ABS", 2006)]["note"]
    assert ("X_YOY_ABS", 2008) not in got  # the implied value is left out ...
    assert got[("X_2Y_ABS", 2009)]["value"] == 1.0  # ... so 2007 -> 2009 spans two years
    assert not any(year == 2010 for _, year in got)  # nothing computed from the corrected value
    aac = got[("X_AAC_ABS", 2009)]
    assert (aac["span_from"], aac["value"]) == (2006, pytest.approx(2 / 3))  # from the break on
