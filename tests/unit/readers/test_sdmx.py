"""SDMX-CSV and Eurostat TSV (dwi/readers/sdmx.py, eurostat.py) on real downloads (tests/fixtures/real/, see
the README there): every cell with a value loads, with the file's value and status; missing values are
counted, not loaded; a bad cell is quarantined alone."""

from __future__ import annotations

import csv
from pathlib import Path

import duckdb
import polars as pl
import pytest

from dwi.formats import detect
from dwi.readers import eurostat, sdmx
from dwi.stages import ingest
from tests.conftest import FIXTURES
from tests.unit.readers.test_readers import check_file

REAL = FIXTURES / "real"
GOOD, BROKEN = FIXTURES / "readers" / "good", FIXTURES / "readers" / "broken"
IALFS = REAL / "sdmx_csv" / "oecd_ialfs_indic.csv"
UOE = REAL / "sdmx_csv" / "oecd_uoe_enrolment.csv"
NAMA = REAL / "eurostat_tsv" / "estat_nama_10r_3gdp.tsv"
EDP = REAL / "eurostat_tsv" / "tsdde410.tsv"
FLAGS = GOOD / "estat_flags_test.tsv"
CARHAB = REAL / "sdmx_csv" / "estat_road_eqs_carhab_linear_2_0.csv"  # Eurostat SDMX-CSV 2.0, labels=name
UNE = REAL / "eurostat_tsv" / "une_rt_a.tsv"  # Eurostat TSV with flags after the values


IDS: dict[str, str] = {}  # file stem -> the source id its content gave it


@pytest.fixture(scope="module")
def con(tmp_path_factory):
    wh = tmp_path_factory.mktemp("sdmx") / "wh.duckdb"
    for path in (IALFS, UOE, NAMA, EDP, FLAGS, CARHAB, UNE):
        batch = ingest(path, wh)
        assert batch.status == "loaded" and batch.rows_quarantined == 0, (path, batch.message, batch.issues)
        IDS[path.stem] = batch.source.id
    c = duckdb.connect(str(wh), read_only=True)
    yield c
    c.close()


def loaded(con, stem: str) -> pl.DataFrame:
    return con.sql(f"SELECT * FROM observations WHERE source_id = '{IDS[stem]}'").pl()


def test_detected_from_content():
    assert {detect(p).name for p in (IALFS, UOE, CARHAB)} == {"sdmx_csv"}
    assert {detect(p).name for p in (NAMA, EDP, FLAGS, UNE)} == {"eurostat_tsv"}
    assert detect(BROKEN / "sdmx_bad_period.csv").name == "sdmx_csv"  # 2.0: STRUCTURE,STRUCTURE_ID,ACTION


def test_oecd_every_row_loads_with_its_value_status_and_unit(con):
    rows = list(csv.DictReader(IALFS.open()))
    got = loaded(con, "oecd_ialfs_indic")
    assert got.height == len(rows) == 335
    by_ref = {(r["REF_AREA"], r["MEASURE"], r["UNIT_MEASURE"], r["TIME_PERIOD"]): r for r in rows}
    for obs in got.iter_rows(named=True):
        measure, unit = obs["indicator_code"].split(".")[1:3]
        r = by_ref[(obs["country"], measure, unit, str(obs["year"]))]
        assert obs["value_reported"] == r["OBS_VALUE"] and obs["value"] == float(r["OBS_VALUE"])
        assert obs["obs_status"] == r["OBS_STATUS"]
        assert obs["unit"] == (f"{unit} x10^3" if r["UNIT_MULT"] == "3" else unit)
    assert got.filter(pl.col("obs_status") == "B").height == sum(r["OBS_STATUS"] == "B" for r in rows) == 32
    deu = got.filter((pl.col("country") == "DEU") & (pl.col("year") == 2019))
    assert set(deu["indicator_code"]) >= {"DSD_LFS@DF_IALFS_INDIC.EMP.PS._Z.Y"}
    assert set(deu["classif1"]) == {"AGE_Y_GE15"} and set(deu["sex"]) == {"T"}
    assert deu["source_ref"][0].startswith("OECD.SDD.TPS:DSD_LFS@DF_IALFS_INDIC(1.0) DEU.")


def test_oecd_rows_without_a_value_are_counted_not_loaded(con):
    rows = list(csv.DictReader(UOE.open()))
    valued = [r for r in rows if r["OBS_VALUE"]]
    got = loaded(con, "oecd_uoe_enrolment")
    assert got.height == len(valued) == 159
    assert sorted(got["obs_status"].value_counts().rows()) == sorted(
        pl.Series([r["OBS_STATUS"] for r in valued]).value_counts().rows()
    )  # W (includes another category) kept with its value
    assert got["value"].sum() == pytest.approx(sum(float(r["OBS_VALUE"]) for r in valued))
    note = con.sql(f"SELECT message FROM quality_issues WHERE source_id = '{IDS['oecd_uoe_enrolment']}'").fetchall()
    assert any("41 row(s) without a value are missing values" in m for (m,) in note)


def tsv_cells(path: Path) -> dict[tuple[str, str], str]:
    lines = path.read_text().splitlines()
    periods = [p.strip() for p in lines[0].split("\t")[1:]]
    cells = {}
    for line in lines[1:]:
        key, *values = line.split("\t")
        for period, cell in zip(periods, values, strict=True):
            cells[(key, period)] = cell.strip()
    return cells


@pytest.mark.parametrize("path,source", [(NAMA, "estat_nama_10r_3gdp"), (EDP, "tsdde410"), (UNE, "une_rt_a")])
def test_eurostat_every_cell_with_a_number_loads(con, path, source):
    cells = tsv_cells(path)
    numbers = {k: v for k, v in cells.items() if not v.startswith(":")}
    got = loaded(con, source)
    assert got.height == len(numbers)
    for obs in got.iter_rows(named=True):
        key = obs["source_ref"].split(" ")[1]
        dims = key.split(".")
        assert numbers[(",".join(dims), str(obs["year"]))].split(" ")[0] == obs["value_reported"]  # flag apart


def test_eurostat_areas_become_iso3_or_stay_aggregates(con):
    got = loaded(con, "tsdde410")
    areas = dict(got.select(pl.col("source_ref").str.extract(r"\.([A-Z0-9_]+) ", 1), "country").unique().iter_rows())
    assert areas["EL"] == "GRC" and areas["UK"] == "GBR" and areas["AT"] == "AUT"
    assert areas["EU28"] == "EU28" and areas["EA19"] == "EA19"
    nuts = loaded(con, "estat_nama_10r_3gdp").filter(pl.col("region_code") == "AL011")
    assert set(nuts["country"]) == {"ALB"} and nuts.height == 15
    assert set(loaded(con, "estat_nama_10r_3gdp")["indicator_code"]) == {"NAMA_10R_3GDP.EUR_HAB"}


def test_eurostat_flags_become_status_and_are_named(con):
    got = loaded(con, "estat_flags_test").sort("source_row", "year")
    assert got.select("country", "region_code", "sex", "year", "value", "obs_status").rows() == [
        ("GRC", "GRC", "F", 2019, 18.2, "B"),
        ("GRC", "GRC", "F", 2020, 17.1, None),
        ("EU27_2020", "EU27_2020", "M", 2019, 6.5, "B"),
        ("EU27_2020", "EU27_2020", "M", 2021, 7.0, "P"),
        ("DEU", "DE11", "T", 2019, 3.1, "U"),
        ("DEU", "DE11", "T", 2021, 2.9, "E"),
    ]
    assert got["note"][2] == "flags: b (break in time series), e (estimated), p (provisional)"
    assert set(got["classif1"]) == {"AGE_Y15-74"}
    sql = f"SELECT message FROM quality_issues WHERE source_id = '{IDS['estat_flags_test']}'"
    notes = [m for (m,) in con.sql(sql).fetchall()]
    assert any("3 ':' cell(s) without a value" in m and "1 marked 'c'" in m and "1 marked 'z'" in m for m in notes)


def test_eurostat_real_flags_after_values_are_kept_as_status(con):
    """une_rt_a as Eurostat serves it: '18.2 b', '11.8 bu', '36.2 d', ': u' (a flagged missing value)."""
    got = loaded(con, "une_rt_a")
    cell = {(r["region_code"], r["year"]): r for r in got.iter_rows(named=True)}
    bel = cell[("BEL", 2017)]  # file row 4: 'A,Y15-24,PC_ACT,F,BE ... 18.2 b'
    assert (bel["source_row"], bel["value"], bel["obs_status"], bel["sex"]) == (4, 18.2, "B", "F")
    assert bel["note"] == "flags: b (break in time series)" and bel["classif1"] == "AGE_Y15-24"
    bgr = cell[("BGR", 2019)]
    assert (bgr["source_row"], bgr["value"], bgr["obs_status"]) == (5, 11.8, "B")
    assert bgr["note"] == "flags: b (break in time series), u (low reliability)"
    assert (cell[("BGR", 2020)]["value"], cell[("BGR", 2020)]["obs_status"]) == (17.7, "U")
    assert (cell[("ESP", 2021)]["value"], cell[("ESP", 2021)]["obs_status"]) == (36.2, "D")
    assert (cell[("BGR", 2025)]["value"], cell[("BGR", 2025)]["obs_status"]) == (11.8, None)
    assert ("LUX", 2025) not in cell and ("MLT", 2023) not in cell  # ': u': missing, flagged, not loaded
    assert cell[("EU27_2020", 2009)]["value"] == 20.6 and cell[("GRC", 2013)]["value"] == 64.6  # EL is Greece
    assert got.filter(pl.col("obs_status") == "U").height == 16 and got.height == 460
    sql = f"SELECT message FROM quality_issues WHERE source_id = '{IDS['une_rt_a']}'"
    assert any("184 ':' cell(s) without a value" in m and "2 marked 'u'" in m for (m,) in con.sql(sql).fetchall())


def test_eurostat_sdmx_csv_2_with_label_columns_reads_codes_not_labels(con):
    """Eurostat's data-browser download (SDMX-CSV 2.0, labels=name): each code column is followed by its
    labels ('geo,Geopolitical entity (reporting)'); the labels are not breakdowns, flags i and m are known."""
    rows = list(csv.DictReader(CARHAB.open(encoding="utf-8")))
    valued = [r for r in rows if r["OBS_VALUE"]]
    got = loaded(con, "estat_road_eqs_carhab_linear_2_0").sort("source_row")
    assert got.height == len(valued) == 39  # the 6 'm' rows (missing value; data cannot exist) have no value
    assert set(got["indicator_code"]) == {"ROAD_EQS_CARHAB.NR"} and set(got["unit"]) == {"NR"}
    assert got["classif1"].null_count() == got.height and got["classif2"].null_count() == got.height
    for obs, r in zip(got.iter_rows(named=True), valued, strict=True):
        assert (obs["value_reported"], str(obs["year"])) == (r["OBS_VALUE"], r["TIME_PERIOD"])
    assert got.select("source_row", "country", "year", "value", "obs_status").rows()[2] == (4, "BIH", 2012, 196.0, "I")
    ch = got.filter((pl.col("country") == "CHE") & (pl.col("year") == 2010)).row(0, named=True)
    assert (ch["source_row"], ch["obs_status"]) == (22, "B")
    assert ch["note"] == "flags: b (break in time series), e (estimated)"
    assert got.filter(pl.col("country") == "XKX").height == 11  # Kosovo (XK)
    gbr = got.filter(pl.col("country") == "GBR").select("year", "value", "obs_status").rows()
    assert gbr == [(2018, 473.0, None), (2021, 476.0, "I"), (2022, 480.0, "I"), (2023, 486.0, "I")]
    assert got["source_ref"][0] == "ESTAT:ROAD_EQS_CARHAB(1.0) A.NR.BA 2010"
    name = con.sql("SELECT name FROM indicators WHERE code = 'ROAD_EQS_CARHAB.NR'").fetchall()
    assert name == [("Passenger cars - per thousand inhabitants",)]  # STRUCTURE_NAME


BROKEN_CASES = [
    ("estat_bad_cell.tsv", "eurostat_tsv", "checked", "number", ["row 2, column value", "'5,4'"]),
    ("estat_short_row.tsv", "eurostat_tsv", "rejected", "file:columns", ["row 3", "expected 4 tab-separated"]),
    ("sdmx_no_obs_value.csv", "sdmx_csv", "rejected", "file:columns", ["no TIME_PERIOD and OBS_VALUE"]),
    ("sdmx_bad_period.csv", "sdmx_csv", "checked", "known_period", ["row 3, column period"]),
]


@pytest.mark.parametrize("name,fmt,status,check,words", BROKEN_CASES, ids=[c[0] for c in BROKEN_CASES])
def test_broken_fixture_gives_one_clear_message(name, fmt, status, check, words):
    batch = check_file(BROKEN / name, fmt)
    assert batch.status == status
    hit = batch.issues.filter((pl.col("severity") == "error") & (pl.col("check") == check))
    assert hit.height >= 1, batch.issues
    assert name in hit["message"][0] and all(w in hit["message"][0] for w in words), hit["message"][0]
    if status == "checked":  # the bad cell alone; the row's other periods and the other rows load
        assert batch.rows_quarantined == 1 and batch.rows_in - batch.rows_quarantined >= 2


def test_identity_is_the_dataflow_or_the_dataset_code():
    ialfs = sdmx.identify(IALFS, {})
    assert (ialfs.key, ialfs.name) == ("sdmx:OECD.SDD.TPS:DSD_LFS@DF_IALFS_INDIC(1.0)", "dsd_lfs_df_ialfs_indic")
    assert sdmx.identify(BROKEN / "sdmx_bad_period.csv", {}).key == "sdmx:TEST:DF_TEST(1.0)"
    assert eurostat.identify(NAMA, {}).key == "eurostat:NAMA_10R_3GDP"
    assert eurostat.dataset("lfsa_urgan__custom_123.tsv") == "LFSA_URGAN"


UIS_STAT = REAL / "uis" / "EDULIT_DS_06052019101747206.csv"
UIS_BULK = GOOD / "SDG_DATA_NATIONAL_TEST.csv"


def test_uis_stat_export_every_row_loads_with_its_flag(tmp_path):
    rows = list(csv.DictReader(UIS_STAT.open(encoding="utf-8")))
    assert detect(UIS_STAT).name == "uis"
    batch = ingest(UIS_STAT, tmp_path / "wh.duckdb")
    assert batch.status == "loaded" and batch.rows_quarantined == 0 and batch.rows_loaded == len(rows) == 36
    with duckdb.connect(str(tmp_path / "wh.duckdb"), read_only=True) as c:
        got = c.sql("SELECT * FROM observations").pl()
        names = dict(c.sql("SELECT code, name FROM indicators WHERE code LIKE 'EDULIT_DS.%'").fetchall())
    for obs, r in zip(got.sort("source_row").iter_rows(named=True), rows, strict=True):
        assert obs["indicator_code"] == f"EDULIT_DS.{r['EDULIT_IND']}" and obs["value_reported"] == r["Value"]
        assert obs["country"] == r["LOCATION"] and str(obs["year"]) == r["TIME"]
        assert obs["obs_status"] == ("E" if r["Flags"] == "UIS Estimation" else None)
    assert got.filter(pl.col("obs_status") == "E")["note"][0] == "Flag Codes: ‡; Flags: UIS Estimation"
    assert names["EDULIT_DS.PTRHC_1"] == "Pupil-teacher ratio in primary education (headcount basis)"
    assert set(got.filter(pl.col("country") == "40535")["region_code"]) == {"40535"}  # a UIS region, as coded


def test_uis_bulk_magnitude_and_qualifier(tmp_path):
    assert detect(UIS_BULK).name == "uis"
    batch = ingest(UIS_BULK, tmp_path / "wh.duckdb")
    assert batch.status == "loaded" and batch.rows_quarantined == 0
    with duckdb.connect(str(tmp_path / "wh.duckdb"), read_only=True) as c:
        got = c.sql(
            "SELECT indicator_code, country, year, value, obs_status, note FROM observations ORDER BY source_row"
        )
        rows = got.fetchall()
    assert rows == [
        ("SDG.CR.1", "KAZ", 2018, 99.5, None, None),
        ("SDG.CR.1", "KAZ", 2019, 99.7, "E", "QUALIFIER: UIS_EST"),
        ("SDG.CR.2", "KAZ", 2019, 0.0, None, "MAGNITUDE: NIL"),  # nil: a real zero
        ("SDG.CR.2", "KGZ", 2019, 88.1, "E", "MAGNITUDE: LOWREL; QUALIFIER: NAT_EST"),
    ]  # NA (not applicable, printed 0) and SUPP (suppressed) carry no value: counted, not loaded
    assert any("2 row(s) without a value" in n for n in batch.issues["message"].to_list())


def test_ilo_dataflows_map_like_ilostat_bulk_files(tmp_path):
    """ILO's dataflow id without DF_ is ILOSTAT's indicator id, so ilostat_map.csv applies (values TEST)."""
    path = tmp_path / "ilo.csv"
    path.write_text(
        "DATAFLOW,REF_AREA,FREQ,MEASURE,SEX,AGE,TIME_PERIOD,OBS_VALUE,OBS_STATUS,UNIT_MEASURE,UNIT_MULT\n"
        "ILO:DF_UNE_DEAP_SEX_AGE_RT(1.0),KAZ,A,UNE_DEAP_RT,SEX_F,AGE_YTHADULT_YGE15,2019,5.3,,PT,0\n"
        "ILO:DF_UNE_DEAP_SEX_AGE_RT(1.0),KAZ,Q,UNE_DEAP_RT,SEX_M,AGE_YTHADULT_Y15-24,2019-Q3,3.9,P,PT,0\n",
        encoding="utf-8",
    )
    batch = ingest(path, tmp_path / "wh.duckdb")
    assert batch.status == "loaded" and batch.rows_quarantined == 0, batch.issues
    with duckdb.connect(str(tmp_path / "wh.duckdb"), read_only=True) as c:
        sql = "SELECT indicator_code, region_code, sex, year, period, value, unit, obs_status, classif1 "
        sql += "FROM observations"
        rows = sorted(c.sql(sql).fetchall())
    assert rows == [
        ("UNEMP_RATE", "KZ", "F", 2019, "Y", 5.3, "percent", None, "AGE_YTHADULT_YGE15"),
        ("UNE_DEAP_SEX_AGE_RT", "KZ", "M", 2019, "Q3", 3.9, "PT", "P", "AGE_YTHADULT_Y15-24"),
    ]
