"""The framework, profile and coverage views on a small ILOSTAT file of two countries (values, shares computed
from counts, gaps between women and men, what is missing) and on the embedded raw/ data."""

from __future__ import annotations

import duckdb
import pytest

from dwi import stages
from tests.conftest import make_raw

HEADER = "ref_area,source,indicator,sex,classif1,classif2,time,obs_value,obs_status\n"
ROWS = """\
UZB,BA:1,UNE_DEAP_SEX_AGE_RT,SEX_T,AGE_YTHADULT_YGE15,,2019,5.0,
UZB,BA:1,UNE_DEAP_SEX_AGE_RT,SEX_M,AGE_YTHADULT_YGE15,,2019,4.0,
UZB,BA:1,UNE_DEAP_SEX_AGE_RT,SEX_F,AGE_YTHADULT_YGE15,,2019,6.5,B
UZB,BA:1,UNE_DEAP_SEX_AGE_RT,SEX_T,AGE_YTHADULT_YGE15,,2021,5.8,
UZB,BA:1,EMP_TEMP_SEX_STE_NB,SEX_T,STE_ICSE93_TOTAL,,2019,1000,
UZB,BA:1,EMP_TEMP_SEX_STE_NB,SEX_T,STE_ICSE93_3,,2019,200,
UZB,BA:1,EMP_TEMP_SEX_STE_NB,SEX_T,STE_ICSE93_5,,2019,50,
UZB,BA:1,EMP_TEMP_SEX_STE_NB,SEX_T,STE_ICSE93_TOTAL,,2020,1100,
UZB,BA:1,EMP_TEMP_SEX_STE_NB,SEX_T,STE_ICSE93_3,,2020,210,
ARM,BA:2,UNE_DEAP_SEX_AGE_RT,SEX_T,AGE_YTHADULT_YGE15,,2019,12.2,
"""


@pytest.fixture(scope="module")
def con(tmp_path_factory):
    base = tmp_path_factory.mktemp("profile")
    raw = make_raw(base, {"ilostat_two.csv": HEADER + ROWS}, formats={"ilostat_two.csv": "ilostat"})
    warehouse = base / "dw.duckdb"
    stages.run(raw, warehouse)
    c = duckdb.connect(str(warehouse), read_only=True)
    yield c
    c.close()


def _values(con, sql: str) -> list[tuple]:
    return con.execute(sql).fetchall()


def test_reported_values_keep_source_sex_and_flag(con):
    got = _values(
        con,
        "SELECT country, sex, year, value, status, derived, method, source_id FROM profile "
        "WHERE indicator = 'EMPL_UR' AND sex <> 'F-M' ORDER BY country, year, sex",
    )
    assert got == [
        ("ARM", "T", 2019, 12.2, None, False, "reported", "ilostat_two"),
        ("UZB", "F", 2019, 6.5, "B", False, "reported", "ilostat_two"),
        ("UZB", "M", 2019, 4.0, None, False, "reported", "ilostat_two"),
        ("UZB", "T", 2019, 5.0, None, False, "reported", "ilostat_two"),
        ("UZB", "T", 2021, 5.8, None, False, "reported", "ilostat_two"),
    ]


def test_gap_between_women_and_men_is_derived_and_carries_the_flags(con):
    got = _values(
        con, "SELECT country, year, value, unit, status, derived FROM profile WHERE sex = 'F-M' ORDER BY 1, 2"
    )
    assert got == [("UZB", 2019, pytest.approx(2.5), "percentage points", "B", True)]


def test_share_from_counts_needs_every_part(con):
    got = _values(
        con,
        "SELECT country, year, value, derived, method FROM profile WHERE indicator = 'EMPL_OWN_ACCOUNT' ORDER BY 2",
    )
    assert len(got) == 1  # 2020 lacks the contributing family workers: no share, not a share too small
    country, year, value, derived, method = got[0]
    assert (country, year, value, derived) == ("UZB", 2019, pytest.approx(25.0), True)
    assert "STE_ICSE93_3 + STE_ICSE93_5 / STE_ICSE93_TOTAL" in method


def test_coverage_shows_what_exists_and_what_is_missing(con):
    cov = {
        (r[0], r[1]): r[2:]
        for r in _values(con, "SELECT country, indicator, first_year, last_year, years, sources FROM coverage")
    }
    assert cov[("UZB", "EMPL_UR")] == (2019, 2021, 2, "ilostat_two")
    assert cov[("ARM", "EMPL_UR")] == (2019, 2019, 1, "ilostat_two")
    assert cov[("UZB", "EMPL_EPR")] == (None, None, 0, None)
    n_statistical = _values(con, "SELECT count(*) FROM framework WHERE tier <> 'L'")[0][0]
    assert _values(con, "SELECT count(*) FROM coverage WHERE country = 'ARM'")[0][0] == n_statistical


def test_embedded_data_coverage_lists_main_indicators_without_kazakh_data(db):
    missing = {
        r[0]
        for r in db.execute(
            "SELECT indicator FROM coverage WHERE country = 'KAZ' AND tier = 'M' AND years = 0"
        ).fetchall()
    }
    assert "EARN_WORKING_POOR" in missing and "DIAL_UNION_DENSITY" in missing
    assert "EMPL_UR" not in missing  # the review's unemployment rate
    regional = db.execute(
        "SELECT count(DISTINCT region) FROM profile WHERE country = 'KAZ' AND indicator = 'DIAL_CBA_COVERAGE' "
        "AND region IS NOT NULL"
    ).fetchall()[0][0]
    assert regional == 16


def test_dwi_profile_works_for_another_countrys_ilostat_data(con, tmp_path):
    from dwi.errors import DwiError
    from dwi.publish.profile import write_profile

    page, book = write_profile(con, tmp_path, "uzb", "en")
    html = page.read_text(encoding="utf-8")
    assert page.name == "profile_UZB_en.html" and book.is_file()
    block = html[html.index('id="ind-EMPL_UR"') :][:20000]
    assert "Rose from 5.0 % in 2019 to 5.8 % in 2021; no value for 2020." in block
    assert "women 6.5 %, men 4.0 % in 2019" in block
    assert "<svg" in block  # two years: a chart, with 2020 a gap
    assert "<td>ARM</td>" in block  # the other country of the warehouse, for comparison
    own = html[html.index('id="ind-EMPL_OWN_ACCOUNT"') :][:3000]
    assert "25.0 %" in own and "derived" in own
    with pytest.raises(DwiError, match="no country 'XYZ'.*ARM, UZB"):
        write_profile(con, tmp_path, "XYZ", "en")
    with pytest.raises(DwiError, match="--lang"):
        write_profile(con, tmp_path, "UZB", "de")
