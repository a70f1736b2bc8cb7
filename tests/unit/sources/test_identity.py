"""A source is a dataset, not a file-name prefix (issue 13, deliver 1; issue 16, items 3, 4 and 7).

Identity comes from the content (dwi.formats.identify); a file-based fallback never clashes; a new download of
a dataset is a new vintage whose removed rows are listed in `revisions`; a fully quarantined vintage is
rejected; a source dropped from the manifest is retired. One small fixture per case (tests/fixtures/identity)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dwi import formats
from tests.conftest import FIXTURES

FIX = FIXTURES / "identity"
UNE_1 = FIX / "UNE_2EAP_SEX_AGE_RT_A-20240725T0039.csv"
UNE_2 = FIX / "UNE_2EAP_SEX_AGE_RT_A-20241120T1012.csv"
UNE_BAD = FIX / "UNE_2EAP_SEX_AGE_RT_A-20250101T0000.csv"
UNE_Q = FIX / "UNE_2EAP_SEX_AGE_RT_Q-20240725T0039.csv"
GDP_1 = FIX / "API_NY.GDP.MKTP.CD_DS2_en_csv_v2_1.csv"
GDP_PC = FIX / "API_NY.GDP.PCAP.CD_DS2_en_csv_v2_2.csv"
GDP_2 = FIX / "API_NY.GDP.MKTP.CD_DS2_en_csv_v2_7.csv"


def ident(path: Path):
    return formats.identify(path, formats.detect(path))


def test_ilostat_identity_is_the_indicator_and_frequency_whatever_the_date_stamp():
    assert ident(UNE_1).key == ident(UNE_2).key == "ilostat:UNE_2EAP_SEX_AGE_RT:A"
    assert ident(UNE_1).name == "une_2eap_sex_age_rt_a"
    assert ident(UNE_Q).key == "ilostat:UNE_2EAP_SEX_AGE_RT:Q"


def test_world_bank_identity_is_the_indicator_code_not_the_file_prefix():
    assert ident(GDP_1).key == ident(GDP_2).key == "worldbank:NY.GDP.MKTP.CD"
    assert ident(GDP_PC).key == "worldbank:NY.GDP.PCAP.CD"
    assert (ident(GDP_1).name, ident(GDP_PC).name) == ("ny_gdp_mktp_cd", "ny_gdp_pcap_cd")


def test_spreadsheet_identity_is_the_table_title():
    table4 = FIXTURES / "readers" / "good" / "table4_regions.xlsx"
    found = ident(table4)
    assert found.key.startswith("table:отчет об информационно-разъяснительной работе")
    assert found.title.startswith("Отчет об")


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (FIX / "занятость.csv", FIX / "безработица.csv"),  # names without an ASCII letter
        (FIX / "a" / "data.csv", FIX / "b" / "data.csv"),  # one name in two folders
    ],
)
def test_file_identity_of_two_files_never_clashes(first, second):
    one, two = ident(first), ident(second)
    assert one.key != two.key
    assert one.name not in ("", "ingested")


def test_file_identity_keeps_letters_of_any_script():
    assert ident(FIX / "занятость.csv").name == "занятость"
    assert ident(FIX / "безработица.csv").name == "безработица"
