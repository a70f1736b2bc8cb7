"""The fault corpus of issue 16: one small fixture (tests/reliability/fixtures/faults/) or one small setup per
case, each reproducing a failure that once lost data, crashed a run or wedged the warehouse, and asserting
the clear message and that nothing was lost."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from dwi import formats, stages
from dwi.errors import EXIT_DAMAGED, WarehouseDamaged
from dwi.readers.text import Rejected
from tests.conftest import make_raw

pytestmark = pytest.mark.reliability
FAULTS = Path(__file__).parent / "fixtures" / "faults"
DWI = str(Path(sys.executable).parent / "dwi")
GOOD = (
    "indicator_code,region,sex,year,period,value,unit,obs_status,source_ref,note\n"
    "EMP_TOTAL,Kazakhstan,T,2011,Y,8301600,persons,,corpus,\n"
    "UNEMP_RATE,Kazakhstan,T,2011,Y,5.4,percent,,corpus,\n"
)


def _observations(wh: Path, source: str) -> int:
    con = duckdb.connect(str(wh), read_only=True)
    try:
        return con.execute("SELECT count(*) FROM observations WHERE source_id = ?", [source]).fetchone()[0]
    finally:
        con.close()


# 1. A stray quote: rejected with the same message whatever the batch size (once: the rows before it loaded).
@pytest.mark.parametrize("chunk", ["512", "4096", str(64 << 20)])
def test_stray_quote_rejects_the_file_whatever_the_batch_size(chunk, monkeypatch):
    monkeypatch.setenv("DWI_CHUNK_BYTES", chunk)
    path = FAULTS / "stray_quote.csv"
    read = formats.get("observations").read(path, "stray_quote.csv", {})
    with pytest.raises(Rejected) as exc:
        for _ in read.batches:
            pass
    assert exc.value.check == "file:csv"
    assert exc.value.reason.startswith("not a readable comma-separated file: row 101: ")
    assert "unclosed quote" in exc.value.reason


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('EMP_TOTAL,Kaza"khstan,T,2011,Y,1,persons,,x,', "row 3: a quote inside a field"),
        ('EMP_TOTAL,Kazakhstan,T,2011,Y,"1,persons,,x,', "row 3: (a quote that is never closed|.*an unclosed quote)"),
    ],
)
@pytest.mark.parametrize("chunk", ["4096", str(64 << 20)])
def test_stray_quote_in_a_big_file_is_found_at_its_row(line, expected, chunk, monkeypatch, tmp_path):
    monkeypatch.setenv("DWI_CHUNK_BYTES", chunk)
    rows = [
        f"EMP_TOTAL,Kazakhstan,{s},{1826 + i},{p},{i},persons,,x,\n"
        for s in "TMF"
        for p in ("Y", "H1", "H2", "Q1")
        for i in range(190)
    ]
    path = tmp_path / "f.csv"
    path.write_text(GOOD.splitlines(True)[0] + rows[0] + line + "\n" + "".join(rows[1:]))
    with pytest.raises(Rejected, match=expected):
        for _ in formats.get("observations").read(path, "f.csv", {}).batches:
            pass


def test_stray_quote_new_vintage_keeps_the_old_rows(tmp_path, monkeypatch):
    monkeypatch.setenv("DWI_CHUNK_BYTES", "4096")
    raw = make_raw(tmp_path, {"obs.csv": GOOD})
    wh = tmp_path / "wh.duckdb"
    stages.run(raw, wh)
    (raw / "obs.csv").write_bytes((FAULTS / "stray_quote.csv").read_bytes())
    p = stages.run(raw, wh)
    (batch,) = p.batches
    assert batch.status == "rejected" and "row 101" in batch.message
    assert _observations(wh, "obs") == 2


# 2. A .wal left by a DuckDB process that stopped before its checkpoint.
def _crash_with_wal(wh: Path) -> None:
    code = (
        "import duckdb, os, sys; c = duckdb.connect(sys.argv[1]); c.execute(\"SET checkpoint_threshold='1GB'\"); "
        "c.execute('CREATE TABLE user_notes AS SELECT 42 AS x'); os._exit(9)"
    )
    subprocess.run([sys.executable, "-c", code, str(wh)], check=False)
    assert Path(f"{wh}.wal").exists()


def test_leftover_wal_is_applied_before_a_write(tmp_path):
    raw = make_raw(tmp_path, {"obs.csv": GOOD})
    wh = tmp_path / "wh.duckdb"
    stages.run(raw, wh)
    _crash_with_wal(wh)
    (raw / "obs.csv").write_text(GOOD + "EMP_TOTAL,Kazakhstan,T,2012,Y,8301700,persons,,corpus,\n")
    stages.run(raw, wh)
    assert not Path(f"{wh}.wal").exists()
    con = duckdb.connect(str(wh), read_only=True)
    try:
        assert con.execute("SELECT x FROM user_notes").fetchall() == [(42,)]  # the WAL's change was kept
        assert con.execute("SELECT count(*) FROM observations").fetchone()[0] == 3
    finally:
        con.close()
    stages.run(raw, wh)  # and the warehouse is not wedged


def test_wal_of_an_older_file_is_damaged_not_busy(tmp_path):
    raw = make_raw(tmp_path, {"obs.csv": GOOD})
    wh = tmp_path / "wh.duckdb"
    stages.run(raw, wh)
    old = wh.read_bytes()
    _crash_with_wal(wh)
    wal = Path(f"{wh}.wal").read_bytes()
    (raw / "obs.csv").write_text(GOOD + "EMP_TOTAL,Kazakhstan,T,2012,Y,8301700,persons,,corpus,\n")
    stages.run(raw, wh)
    Path(f"{wh}.wal").write_bytes(wal)  # a log of the file as it was before that write
    assert wh.read_bytes() != old
    with pytest.raises(WarehouseDamaged, match=r"move the log aside \(mv .*\.wal"):
        stages.run(raw, wh)
    out = subprocess.run([DWI, "sql", "select 1", "--warehouse", str(wh)], capture_output=True, text=True)
    assert out.returncode == EXIT_DAMAGED, out.stderr
    assert "write-ahead log" in out.stderr and "Traceback" not in out.stderr


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_damaged_warehouse_is_not_busy(damage, tmp_path):
    raw = make_raw(tmp_path, {"obs.csv": GOOD})
    wh = tmp_path / "wh.duckdb"
    stages.run(raw, wh)
    data = wh.read_bytes()
    wh.write_bytes(os.urandom(50_000) if damage == "garbage" else data[:5000])
    env = {**os.environ, "DWI_WAREHOUSE": str(wh)}
    for args in (["sql", "select 1"], ["ingest", str(raw / "obs.csv")]):
        out = subprocess.run([DWI, *args], capture_output=True, text=True, env=env)
        assert out.returncode == EXIT_DAMAGED, (args, out.stderr)
        assert "damaged or not a DuckDB file" in out.stderr and "Traceback" not in out.stderr
