"""Derived indicators read only what they need, and only Kazakhstan's data: a warehouse that also holds many
other countries' observations (an all-countries ILOSTAT file) gives the same derived values from the same
rows read, and no rank, minimum, maximum or CV is ever computed across other countries."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from dwi.derive.indicators import compute, read_inputs
from dwi.reference import load_reference
from dwi.stages import ingest
from tests.conftest import rows

COUNTRIES = [
    "RUS", "UZB", "KGZ", "TJK", "TKM", "AZE", "ARM", "GEO", "BLR", "UKR", "MDA", "MNG", "CHN", "TUR", "IRN",
    "POL", "DEU", "FRA", "ITA", "ESP", "GBR", "USA", "CAN", "MEX", "BRA", "ARG", "IND", "PAK", "IDN", "JPN",
    "KOR", "VNM", "THA", "EGY", "NGA", "ZAF", "KEN", "AUS", "NZL", "X01",
]  # fmt: skip
YEARS = range(1995, 2015)
HEADER = "ref_area,source,indicator,sex,classif1,time,obs_value,obs_status,note_classif,note_indicator,note_source"


def world_file(path: Path) -> Path:
    """An ILOSTAT-like file of 40 areas, none of them Kazakhstan: two codes the registry maps (EMP_TOTAL,
    UNEMP_RATE, both ranked if they were taken for regions) and one it does not, by sex."""
    lines = [HEADER]
    for i, area in enumerate(COUNTRIES):
        for year in YEARS:
            row = f"{area},BA:1,{{}},{{}},AGE_YTHADULT_YGE15,{year},{{}},,,,"
            lines.append(row.format("EMP_TEMP_SEX_AGE_NB", "SEX_T", f"{1000 + 37 * i + year % 7}.5"))
            lines.append(row.format("UNE_DEAP_SEX_AGE_RT", "SEX_T", f"{2 + (i + year) % 11}.1"))
            for sex in ("SEX_T", "SEX_M", "SEX_F"):
                lines.append(row.format("LAP_2LFS_SEX_AGE_RT", sex, f"{50 + i % 20}.0"))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def world(warehouse, tmp_path_factory) -> Path:
    """The embedded raw/ warehouse plus the 40-area ILOSTAT file, ingested (same read, load and build)."""
    base = tmp_path_factory.mktemp("world")
    wh = base / "wh.duckdb"
    shutil.copyfile(warehouse, wh)
    batch = ingest(world_file(base / "world_ilostat.csv"), wh)
    assert batch.status == "loaded", (batch.message, batch.issues)
    assert batch.rows_loaded == len(COUNTRIES) * len(YEARS) * 5
    return wh


@pytest.fixture(scope="module")
def wcon(world):
    con = duckdb.connect(str(world), read_only=True)
    yield con
    con.close()


def derived(con) -> pl.DataFrame:
    return con.sql("SELECT * FROM indicator_values WHERE derived ORDER BY ALL").pl()


def test_other_countries_are_never_ranked_as_regions(db, wcon):
    # the other areas' values are there, as reported, every sex apart (3 totals, and men and women of one) ...
    assert rows(wcon, "SELECT count(*) FROM indicator_values WHERE NOT derived AND region_code = 'RUS'") == [
        (len(YEARS) * 5,)
    ]
    # ... but no statistic across "regions" takes them in (old: EMP_TOTAL_RANK for RUS, EMP_TOTAL_MIN ...)
    across = rows(
        wcon,
        "SELECT indicator_code, region_code, year FROM indicator_values WHERE derived "
        "AND (source_id LIKE '%world_ilostat%' OR region_code NOT IN (SELECT code FROM _regions) "
        "OR inputs SIMILAR TO '.*(RUS|UZB|X01).*')",
    )
    assert across == []
    for code in ("EMP_TOTAL", "UNEMP_RATE"):
        assert rows(wcon, "SELECT count(*) FROM indicator_values WHERE base_code = ?", code) == rows(
            db, "SELECT count(*) FROM indicator_values WHERE base_code = ?", code
        )
    # Kazakhstan's derived values are exactly those of the warehouse without the file
    assert_frame_equal(derived(wcon), derived(db))


class Counting:
    """A connection that counts the rows each query result hands over to Python."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self._con, self.rows, self.queries = con, 0, []

    def sql(self, query, *args, **kwargs):
        self.queries.append(query)
        return _Counted(self._con.sql(query, *args, **kwargs), self)

    def execute(self, query, *args, **kwargs):
        self.queries.append(query)
        return _Counted(self._con.execute(query, *args, **kwargs), self)

    def __getattr__(self, name):
        return getattr(self._con, name)


class _Counted:
    def __init__(self, result, counter: Counting) -> None:
        self._result, self._counter = result, counter

    def _add(self, n: int) -> None:
        self._counter.rows += n

    def pl(self, *args, **kwargs):
        frame = self._result.pl(*args, **kwargs)
        self._add(frame.height)
        return frame

    def arrow(self, *args, **kwargs):
        table = self._result.arrow(*args, **kwargs)
        self._add(table.num_rows)
        return table

    def df(self, *args, **kwargs):
        frame = self._result.df(*args, **kwargs)
        self._add(len(frame))
        return frame

    def fetchall(self):
        found = self._result.fetchall()
        self._add(len(found))
        return found

    def __getattr__(self, name):
        return getattr(self._result, name)


def test_compute_reads_as_many_rows_with_or_without_other_countries(db, wcon):
    ref = load_reference()
    extra = rows(wcon, "SELECT count(*) FROM observations WHERE country <> 'KAZ' AND sex = 'T'")[0][0]
    assert extra >= len(COUNTRIES) * len(YEARS) * 3
    alone, with_world = Counting(db), Counting(wcon)
    got, expected = compute(with_world, ref), compute(alone, ref)
    assert alone.rows > 0
    assert with_world.rows == alone.rows  # not one row more read for 2,400 more observations
    assert_frame_equal(got, expected)


def test_inputs_are_kazakhstan_rows_not_partial_and_filtered_in_sql(wcon):
    ref = load_reference()
    frame = read_inputs(wcon, ref)
    kaz = rows(wcon, "SELECT count(*) FROM observations WHERE country = 'KAZ' AND sex = 'T'")[0][0]
    assert 0 < frame.height <= kaz
    assert frame.filter(~pl.col("region_code").is_in(ref.regions["code"].implode())).is_empty()
    partial = ref.indicators.filter(pl.col("partial"))["code"]
    assert partial.len() > 0
    assert frame.filter(pl.col("indicator_code").is_in(partial.implode())).is_empty()


def test_a_warehouse_with_the_old_table_is_rebuilt_with_the_view(db, warehouse, tmp_path):
    """Warehouses written before derived values were stored apart have a TABLE _indicator_values (observed
    and derived rows) and no _derived_values: the next build replaces the table by the view."""
    from dwi import stages
    from tests.conftest import RAW

    wh = tmp_path / "older.duckdb"
    shutil.copyfile(warehouse, wh)
    con = duckdb.connect(str(wh))
    con.execute("CREATE TABLE _copy AS SELECT * FROM _indicator_values")
    con.execute("DROP VIEW _indicator_values")
    con.execute("DROP TABLE _derived_values")
    con.execute("CREATE TABLE _indicator_values AS SELECT * FROM _copy")
    con.execute("DROP TABLE _copy")
    con.execute("UPDATE _meta SET value = 'built by an older dwi' WHERE key = 'fingerprint'")  # -> rebuild
    con.close()
    stages.run(RAW, wh)
    con = duckdb.connect(str(wh), read_only=True)
    try:
        assert rows(con, "SELECT count(*) FROM duckdb_tables() WHERE table_name = '_indicator_values'") == [(0,)]
        assert rows(con, "SELECT count(*) FROM duckdb_views() WHERE view_name = '_indicator_values'") == [(1,)]
        assert rows(con, "SELECT count(*) FROM _derived_values WHERE NOT derived") == [(0,)]
        assert_frame_equal(
            con.sql("SELECT * FROM indicator_values ORDER BY ALL").pl(),
            db.sql("SELECT * FROM indicator_values ORDER BY ALL").pl(),
        )
    finally:
        con.close()
