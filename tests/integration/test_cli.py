"""The `dwi` command end to end, through the real Prefect flow (a temporary Prefect server)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys

from tests.conftest import ROOT


def dwi(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "dwi.cli", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
        timeout=300,
    )


def test_run_then_noop_then_query(tmp_path):
    wh = tmp_path / "decent_work.duckdb"
    first = dwi("run", "--warehouse", str(wh))
    assert first.returncode == 0, first.stderr
    assert "review2012_table5" in first.stdout and "loaded" in first.stdout
    assert "Traceback" not in first.stderr
    before = hashlib.sha256(wh.read_bytes()).hexdigest()

    again = dwi("run", "--warehouse", str(wh))
    assert again.returncode == 0, again.stderr
    assert "nothing changed" in again.stdout
    assert hashlib.sha256(wh.read_bytes()).hexdigest() == before

    query = dwi(
        "sql",
        "select year, value from observations where indicator_code='TEMP_EMP' order by year",
        "--format",
        "csv",
        "--warehouse",
        str(wh),
    )
    assert query.returncode == 0, query.stderr
    assert query.stdout.splitlines() == [
        "year,value",
        "2005,467312.0",
        "2008,192146.0",
        "2009,196278.0",
        "2010,191951.0",
        "2011,189809.0",
    ]
    flow_run = dwi(
        "sql",
        "select count(distinct flow_run_id) from loads where flow_run_id is not null",
        "--format",
        "json",
        "--warehouse",
        str(wh),
    )
    assert '": 1' in flow_run.stdout  # every load names the Prefect flow run that did it


def test_env_var_chooses_the_warehouse_and_errors_are_one_line(tmp_path):
    missing = tmp_path / "nowhere.duckdb"
    proc = dwi("sql", "select 1", env={"DWI_WAREHOUSE": str(missing)})
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("error: no warehouse at") and str(missing) in proc.stderr.replace("\n", "")
    assert "Traceback" not in proc.stderr


def test_refused_sql_exits_2(warehouse):
    proc = dwi("sql", "DROP VIEW observations", "--warehouse", str(warehouse))
    assert proc.returncode == 2 and "refused" in proc.stderr and "Traceback" not in proc.stderr
