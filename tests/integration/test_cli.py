"""The `dwi` command end to end, through the real Prefect flow (a temporary Prefect server)."""

from __future__ import annotations

import hashlib
import os
import shutil
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


def test_run_says_what_each_load_did_to_its_source(tmp_path):
    """`dwi run`, like `dwi ingest`, names a new source, and a new vintage with what changed (issue 13)."""
    raw, wh = tmp_path / "raw", tmp_path / "wh.duckdb"
    raw.mkdir()
    (raw / "manifest.yaml").write_text("sources:\n  - id: une\n    path: une.csv\n    format: ilostat\n")
    identity = ROOT / "tests" / "fixtures" / "identity"
    shutil.copy(identity / "UNE_2EAP_SEX_AGE_RT_A-20240725T0039.csv", raw / "une.csv")
    args = ("run", "--raw", str(raw), "--warehouse", str(wh), "--no-exports")
    first = dwi(*args)
    assert first.returncode == 0, first.stderr
    assert "une: new source 'une'" in first.stdout
    shutil.copy(identity / "UNE_2EAP_SEX_AGE_RT_A-20241120T1012.csv", raw / "une.csv")
    second = dwi(*args)
    assert second.returncode == 0, second.stderr
    assert "une: new vintage of 'une' (1 changed, 1 added, 1 removed)" in second.stdout
    assert "new source" not in second.stdout
