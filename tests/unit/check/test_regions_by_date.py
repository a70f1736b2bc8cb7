"""Regions resolve by name, code and date (dwi/reference/region_aliases.csv + regions.csv)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from dwi import stages
from dwi.check import engine
from dwi.check.batch import Batch
from dwi.reference import load_reference
from dwi.sources.manifest import Source

HEADER = "indicator_code,region,sex,year,period,value,unit,obs_status,source_ref,note\n"


def check(tmp_path: Path, rows: list[tuple[str, int, str]]) -> Batch:
    """Run read/harmonise/validate on a tidy file with one EMP_TOTAL row per (region, year, period)."""
    body = "".join(f'EMP_TOTAL,"{r}",T,{y},{p},{1000 + i},persons,,test,\n' for i, (r, y, p) in enumerate(rows))
    path = tmp_path / "regions.csv"
    path.write_text(HEADER + body, encoding="utf-8")
    batch = Batch(Source("regions", path, "observations", {"_relpath": "regions.csv", "coverage": "partial"}), "x")
    return stages.check([batch])[0]


def codes(batch: Batch) -> list[str]:
    return engine.rows(batch).sort("_row")["region_code"].to_list()


def warnings(batch: Batch, check: str) -> list[int]:
    return sorted(batch.issues.filter(pl.col("check") == check)["row"].to_list())


def test_south_kazakhstan_2017_and_turkistan_2019_are_different_territories(tmp_path):
    b = check(
        tmp_path,
        [
            ("South Kazakhstan", 2017, "Y"),
            ("Turkistan", 2019, "Y"),
            ("Южно-Казахстанская область", 2016, "Y"),
            ("Түркістан облысы", 2020, "Y"),
            ("Ońtústik Qazaqstan oblysy", 2015, "Y"),
            ("Туркестанская", 2021, "Q2"),
        ],
    )
    assert codes(b) == ["KZ-YUZ", "KZ-61", "KZ-YUZ", "KZ-61", "KZ-YUZ", "KZ-61"]
    assert b.rows_quarantined == 0 and warnings(b, "region_validity") == []


def test_nur_sultan_in_2020_is_astana_and_outside_its_dates_warns(tmp_path):
    b = check(
        tmp_path,
        [
            ("Nur-Sultan", 2020, "Y"),
            ("Нур-Султан", 2019, "Q2"),
            ("г. Нур-Султан", 2022, "H1"),
            ("Nur-Sultan", 2017, "Y"),
            ("Нұр-Сұлтан", 2023, "Y"),
            ("Astana", 2024, "Y"),
        ],
    )
    assert codes(b) == ["KZ-71"] * 6
    # rows 5 (2017) and 6 (2023) used the name outside 2019-03-20..2022-09-17
    assert warnings(b, "region_name_validity") == [5, 6]
    msg = b.issues.filter(pl.col("row") == 5, pl.col("check") == "region_name_validity")["message"][0]
    assert "Nur-Sultan" in msg and "2019-03-20" in msg and "2022-09-17" in msg and "2017" in msg


def test_region_outside_its_validity_warns_but_loads(tmp_path):
    b = check(
        tmp_path,
        [
            ("Turkistan", 2017, "Y"),
            ("South Kazakhstan", 2019, "Y"),
            ("Abai Region", 2021, "Y"),
            ("Shymkent", 2017, "Y"),
            ("Turkistan", 2018, "H2"),
            ("South Kazakhstan", 2018, "Q1"),
            ("Ulytau", 2022, "Y"),
            ("Ulytau", 2023, "Y"),
        ],
    )
    assert codes(b) == ["KZ-61", "KZ-YUZ", "KZ-10", "KZ-79", "KZ-61", "KZ-YUZ", "KZ-62", "KZ-62"]
    # 2017 Turkistan, 2019 South Kazakhstan, 2021 Abai, 2017 Shymkent: did not exist; Ulytau 2022 (from
    # 2022-06-08): the year straddles the reform. Turkistan 2018 H2 and South Kazakhstan 2018 Q1 are fine.
    assert warnings(b, "region_validity") == [2, 3, 4, 5, 8]
    assert b.rows_quarantined == 0


@pytest.mark.parametrize(
    "alias,code",
    [
        ("KZ-AKM", "KZ-11"),
        ("AKM", "KZ-11"),
        ("11", "KZ-11"),
        ("110000000", "KZ-11"),
        ("Akmolinskaya", "KZ-11"),
        ("Акмолинская обл.", "KZ-11"),
        ("Акмолинская", "KZ-11"),
        ("Ақмола облысы", "KZ-11"),
        ("Aqmola oblysy", "KZ-11"),
        ("Kyzykordinskaya", "KZ-43"),
        ("Eastern Kazakhstan", "KZ-63"),
        ("ВКО", "KZ-63"),
        ("Southern Kazakhstan", "KZ-YUZ"),
        ("YUZ", "KZ-YUZ"),
        ("ЮКО", "KZ-YUZ"),
        ("Astana city", "KZ-71"),
        ("KZ-AST", "KZ-71"),
        ("710000000", "KZ-71"),
        ("Total in the republic", "KZ"),
        ("KAZ", "KZ"),
        ("Shyǵys Qazaqstan oblysy", "KZ-63"),
        ("Жетісу облысы", "KZ-33"),
        ("Mańǵystaý oblysy", "KZ-47"),
        ("Алма-Ата", "KZ-75"),
        ("Atlantis", None),
    ],
)
def test_aliases_in_three_languages_codes_and_transliterations(tmp_path, alias, code):
    b = check(tmp_path, [(alias, 2023, "Y")])
    if code is None:
        assert b.rows_quarantined == 1 and "known_region" in b.issues["check"].to_list()
    else:
        assert codes(b) == [code]


def test_a_name_with_two_meanings_resolves_by_date():
    """The mechanism: an alias valid for different regions in different periods picks the one in force."""
    from dwi.check.harmonise import resolve_regions

    ref = load_reference()
    extra = pl.DataFrame(
        {
            "alias": ["Old Name", "Old Name"],
            "region_code": ["KZ-YUZ", "KZ-61"],
            "lang": ["en", "en"],
            "valid_from": [None, dt.date(2018, 6, 19)],
            "valid_to": [dt.date(2018, 6, 19), None],
            "note": [None, None],
            "alias_key": ["old name", "old name"],
        }
    )
    ref = dataclasses.replace(ref, aliases=pl.concat([ref.aliases, extra], how="vertical_relaxed"))
    frame = pl.DataFrame(
        {
            "region": ["Old Name"] * 3,
            "year": [2017, 2019, 2018],
            "period": ["Y", "Y", "H2"],
            "country": ["KAZ"] * 3,
        }
    )
    assert resolve_regions(frame, ref)["region_code"].to_list() == ["KZ-YUZ", "KZ-61", "KZ-61"]


def test_cross_row_checks_still_fire_with_the_country_and_classif_columns(tmp_path):
    """The key now includes country/classif1/classif2 (NULL for tidy files): nulls must still match."""
    path = tmp_path / "totals.csv"
    path.write_text(
        HEADER + "ENT_LARGE,Akmolinskaya,T,2011,Y,60,enterprises,,,\n"
        "ENT_LARGE,Aktyubinskaya,T,2011,Y,36,enterprises,,,\n"
        "ENT_LARGE,Total in the republic,T,2011,Y,97,enterprises,,,\n",
        encoding="utf-8",
    )
    batch = stages.check([Batch(Source("totals", path, "observations", {"_relpath": "totals.csv"}), "x")])[0]
    hits = batch.issues.filter(pl.col("check") == "regions_sum_to_total")
    assert hits["row"].to_list() == [4] and "97" in hits["message"][0] and "96" in hits["message"][0]
