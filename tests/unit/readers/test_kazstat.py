"""The stat.gov.kz reader (format `kazstat`) on real workbooks of the bureau: the decent-work table in raw/ and
the excerpts in tests/fixtures/real/kazstat/ (README.md there says where each comes from). Values are checked
against the cells of the files; nothing needs a layout."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import polars as pl
import pytest

from dwi import formats, stages
from dwi.check import engine
from dwi.check.batch import Batch
from dwi.readers import kazstat
from dwi.sources.manifest import Source
from tests.conftest import FIXTURES, RAW

REAL = FIXTURES / "real" / "kazstat"
DECENT = RAW / "kazstat" / "decent_work_indicators_2001_2020.xlsx"
UNEMP = REAL / "unemployment_rate_regions_quarterly_en.xlsx"
POP = REAL / "population_by_region_ru.xlsx"
APPLIED = REAL / "unemployed_applied_by_region_ru.xlsx"
HOSP = REAL / "hospitals_by_region_ru.xlsx"


def checked(path: Path) -> tuple[Batch, pl.DataFrame]:
    """The checked batch of a workbook and the rows that would load (harmonised, in file order)."""
    batch = stages.check([Batch(Source(path.stem, path, "kazstat", {"_relpath": path.name}), "x")])[0]
    assert batch.status == "checked", batch.message
    loaded = engine.rows(batch)
    engine.discard(batch)
    return batch, loaded


@pytest.fixture(scope="module")
def decent() -> tuple[Batch, pl.DataFrame]:
    return checked(DECENT)


def code_of(batch: Batch, label_start: str) -> str:
    hit = batch.indicators.filter(pl.col("label").str.starts_with(label_start))
    assert hit.height == 1, (label_start, hit)
    return hit["code"][0]


def value(rows: pl.DataFrame, code: str, year: int, sex: str = "T", **where) -> pl.DataFrame:
    out = rows.filter(pl.col("indicator_code") == code, pl.col("year") == year, pl.col("sex") == sex)
    for k, v in where.items():
        out = out.filter(pl.col(k) == v)
    assert out.height == 1, out
    return out


def numeric_cells(path: Path, sheet: str | None = None) -> int:
    """Cells of the workbook right of column A holding a number, or a number as text (with space separators, a
    decimal comma, a footnote mark '*'); year headers (1991-2029) are not counted."""
    book = openpyxl.load_workbook(path, read_only=True, data_only=True)  # a formula counts by its value
    n = 0
    for ws in [book[sheet]] if sheet else book.worksheets:
        for row in ws.iter_rows(values_only=True):
            for cell in row[1:]:
                text = str(cell).replace(" ", "").replace(",", ".").rstrip("*") if cell is not None else ""
                n += bool(text) and text.replace(".", "", 1).isdigit() and not (1990 < float(text) < 2030)
    return n


def test_real_workbooks_are_detected_from_content_and_named_by_their_title():
    for path in (DECENT, UNEMP, POP, APPLIED, HOSP):
        assert formats.detect(path).name == "kazstat", path
    # an agency table with a header over its region column stays a layout table
    assert formats.detect(FIXTURES / "readers" / "good" / "table4_regions.xlsx").name == "xlsx"
    identity = formats.identify(UNEMP, formats.get("kazstat"))
    assert identity.title == "Unemployment rate"  # the footnote mark "1)" is not part of the title
    assert formats.identify(DECENT, formats.get("kazstat")).title.startswith("Перечень показателей")
    # no title block (the sheet 'raw' names the rows): no title identity, which every untitled sheet 'raw' or
    # 'Sheet1' would share; the workbook is a dataset of its own, by its file
    untitled = formats.identify(APPLIED, formats.get("kazstat"))
    assert untitled.key == f"file:{APPLIED.resolve()}" and untitled.name == "unemployed_applied_by_region_ru"


def test_decent_work_values_match_the_sheet(decent):
    batch, rows = decent
    employment = code_of(batch, "Уровень занятости к трудоспособному")
    unemployment = code_of(batch, "Уровень безработицы к трудоспособному")
    assert value(rows, employment, 2011)["value"][0] == 77.0  # cell L4
    assert value(rows, employment, 2020, "F")["value"][0] == 81.4
    assert value(rows, unemployment, 2011)["value"][0] == 5.4  # cell L8
    u2018 = value(rows, unemployment, 2018)  # printed "4,9*"
    assert u2018["value"][0] == 4.9 and u2018["value_reported"][0] == "4.9"
    assert u2018["note"][0].startswith("footnote * (on the value): здесь и далее пенсионный возраст")
    assert "cell S8" in u2018["source_ref"][0] and "printed '4,9*'" in u2018["source_ref"][0]
    assert value(rows, unemployment, 2008, "M")["value"][0] == 5.4
    assert set(value(rows, unemployment, 2011)["region_code"]) == {"KZ"}
    # every cell of the sheet's period columns that holds a number is loaded; "63,,4" is quarantined
    assert rows.height == numeric_cells(DECENT) == 887
    assert batch.rows_in == 888 and batch.rows_quarantined == 1


def test_decent_work_catalogue_keeps_the_bureaus_labels_tiers_units_and_method(decent):
    batch, _ = decent
    cat = batch.indicators
    unemployment = cat.filter(pl.col("label").str.starts_with("Уровень безработицы"))
    assert unemployment.select("tier", "unit", "section").row(0) == ("M", "%", "Возможность найти работу")
    assert "16-63" in unemployment["definition"][0]  # the population base: working age, not 15+
    pay_gap = cat.filter(pl.col("label").str.starts_with("Гендерный разрыв"))
    assert pay_gap["tier"][0] == "A"
    assert cat.filter(pl.col("label").str.starts_with("Расходы на здравоохранение"))["tier"][0] == "Л"  # as printed
    managers = cat.filter(pl.col("label") == "Руководители и государственные служащие")
    assert managers["name"][0].startswith("Сегрегация в видах занятий (профессий) по половому признаку / ")
    assert managers["unit"][0] == "%"
    # indicators the bureau lists without values are in the catalogue too
    assert cat.filter(pl.col("label") == "Работающие бедные, %").height == 1
    assert cat["code"].str.starts_with("KZS_").all() and cat["code"].n_unique() == cat.height


def test_decent_work_problems_are_found_by_rules(decent):
    batch, _ = decent
    issues = batch.issues
    bad = issues.filter(pl.col("check") == "number")
    assert bad.height == 1 and bad["value"][0] == "63,,4" and bad["row"][0] == 45
    assert "(sheet 'Индик.дост.труда 2001-2020', cell Q45)" in bad["message"][0]
    swapped = issues.filter(pl.col("check") == "total_between_sexes")
    employment_2020 = swapped.filter(pl.col("message").str.contains("in 2020 equals one end"))
    assert employment_2020.height == 1 and employment_2020["row"][0] == 4  # 77.8 = men's 77.8, women's 81.4
    assert "cell U4" in employment_2020["message"][0]
    split = issues.filter(pl.col("check") == "sexes_add_to_100")
    assert split.height == 1 and split["row"][0] == 59 and split["value"][0] == "105.136144"  # 2011
    missing = issues.filter(pl.col("message").str.contains("marked no data"))
    assert missing.height > 0 and missing["severity"].unique().to_list() == ["info"]


def test_english_quarterly_regions_with_footnotes():
    batch, rows = checked(UNEMP)
    assert batch.rows_quarantined == 0
    assert rows.height == numeric_cells(UNEMP)
    code = batch.indicators["code"][0]
    assert batch.indicators.select("name", "unit").row(0) == ("Unemployment rate", "in percent")
    kz = rows.filter(pl.col("region_code") == "KZ")
    assert value(kz, code, 2001, period="Q1")["value"][0] == 12.7
    assert value(kz, code, 2001, period="Y")["value"][0] == 10.4
    y2015 = value(kz, code, 2015, period="Y")  # header "year2)"
    assert y2015["value"][0] == 5.1 and "footnote 2 (on the period): Hereinafter" in y2015["note"][0]
    assert value(kz, code, 2015, period="Q4")["note"][0] is None
    turk = value(rows.filter(pl.col("region_code") == "KZ-61"), code, 2018, period="Q1")
    assert turk["value"][0] == 5.2 and "footnote 3 (on the row): Data for the Turkestan region" in turk["note"][0]
    assert value(rows.filter(pl.col("region_code") == "KZ-YUZ"), code, 2015, period="Q4")["value"][0] == 5.6
    assert rows.filter(pl.col("region_code") == "KZ-10")["year"].unique().to_list() == [2022]  # "-" before
    notes = batch.issues.filter(pl.col("check") == "file:note")["message"]
    assert notes.str.contains(r"row 7 \(Abai\): 20 cell\(s\) marked phenomenon absent \(-\)").any()


def test_sheets_by_sex_blocks_and_a_region_holding_its_predecessors_data():
    batch, rows = checked(POP)
    assert batch.rows_quarantined == 0
    assert rows.height == numeric_cells(POP)
    men = batch.indicators.filter(pl.col("name") == "Численность мужчин по регионам Республики Казахстан")
    assert men["unit"][0] == "человек, на начало года"
    m = rows.filter(pl.col("indicator_code") == men["code"][0])
    assert set(m["sex"]) == {"M"}
    assert value(m.filter(pl.col("region_code") == "KZ"), men["code"][0], 2023, "M")["value"][0] == 9647701
    turk = value(m.filter(pl.col("region_code") == "KZ-61"), men["code"][0], 2000, "M")
    assert turk["value"][0] == 988771
    assert "по Южно-Казахстанской области" in turk["note"][0]
    # ... and the region rule says the row's region did not exist in 2000
    validity = batch.issues.filter(pl.col("check") == "region_validity", pl.col("message").str.contains("2000"))
    assert validity.height >= 1
    urban = batch.indicators.filter(pl.col("name").str.ends_with("/ Городское население"))
    assert urban.height == 1
    assert value(rows.filter(pl.col("region_code") == "KZ"), urban["code"][0], 2000, "M")["value"][0] == 3929825


def test_space_thousands_separators_and_excel_table_headers():
    batch, rows = checked(APPLIED)
    assert batch.rows_quarantined == 0 and rows.height == numeric_cells(APPLIED) == 28
    kz = rows.filter(pl.col("region_code") == "KZ").sort("year")
    assert kz.filter(pl.col("year") == 2021)["value"][0] == 681310  # printed "681 310"
    assert value(rows.filter(pl.col("region_code") == "KZ-61"), kz["indicator_code"][0], 2021)["value"][0] == 104876
    assert rows.filter(pl.col("region_code") == "KZ-79")["year"].to_list() == [2018, 2019, 2020, 2021]


def test_empty_cells_and_a_mark_without_footnote_text():
    batch, rows = checked(HOSP)
    assert batch.rows_quarantined == 0 and rows.height == numeric_cells(HOSP)
    turk = rows.filter(pl.col("region_code") == "KZ-61", pl.col("year") == 2003)
    assert turk["value"][0] == 154 and turk["note"][0] == "footnote ** (on the row): (no footnote text in the sheet)"
    assert rows.filter(pl.col("region_code") == "KZ-62")["value"].to_list() == [11.0]


@pytest.mark.parametrize(
    ("printed", "plain"),
    [
        ("681 310", "681310"),
        ("681\u00a0310", "681310"),
        ("1 234 567,5", "1234567.5"),
        ("78,8*", "78.8"),
        ("5,4 1)", "5.4"),
        ("-0,3", "-0.3"),
        ("63,,4", "63,,4"),  # not a number: left for the checks to quarantine
        ("25 шт", "25 шт"),
    ],
)
def test_bureau_number_conventions(printed, plain):
    assert pl.select(kazstat.number(pl.lit(printed)))[0, 0] == plain


def test_a_layout_still_reads_an_unusual_table(tmp_path):
    """With a layout, the kazstat format hands the workbook to the layout reader."""
    import shutil

    good = FIXTURES / "readers" / "good"
    shutil.copy(good / "table4_regions.xlsx", tmp_path / "t4.xlsx")
    source = Source(
        "t4", tmp_path / "t4.xlsx", "kazstat", {"_relpath": "t4.xlsx", "layout": "table4_labour_inspection"}
    )
    batch = stages.check([Batch(source, "x")])[0]
    assert batch.status == "checked" and batch.rows_quarantined == 0 and batch.rows_in == 12


def test_a_layout_declares_its_own_indicators(tmp_path):
    """Codes that are not in the package registry load when the layout names them (code, name, unit, element)."""
    import shutil

    import yaml

    from dwi.readers.xlsx import LAYOUTS

    layout = yaml.safe_load((LAYOUTS / "table4_labour_inspection.yaml").read_text(encoding="utf-8"))
    for i, measure in enumerate(layout["measures"].values()):
        measure.update(
            indicator=f"MY_T4_{i}",
            name=f"Table 4 measure {i}",
            element="Social dialogue, employers' and workers' representation",
        )
    (tmp_path / "t4.layout.yaml").write_text(yaml.safe_dump(layout, allow_unicode=True), encoding="utf-8")
    shutil.copy(FIXTURES / "readers" / "good" / "table4_regions.xlsx", tmp_path / "t4.xlsx")
    batch, rows = checked(tmp_path / "t4.xlsx")
    assert batch.rows_quarantined == 0 and rows.height == 12
    assert set(rows["indicator_code"]) == {"MY_T4_0", "MY_T4_1"}
    declared = batch.indicators.sort("code")
    assert declared.select("code", "name", "unit").rows() == [
        ("MY_T4_0", "Table 4 measure 0", "cases"),
        ("MY_T4_1", "Table 4 measure 1", "enterprises"),
    ]
    assert declared["element"].to_list() == ["Social dialogue, employers' and workers' representation"] * 2
