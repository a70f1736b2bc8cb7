"""The ILOSTAT reader on real downloads (tests/fixtures/real/ilostat, see the README there): codes only, labels
only, codes and labels (monthly), ILOSTAT's .xlsx; labels mapped back to codes whatever the edition's wording;
nothing dropped."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import openpyxl
import polars as pl
import pytest

from dwi.formats import detect, identify
from dwi.readers import ilostat
from dwi.readers.text import Rejected
from dwi.stages import ingest
from tests.conftest import FIXTURES, rows

REAL = FIXTURES / "real" / "ilostat"
CODES = REAL / "CPI_NCYR_COI_RT_A.excerpt.csv"
LABELS = REAL / "EAR_4MTH_SEX_GEO_CUR_NB_A-filtered-2025-06-01.excerpt.csv"
XLSX = REAL / "POP_XWAP_SEX_AGE_NB_Q-20250624T1317.xlsx"
BOTH = REAL / "UNE_DEAP_SEX_AGE_RT_M-20260910T0914.csv"  # codes and labels, monthly


def _file(path: Path) -> pl.DataFrame:
    return pl.read_csv(path, infer_schema=False, encoding="utf8-lossy").rename(lambda c: c.lstrip("\ufeff"))


@pytest.fixture(scope="module")
def loaded(tmp_path_factory) -> tuple[Path, dict]:
    wh = tmp_path_factory.mktemp("ilostat") / "wh.duckdb"
    batches = {p.name: ingest(p, wh) for p in (CODES, LABELS, XLSX, BOTH)}
    return wh, batches


@pytest.fixture(scope="module")
def con(loaded):
    c = duckdb.connect(str(loaded[0]), read_only=True)
    yield c
    c.close()


def test_every_real_download_is_detected_as_ilostat():
    assert [detect(p).name for p in (CODES, LABELS, XLSX, BOTH)] == ["ilostat"] * 4


def test_codes_download_loads_every_value_as_in_the_file_with_history_before_1991(loaded, con):
    batch = loaded[1][CODES.name]
    assert (batch.status, batch.rows_quarantined) == ("loaded", 0), batch.issues
    src = _file(CODES)
    got = pl.DataFrame(
        rows(
            con,
            "SELECT country, classif1, year, value_reported, value FROM observations "
            "WHERE indicator_code = 'CPI_NCYR_COI_RT'",
        ),
        schema=["ref_area", "classif1", "time", "obs_value", "value"],
        orient="row",
    )
    assert got.height == src.height == 54
    joined = src.join(got.with_columns(pl.col("time").cast(pl.String)), on=["ref_area", "classif1", "time"])
    assert joined.height == 54
    assert (joined["obs_value"] == joined["obs_value_right"]).all()
    assert (joined["obs_value"].cast(pl.Float64) == joined["value"]).all()
    # ILOSTAT history reaches back before 1991 (Australia's CPI, 1952 and 1953): loaded, not quarantined
    assert rows(con, "SELECT year, value FROM observations WHERE country = 'AUS' ORDER BY year") == [
        (1952, 17.22),
        (1953, 4.49),
    ]


def test_labels_only_download_maps_labels_to_codes_and_keeps_what_does_not_map(loaded, con):
    batch = loaded[1][LABELS.name]
    src = _file(LABELS)
    # the "Other" sex row (SEX_O) loads too: every row of the file is an observation
    assert (batch.status, batch.rows_in, batch.rows_quarantined) == ("loaded", src.height, 0), batch.issues
    got = rows(
        con,
        "SELECT country, sex, classif1, classif2, year, value_reported, obs_status FROM observations "
        "WHERE source_row = 2 AND country = 'AFG' AND classif2 LIKE 'Currency%'",
    )
    # row 2: "Afghanistan",...,"Total","Area type: National","Currency: 2021 PPP $","2020",836.263,"Break in series"
    assert got == [("AFG", "T", "GEO_COV_NAT", "Currency: 2021 PPP $", 2020, "836.263", "B")]
    mine = "classif2 = 'Currency: 2021 PPP $'"  # this file's rows (the codes file has Afghanistan too)
    by_sex = dict(rows(con, f"SELECT sex, count(*) FROM observations WHERE {mine} GROUP BY 1"))
    assert (
        by_sex
        == {"T": 9, "M": 9, "F": 9, "O": 1}
        == {
            {"Total": "T", "Male": "M", "Female": "F", "Other": "O"}[k]: n
            for k, n in src.group_by("sex.label").len().iter_rows()
        }
    )
    assert {r[0] for r in rows(con, "SELECT DISTINCT classif1 FROM observations WHERE country = 'AGO'")} == {
        "GEO_COV_NAT",
        "GEO_COV_RUR",
        "GEO_COV_URB",
    }
    total = sum(float(v) for v in src["obs_value"])
    assert rows(con, f"SELECT round(sum(value), 3) FROM observations WHERE {mine}") == [(round(total, 3),)]
    # neither the indicator's label (rural/urban earnings is not in the 2024 dictionary) nor the currency
    # classification maps: kept as written, and reported
    notes = batch.issues.filter(pl.col("check") == "file:note")["message"].to_list()
    assert any("classif2 label(s) not in ILOSTAT's" in n and "'Currency: 2021 PPP $' (28 row(s)" in n for n in notes)
    assert any("indicator label(s)" in n and "Average monthly earnings" in n for n in notes)


def test_codes_and_labels_monthly_download_loads_every_cell_as_in_the_file(loaded, con):
    """ILOSTAT's download "with codes and labels" (type=both), monthly: every row loads with the file's code,
    month and value; the notes' labels are kept; it is its own dataset (UNE_DEAP_SEX_AGE_RT, monthly)."""
    batch = loaded[1][BOTH.name]
    src = _file(BOTH)
    assert src.columns[:4] == ["ref_area", "ref_area.label", "source", "source.label"]
    assert (batch.status, batch.rows_in, batch.rows_loaded, batch.rows_quarantined) == (
        "loaded",
        src.height,
        src.height,
        0,
    ), batch.issues
    assert src.height == 128  # 2016M01 to 2026M08
    assert batch.source.id == "une_deap_sex_age_rt_m" and identify(BOTH, detect(BOTH)).key == (
        "ilostat:UNE_DEAP_SEX_AGE_RT:M"
    )
    got = pl.DataFrame(
        rows(
            con,
            "SELECT source_row, country, sex, classif1, year, period, value_reported, value, obs_status, note, "
            "source_ref FROM observations WHERE source_id = ? ORDER BY source_row",
            batch.source.id,
        ),
        schema=["row", "country", "sex", "classif1", "year", "period", "reported", "value", "status", "note", "ref"],
        orient="row",
    )
    want = src.with_row_index("row", offset=2).select(
        pl.col("row").cast(pl.Int64),
        pl.col("ref_area").alias("country"),
        pl.col("sex").str.strip_prefix("SEX_").alias("sex"),
        "classif1",
        pl.col("time").str.slice(0, 4).cast(pl.Int32).alias("year"),
        pl.col("time").str.slice(4).alias("period"),
        pl.col("obs_value").alias("reported"),
        pl.col("obs_value").cast(pl.Float64).alias("value"),
        pl.col("obs_status").alias("status"),
    )
    assert got.drop("note", "ref").cast(want.schema).equals(want)
    # row 2: "CAN","Canada","BA:147",...,"2026M08",7.302,,,,,"I12:422","Frequency: Monthly","R1:3513",...
    assert got.row(0)[1:9] == ("CAN", "T", "AGE_YTHADULT_YGE15", 2026, "M08", "7.302", 7.302, None)
    assert (
        got["note"] == "note_indicator: Frequency: Monthly; note_source: "
        "Repository: ILO-STATISTICS - Micro data processing"
    ).all()
    assert got["ref"].str.contains("LFS - Labour Force Survey", literal=True).all()
    assert rows(con, "SELECT DISTINCT indicator_code, unit FROM observations WHERE source_id = ?", batch.source.id) == [
        ("UNEMP_RATE", "percent")
    ]


def test_xlsx_download_quarterly_values_match_the_cells_and_unmapped_labels_are_kept(loaded, con):
    batch = loaded[1][XLSX.name]
    sheet = openpyxl.load_workbook(XLSX, read_only=True).worksheets[0]
    cells = list(sheet.iter_rows(values_only=True))
    header, body = cells[0], cells[1:]
    assert header[5:7] == ("time", "obs_value")
    assert batch.rows_in == len(body) == 1342  # nothing lost: loaded or quarantined with a reason
    # The download is in Spanish; only English dictionaries ship, so "Hombres"/"Mujeres" stay as written and
    # the rule on sex quarantines those rows, naming the label (French/Spanish dictionaries: not shipped)
    quarantined = batch.issues.filter(pl.col("check") == "known_sex")
    assert quarantined.height == batch.rows_quarantined == 1342
    assert "'Hombres'" in quarantined["message"][0] and "row 2, column sex" in quarantined["message"][0]
    read = ilostat.read(XLSX, XLSX.name, {})
    frame = pl.concat(list(read.batches))
    assert frame.height == 1342
    first = frame.row(0, named=True)  # row 2: Austria, ..., Hombres, ..., 2025Q1, 3764.1
    assert (first["country"], first["year"], first["period"], first["value"]) == ("AUT", "2025", "Q1", "3764.1")
    values = [float(r[6]) for r in body]
    assert frame["value"].cast(pl.Float64).to_list() == values
    assert sorted(set(frame["period"])) == ["Q1", "Q2", "Q3", "Q4"]
    assert any("sex label(s)" in n and "'Hombres'" in n for n in read.notes)


def test_labels_are_matched_whatever_the_editions_wording():
    sexes = pl.DataFrame({"label": ["Total", "Sex: Female", "  sex:  male ", "Hombres"]})
    assert ilostat.map_labels(sexes, "sex")["code"].to_list() == ["SEX_T", "SEX_F", "SEX_M", None]
    # the dictionary writes Côte d’Ivoire with a typographic apostrophe, a download with a plain one
    areas = pl.DataFrame({"label": ["Côte d'Ivoire", "World: Low income", "Low income"]})
    assert ilostat.map_labels(areas, "ref_area")["code"].to_list() == ["CIV", "X02", None]  # 'Low income': ambiguous
    # a later edition of a modelled series: the date differs, the series is the same
    ind = pl.DataFrame(
        {
            "label": [
                "Labour force by sex and age -- ILO modelled estimates, May 2025 (thousands)",
                "Employment by sex and age (thousands)",
            ]
        }
    )
    assert ilostat.map_labels(ind, "indicator")["code"].to_list() == ["EAP_2EAP_SEX_AGE_NB", "EMP_TEMP_SEX_AGE_NB"]
    # a classification label without its prefix is settled by the indicator's breakdown (GEO in ..._GEO_...)
    cls = pl.DataFrame({"label": ["National", "Area type: Rural"], "indicator": ["X_SEX_GEO_NB", None]})
    assert ilostat.map_labels(cls, "classif1")["code"].to_list() == ["GEO_COV_NAT", "GEO_COV_RUR"]


def test_labels_only_total_employment_is_total_not_temporary(tmp_path):
    path = tmp_path / "emp.csv"
    path.write_text(
        "ref_area.label,source.label,indicator.label,sex.label,classif1.label,time,obs_value\n"
        "Kazakhstan,LFS - Labour Force Survey,Employment by sex and age (thousands),Total,"
        '"Age (Youth, adults): 15+",2022,8919.4\n',
        encoding="utf-8",
    )
    # a labels-only download is the same dataset as the bulk file of codes (identity from the content)
    assert identify(path, detect(path)).key == "ilostat:EMP_TEMP_SEX_AGE_NB:A"
    assert identify(XLSX, detect(XLSX)).name  # the .xlsx download has an identity read from its cells too
    batch = ingest(path, tmp_path / "wh.duckdb")
    assert batch.status == "loaded", batch.issues
    with duckdb.connect(str(tmp_path / "wh.duckdb"), read_only=True) as c:
        assert rows(c, "SELECT indicator_code, country, sex, classif1, value, unit FROM observations") == [
            ("EMP_TOTAL", "KAZ", "T", "AGE_YTHADULT_YGE15", 8919400.0, "persons")
        ]


def test_a_missing_column_is_named_without_listing_the_label_columns_the_file_has(tmp_path):
    path = tmp_path / "no_time.csv"
    shutil.copy(LABELS, path)
    text = path.read_text(encoding="utf-8-sig").replace('"time",', '"period",', 1)
    path.write_text(text, encoding="utf-8")
    with pytest.raises(Rejected) as err:
        list(ilostat.read(path, "no_time.csv", {}).batches)
    message = str(err.value)
    assert "missing column(s) time" in message and "'period'" in message
    assert "sex.label" not in message and "expected" not in message
