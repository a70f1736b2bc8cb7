"""Reconciliation and correlations read only Kazakhstan's data: a warehouse that also holds many other
countries' observations (all-countries ILOSTAT and WDI files) gives the same reconciliation from the same
number of rows read, and no correlation across "regions" takes in another country (same approach as
tests/integration/test_indicator_inputs.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from dwi.derive import reconcile
from dwi.derive.correlations import correlate, pairs
from dwi.reference import load_reference
from dwi.stages import ingest
from tests.conftest import rows
from tests.integration.test_indicator_inputs import COUNTRIES, YEARS, Counting, world_file

WDI_CODES = {  # both mapped by dwi/reference/wdi_map.csv to registry codes
    "NY.GDP.MKTP.KD.ZG": "GDP growth (annual %)",  # -> GDP_GROWTH: a `derived_variants` code (revisions)
    "SL.UEM.TOTL.NE.ZS": "Unemployment, total (% of total labor force) (national estimate)",  # -> UNEMP_RATE
}


def wdi_world_file(path: Path) -> Path:
    """A WDI-style file of the same 40 areas, none of them Kazakhstan, 2000-2014."""
    years = range(2000, 2015)
    lines = [
        '"Data Source","World Development Indicators",',
        "",
        '"Country Name","Country Code","Indicator Name","Indicator Code",' + ",".join(f'"{y}"' for y in years) + ",",
    ]
    for i, area in enumerate(COUNTRIES):
        for j, (code, name) in enumerate(WDI_CODES.items()):
            low = -3 if code.startswith("NY.") else 2  # growth can be negative, a rate cannot
            cells = ",".join(f'"{low + (i + 3 * j + y) % 9}.{(i + y) % 10}"' for y in years)
            lines.append(f'"Area {area}","{area}","{name}","{code}",{cells},')
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def world(warehouse, tmp_path_factory) -> Path:
    """The embedded raw/ warehouse plus the 40-area ILOSTAT file and the 40-area WDI file, ingested."""
    base = tmp_path_factory.mktemp("world_recon")
    wh = base / "wh.duckdb"
    shutil.copyfile(warehouse, wh)
    for file, fmt, n in (
        (world_file(base / "world_ilostat.csv"), "ilostat", len(COUNTRIES) * len(YEARS) * 5),
        (wdi_world_file(base / "world_wdi.csv"), "wdi", len(COUNTRIES) * len(WDI_CODES) * 15),
    ):
        batch = ingest(file, wh, fmt)
        assert batch.status == "loaded", (batch.message, batch.issues)
        assert batch.rows_loaded == n
    return wh


@pytest.fixture(scope="module")
def wcon(world):
    con = duckdb.connect(str(world), read_only=True)
    yield con
    con.close()


def ordered(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.sort(pl.all(), nulls_last=True)


def test_the_other_countries_collide_with_checked_and_correlated_codes(wcon):
    """The extra rows are other countries' rows of registry codes that the checks and correlations use."""
    found = dict(
        rows(
            wcon,
            "SELECT indicator_code, count(DISTINCT country) FROM observations WHERE country <> 'KAZ' "
            "AND sex = 'T' GROUP BY ALL",
        )
    )
    assert {c: found.get(c) for c in ("EMP_TOTAL", "UNEMP_RATE", "GDP_GROWTH")} == {
        "EMP_TOTAL": len(COUNTRIES),
        "UNEMP_RATE": len(COUNTRIES),
        "GDP_GROWTH": len(COUNTRIES),
    }
    assert {"GDP_GROWTH", "EMP_TOTAL"} <= set(reconcile.checked_codes(load_reference()))


def test_reconciliation_reads_as_many_rows_with_or_without_other_countries(db, wcon):
    ref = load_reference()
    extra = rows(wcon, "SELECT count(*) FROM observations WHERE country <> 'KAZ' AND sex = 'T'")[0][0]
    assert extra == len(COUNTRIES) * (len(YEARS) * 3 + len(WDI_CODES) * 15)
    alone, with_world = Counting(db), Counting(wcon)
    got, expected = reconcile.compute(with_world, ref), reconcile.compute(alone, ref)
    assert alone.rows > 0
    assert with_world.rows == alone.rows  # not one row more read for 3,600 more observations
    assert_frame_equal(ordered(got), ordered(expected))


def test_kazakhstan_reconciliation_is_unchanged_by_other_countries(db, wcon):
    """The reconciliation view of the warehouse with the files is that of the warehouse without them: no
    check of another country's figure (old: a 'revision' row per other country's GDP growth) and no other
    country's row in a Kazakh check."""
    view = "SELECT * FROM reconciliation"
    assert_frame_equal(ordered(wcon.sql(view).pl()), ordered(db.sql(view).pl()))
    assert rows(
        wcon,
        "SELECT count(*) FROM reconciliation WHERE region_code NOT IN (SELECT code FROM _regions)",
    ) == [(0,)]


def test_the_code_filter_changes_no_result(db, monkeypatch):
    """Reading only the checked codes gives what reading every observation gives (embedded data)."""
    ref = load_reference()
    filtered = reconcile.observations(db, ref)
    every = db.sql("""SELECT indicator_code, region_code, year, period, value, value_reported, source_id,
                             source_row, source_ref, obs_status FROM observations WHERE sex = 'T'""").pl()
    assert 0 < filtered.height < every.height  # the filter leaves rows out ...
    assert set(filtered["indicator_code"]) <= set(reconcile.checked_codes(ref))
    expected = reconcile.compute(db, ref)
    monkeypatch.setattr(reconcile, "observations", lambda con, ref, doc=None: every)
    assert_frame_equal(ordered(reconcile.compute(db, ref)), ordered(expected))  # ... none a check reads


@pytest.mark.parametrize(
    "x, y",
    [
        ("EMP_TOTAL", "UNEMP_RATE"),  # both in the files for 40 areas; no Kazakh regional row
        ("CBA_COVERAGE", "EMP_TOTAL"),  # Kazakh regions (Table 5) against a code of the files
        ("GDP_GROWTH", "UNEMP_RATE"),
    ],
)
def test_regional_correlations_ignore_other_countries(db, wcon, x, y):
    """Old: the 40 areas were taken as regions (EMP_TOTAL x UNEMP_RATE: n = 40 instead of 0)."""
    got, expected = correlate(wcon, x, y, "regions"), correlate(db, x, y, "regions")
    assert got == expected
    assert not any(c in (got["observations_used"] or "") for c in COUNTRIES)


def test_national_correlations_and_the_view_ignore_other_countries(db, wcon):
    for x, y in (("UNEMP_RATE", "GDP_GROWTH"), ("EMP_TOTAL", "UNEMP_RATE"), ("JOB_INSECURE_SHARE", "GDP_GROWTH")):
        assert correlate(wcon, x, y, "national") == correlate(db, x, y, "national")
    view = "SELECT * FROM correlations ORDER BY x_indicator, y_indicator, scope"
    assert_frame_equal(wcon.sql(view).pl(), db.sql(view).pl())
    assert len(pairs()) == rows(wcon, "SELECT count(*) FROM correlations")[0][0]
