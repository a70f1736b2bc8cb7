"""The flow's final state for each data outcome, and what Prefect retries (in-process, no server)."""

from __future__ import annotations

from pathlib import Path

from dwi.flows.pipeline import _busy, outcome
from prefect.states import Failed

from dwi.check.batch import Batch, issues
from dwi.errors import DwiError, WarehouseBusy, WarehouseIOError
from dwi.sources.manifest import Source
from dwi.stages import Plan


def _batch(sid: str, status: str, rows_in: int = 3, quarantined: int = 0, message: str = "") -> Batch:
    b = Batch(Source(sid, Path(f"/raw/{sid}.csv"), "observations", {"_relpath": f"raw/{sid}.csv"}), "sha")
    b.status, b.rows_in, b.rows_quarantined, b.message = status, rows_in, quarantined, message
    if quarantined:
        b.add_issues(
            issues(
                [
                    {
                        "message": f"raw/{sid}.csv, row 5, column value: expected a value >= 0, found '-1' "
                        "(rule non_negative)",
                        "severity": "error",
                    }
                ]
            )
        )
    return b


def _plan(*batches: Batch, rebuild: bool = True) -> Plan:
    return Plan(Path("/raw"), Path("/wh.duckdb"), [b.source for b in batches], list(batches), "fp", rebuild)


def test_all_loaded_is_completed():
    state = outcome(_plan(_batch("a", "loaded"), _batch("b", "unchanged")))
    assert state.is_completed() and state.name == "Completed"
    assert state.message == "1 source(s) loaded, 3 rows"


def test_quarantined_rows_are_partial_with_the_first_problem():
    state = outcome(_plan(_batch("a", "loaded", rows_in=4, quarantined=1), _batch("b", "loaded")))
    assert state.is_completed() and state.name == "Partial"
    assert state.message.startswith("a: 1 of 4 rows quarantined (first: raw/a.csv, row 5, column value:")
    assert "(rule non_negative))" in state.message and "6 rows loaded" in state.message


def test_rejected_source_fails_the_run():
    rejected = _batch("a", "rejected", rows_in=0, message="raw/a.csv: the file is empty (rule file:empty)")
    state = outcome(_plan(rejected, _batch("b", "loaded")))
    assert state.is_failed()
    assert state.message.startswith("a rejected: raw/a.csv: the file is empty (rule file:empty). 3 rows loaded")


def test_nothing_to_do_is_completed():
    state = outcome(_plan(_batch("a", "unchanged"), rebuild=False))
    assert state.is_completed() and "nothing changed" in state.message


def test_only_a_busy_warehouse_is_retried():
    assert _busy(None, None, Failed(data=WarehouseBusy("warehouse w is busy")))
    assert not _busy(None, None, Failed(data=WarehouseIOError("cannot write the warehouse w: the disk is full")))
    assert not _busy(None, None, Failed(data=DwiError("bad manifest")))
    assert not _busy(None, None, Failed(data=ValueError("a bug")))
