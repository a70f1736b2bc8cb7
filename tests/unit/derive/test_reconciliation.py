"""reconciliation view: each verdict of the review's recomputable figures, pinned with plain arithmetic."""

from __future__ import annotations

import pytest

from dwi import stages
from dwi.store.warehouse import connect_read_only
from tests.conftest import copy_raw
from tests.views import records as rows


def checks(con, like: str, **where) -> list[dict]:
    cond = "".join(f" AND {k} = ${k}" for k in where)
    return rows(
        con,
        f'SELECT * FROM reconciliation WHERE "check" LIKE $like{cond} ORDER BY region_code, year',
        like=like,
        **where,
    )


def one(con, like: str, **where) -> dict:
    found = checks(con, like, **where)
    assert len(found) == 1, found
    return found[0]


def test_view_columns(db):
    cols = [r["column_name"] for r in rows(db, "SELECT column_name FROM (DESCRIBE reconciliation)")]
    assert cols[:7] == ["check", "relation", "reported", "recomputed", "tolerance", "verdict", "detail"]
    verdicts = {r["verdict"] for r in rows(db, "SELECT DISTINCT verdict FROM reconciliation")}
    assert verdicts == {"consistent", "inconsistent", "revised", "inconclusive", "not checkable"}
    assert not rows(db, "SELECT * FROM reconciliation WHERE relation IS NULL OR detail IS NULL")


def test_the_inconsistent_rows_are_the_real_contradictions(db):
    """Every 'inconsistent' row of the embedded review, named: nothing else is inconsistent."""
    found = sorted(
        (r["check"].split(":")[0] if r["check"].startswith("C") else r["check"], r["region_code"] or "")
        for r in rows(db, "SELECT * FROM reconciliation WHERE verdict = 'inconsistent'")
    )
    assert found == sorted(
        [
            ("C98 date", ""),
            ("OSH standards 2011 vs 2010: 'by seven times'", "KZ"),
            ("acting collective agreements: 'less than a quarter'", "KZ"),
            ("additional child-care leave 'exceeded' maternity leave, 2010", "KZ"),
            (
                "enterprises: Table 3 private large + medium + small (as of 2012-01-01) <= Table 5 acting "
                "enterprises (Q2 2012)",
                "KZ-75",
            ),
            ("Priority 3 'over accomplished' with a grade of 5.1", ""),
            ("Priority 2 'over accomplished' with a grade of 5.2", ""),
            ("Outcome 1.1: 'almost all activities ... were completed'", ""),
            ("Outcome 3.1 (Figure 14): 'all planned activities ... are completed'", ""),
        ]
    )


def test_regional_sums_match_reported_totals(db):
    sums = checks(db, "regional sum of %")
    assert {r["indicator_code"]: r["reported"] for r in sums} == {
        "ENT_LARGE": 1348,
        "ENT_MEDIUM": 5346,
        "ENT_SMALL": 151734,
        "ENT_OSH_STANDARD": 1069,
        "ENT_ACTIVE": 178450,
        "CBA_ACTIVE": 53336,
    }
    assert all(r["verdict"] == "consistent" and r["recomputed"] == r["reported"] for r in sums)


def test_table5_percentages_at_printed_precision(db):
    table5 = checks(db, "CBA_COVERAGE = %")
    assert len(table5) == 17  # 16 regions + the total
    assert all(r["verdict"] == "consistent" and r["tolerance"] == pytest.approx(0.05) for r in table5)
    total = next(r for r in table5 if r["region_code"] == "KZ")
    assert total["recomputed"] == pytest.approx(100 * 53336 / 178450)
    assert 29.85 <= total["recomputed"] < 29.95


def test_employment_shares(db):
    temp = {r["year"]: r for r in checks(db, "TEMP_EMP_SHARE = %")}
    assert temp[2005]["verdict"] == "consistent"
    assert temp[2005]["recomputed"] == pytest.approx(100 * 467312 / 7262000)
    assert temp[2011]["verdict"] == "consistent"
    assert temp[2011]["recomputed"] == pytest.approx(100 * 189809 / 8301600)
    assert temp[2008]["verdict"] == "not checkable"  # EMP_TOTAL 2008 is not in the review
    hazard = {r["year"]: r for r in checks(db, "HAZARD_EMP_SHARE = %")}
    assert hazard[2011]["verdict"] == "consistent"
    assert hazard[2011]["recomputed"] == pytest.approx(100 * 852582 / 8301600)
    assert hazard[2005]["verdict"] == "not checkable"
    union = one(db, "UNION_ORGS_CBA_SHARE = %")
    assert union["verdict"] == "consistent" and union["recomputed"] == pytest.approx(100 * 17410 / 18231)


def test_text_claims(db):
    seven = one(db, "%by seven times%")
    assert seven["verdict"] == "inconsistent"
    assert seven["recomputed"] == pytest.approx(1069 / 253)
    assert one(db, "%17,410 out of 18,231%")["verdict"] == "consistent"
    share = one(db, "%53,336 out of 178,450%")
    assert share["verdict"] == "consistent" and share["recomputed"] == pytest.approx(100 * 53336 / 178450)
    quarter = one(db, "%less than a quarter%")
    assert quarter["verdict"] == "inconsistent"  # 29.9 % is not less than 25 %
    sixth = one(db, "%every sixth person%")
    assert sixth["verdict"] == "consistent"  # 18.3 % is nearer 1/6 (16.67) than 1/5 (20) on the share scale
    assert sixth["recomputed"] == 18.3
    twenty = one(db, "%twenty ILO conventions%")
    assert twenty["verdict"] == "consistent" and twenty["recomputed"] == 20


def test_correlation_claim(db):
    growth = one(db, "%correlation' of job insecurity and GDP growth, all years%")
    assert growth["verdict"] == "inconclusive"  # r = +0.42, but its 95 % interval includes zero
    assert growth["reported"] is None  # the review printed no coefficient
    assert growth["recomputed"] == pytest.approx(0.4246, abs=1e-4)
    level = one(db, "%correlation' of job insecurity and GDP (constant-price level)%")
    assert level["verdict"] == "inconclusive"  # r = -0.93, but n = 4: 95 % CI [-1.00, 0.30]
    assert "n=4" in level["detail"]


def test_convention_dates(db):
    verdicts = {r["check"].split(" ")[0]: r["verdict"] for r in checks(db, "C% date:%")}
    assert verdicts == {
        "C87": "consistent",  # the law (1999-12-30) precedes the registration (2000-12-13)
        "C98": "inconsistent",  # the statute (2001-12-14) is dated 210 days AFTER the ratification
        "C144": "consistent",
        "C162": "consistent",
        "C185": "consistent",
        "C183": "consistent",
    }


def test_gdp_growth_vintages(db):
    rev = one(db, "reported GDP_GROWTH%", year=2009)
    assert rev["reported"] == 1.1
    assert rev["recomputed"] == pytest.approx(100 * (9566.2 / 9452.8 - 1))  # 1.2 from IMF levels
    assert rev["verdict"] == "revised" and rev["relation"] == "revision"
    assert one(db, "reported GDP_GROWTH%", year=2010)["verdict"] == "not checkable"


def test_cross_table_warnings(db):
    cross = checks(db, "enterprises: Table 3%")
    assert len(cross) == 17 and all(r["relation"] == "part <= whole" for r in cross)
    almaty = next(r for r in cross if r["region_code"] == "KZ-75")
    assert (almaty["reported"], almaty["recomputed"]) == (43421, 412 + 1483 + 47067)
    assert almaty["verdict"] == "inconsistent" and "EXCEEDS the whole by 5541" in almaty["detail"]
    assert all(r["verdict"] == "consistent" for r in cross if r["region_code"] != "KZ-75")
    osh = one(db, "1,069:%")
    assert osh["reported"] == osh["recomputed"] == 1069
    assert osh["verdict"] == "not checkable" and osh["severity"] == "warning"


def test_inconsistent_total_is_a_finding_and_the_run_succeeds(tmp_path):
    """Broken fixture: Table 5's total of agreements altered by 10; the run completes, the sum is a
    finding."""
    raw = copy_raw(tmp_path)
    table5 = raw / "review_2012" / "table5_collective_agreements.csv"
    text = table5.read_text(encoding="utf-8")
    assert "Total in the republic,T,2012,Q2,53336," in text
    table5.write_text(
        text.replace("Total in the republic,T,2012,Q2,53336,", "Total in the republic,T,2012,Q2,53346,"),
        encoding="utf-8",
    )
    stages.run(raw, tmp_path / "wh.duckdb")
    con = connect_read_only(tmp_path / "wh.duckdb")
    try:
        row = one(con, "regional sum of CBA_ACTIVE%")
        assert (row["reported"], row["recomputed"], row["verdict"]) == (53346, 53336, "inconsistent")
        assert row["severity"] == "finding"
        # 53346 / 178450 = 29.894 %: the printed 29.9 still holds
        assert one(con, "CBA_COVERAGE = %", region_code="KZ")["verdict"] == "consistent"
    finally:
        con.close()


def test_table4_including_columns_within_rows(db):
    found = {(r["region_code"], r["year"]): r for r in checks(db, "Table 4: reviewed claims%")}
    assert len(found) == 6  # 3 regions x (2012 H1, 2011)
    # 2012 H1: 495+62+1=558, 472+19+0=491, 253+6+0=259 -> exact
    for region, total in (("KZ-11", 558), ("KZ-15", 491), ("KZ-19", 259)):
        assert found[(region, 2012)]["verdict"] == "consistent"
        assert found[(region, 2012)]["recomputed"] == total
    # 2011: 563+4+0=567 < 610 and 646+2+0=648 < 673 fall short; 305+5+0=310 adds up
    assert found[("KZ-11", 2011)]["recomputed"] == 567
    assert found[("KZ-11", 2011)]["verdict"] == "consistent"  # part <= whole: a shortfall is allowed
    assert found[("KZ-15", 2011)]["recomputed"] == 648
    assert found[("KZ-15", 2011)]["verdict"] == "consistent"
    assert found[("KZ-19", 2011)]["verdict"] == "consistent"


def test_review_and_bureau_unemployment_definitions_differ(db):
    """The review's 15+ rate (6.6, 2008 implied) against the bureau's working-age rate (6.7): compared, never
    'inconsistent'."""
    found = {r["year"]: r for r in checks(db, "unemployment rate: the review%")}
    assert set(found) == {2008, 2009}
    for r in found.values():
        assert (r["reported"], r["recomputed"], r["verdict"]) == (6.6, 6.7, "not checkable")
        assert r["relation"] == "one indicator, several sources" and r["detail"].startswith("definitions differ")
    assert "implied by the text" in found[2008]["detail"]
