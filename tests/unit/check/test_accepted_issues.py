"""A source's known defects, accepted in the manifest (`accepted_issues`), stay quarantined but no longer fail
the run; any other quarantined row still does."""

from __future__ import annotations

from pathlib import Path

import pytest

from dwi.check.batch import Batch, issues
from dwi.errors import DwiError
from dwi.sources.manifest import Source, load_manifest


def _batch(accepted, errors):
    source = Source("s", Path("s.xlsx"), "kazstat", {}, frozenset(accepted))
    batch = Batch(source, "0" * 64, status="checked", rows_in=10, rows_quarantined=len({r for r, _, _ in errors}))
    batch.add_issues(
        issues([{"source_id": "s", "row": r, "column": c, "check": k, "severity": "error"} for r, c, k in errors])
    )
    return batch


def test_an_accepted_cell_does_not_fail_the_run_and_stays_quarantined():
    batch = _batch({(45, "value", "number")}, [(45, "value", "number")])
    assert batch.rows_quarantined == 1 and batch.rows_accepted == 1
    assert not batch.has_problems


def test_a_new_defect_beside_an_accepted_one_still_fails():
    batch = _batch({(45, "value", "number")}, [(45, "value", "number"), (46, "value", "number")])
    assert batch.rows_accepted == 1 and batch.has_problems


def test_an_accepted_cell_with_a_second_error_on_its_row_still_fails():
    batch = _batch({(45, "value", "number")}, [(45, "value", "number"), (45, "year", "year")])
    assert batch.rows_accepted == 0 and batch.has_problems


def test_an_unchanged_file_is_judged_by_its_last_load():
    batch = _batch({(45, "value", "number")}, [])
    batch.status, batch.previous = "unchanged", ("loaded", 1)
    assert not batch.has_problems
    batch.previous = ("loaded", 2)
    assert batch.has_problems


def _manifest(tmp_path, accepted: str) -> Path:
    (tmp_path / "a.csv").write_text("x\n", encoding="utf-8")
    (tmp_path / "manifest.yaml").write_text(
        f"sources:\n  - id: a\n    path: a.csv\n    format: observations\n    accepted_issues: {accepted}\n",
        encoding="utf-8",
    )
    return tmp_path


def test_the_manifest_reads_accepted_issues(tmp_path):
    raw = _manifest(tmp_path, '[{row: 3, column: value, check: number, why: "printed 1,,2"}]')
    (source,) = load_manifest(raw, ["observations"])
    assert source.accepted == {(3, "value", "number")}


@pytest.mark.parametrize(
    "bad", ["yes", "[{row: 3, column: value, check: number}]", "[{row: x, column: v, check: c, why: w}]"]
)
def test_an_accepted_issue_without_row_column_check_or_why_is_refused(tmp_path, bad):
    with pytest.raises(DwiError, match="accepted_issues"):
        load_manifest(_manifest(tmp_path, bad), ["observations"])
