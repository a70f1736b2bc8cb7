"""The streamed path for big files (dwi.bulk) against the in-memory path: same rules, same quarantine."""

from __future__ import annotations

import re
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


def _both(tmp_path: Path, raw: Path, monkeypatch) -> tuple[tuple, tuple]:
    monkeypatch.setenv("DWI_BULK_BYTES", str(1 << 40))
    small = _warehouse(raw, tmp_path / "small.duckdb")
    monkeypatch.setenv("DWI_BULK_BYTES", "0")
    monkeypatch.setattr(bulk, "CSV_BUFFER", 4096)  # many buffers, read in parallel: rows must keep their numbers
    monkeypatch.setattr(bulk, "READ_BACK_ROWS", 2)  # broken rows reported a few at a time
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
    """A bad sex in row 1500, a key duplicated far apart (rows 10 and 2900), a note on two lines in row 5:
    rows are numbered by record, across the many buffers DuckDB reads in parallel."""
    names = ["Akmola", "Aktobe", "Almaty region", "Atyrau", "West Kazakhstan", "Zhambyl", "Karaganda"]
    periods = ["Y", "H1", "H2", "Q1", "Q2", "Q3", "Q4"] + [f"M{m:02d}" for m in range(1, 13)]
    keys = [(r, y, p) for r in names for y in range(1991, 2026) for p in periods][:3000]
    lines = ["indicator_code,region,sex,year,period,value,unit,obs_status,source_ref,note"]
    lines += [f"TEMP_EMP,{r},T,{y},{p},{467312 + i},persons,,t,," [:-1] for i, (r, y, p) in enumerate(keys)]
    lines[1500 - 1] = lines[1500 - 1].replace(",T,", ",X,")
    lines[2900 - 1] = lines[10 - 1]
    lines[5 - 1] += '"a note\non two lines"'
    raw = make_raw(tmp_path, {"big.csv": "\n".join(lines) + "\n"})
    small, streamed = _both(tmp_path, raw, monkeypatch)
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


READERS = Path(__file__).parent / "fixtures" / "readers"
ILOSTAT = [*sorted(READERS.glob("good/*.csv.gz")), READERS / "good" / "ilostat_labels.csv",
           *sorted(READERS.glob("broken/ilostat_*"))]


@pytest.mark.parametrize("path", ILOSTAT, ids=lambda p: p.name)
def test_bulk_reads_ilostat_like_the_reader(tmp_path, monkeypatch, path):
    raw = make_raw(tmp_path, {path.name: path.read_bytes()}, formats={path.name: "ilostat"})
    small, streamed = _both(tmp_path, raw, monkeypatch)
    assert [r[:5] for r in streamed[0]] == [r[:5] for r in small[0]], path.name
    if small[0][0][1] == "loaded":
        assert streamed[1] == small[1], path.name
        assert streamed[2] == small[2], path.name


def test_generated_bulk_file_keeps_decimals_and_totals_and_quarantines_a_broken_row(tmp_path, monkeypatch):
    """The benchmark's file through the streamed path: obs_value decimals stay decimals (no type sniffing),
    T = M + F still holds in the warehouse, and a broken row is reported like the small path reports it."""
    from bench.generate import generate

    path = generate(6_000, tmp_path / "ilostat_big.csv")
    lines = path.read_text().splitlines()
    lines[4000 - 1] = re.sub(",SEX_[TMF],", ",SEX_X,", lines[4000 - 1])  # row 4000 of the file (header = 1)
    cells = lines[5000 - 1].split(",")
    lines[5000 - 1] = ",".join([*cells[:6], '"12,5"', *cells[7:]])  # a decimal comma
    path.write_text("\n".join(lines) + "\n")
    raw = make_raw(tmp_path, {path.name: path.read_bytes()}, formats={path.name: "ilostat"})
    small, streamed = _both(tmp_path, raw, monkeypatch)
    assert streamed == small
    errors = {(r[1], r[3]) for r in streamed[1] if r[5] == "error"}
    assert errors == {(4000, "known_sex"), (5000, "number")}
    assert streamed[0][0][2:5] == (6_000, 5_998, 2)
    con = duckdb.connect(str(tmp_path / "bulk.duckdb"), read_only=True)
    try:
        types = dict(con.execute("SELECT column_name, data_type FROM information_schema.columns "
                                 "WHERE table_name = '_observations'").fetchall())
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


def _fuzz_values(n: int = 20_000) -> list[str]:
    """Number-like strings, many of them broken: signs, exponents, separators, words, non-ASCII digits."""
    import random

    rng = random.Random(20121126)
    alphabet = list("0123456789" * 3) + list(".-+eE ,_xXabfinINFaN") + ["\u0661", "\u2212", "inf", "nan", "1e", "e5"]
    fixed = ["1", "1.5", "-1.5", "+1.5", ".5", "5.", "1e3", "1E+3", "1e-3", "inf", "-inf", "Infinity", "nan", "1_000",
             "1,000", "0x10", "1e400", "-1e400", "1e-400", "1.2.3", "--1", "1d", "\u0663", "\u22125", "00012", "-0",
             "9007199254740993", "0.1e1", ".", "-", "+", "-.5", "1.e5", ".e5", "100", "100.0000001", "-0.0"]
    return fixed + ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 6))) for _ in range(n)]


def test_duckdb_parses_values_as_polars_does():
    """The streamed path parses value_reported with DuckDB's TRY_CAST; the small path with polars' cast."""
    import polars as pl

    frame = pl.DataFrame({"s": _fuzz_values()})
    polars_values = frame["s"].cast(pl.Float64, strict=False)
    duck_values = duckdb.connect().sql("SELECT TRY_CAST(s AS DOUBLE) AS v FROM frame").pl()["v"]
    same = (polars_values == duck_values) | (polars_values.is_null() & duck_values.is_null()) | (
        polars_values.is_nan() & duck_values.is_nan())
    assert same.all(), frame.filter(~same).head(10)
    assert polars_values.is_null().sum() > 1000 and polars_values.is_not_null().sum() > 1000  # both kinds met


def test_value_rules_are_the_same_in_duckdb_and_polars():
    """dwi.schemas.observations.VALUE_RULES is SQL text run by polars (pandera) and by DuckDB (dwi.bulk)."""
    import polars as pl
    from dwi.schemas.observations import VALUE_RULES, rules

    from dwi.check.harmonise import value
    from dwi.reference import load_reference

    texts = _fuzz_values(5_000) + [None, "150", "-3", "2.5", "0", "100"]
    kinds = ["count", "share", "level", "ratio", "rate", None]
    frame = pl.DataFrame({"value_reported": [t for t in texts for _ in kinds],
                          "kind": [k for _ in texts for k in kinds], "scale": None},
                         schema_overrides={"scale": pl.String})
    frame = frame.with_columns(value().alias("value"))
    checks = rules(load_reference())
    con = duckdb.connect()
    for name, sql in VALUE_RULES.items():
        by_polars = frame.select(checks[name].fill_null(True))[:, 0]
        by_duckdb = con.sql(f"SELECT coalesce({sql}, true) FROM frame").pl()[:, 0]
        assert by_polars.to_list() == by_duckdb.to_list(), name
        assert (~by_polars).sum() > 0 or name == "value:required", name  # the rule fires on this data


def test_every_rule_has_a_place_in_the_streamed_path():
    """dwi.bulk evaluates each observation rule on a table of distinct codes or per row; none is left out."""
    from dwi.schemas.observations import rules

    from dwi.reference import load_reference

    split = bulk._split_rules(load_reference())
    assert sorted(n for rules_of in split.values() for n in rules_of) == sorted(rules(load_reference()))
    assert set(split["values"]) == {n for n in rules(load_reference()) if n.startswith("value:")}


@pytest.mark.parametrize("column", ["obs_value", "ref_area"])  # tested per row first; stripped per distinct value
def test_duckdb_strips_cells_as_polars_does(column):
    """dwi.bulk strips cells in SQL; dwi.readers.text.clean with polars' strip_chars. Every Unicode character, alone,
    at both ends and inside a cell."""
    import polars as pl

    chars = [chr(c) for c in range(1, 0x110000) if not 0xD800 <= c <= 0xDFFF]
    cells = chars + [f"{c}1.5{c}" for c in chars] + [f"1{c}5" for c in chars] + ["", "  ", None]
    frame = pl.DataFrame({column: cells})
    by_polars = frame[column].str.strip_chars().replace("", None)
    by_duckdb = duckdb.connect().sql(f"SELECT {bulk._cleaned(column)} AS c FROM frame").pl()["c"]
    same = (by_polars == by_duckdb) | (by_polars.is_null() & by_duckdb.is_null())
    assert same.all(), frame.filter(~same).head(10)
    assert by_polars.is_null().sum() > 20 and (by_polars == "1.5").sum() > 20  # whitespace met, alone and at ends


@pytest.mark.parametrize("short", [False, True], ids=["parallel", "short-record"])
def test_duckdb_reads_odd_but_valid_csv_as_polars_does(tmp_path, monkeypatch, short):
    """CRLF line ends, a blank line (DuckDB skips it, polars reads a row of empty cells), quoted cells with
    commas, doubled quotes and a line break, padded cells, a cell of spaces, no newline at the end: the same
    rows, row numbers, cells and issues through both paths. A short record (polars pads it with nulls) makes
    DuckDB read again on one thread, with the same padding."""
    header = "indicator_code,region,sex,year,period,value,unit,obs_status,source_ref,note"
    lines = [header,
             'TEMP_EMP,Akmola,T,2019,Y,467312,persons,,"table 1, row 2","a ""quoted"" note"',
             "",
             'TEMP_EMP,Aktobe,T,2019,Y, 1200 ,persons,,t2,"two\r\nlines"',
             "TEMP_EMP,Atyrau,T,2019,Y,1300,persons,   ,t3,\u00a0padded\u00a0",
             "TEMP_EMP,Zhambyl,T,2019,Y,1400,persons,E,t4,"] + ["TEMP_EMP,Karaganda,T,2019,Y,1500,persons"] * short
    raw = make_raw(tmp_path, {"odd.csv": "\r\n".join(lines).encode()})
    small, streamed = _both(tmp_path, raw, monkeypatch)
    assert streamed == small
    assert small[0][0][1:5] == ("loaded", 5 + short, 4 + short, 1)  # the blank line: a row of empty cells
    assert {r[1] for r in small[1] if r[5] == "error"} == {3}
    # source_row: the record with a quoted line break is one row; value_reported stripped
    assert [r[1] for r in small[2]] == [2, 4, 5, 6, 7][:4 + short]
    assert [r[9] for r in small[2]] == ["467312", "1200", "1300", "1400", "1500"][:4 + short]
