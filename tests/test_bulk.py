"""The streamed path for big files (dwi.bulk) against the in-memory path: same rules, same quarantine."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from dwi import bulk, stages
from tests.conftest import make_raw

BAD = Path(__file__).parent / "fixtures" / "bad"
FIXTURES = sorted(p.name for p in BAD.glob("*.csv"))


def _warehouse(raw: Path, wh: Path) -> tuple[list, list, list]:
    stages.run(raw, wh)
    con = duckdb.connect(str(wh), read_only=True)
    try:
        return (con.execute("SELECT source_id, status, rows_in, rows_loaded, rows_quarantined, message "
                            "FROM _loads ORDER BY ALL").fetchall(),
                con.execute('SELECT source_id, "row", "column", "check", value, severity, message '
                            "FROM _quality_issues ORDER BY ALL").fetchall(),
                con.execute("SELECT * EXCLUDE (load_id) FROM _observations ORDER BY ALL").fetchall())
    finally:
        con.close()


def _both(tmp_path: Path, raw: Path, monkeypatch, block: int = 256) -> tuple[tuple, tuple]:
    monkeypatch.setenv("DWI_BULK_BYTES", str(1 << 40))
    small = _warehouse(raw, tmp_path / "small.duckdb")
    monkeypatch.setenv("DWI_BULK_BYTES", "0")
    monkeypatch.setattr(bulk, "BLOCK_BYTES", block)  # a few rows per batch: rules must hold across batches
    streamed = _warehouse(raw, tmp_path / "bulk.duckdb")
    return small, streamed


@pytest.mark.parametrize("name", FIXTURES)
def test_bulk_quarantines_like_the_small_path(tmp_path, monkeypatch, name):
    raw = make_raw(tmp_path, {name: (BAD / name).read_bytes()})
    small, streamed = _both(tmp_path, raw, monkeypatch)
    loads, issues, rows = small
    assert streamed[0] == loads, name  # status, rows_in, rows_loaded, rows_quarantined, rejection message
    if loads[0][1] == "loaded":
        assert streamed[1] == issues, name  # same check, row, column, value, message
        assert streamed[2] == rows, name
    else:  # a rejected file: one error, the check and column named as by the small path
        assert [i[3] for i in streamed[1] if i[5] == "error"] == [i[3] for i in issues if i[5] == "error"]


def test_a_broken_row_in_a_big_file_is_quarantined_like_in_a_small_one(tmp_path, monkeypatch):
    """Many batches; a bad sex in row 1500, a key duplicated across batches (rows 10 and 2900)."""
    names = ["Akmola", "Aktobe", "Almaty region", "Atyrau", "West Kazakhstan", "Zhambyl", "Karaganda"]
    periods = ["Y", "H1", "H2", "Q1", "Q2", "Q3", "Q4"] + [f"M{m:02d}" for m in range(1, 13)]
    keys = [(r, y, p) for r in names for y in range(1991, 2026) for p in periods][:3000]
    lines = ["indicator_code,region,sex,year,period,value,unit,obs_status,source_ref,note"]
    lines += [f"TEMP_EMP,{r},T,{y},{p},{467312 + i},persons,,t,," [:-1] for i, (r, y, p) in enumerate(keys)]
    lines[1500 - 1] = lines[1500 - 1].replace(",T,", ",X,")
    lines[2900 - 1] = lines[10 - 1]
    raw = make_raw(tmp_path, {"big.csv": "\n".join(lines) + "\n"})
    small, streamed = _both(tmp_path, raw, monkeypatch, block=4096)  # about 50 batches
    assert streamed == small
    errors = {(r[1], r[3]) for r in small[1] if r[5] == "error"}
    assert (1500, "known_sex") in errors
    assert (10, "duplicate_key") in errors and (2900, "duplicate_key") in errors
    assert small[0][0][2:5] == (3000, 3000 - len({r for r, _ in errors}), len({r for r, _ in errors}))


def test_validate_command_checks_a_big_file_with_the_same_rules(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from dwi.cli import app

    monkeypatch.setenv("DWI_BULK_BYTES", "0")
    result = CliRunner().invoke(app, ["validate", str(BAD / "bad_sex.csv"), "--raw", str(tmp_path)])
    assert result.exit_code != 0
    assert "known_sex" in result.output and "checked" in result.output
