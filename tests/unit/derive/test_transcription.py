"""The warehouse against the review's own numbers: a wrong transcription fails here.

Every expected value below is typed from the seed document (../shared/seeds/004_*.txt), not read
from raw/, so a typo in raw/ cannot agree with itself.
"""

from __future__ import annotations

import pytest

from tests.conftest import rows

NATIONAL = {
    ("EMP_TOTAL", 2005): 7_262_000,
    ("EMP_TOTAL", 2011): 8_301_600,
    ("UNEMP_RATE", 2008): 6.6,
    ("UNEMP_RATE", 2009): 6.6,
    ("JOB_INSECURE_SHARE", 2005): 8.6,
    ("JOB_INSECURE_SHARE", 2006): 5.2,
    ("JOB_INSECURE_SHARE", 2007): 4.2,
    ("JOB_INSECURE_SHARE", 2008): 4.4,
    ("JOB_INSECURE_SHARE", 2010): 3.3,
    ("JOB_INSECURE_SHARE", 2011): 3.0,
    ("TEMP_EMP", 2005): 467_312,
    ("TEMP_EMP", 2008): 192_146,
    ("TEMP_EMP", 2009): 196_278,
    ("TEMP_EMP", 2010): 191_951,
    ("TEMP_EMP", 2011): 189_809,
    ("TEMP_EMP_SHARE", 2005): 6.4,
    ("TEMP_EMP_SHARE", 2008): 2.4,
    ("TEMP_EMP_SHARE", 2009): 2.5,
    ("TEMP_EMP_SHARE", 2010): 2.4,
    ("TEMP_EMP_SHARE", 2011): 2.3,
    ("HAZARD_EMP_SHARE", 2005): 18.3,
    ("HAZARD_EMP_SHARE", 2011): 10.3,
    ("HAZARD_EMP", 2009): 844_014,
    ("HAZARD_EMP", 2010): 884_082,
    ("HAZARD_EMP", 2011): 852_582,
    ("LONG_HOURS_EMP", 2005): 1_603_158,
    ("LONG_HOURS_EMP", 2009): 1_383_693,
    ("LONG_HOURS_EMP", 2011): 1_517_903,
    ("MATERNITY_LEAVE_SHARE", 2010): 1.4,
    ("MATERNITY_LEAVE_SHARE", 2011): 2.8,
    ("CHILDCARE_LEAVE_SHARE", 2010): 1.3,
    ("CHILDCARE_LEAVE_SHARE", 2011): 3.7,
}

# Table 3: large, medium, small, OSH standards; Table 5: acting enterprises, agreements, %.
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
    "KZ": (1348, 5346, 151734, 1069),
}
TABLE5 = {
    "KZ-11": (6513, 3382, 51.9),
    "KZ-15": (8276, 2559, 30.9),
    "KZ-19": (9325, 5680, 60.9),
    "KZ-23": (6380, 2149, 33.7),
    "KZ-63": (11816, 8690, 73.5),
    "KZ-31": (5643, 1730, 30.7),
    "KZ-27": (5748, 1223, 21.3),
    "KZ-35": (14875, 3251, 21.9),
    "KZ-43": (5109, 4407, 86.3),
    "KZ-39": (7709, 3358, 43.6),
    "KZ-47": (7523, 1391, 18.5),
    "KZ-55": (7449, 2645, 35.5),
    "KZ-59": (5499, 3516, 63.9),
    "KZ-YUZ": (13484, 5018, 37.2),
    "KZ-71": (19680, 1792, 9.1),
    "KZ-75": (43421, 2545, 5.9),
    "KZ": (178450, 53336, 29.9),
}
# Table 4: per region, 9 measures x (2012 H1, 2011) in the printed column order.
TABLE4 = {
    "KZ-11": [25, 21, 53, 21, 0, 0, 1, 124, 38, 4, 558, 610, 495, 563, 62, 4, 1, 0],
    "KZ-15": [84, 89, 26, 23, 0, 0, 9, 106, 61, 6, 491, 673, 472, 646, 19, 2, 0, 0],
    "KZ-19": [0, 0, 17, 8, 0, 0, 1, 120, 34, 2, 259, 310, 253, 305, 6, 5, 0, 0],
}
TABLE4_CODES = [
    "LI_CONDITIONS_APPROVALS",
    "LI_ENT_REVIEWED",
    "LI_METHOD_RECS",
    "LI_SEMINARS",
    "LI_MEDIA_EVENTS",
    "LI_COMPLAINTS",
    "LI_COMPLAINTS_LABOUR",
    "LI_COMPLAINTS_OSH",
    "LI_COMPLAINTS_EMPLOYMENT",
]
TEXT = {
    ("ENT_ATTESTED", 2011, "Y"): 2425,
    ("ENT_ATTESTED", 2012, "H1"): 1104,
    ("OSH_STD_IMPLEMENTED", 2011, "Y"): 1069,
    ("OSH_STD_IMPLEMENTED", 2010, "Y"): 253,
    ("INSPECTOR_SEMINARS", 2011, "Y"): 2003,
    ("INSPECTOR_SEMINARS", 2012, "H1"): 1516,
    ("UNION_ORGS", 2012, "M03"): 18231,
    ("UNION_ORGS_CBA", 2012, "M03"): 17410,
    ("UNION_ORGS_CBA_SHARE", 2012, "M03"): 95.5,
    ("SECTOR_UNIONS", 2012, "Y"): 26,
    ("SECTOR_UNIONS_TARIFF", 2012, "Y"): 19,
    ("REGIONAL_AGREEMENTS", 2012, "Y"): 13,
    ("PARYZ_APPLICATIONS", 2009, "Y"): 390,
    ("PARYZ_APPLICATIONS", 2010, "Y"): 434,
    ("PARYZ_APPLICATIONS", 2011, "Y"): 610,
    ("CONVENTIONS_RATIFIED", 2012, "Y"): 20,
}
CONVENTIONS = {
    29: "2001-05-18",
    81: "2001-07-06",
    87: "2000-12-13",
    88: "2001-05-18",
    98: "2001-05-18",
    100: "2001-05-18",
    105: "2001-05-18",
    111: "1999-12-06",
    122: "1999-12-06",
    129: "2001-07-06",
    135: "2000-12-13",
    138: "2001-05-18",
    144: "2000-12-13",
    148: "1996-07-30",
    155: "1996-07-30",
    162: "2011-04-05",
    167: "2008-06-18",
    182: "2003-02-26",
    185: "2010-05-17",
    183: "2012-02-14",
}


def value(db, code, region="KZ", year=None, period="Y"):
    found = rows(
        db,
        "SELECT value FROM observations WHERE indicator_code = ? AND region_code = ? AND year = ? AND period = ?",
        code,
        region,
        year,
        period,
    )
    assert len(found) == 1, f"{code} {region} {year} {period}: {found}"
    return found[0][0]


@pytest.mark.parametrize(("key", "expected"), NATIONAL.items(), ids=[f"{k}-{y}" for k, y in NATIONAL])
def test_national_series(db, key, expected):
    assert value(db, key[0], year=key[1]) == pytest.approx(expected)


def test_national_series_has_only_stated_years(db):
    """Years the text does not give stay missing: exactly the stated (indicator, year) pairs exist."""
    stored = set(rows(db, "SELECT indicator_code, year FROM observations WHERE source_id = 'review2012_national'"))
    assert stored == set(NATIONAL)


def test_long_hours_misprint_is_corrected_and_documented(db):
    assert value(db, "LONG_HOURS_EMP", year=2011) == 1_517_903
    assert rows(db, "SELECT count(*) FROM observations WHERE year = 2001 AND indicator_code = 'LONG_HOURS_EMP'") == [
        (0,)
    ]
    notes = rows(db, "SELECT notes FROM sources WHERE id = 'review2012_national'")[0][0]
    assert "misprint" in notes and "2001" in notes


@pytest.mark.parametrize("region", TABLE3)
def test_table3(db, region):
    codes = ["ENT_LARGE", "ENT_MEDIUM", "ENT_SMALL", "ENT_OSH_STANDARD"]
    got = tuple(value(db, c, region, 2011) for c in codes)
    assert got == TABLE3[region]


@pytest.mark.parametrize("region", TABLE5)
def test_table5(db, region):
    got = tuple(value(db, c, region, 2012, "Q2") for c in ("ENT_ACTIVE", "CBA_ACTIVE", "CBA_COVERAGE"))
    assert got == pytest.approx(TABLE5[region])


@pytest.mark.parametrize("region", TABLE4)
def test_table4_partial(db, region):
    got = []
    for code in TABLE4_CODES:
        got += [value(db, code, region, 2012, "H1"), value(db, code, region, 2011, "Y")]
    assert got == TABLE4[region]


def test_table4_has_no_national_total_and_records_coverage(db):
    assert rows(
        db, "SELECT count(*) FROM observations WHERE source_id = 'review2012_table4' AND region_code = 'KZ'"
    ) == [(0,)]
    coverage = rows(db, "SELECT coverage FROM sources WHERE id = 'review2012_table4'")[0][0]
    assert coverage.startswith("partial") and "3 of 16" in coverage


@pytest.mark.parametrize(("key", "expected"), TEXT.items(), ids=[f"{k}-{y}-{p}" for k, y, p in TEXT])
def test_text_facts(db, key, expected):
    assert value(db, key[0], "KZ", key[1], key[2]) == pytest.approx(expected)


def test_conventions_annex(db):
    got = {n: str(d) for n, d in rows(db, "SELECT convention_no, ratification_date FROM conventions")}
    assert got == CONVENTIONS


def test_gdp_context(db):
    assert value(db, "GDP_REAL", year=2005) == 7590.7
    assert value(db, "GDP_REAL", year=2004) == 6919.4
    assert value(db, "GDP_NOMINAL", year=2011) == 28243.05
    assert rows(db, "SELECT count(*) FROM observations WHERE indicator_code = 'GDP_REAL' AND year > 2009") == [(0,)]
    assert rows(db, "SELECT obs_status FROM observations WHERE indicator_code = 'GDP_NOMINAL' AND year = 2024") == [
        ("E",)
    ]
    growth = dict(rows(db, "SELECT year, value FROM observations WHERE indicator_code = 'GDP_GROWTH'"))
    assert growth == {2009: 1.1, 2010: 7.0, 2011: 7.5}


def test_every_observation_traces_to_its_source(db):
    missing = rows(
        db, "SELECT count(*) FROM observations WHERE source_ref IS NULL OR source_row IS NULL OR value_reported IS NULL"
    )
    assert missing == [(0,)]
    assert rows(db, "SELECT count(*) FROM sources WHERE publisher = '' OR title = '' OR reference_date = ''") == [(0,)]


def test_review_data_loads_clean(db):
    """The review's own files load without a quarantined row; in raw/ only the bureau's '63,,4' is."""
    assert rows(db, "SELECT source_id, \"row\", value FROM quality_issues WHERE severity = 'error'") == [
        ("kazstat_decent_work", 45, "63,,4")
    ]
    assert rows(db, "SELECT sum(rows_quarantined) FROM loads WHERE source_id LIKE 'review2012%'") == [(0,)]
