"""Readers (dwi/readers): good fixtures load end to end through `dwi ingest`; broken ones, one problem each,
are rejected or quarantined with a message naming the file, the place and what was expected."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import duckdb
import polars as pl
import pytest
import yaml
from typer.testing import CliRunner

from dwi import stages
from dwi.check import engine
from dwi.check.batch import Batch
from dwi.cli import app
from dwi.formats import detect
from dwi.readers.xlsx import LAYOUTS
from dwi.sources.manifest import Source
from dwi.stages import ingest
from tests.conftest import FIXTURES, RAW, rows

FIX = FIXTURES / "readers"
GOOD, BROKEN = FIX / "good", FIX / "broken"
# Source ids come from the dataset each file holds (dwi.formats.identify), not from the file names
LABELS, WDI, T4_ID = "une_deap_sex_age_rt_a", "ny_gdp_mktp_kd_zg_and_1_more", "отчет_об_информационно_разъяснительной"


@pytest.fixture(scope="module")
def ingested(tmp_path_factory) -> Path:
    """A warehouse with every good reader fixture ingested (no manifest run: ingest alone must work)."""
    wh = tmp_path_factory.mktemp("ingest") / "wh.duckdb"
    for name in ("EMP_TEMP_SEX_AGE_NB_A.csv.gz", "ilostat_labels.csv", "wdi_kaz.csv", "table4_regions.xlsx"):
        batch = ingest(GOOD / name, wh)
        assert batch.status == "loaded", (name, batch.message, batch.issues)
        assert batch.rows_quarantined == 0, batch.issues
    return wh


@pytest.fixture(scope="module")
def con(ingested):
    c = duckdb.connect(str(ingested), read_only=True)
    yield c
    c.close()


def test_detects_each_format_from_content(tmp_path):
    assert detect(GOOD / "EMP_TEMP_SEX_AGE_NB_A.csv.gz").name == "ilostat"
    assert detect(GOOD / "ilostat_labels.csv").name == "ilostat"
    assert detect(GOOD / "wdi_kaz.csv").name == "wdi"
    assert detect(GOOD / "table4_regions.xlsx").name == "xlsx"
    assert detect(RAW / "reported_growth" / "gdp_growth_reported.csv").name == "observations"
    assert detect(RAW / "review_2012" / "annex_conventions.csv").name == "conventions"
    disguised = tmp_path / "really_a_workbook.csv"  # content, not extension
    shutil.copy(GOOD / "table4_regions.xlsx", disguised)
    assert detect(disguised).name == "xlsx"
    gz_wdi = tmp_path / "wdi.txt"
    gz_wdi.write_bytes(gzip.compress((GOOD / "wdi_kaz.csv").read_bytes()))
    assert detect(gz_wdi).name == "wdi"


def test_ilostat_total_employment_is_scaled_from_thousands_to_persons(con):
    got = rows(
        con,
        "SELECT year, period, value, value_reported, unit, obs_status, classif1 FROM observations "
        "WHERE indicator_code = 'EMP_TOTAL' AND country = 'KAZ' ORDER BY year, period",
    )
    # the review's 7,262,000 (2005) and 8,301,600 (2011) persons, as ILOSTAT's 7262.0 and 8301.6 thousand
    assert got == [
        (2005, "Y", 7262000.0, "7262.0", "persons", "B", "AGE_YTHADULT_YGE15"),
        (2011, "Y", 8301600.0, "8301.6", "persons", None, "AGE_YTHADULT_YGE15"),
        (2012, "Q1", 8400000.0, "8400.0", "persons", "P", "AGE_YTHADULT_YGE15"),
    ]


def test_ilostat_unmapped_breakdowns_and_codes_are_kept_not_dropped(con):
    got = rows(
        con,
        "SELECT indicator_code, classif1, value, unit FROM observations "
        "WHERE indicator_code IN ('EMP_TEMP_SEX_AGE_NB', 'LAP_2LFS_SEX_AGE_RT') ORDER BY 1",
    )
    assert got == [
        ("EMP_TEMP_SEX_AGE_NB", "AGE_YTHADULT_Y15-24", 1000.5, "thousands"),
        ("LAP_2LFS_SEX_AGE_RT", "AGE_YTHADULT_YGE15", 66.0, "%"),
    ]
    registered = dict(
        rows(
            con,
            "SELECT code, unit FROM indicators WHERE code IN "
            "('EMP_TEMP_SEX_AGE_NB', 'LAP_2LFS_SEX_AGE_RT', 'SL.TLF.CACT.ZS')",
        )
    )
    assert registered == {
        "EMP_TEMP_SEX_AGE_NB": "thousands",
        "LAP_2LFS_SEX_AGE_RT": "%",
        "SL.TLF.CACT.ZS": "% of total population ages 15+",
    }
    note = rows(con, "SELECT notes FROM indicators WHERE code = 'LAP_2LFS_SEX_AGE_RT'")[0][0]
    assert "registered on the fly" in note and "ilostat_map.csv" in note


def test_ilostat_keeps_country_dimension_labels_notes_and_monthly_time(con):
    areas = rows(
        con,
        "SELECT country, region_code, value FROM observations WHERE indicator_code = 'EMP_TOTAL' "
        "AND country <> 'KAZ' ORDER BY 1",
    )
    assert areas == [("RUS", "RUS", 70000000.0), ("X01", "X01", 3000000000.0)]
    une = rows(
        con,
        "SELECT year, value, note, source_ref FROM observations WHERE indicator_code = 'UNEMP_RATE' "
        f"AND source_id = '{LABELS}' ORDER BY year",
    )
    assert [(y, v) for y, v, _, _ in une] == [(2008, 6.6), (2009, 6.6)]  # the review's 6.6 %
    assert une[1][2] == "note_source: Repository: ILO-STATISTICS"
    assert "LFS - Labour Force Survey" in une[1][3]
    assert rows(
        con,
        "SELECT sex, year, period, obs_status FROM observations WHERE indicator_code = 'LAP_2LFS_SEX_AGE_RT'",
    ) == [("F", 2011, "M01", "U")]
    # the row with an empty obs_value is not an observation, and an info issue says so
    assert rows(con, "SELECT count(*) FROM observations WHERE source_id = 'emp_temp_sex_age_nb_a' AND year = 2010") == [
        (0,)
    ]
    assert rows(
        con,
        "SELECT count(*) FROM quality_issues WHERE source_id = 'emp_temp_sex_age_nb_a' "
        "AND severity = 'info' AND message LIKE '%rows 8%'",
    ) == [(1,)]


def test_wdi_unpivots_years_and_skips_missing_cells(con):
    got = rows(
        con,
        "SELECT indicator_code, country, year, value, unit FROM observations "
        f"WHERE source_id = '{WDI}' ORDER BY country, indicator_code, year",
    )
    assert got == [
        ("GDP_GROWTH", "KAZ", 2009, 1.2, "percent"),
        ("GDP_GROWTH", "KAZ", 2011, 7.5, "percent"),
        ("SL.TLF.CACT.ZS", "KAZ", 2011, 71.5, "% of total population ages 15+"),
        ("GDP_GROWTH", "RUS", 2009, -7.8, "percent"),
    ]
    assert rows(
        con,
        f"SELECT source_row FROM observations WHERE source_id = '{WDI}' AND year = 2009 AND country = 'KAZ'",
    ) == [(6,)]  # line 6 of the file (4 metadata lines, then the header)


def test_xlsx_matches_the_transcribed_table4(con):
    """The spreadsheet (Russian/Kazakh/English region names, merged headers) gives Table 4's numbers."""
    xlsx = rows(
        con,
        "SELECT indicator_code, region_code, year, period, value FROM observations "
        f"WHERE source_id = '{T4_ID}' ORDER BY ALL",
    )
    seed = (
        pl.read_csv(RAW / "review_2012" / "table4_labour_inspection.csv")
        .filter(pl.col("indicator_code").is_in(["LI_CONDITIONS_APPROVALS", "LI_ENT_REVIEWED"]))
        .with_columns(
            pl.col("region").replace({"Akmolinskaya": "KZ-11", "Aktyubinskaya": "KZ-15", "Almatinskaya": "KZ-19"})
        )
        .select("indicator_code", "region", "year", "period", pl.col("value").cast(pl.Float64))
        .sort(pl.all())
        .rows()
    )
    assert len(xlsx) == 12 and xlsx == seed
    ref = rows(
        con,
        "SELECT source_ref, source_row, region_reported FROM observations WHERE source_id = "
        f"'{T4_ID}' AND region_code = 'KZ-15' AND year = 2011 "
        "AND indicator_code = 'LI_CONDITIONS_APPROVALS'",
    )[0]
    assert "sheet 'T4', cell C7" in ref[0] and "2011" in ref[0] and ref[1] == 7 and ref[2] == "Ақтөбе облысы"


def test_ingest_records_provenance_and_passes_the_sql_tests(con):
    from dwi.store.build import sql_tests

    assert all(n == 0 for n in sql_tests(con).values())
    srcs = dict(rows(con, "SELECT id, format FROM sources"))
    assert srcs == {
        "emp_temp_sex_age_nb_a": "ilostat",
        LABELS: "ilostat",
        WDI: "wdi",
        T4_ID: "xlsx",
    }
    assert rows(con, "SELECT count(*), sum(rows_loaded) FROM loads WHERE status = 'loaded'") == [
        (4, 25)
    ]  # 6 ILOSTAT + 3 labelled + 4 WDI + 12 xlsx


def test_ingest_keeps_manifest_sources_and_is_idempotent(tmp_path):
    wh = tmp_path / "wh.duckdb"
    stages.run(RAW, wh)
    assert ingest(GOOD / "wdi_kaz.csv", wh).status == "loaded"
    assert ingest(GOOD / "wdi_kaz.csv", wh).status == "unchanged"
    c = duckdb.connect(str(wh), read_only=True)
    try:
        ids = {r[0] for r in rows(c, "SELECT id FROM sources")}
        assert {WDI, "review2012_national", "reported_gdp_growth"} <= ids
        assert rows(c, f"SELECT count(*) FROM loads WHERE source_id = '{WDI}'") == [(1,)]
    finally:
        c.close()
    assert stages.run(RAW, wh).nothing_to_do  # ingest did not disturb the next scheduled run


def test_cli_ingest_exit_codes_and_one_line_errors(tmp_path):
    wh = str(tmp_path / "wh.duckdb")
    runner = CliRunner()
    ok = runner.invoke(app, ["ingest", str(GOOD / "ilostat_labels.csv"), "--warehouse", wh])
    assert ok.exit_code == 0, ok.output
    bad = runner.invoke(app, ["ingest", str(BROKEN / "ilostat_truncated.csv.gz"), "--warehouse", wh])
    assert bad.exit_code == 1 and "truncated or corrupt" in bad.output and "Traceback" not in bad.output
    missing = runner.invoke(app, ["ingest", str(tmp_path / "nope.csv"), "--warehouse", wh])
    assert missing.exit_code == 2 and "no such file" in missing.output
    fmt = runner.invoke(app, ["ingest", str(GOOD / "wdi_kaz.csv"), "--format", "sdmx", "--warehouse", wh])
    assert fmt.exit_code == 2 and "--format must be one of" in fmt.output


def check_file(path: Path, fmt: str, layout: str | None = None) -> Batch:
    meta = {"_relpath": path.name, **({"layout": layout} if layout else {})}
    return stages.check([Batch(Source(path.stem, path, fmt, meta), "x")])[0]


TABLE4 = "table4_labour_inspection"
BROKEN_CASES = [
    # file, format, status, check, words in the message
    ("ilostat_truncated.csv.gz", "ilostat", "rejected", "file:gzip", ["truncated or corrupt"]),
    (
        "ilostat_no_obs_value.csv",
        "ilostat",
        "rejected",
        "file:columns",
        ["missing column(s) obs_value", "'value'"],
    ),
    ("ilostat_all_empty.csv", "ilostat", "rejected", "file:no_rows", ["no row has an obs_value"]),
    ("ilostat_bad_time.csv", "ilostat", "checked", "integer", ["row 3, column year", "'2005X1'"]),
    ("ilostat_bad_value.csv", "ilostat", "checked", "number", ["row 2, column value", "'8 301,6'"]),
    # the backbone reports pandera's built-in column checks by their pandera name (isin), not known_status
    (
        "ilostat_bad_status.csv",
        "ilostat",
        "checked",
        "isin|known_status",
        ["row 3, column obs_status", "'Z'"],
    ),
    ("wdi_no_header.csv", "wdi", "rejected", "file:columns", ["no header row with 'Country Code'"]),
    ("wdi_no_years.csv", "wdi", "rejected", "file:columns", ["no year columns"]),
    ("wdi_all_missing.csv", "wdi", "rejected", "file:no_rows", ["every year cell is empty or '..'"]),
    ("wdi_bad_number.csv", "wdi", "checked", "number", ["row 6, column 2009", "'1,2'"]),
    ("xlsx_truncated.xlsx", "xlsx", "rejected", "file:xlsx", ["not a readable .xlsx workbook"]),
    ("xlsx_no_header.xlsx", "xlsx", "rejected", "file:header", ["no cell reads 'Регион / Region'"]),
    (
        "xlsx_unknown_measure.xlsx",
        "xlsx",
        "rejected",
        "file:header",
        ["cell D4", "'Something else entirely'"],
    ),
    (
        "xlsx_bad_year.xlsx",
        "xlsx",
        "rejected",
        "file:header",
        ["cell B5", "expected a year", "'первое полугодие'"],
    ),
    ("xlsx_unknown_region.xlsx", "xlsx", "checked", "known_region", ["row 9, column region", "'Атлантида'"]),
    ("xlsx_bad_number.xlsx", "xlsx", "checked", "number", ["row 6, column value", "'25 шт'"]),
]


@pytest.mark.parametrize("name,fmt,status,check,words", BROKEN_CASES, ids=[c[0] for c in BROKEN_CASES])
def test_broken_fixture_gives_one_clear_message(name, fmt, status, check, words):
    batch = check_file(BROKEN / name, fmt, TABLE4 if fmt == "xlsx" else None)
    assert batch.status == status
    errors = batch.issues.filter(pl.col("severity") == "error")
    hit = errors.filter(pl.col("check").is_in(check.split("|")))
    assert hit.height >= 1, errors  # an xlsx row carries several values, each reported
    message = hit["message"][0]
    assert name in message and all(w in message for w in words), message
    if status == "checked":  # only the bad row is quarantined; the rest of the file loads
        assert 0 < batch.rows_quarantined < batch.rows_in


def test_reader_formats_load_from_the_manifest_too(tmp_path):
    """`dwi run` path: manifest entries with format ilostat / wdi / xlsx (+ layout)."""
    raw = tmp_path / "raw"
    raw.mkdir()
    for name in ("ilostat_labels.csv", "wdi_kaz.csv", "table4_regions.xlsx"):
        shutil.copy(GOOD / name, raw / name)
    entries = [
        {"id": "ilo", "path": "ilostat_labels.csv", "format": "ilostat", "title": "t"},
        {"id": "wdi", "path": "wdi_kaz.csv", "format": "wdi", "title": "t"},
        {"id": "t4", "path": "table4_regions.xlsx", "format": "xlsx", "layout": TABLE4, "title": "t"},
    ]
    (raw / "manifest.yaml").write_text(yaml.safe_dump({"sources": entries}), encoding="utf-8")
    p = stages.run(raw, tmp_path / "wh.duckdb")
    assert [(b.source.id, b.status, b.rows_loaded) for b in p.batches] == [
        ("ilo", "loaded", 3),
        ("wdi", "loaded", 4),
        ("t4", "loaded", 12),
    ]


def test_xlsx_without_a_layout_is_rejected_not_a_crash(tmp_path):
    lone = tmp_path / "lone.xlsx"
    shutil.copy(GOOD / "table4_regions.xlsx", lone)
    batch = check_file(lone, "xlsx")
    assert batch.status == "rejected" and "no layout file" in batch.message and "lone.layout.yaml" in batch.message
    bad = tmp_path / "bad_layout.yaml"
    bad.write_text("sheet: 0\n", encoding="utf-8")
    batch = check_file(lone, "xlsx", str(bad))
    assert batch.status == "rejected" and "missing region_header, measures" in batch.message


def test_xlsx_cells_are_named_right_when_the_sheet_does_not_start_at_a1(tmp_path):
    """calamine starts at the first used cell; row numbers and cell names must still be the sheet's."""
    import xlsxwriter

    path = tmp_path / "offset.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("Data")
    ws.write(2, 1, "Title in B3")
    ws.merge_range(4, 1, 5, 1, "Регион / Region")
    layout = yaml.safe_load((LAYOUTS / f"{TABLE4}.yaml").read_text(encoding="utf-8"))
    ws.merge_range(4, 2, 4, 3, next(iter(layout["measures"])))
    ws.write(5, 2, "2012 H1")
    ws.write(5, 3, 2011)
    ws.write(6, 1, "Akmola")
    ws.write(6, 2, 25)
    ws.write(6, 3, 21)
    wb.close()
    batch = check_file(path, "xlsx", TABLE4)
    got = engine.rows(batch).select("_row", "region_code", "year", "period", "value", "source_ref").rows()
    assert [r[:5] for r in got] == [(7, "KZ-11", 2012, "H1", 25.0), (7, "KZ-11", 2011, "Y", 21.0)]
    assert "cell C7 (" in got[0][5] and "cell D7 (" in got[1][5]
