"""World Bank files as users download them (tests/fixtures/real/worldbank/, excerpts of real public files; see
the README there): every valid cell loads with the value printed in the file, every area (countries and the
World Bank's aggregates) is kept, and a bad cell quarantines that cell alone."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import duckdb
import polars as pl
import pytest

from dwi.formats import detect
from dwi.stages import ingest
from tests.conftest import FIXTURES, rows

REAL = FIXTURES / "real" / "worldbank"
BULK_GDP = REAL / "API_NY.GDP.MKTP.CD_DS2_en_csv_v2_391573.csv"  # bulk download: BOM, 4 metadata lines
BULK_UNEMP = REAL / "API_SL.UEM.TOTL.ZS_DS2_en_csv_v2_391267.csv"
DATA_ONLY = REAL / "PBI_MUNDIAL.csv"  # the data CSV without the metadata lines
DATABANK = REAL / "280e00cb-7830-4276-b4a9-c33ed532f060_Data.csv"  # DataBank export, '..' and a footer
COUNTRIES = REAL / "Metadata_Country_API_NY.GDP.MKTP.CD_DS2_en_csv_v2_391573.csv"
INDICATORS = REAL / "Metadata_Indicator_API_NY.GDP.MKTP.CD_DS2_en_csv_v2_391573.csv"
WIDE = {"gdp": BULK_GDP, "unemp": BULK_UNEMP, "gdppc": DATA_ONLY, "databank": DATABANK}
YEAR = re.compile(r"^(\d{4})(?: \[YR\d{4}\])?$")


def cells(path: Path) -> dict[tuple[str, str, int], str]:
    """Every valid cell of a wide World Bank file, read with the csv module (not dwi): (series code, area
    code, year) -> the value as printed."""
    with open(path, encoding="utf-8-sig", newline="") as fh:
        records = list(csv.reader(fh))
    h = next(i for i, r in enumerate(records) if "Country Code" in r)
    header = records[h]
    code = header.index("Indicator Code" if "Indicator Code" in header else "Series Code")
    area = header.index("Country Code")
    out = {}
    for r in records[h + 1 :]:
        if len(r) <= area or not r[area].strip():
            continue  # blank and footer lines
        for name, value in zip(header, r, strict=False):
            if (m := YEAR.match(name.strip())) and value.strip() not in ("", ".."):
                out[(r[code], r[area], int(m.group(1)))] = value.strip()
    return out


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Path:
    wh = tmp_path_factory.mktemp("wb") / "wh.duckdb"
    for sid, path in WIDE.items():
        batch = ingest(path, wh, source_id=sid)
        assert batch.status == "loaded", (path.name, batch.message)
        assert batch.rows_quarantined == 0, batch.issues.filter(pl.col("severity") == "error")
    for sid, path in {"countries": COUNTRIES, "indicators": INDICATORS}.items():
        batch = ingest(path, wh, source_id=sid)
        assert (batch.status, batch.rows_quarantined) == ("loaded", 0), (path.name, batch.message)
    return wh


@pytest.fixture(scope="module")
def con(warehouse):
    c = duckdb.connect(str(warehouse), read_only=True)
    yield c
    c.close()


def test_each_shape_is_detected_from_content():
    assert {detect(p).name for p in WIDE.values()} == {"wdi"}
    assert (detect(COUNTRIES).name, detect(INDICATORS).name) == ("wb_countries", "wb_indicators")


def records(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def test_metadata_companions_load_as_metadata_not_observations(con):
    """Every row of Metadata_Country (region, income group, special notes with their line breaks) and of
    Metadata_Indicator (definition, source) is in wb_countries / wb_indicators as written; none is an
    observation."""
    got = {
        r[0]: r[1:]
        for r in rows(con, "SELECT country_code, country_name, region, income_group, special_notes FROM wb_countries")
    }
    want = {
        r["Country Code"]: tuple(r[c] or None for c in ("TableName", "Region", "IncomeGroup", "SpecialNotes"))
        for r in records(COUNTRIES)
    }
    assert got == want and len(got) == 7
    assert got["KAZ"][:3] == ("Kazakhstan", "Europe & Central Asia", "Upper middle income")
    assert got["WLD"] == ("World", None, None, None)  # an aggregate: no region or income group
    assert "\n\nIn addition, the World Bank" in got["AFG"][3]
    (ind,) = records(INDICATORS)
    assert rows(con, "SELECT indicator_code, indicator_name, source_note, source_organization FROM wb_indicators") == [
        (ind["INDICATOR_CODE"], ind["INDICATOR_NAME"], ind["SOURCE_NOTE"], ind["SOURCE_ORGANIZATION"])
    ]
    assert rows(con, "SELECT count(*) FROM observations WHERE source_id IN ('countries', 'indicators')") == [(0,)]


@pytest.mark.parametrize("sid", list(WIDE))
def test_every_valid_cell_loads_with_the_value_printed_in_the_file(con, sid):
    expected = cells(WIDE[sid])
    got = {
        (c, a, y): v
        for c, a, y, v in rows(
            con,
            f"SELECT indicator_code, country, year, value_reported FROM observations WHERE source_id = '{sid}'",
        )
    }
    assert len(got) == len(expected) > 0
    assert got == expected


def test_full_precision_and_every_year_back_to_1960(con):
    kaz = dict(
        rows(con, "SELECT year, value FROM observations WHERE source_id = 'gdp' AND country = 'KAZ' ORDER BY year")
    )
    assert kaz[2023] == 262641892078.524  # as printed: "262641892078.524"
    assert kaz[1990] == 26932016269.6107 and min(kaz) == 1990 and 2024 not in kaz  # 2024 is empty in the file
    world = rows(con, "SELECT min(year), count(*) FROM observations WHERE source_id = 'gdp' AND country = 'WLD'")
    assert world == [(1960, 64)]  # 1960-2023, every year printed
    assert rows(
        con, "SELECT value_reported FROM observations WHERE source_id='gdp' AND country='WLD' AND year=1960"
    ) == [("1371947205151.18",)]


def test_aggregates_are_areas_not_errors(con):
    areas = {a for (a,) in rows(con, "SELECT DISTINCT country FROM observations WHERE source_id = 'gdp'")}
    assert {"AFE", "ECA", "HIC", "WLD", "KAZ", "ABW", "AFG"} <= areas
    assert rows(con, "SELECT count(*) FROM quality_issues WHERE severity = 'error'") == [(0,)]


def test_databank_missing_cells_and_footer_are_not_observations(con):
    assert rows(
        con, "SELECT count(*), count(*) FILTER (WHERE year = 2019) FROM observations WHERE source_id = 'databank'"
    ) == [(6, 0)]  # 2019 is '..' throughout, INX is '..' for both years
    assert rows(con, "SELECT value FROM observations WHERE source_id = 'databank' AND country = 'KAZ'") == [
        (18276499.0,)
    ]
    notes = [m for (m,) in rows(con, "SELECT message FROM quality_issues WHERE source_id = 'databank'")]
    assert any(
        "'Data from database: World Development Indicators'" in m and "'Last Updated: 03/18/2020'" in m for m in notes
    )


def test_the_bulk_files_metadata_lines_are_kept_as_a_note(con):
    notes = [m for (m,) in rows(con, "SELECT message FROM quality_issues WHERE source_id = 'gdp'")]
    assert any("Data Source: World Development Indicators; Last Updated Date: 2025-04-15" in m for m in notes)


def test_a_bad_cell_quarantines_that_cell_only(tmp_path):
    """Kazakhstan's 2000 GDP written with a decimal comma: that cell is quarantined, named by file, row,
    column and rule; the row's other 33 years load."""
    text = BULK_GDP.read_bytes().decode("utf-8")
    good = cells(BULK_GDP)[("NY.GDP.MKTP.CD", "KAZ", 2000)]
    broken = tmp_path / BULK_GDP.name
    broken.write_bytes(text.replace(f'"{good}"', f'"{good.replace(".", ",")}"', 1).encode("utf-8"))
    batch = ingest(broken, tmp_path / "wh.duckdb", source_id="gdp")
    assert batch.status == "loaded" and batch.rows_quarantined == 1
    kaz = [k for k in cells(BULK_GDP) if k[1] == "KAZ"]
    assert batch.rows_in == len(cells(BULK_GDP))
    errors = batch.issues.filter(pl.col("severity") == "error")
    assert errors.select("row", "column", "check").rows() == [(12, "2000", "number")]
    assert f"{broken.name}, row 12, column 2000" in errors["message"][0]
    with duckdb.connect(str(tmp_path / "wh.duckdb"), read_only=True) as c:
        loaded = rows(c, "SELECT count(*) FROM observations WHERE country = 'KAZ'")
    assert loaded == [(len(kaz) - 1,)]


def test_identity_comes_from_the_content():
    """The indicator code names the dataset; every Metadata_Country is the one list of areas."""
    from dwi import formats

    assert formats.identify(BULK_GDP, formats.get("wdi")).key == "worldbank:NY.GDP.MKTP.CD"
    assert formats.identify(DATABANK, formats.get("wdi")).key == "worldbank:SP.POP.TOTL"
    assert formats.identify(COUNTRIES, formats.get("wb_countries")).key == "worldbank:countries"
    assert formats.identify(INDICATORS, formats.get("wb_indicators")).key == "worldbank-metadata:NY.GDP.MKTP.CD"
