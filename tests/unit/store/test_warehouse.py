"""Loads, re-runs, failures and read-only queries against a real DuckDB file."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import duckdb
import pytest

from dwi import stages
from dwi.errors import DwiError, WarehouseBusy
from dwi.store import build
from dwi.store.query import run_query
from dwi.store.warehouse import writer_lock
from tests.conftest import copy_raw, make_raw, rows

GOOD = "indicator_code,region,sex,year,period,value,unit\nTEMP_EMP,Kazakhstan,T,2005,Y,467312,persons\n"


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_sql_assertions_hold(warehouse):
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        results = build.sql_tests(con)
        assert {"assert_known_codes", "assert_loads_add_up", "assert_observation_keys_unique"} <= set(results)
        assert {name: n for name, n in results.items() if n} == {}
    finally:
        con.close()


def test_loads_account_for_every_row(db):
    assert rows(db, "SELECT count(*) FROM loads WHERE rows_in <> rows_loaded + rows_quarantined") == [(0,)]
    per_source = dict(rows(db, "SELECT source_id, rows_loaded FROM loads"))
    assert per_source["review2012_table3"] == 68 and per_source["review2012_table5"] == 51


def test_noop_rerun_leaves_the_file_identical(tmp_path):
    wh = tmp_path / "wh.duckdb"
    stages.run(copy_raw(tmp_path), wh)
    before, mtime = digest(wh), wh.stat().st_mtime_ns
    p = stages.run(tmp_path / "raw", wh)
    assert p.nothing_to_do
    assert digest(wh) == before and wh.stat().st_mtime_ns == mtime


def test_changed_source_is_a_new_vintage(tmp_path):
    raw, wh = copy_raw(tmp_path), tmp_path / "wh.duckdb"
    stages.run(raw, wh)
    growth = raw / "reported_growth" / "gdp_growth_reported.csv"
    growth.write_text(growth.read_text().replace("2009,Y,1.1,percent,P", "2009,Y,1.2,percent,"))
    p = stages.run(raw, wh)
    assert [b.source.id for b in p.batches if b.status == "loaded"] == ["reported_gdp_growth"]
    con = duckdb.connect(str(wh), read_only=True)
    try:
        assert rows(con, "SELECT value FROM observations WHERE indicator_code='GDP_GROWTH' AND year=2009") == [(1.2,)]
        kept = rows(
            con, "SELECT value FROM _observations WHERE indicator_code='GDP_GROWTH' AND year=2009 ORDER BY load_id"
        )
        assert kept == [(1.1,), (1.2,)]
    finally:
        con.close()


def test_failed_build_leaves_the_warehouse_exactly_as_it_was(tmp_path, monkeypatch):
    raw, wh = copy_raw(tmp_path), tmp_path / "wh.duckdb"
    stages.run(raw, wh)
    before = digest(wh)
    table5 = raw / "review_2012" / "table5_collective_agreements.csv"
    table5.write_text(table5.read_text().replace(",6513,", ",6514,"))

    def boom(*args, **kwargs):
        raise RuntimeError("simulated crash while building views")

    monkeypatch.setattr(build, "build", boom)
    with pytest.raises(RuntimeError):
        stages.run(raw, wh)
    assert digest(wh) == before
    assert list(tmp_path.glob("wh.duckdb.tmp-*")) == []


def test_failing_source_transaction_rolls_back_alone(tmp_path, monkeypatch):
    """A source whose insert fails half-way leaves nothing of itself; the other sources still load."""
    import dwi.store.load as load_mod

    raw, wh = copy_raw(tmp_path), tmp_path / "wh.duckdb"
    stages.run(raw, wh)
    before = digest(wh)
    for f in ("review_2012/table3_enterprises_osh.csv", "review_2012/table5_collective_agreements.csv"):
        path = raw / f
        path.write_text(path.read_text().replace("Akmolinskaya,T,", "Akmola Region,T,"))
    real = load_mod.load_batch

    def flaky(con, batch, target, *args):
        if batch.source.id == "review2012_table5":  # the INSERT fails half-way through the run
            target = dataclasses.replace(target, columns=target.columns.replace("unit", "no_such_column"))
        return real(con, batch, target, *args)

    monkeypatch.setattr(stages, "load_batch", flaky)
    p = stages.run(raw, wh)
    assert {b.source.id: b.status for b in p.changed} == {"review2012_table3": "loaded", "review2012_table5": "failed"}
    assert digest(wh) != before
    con = duckdb.connect(str(wh), read_only=True)
    try:
        assert rows(
            con,
            "SELECT status, rows_loaded, rows_quarantined, message LIKE '%load failed%' FROM loads "
            "WHERE source_id = 'review2012_table5' ORDER BY load_id",
        ) == [("loaded", 51, 0, None), ("failed", 0, 51, True)]
        # the failed vintage left no rows; observations still show the previous vintage of Table 5
        assert rows(
            con, "SELECT count(*) FROM _observations o JOIN loads l USING (load_id) WHERE l.status = 'failed'"
        ) == [(0,)]
        assert rows(
            con,
            "SELECT region_reported FROM observations WHERE source_id = 'review2012_table5' "
            "AND region_code = 'KZ-11' LIMIT 1",
        ) == [("Akmolinskaya",)]
        assert rows(
            con,
            "SELECT region_reported FROM observations WHERE source_id = 'review2012_table3' "
            "AND region_code = 'KZ-11' LIMIT 1",
        ) == [("Akmola Region",)]
    finally:
        con.close()


def test_rejected_file_does_not_stop_the_others(tmp_path):
    raw = make_raw(tmp_path, {"good.csv": GOOD, "bad.csv": "indicator_code;region\nX;Y\n"})
    wh = tmp_path / "wh.duckdb"
    p = stages.run(raw, wh)
    assert {b.source.id: b.status for b in p.batches} == {"good": "loaded", "bad": "rejected"}
    con = duckdb.connect(str(wh), read_only=True)
    try:
        assert rows(con, "SELECT status, rows_in, rows_loaded FROM loads ORDER BY source_id") == [
            ("rejected", 0, 0),
            ("loaded", 1, 1),
        ]
        msg = rows(con, "SELECT message FROM quality_issues WHERE source_id='bad'")[0][0]
        assert "raw/bad.csv" in msg and "semicolons" in msg
        assert rows(con, "SELECT value FROM observations") == [(467312.0,)]
    finally:
        con.close()


def test_quarantined_rows_are_counted_and_explained(tmp_path):
    raw = make_raw(tmp_path, {"mixed.csv": GOOD + "TEMP_EMP,Atlantis,T,2006,Y,5,persons\n"})
    wh = tmp_path / "wh.duckdb"
    stages.run(raw, wh)
    con = duckdb.connect(str(wh), read_only=True)
    try:
        assert rows(con, "SELECT rows_in, rows_loaded, rows_quarantined FROM loads") == [(2, 1, 1)]
        assert rows(con, 'SELECT "row", "column", "check", value FROM quality_issues') == [
            (3, "region", "known_region", "Atlantis")
        ]
    finally:
        con.close()


def test_second_writer_is_told_the_warehouse_is_busy(tmp_path):
    wh = tmp_path / "wh.duckdb"
    with writer_lock(wh), pytest.raises(WarehouseBusy, match="busy"):
        with writer_lock(wh, timeout=0.3):
            pass


def test_manifest_path_cannot_escape_the_source_folder(tmp_path):
    raw = make_raw(tmp_path, {"good.csv": GOOD})
    (tmp_path / "secret.csv").write_text(GOOD)
    (raw / "manifest.yaml").write_text("sources:\n  - {id: x, path: ../secret.csv, format: observations}\n")
    with pytest.raises(DwiError, match="leaves the source folder"):
        stages.run(raw, tmp_path / "wh.duckdb")


@pytest.mark.parametrize(
    "query",
    [
        "INSERT INTO _meta VALUES ('a', 'b')",
        "DELETE FROM _observations",
        "CREATE TABLE x AS SELECT 1",
        "DROP VIEW observations",
        "COPY observations TO '/tmp/dwi-leak.csv'",
        "ATTACH '/tmp/other.duckdb' AS other",
        "INSTALL httpfs",
        "LOAD httpfs",
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM read_text('/etc/hostname')",
        "SET enable_external_access = true",
        "SELECT 1; SELECT 2",
    ],
)
def test_sql_is_read_only(warehouse, query):
    with pytest.raises(DwiError, match="refused|SQL error"):
        run_query(warehouse, query)


def test_sql_answers_queries(warehouse):
    frame = run_query(warehouse, "SELECT year, value FROM observations WHERE indicator_code='TEMP_EMP' ORDER BY year")
    assert frame.rows() == [(2005, 467312.0), (2008, 192146.0), (2009, 196278.0), (2010, 191951.0), (2011, 189809.0)]
