"""Each validation rule fires on its own small broken fixture (tests/fixtures/bad/), and names the
file, row, column and rule. Quarantine, rejection and warnings are told apart."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from dwi import stages
from dwi.check import engine
from dwi.check.batch import Batch
from dwi.sources.manifest import Source, sha256
from tests.conftest import FIXTURES, ROOT

BAD = FIXTURES / "bad"

# file -> (outcome, check, row, column)
CASES = {
    "unknown_indicator": ("quarantine", "known_indicator", 2, "indicator_code"),
    "unknown_region": ("quarantine", "known_region", 2, "region"),
    "non_numeric_value": ("quarantine", "number", 2, "value"),
    "thousands_separator": ("quarantine", "number", 2, "value"),
    "decimal_comma": ("quarantine", "number", 2, "value"),
    "negative_count": ("quarantine", "non_negative", 2, "value"),
    "fractional_count": ("quarantine", "whole_count", 2, "value"),
    "share_over_100": ("quarantine", "share_range", 2, "value"),
    "year_out_of_range": ("quarantine", "in_range", 2, "year"),
    "year_not_integer": ("quarantine", "integer", 2, "year"),
    "wrong_unit": ("quarantine", "registry_unit", 2, "unit"),
    "missing_value": ("quarantine", "required", 2, "value"),
    "bad_period": ("quarantine", "known_period", 2, "period"),
    "bad_sex": ("quarantine", "known_sex", 2, "sex"),
    "bad_obs_status": ("quarantine", "known_status", 2, "obs_status"),
    "not_finite": ("quarantine", "number", 2, "value"),
    "duplicate_key": ("quarantine", "duplicate_key", 2, "key"),
    "total_does_not_add_up": ("warning", "regions_sum_to_total", 4, "value"),
    "share_inconsistent": ("warning", "share_matches_parts", 4, "value"),
    "region_not_yet_existing": ("warning", "region_validity", 2, "region"),
    "empty": ("reject", "file:empty", None, None),
    "header_only": ("reject", "file:no_rows", None, None),
    "semicolon_delimited": ("reject", "file:columns", None, "indicator_code"),
    "missing_column": ("reject", "file:columns", None, "unit"),
    "extra_column": ("reject", "file:columns", None, "comment"),
    "renamed_column": ("reject", "file:columns", None, "indicator_code"),
    "cp1251": ("reject", "file:encoding", None, None),
    "bom": ("info", "file:bom", None, None),
}


def check_file(path: Path) -> Batch:
    batch = Batch(Source(path.stem, path, "observations", {"_relpath": f"bad/{path.name}"}), sha256(path))
    return stages.check([batch])[0]


def test_every_fixture_has_a_case():
    assert {p.stem for p in BAD.glob("*.csv")} == set(CASES)


@pytest.mark.parametrize("name", CASES)
def test_rule_fires(name):
    outcome, check, row, column = CASES[name]
    batch = check_file(BAD / f"{name}.csv")
    issues = batch.issues.to_dicts()
    hits = [i for i in issues if i["check"] == check]
    assert hits, f"{name}: expected check {check}, got {issues}"
    hit = hits[0]
    assert hit["row"] == row and hit["column"] == column
    assert f"bad/{name}.csv" in hit["message"]
    severity = {"quarantine": "error", "reject": "error", "warning": "warning", "info": "info"}[outcome]
    assert hit["severity"] == severity
    if outcome == "reject":
        assert batch.status == "rejected" and batch.rows_loaded == 0
    elif outcome == "quarantine":
        assert batch.rows_quarantined >= 1
        assert f"row {row}" in hit["message"] and f"column {column}" in hit["message"]
        assert "expected" in hit["message"] and "found" in hit["message"]
    else:
        assert batch.rows_quarantined == 0 and batch.status == "checked"
    assert batch.rows_in == batch.rows_loaded + batch.rows_quarantined


def test_quarantine_names_what_was_found():
    msg = check_file(BAD / "thousands_separator.csv").issues["message"][0]
    assert "found '467,312'" in msg and "no thousands separators" in msg
    msg = check_file(BAD / "unknown_region.csv").issues["message"][0]
    assert "found 'Atlantis'" in msg
    msg = check_file(BAD / "wrong_unit.csv").issues["message"][0]
    assert "'persons'" in msg and "'thousand persons'" in msg


def test_duplicates_quarantine_both_rows():
    batch = check_file(BAD / "duplicate_key.csv")
    assert batch.rows_quarantined == 2 and sorted(batch.issues["row"].drop_nulls().to_list()) == [2, 3]
    assert batch.status == "rejected"  # both rows quarantined: nothing to load (file:all_quarantined)


def test_rejections_explain_themselves():
    assert "semicolons" in check_file(BAD / "semicolon_delimited.csv").message
    assert "Windows-1251" in check_file(BAD / "cp1251.csv").message
    assert "'comment'" in check_file(BAD / "extra_column.csv").message


def test_good_rows_survive_next_to_bad_ones(tmp_path):
    path = tmp_path / "mixed.csv"
    path.write_text(
        (BAD / "negative_count.csv").read_text() + "TEMP_EMP,Kazakhstan,T,2011,Y,189809,persons,,,\n", encoding="utf-8"
    )
    batch = check_file(path)
    assert (batch.rows_in, batch.rows_loaded, batch.rows_quarantined) == (2, 1, 1)
    assert engine.rows(batch)["value"].to_list() == [189809.0]


def test_validate_command_reports_and_exits_nonzero():
    proc = subprocess.run(
        [sys.executable, "-m", "dwi.cli", "validate", str(BAD / "share_over_100.csv"), str(BAD / "cp1251.csv")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1
    assert "share_over_100.csv, row 2, column value" in proc.stderr
    assert "expected UTF-8" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout


def test_validate_command_passes_the_review_table():
    proc = subprocess.run(
        [sys.executable, "-m", "dwi.cli", "validate", "raw/review_2012/table5_collective_agreements.csv"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    assert "51" in proc.stdout
