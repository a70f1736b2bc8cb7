"""Every spelling resolves through the alias table; unknown names are failures, not new regions."""

from __future__ import annotations

import polars as pl
import pytest

from dwi.check import harmonise
from dwi.reference import load_reference

REVIEW_SPELLINGS = {
    "Akmolinskaya": "KZ-11",
    "Aktyubinskaya": "KZ-15",
    "Almatinskaya": "KZ-19",
    "Atyrauskaya": "KZ-23",
    "Eastern Kazakhstan": "KZ-63",
    "Zhambylskaya": "KZ-31",
    "Western Kazakhstan": "KZ-27",
    "Karagandinskaya": "KZ-35",
    "Kyzylordinskaya": "KZ-43",
    "Kyzykordinskaya": "KZ-43",
    "Kostanayskaya": "KZ-39",
    "Mangistauskaya": "KZ-47",
    "Pavlodarskaya": "KZ-55",
    "Northern Kazakhstan": "KZ-59",
    "Southern Kazakhstan": "KZ-YUZ",
    "Astana city": "KZ-71",
    "Almaty city": "KZ-75",
    "Total in the republic": "KZ",
}
OTHER_SPELLINGS = {
    "Акмолинская область": "KZ-11",
    "Ақмола облысы": "KZ-11",
    "AKM": "KZ-11",
    "11": "KZ-11",
    "KZ-11": "KZ-11",
    "Южно-Казахстанская область": "KZ-YUZ",
    "YUZ": "KZ-YUZ",
    "Turkistan Region": "KZ-61",
    "Туркестанская область": "KZ-61",
    "Shymkent": "KZ-79",
    "Nur-Sultan": "KZ-71",
    "Нур-Султан": "KZ-71",
    "  almaty   CITY ": "KZ-75",
    "Almaty": "KZ-75",
    "Almaty Region": "KZ-19",
    "Алматинская область": "KZ-19",
    "Abai Region": "KZ-10",
    "Zhetisu Region": "KZ-33",
    "Ulytau Region": "KZ-62",
    "Kazakhstan": "KZ",
    "East-Kazakhstan Oblast": "KZ-63",
}


def resolve(names: list[str]) -> list[str | None]:
    frame = pl.DataFrame(
        {
            "_row": list(range(2, 2 + len(names))),
            "indicator_code": ["ENT_LARGE"] * len(names),
            "region": names,
            "sex": ["T"] * len(names),
            "year": ["2011"] * len(names),
            "period": ["Y"] * len(names),
            "value": ["1"] * len(names),
            "unit": ["enterprises"] * len(names),
        }
    )
    return harmonise.observations(frame, load_reference())["region_code"].to_list()


@pytest.mark.parametrize(("name", "code"), {**REVIEW_SPELLINGS, **OTHER_SPELLINGS}.items())
def test_alias_resolves(name, code):
    assert resolve([name]) == [code]


def test_unknown_name_does_not_become_a_region():
    assert resolve(["Atlantis", "South Kazakhstan Republic"]) == [None, None]


def test_south_kazakhstan_is_not_turkistan():
    ref = load_reference()
    regions = {r["code"]: r for r in ref.regions.to_dicts()}
    assert str(regions["KZ-YUZ"]["valid_to"]) == "2018-06-19" and regions["KZ-YUZ"]["iso_3166_2"] is None
    assert str(regions["KZ-61"]["valid_from"]) == "2018-06-19"
    assert resolve(["Southern Kazakhstan", "Turkistan"]) == ["KZ-YUZ", "KZ-61"]


def test_every_region_has_three_names_and_aliases_are_unambiguous():
    ref = load_reference()
    assert ref.regions.filter(pl.any_horizontal(pl.col("name_en", "name_ru", "name_kk").is_null())).height == 0
    assert ref.aliases["alias_key"].is_duplicated().sum() == 0
    assert set(ref.aliases["region_code"]) <= set(ref.regions["code"])
