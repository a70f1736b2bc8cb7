"""The one engine (dwi/check/engine.py) on files split into many small batches: the same outputs as recorded
(tests/golden/expected), rows numbered by record across batch boundaries, keys unique across batches."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import duckdb
import pytest

from dwi import stages
from dwi.check import engine
from tests.conftest import FIXTURES, ROOT, make_raw
from tests.golden import record

BAD = FIXTURES / "bad"
GOLDEN = (ROOT / "tests" / "golden") / "expected" / "inputs"


def _warehouse(raw: Path, wh: Path) -> tuple[list, list, list]:
    stages.run(raw, wh)
    con = duckdb.connect(str(wh), read_only=True)
    try:
        return (
            con.execute(
                "SELECT source_id, status, rows_in, rows_loaded, rows_quarantined, message FROM _loads ORDER BY ALL"
            ).fetchall(),
            con.execute(
                'SELECT source_id, "row", "column", "check", value, severity, message FROM _quality_issues ORDER BY ALL'
            ).fetchall(),
            con.execute("SELECT * EXCLUDE (load_id) FROM _observations ORDER BY ALL").fetchall(),
        )
    finally:
        con.close()


def _expected(group: str, kind: str, case: str) -> list[dict]:
    with open(GOLDEN / f"{group}_{kind}.csv", encoding="utf-8", newline="") as fh:
        return [r for r in csv.DictReader(fh) if r["case"] == case]


@pytest.mark.parametrize("name", sorted(p.name for p in BAD.glob("*.csv")))
def test_a_file_read_in_tiny_batches_gives_the_recorded_outputs(tmp_path, monkeypatch, name):
    """Every bad-input fixture, read 64 bytes at a time (many batches, rows and keys across their borders) and
    its checks across rows run a few rows' years at a time (written out by group of years), gives the loads,
    issues and rows recorded in tests/golden/expected/inputs."""
    monkeypatch.setenv("DWI_CHUNK_BYTES", "64")
    monkeypatch.setattr(engine, "GROUP_ROWS", 3)
    got = record._case("bad", BAD / name, "observations", tmp_path)
    case = f"bad/{name}"
    for kind in ("loads", "quality_issues", "observations"):
        want = _expected("bad", kind, case)
        frame = got.get(kind)
        rows = [] if frame is None else list(csv.DictReader(io.StringIO(record._text(frame).write_csv())))
        assert rows == want, (kind, name)
    assert _expected("bad", "loads", case), name  # the recording has this case


def test_a_broken_row_in_a_big_file_is_quarantined_wherever_it_falls(tmp_path, monkeypatch):
    """A bad sex in row 1500, a key duplicated far apart (rows 10 and 2900), a note on two lines in row 5, read
    in batches of 4 KiB: rows are numbered by record across batches, the duplicate is found across them."""
    monkeypatch.setenv("DWI_CHUNK_BYTES", "4096")
    names = ["Akmola", "Aktobe", "Almaty region", "Atyrau", "West Kazakhstan", "Zhambyl", "Karaganda"]
    periods = ["Y", "H1", "H2", "Q1", "Q2", "Q3", "Q4"] + [f"M{m:02d}" for m in range(1, 13)]
    keys = [(r, y, p) for r in names for y in range(1991, 2026) for p in periods][:3000]
    lines = ["indicator_code,region,sex,year,period,value,unit,obs_status,source_ref,note"]
    lines += [f"TEMP_EMP,{r},T,{y},{p},{467312 + i},persons,,t,,"[:-1] for i, (r, y, p) in enumerate(keys)]
    lines[1500 - 1] = lines[1500 - 1].replace(",T,", ",X,")
    lines[2900 - 1] = lines[10 - 1]
    lines[5 - 1] += '"a note\non two lines"'
    raw = make_raw(tmp_path, {"big.csv": "\n".join(lines) + "\n"})
    loads, issues, rows = _warehouse(raw, tmp_path / "wh.duckdb")
    errors = {(r[1], r[3]) for r in issues if r[5] == "error"}
    assert errors == {(1500, "known_sex"), (10, "duplicate_key"), (2900, "duplicate_key")}
    assert loads[0][2:5] == (3000, 2997, 3)
    assert [r[1] for r in rows][:5] == [2, 3, 4, 5, 6]  # source_row: the two-line record is row 5
    assert next(r for r in rows if r[1] == 5)[13] == "a note\non two lines"


def test_generated_file_keeps_decimals_and_totals_and_quarantines_broken_rows(tmp_path, monkeypatch):
    """The benchmark's file in batches of 64 KiB: obs_value decimals stay decimals (no type sniffing),
    T = M + F still holds in the warehouse, and broken rows are reported with their row."""
    from bench.generate import generate

    monkeypatch.setenv("DWI_CHUNK_BYTES", str(64 << 10))
    path = generate(6_000, tmp_path / "ilostat_big.csv")
    lines = path.read_text().splitlines()
    lines[4000 - 1] = re.sub(",SEX_[TMF],", ",SEX_X,", lines[4000 - 1])  # row 4000 of the file (header = 1)
    cells = lines[5000 - 1].split(",")
    lines[5000 - 1] = ",".join([*cells[:6], '"12,5"', *cells[7:]])  # a decimal comma
    path.write_text("\n".join(lines) + "\n")
    raw = make_raw(tmp_path, {path.name: path.read_bytes()}, formats={path.name: "ilostat"})
    loads, issues, _ = _warehouse(raw, tmp_path / "wh.duckdb")
    errors = {(r[1], r[3]) for r in issues if r[5] == "error"}
    assert errors == {(4000, "known_sex"), (5000, "number")}
    assert loads[0][2:5] == (6_000, 5_998, 2)
    con = duckdb.connect(str(tmp_path / "wh.duckdb"), read_only=True)
    try:
        types = dict(
            con.execute(
                "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = '_observations'"
            ).fetchall()
        )
        assert types["value"] == "DOUBLE"
        fractional = con.execute("SELECT count(*) FROM _observations WHERE value <> round(value)").fetchall()[0][0]
        assert fractional > 1000  # decimals were not turned into integers
        off = con.execute("""
            SELECT count(*) FROM _observations t
            JOIN _observations m USING (country, indicator_code, classif1, year, period)
            JOIN _observations f USING (country, indicator_code, classif1, year, period)
            WHERE t.sex = 'T' AND m.sex = 'M' AND f.sex = 'F' AND abs(t.value - m.value - f.value) > 1e-6
        """).fetchall()[0][0]
        checked = con.execute("SELECT count(*) FROM _observations WHERE sex = 'T'").fetchall()[0][0]
        assert off == 0 and checked > 1000
    finally:
        con.close()


@pytest.mark.parametrize("short", [False, True], ids=["complete", "short-record"])
def test_odd_but_valid_csv_is_read_record_by_record(tmp_path, monkeypatch, short):
    """CRLF line ends, a blank line (a row of empty cells, quarantined), quoted cells with commas, doubled
    quotes and a line break, padded cells, a cell of spaces, no newline at the end, and a short record (padded
    with empty cells), in batches of 32 bytes: the rows, their numbers and cells as written."""
    monkeypatch.setenv("DWI_CHUNK_BYTES", "32")
    header = "indicator_code,region,sex,year,period,value,unit,obs_status,source_ref,note"
    lines = [
        header,
        'TEMP_EMP,Akmola,T,2019,Y,467312,persons,,"table 1, row 2","a ""quoted"" note"',
        "",
        'TEMP_EMP,Aktobe,T,2019,Y, 1200 ,persons,,t2,"two\r\nlines"',
        "TEMP_EMP,Atyrau,T,2019,Y,1300,persons,   ,t3,\u00a0padded\u00a0",
        "TEMP_EMP,Zhambyl,T,2019,Y,1400,persons,E,t4,",
    ] + ["TEMP_EMP,Karaganda,T,2019,Y,1500,persons"] * short
    raw = make_raw(tmp_path, {"odd.csv": "\r\n".join(lines).encode()})
    loads, issues, rows = _warehouse(raw, tmp_path / "wh.duckdb")
    assert loads[0][1:5] == ("loaded", 5 + short, 4 + short, 1)  # the blank line: a row of empty cells
    assert {r[1] for r in issues if r[5] == "error"} == {3}
    assert [r[1] for r in rows] == [2, 4, 5, 6, 7][: 4 + short]
    by_row = {r[1]: r for r in rows}
    assert by_row[2][12:14] == ("table 1, row 2", 'a "quoted" note')  # source_ref, note
    assert by_row[4][9] == "1200" and by_row[4][13] == "two\r\nlines"  # value_reported stripped
    assert by_row[5][11] is None and by_row[5][13] == "padded"  # a cell of spaces is empty; U+00A0 stripped
    if short:
        assert by_row[7][11:14] == (None, None, None)  # the short record's missing cells are empty
