"""Fault corpus of issue 16, case 10: spreadsheet formula cells without a usable value (an error such as =1/0,
no saved result, XlsxWriter's 0 under a request to recalculate, a reference to another workbook) once loaded
as 0 or vanished as missing with no warning. Each is quarantined by its own rule, naming the file, row,
column and cell; the other cells load, and a formula of the workbook with its saved result loads that
result. Fixtures: tests/reliability/fixtures/faults/formulas*.xlsx (make_formulas.py)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl
import pytest

from dwi import stages
from tests.conftest import make_raw

pytestmark = pytest.mark.reliability
FAULTS = Path(__file__).parent / "fixtures" / "faults"
LAYOUT = (FAULTS / "formulas.layout.yaml").read_text()


def _run(tmp_path: Path, fixture: str, fmt: str) -> tuple[stages.Batch, dict[str, float]]:
    name = "t.xlsx"
    raw = make_raw(tmp_path, {name: (FAULTS / fixture).read_bytes()}, {name: fmt})
    if fmt == "xlsx":
        (raw / "t.layout.yaml").write_text(LAYOUT)
    wh = tmp_path / "wh.duckdb"
    (batch,) = stages.run(raw, wh).batches
    con = duckdb.connect(str(wh), read_only=True)
    try:
        loaded = con.execute("SELECT source_ref, value FROM observations WHERE source_id = 't'").fetchall()
    finally:
        con.close()
    return batch, dict(loaded)


def _quarantined(batch: stages.Batch, cells: bool) -> dict[str, str]:
    """(the cell, or the row) -> the rule of each value issue."""
    issues = batch.issues.filter(pl.col("column") == "value")
    where = pl.col("message").str.extract(r"cell ([A-Z]+\d+)\)") if cells else pl.col("row").cast(pl.String)
    return dict(issues.select(where, pl.col("check")).iter_rows())


@pytest.mark.parametrize(
    ("fixture", "fmt", "row"), [("formulas.xlsx", "xlsx", 3), ("formulas_kazstat.xlsx", "kazstat", 4)]
)
def test_formula_cells_without_a_value_are_quarantined_and_the_others_load(fixture, fmt, row, tmp_path):
    batch, loaded = _run(tmp_path, fixture, fmt)
    assert _quarantined(batch, cells=True) == {
        f"C{row}": "formula_error",
        f"E{row}": "formula_without_value",
        f"F{row}": "external_link",
        f"G{row}": "external_link",
    }
    messages = batch.issues.filter(pl.col("check") == "formula_error")["message"].to_list()
    assert messages[0].startswith(f"raw/t.xlsx, row {row}, column value (sheet ")
    assert "found 'formula error #DIV/0!: =1/0' (rule formula_error)" in messages[0]
    # the other cells load: 10, the formula =SUM(2,3) by its saved result 5, and the next row's six numbers
    values = sorted(loaded.values())
    assert values == [1, 2, 3, 4, 5, 5, 6, 10]
    assert batch.rows_quarantined == 4


def test_ilostat_xlsx_formula_cells_are_quarantined(tmp_path):
    batch = _run(tmp_path, "formulas_ilostat.xlsx", "ilostat")[0]
    assert _quarantined(batch, cells=False) == {
        "3": "formula_error",
        "5": "formula_without_value",
        "6": "external_link",
        "7": "external_link",
    }
    assert batch.rows_in == 6 and batch.rows_quarantined == 4


def test_saved_results_of_a_workbook_that_asks_to_be_recalculated_are_not_values(tmp_path):
    # XlsxWriter saves 0 as every formula's result and sets fullCalcOnLoad: =SUM(2,3) must not load as 0
    batch, loaded = _run(tmp_path, "formulas_recalc.xlsx", "xlsx")
    assert _quarantined(batch, cells=True) == {
        "C3": "formula_error",
        "D3": "formula_without_value",
        "E3": "formula_without_value",
        "F3": "external_link",
        "G3": "external_link",
    }
    assert sorted(loaded.values()) == [1, 2, 3, 4, 5, 6, 10]
