"""The one orchestration (dwi/stages.py): progress is reported while a file is checked, and the command line
shows it only on a terminal."""

from __future__ import annotations

from dwi import stages
from dwi.publish import terminal


def test_ingest_reports_the_rows_checked_so_far(tmp_path, monkeypatch):
    from bench.generate import generate

    monkeypatch.setenv("DWI_CHUNK_BYTES", "16384")  # the file (~240 KB) is read in about 15 batches
    seen = []
    batch = stages.ingest(
        generate(3_000, tmp_path / "ilo.csv"),
        tmp_path / "wh.duckdb",
        "ilostat",
        runner=stages.Runner(lambda *args: seen.append(args)),
    )
    rows = [done for stage, what, done, total in seen if stage == "check" and total is None]
    assert len(rows) >= 3 and rows == sorted(rows)  # one report per batch, growing
    assert rows[-1] == batch.rows_in > 0
    assert [s for s, *_ in seen if s != "check"] == ["load", "build"]


def test_progress_is_drawn_only_on_a_terminal(monkeypatch):
    monkeypatch.setenv("CI", "true")
    with terminal.progress() as report:
        assert report("check", "x", 1, None) is None  # a no-op: nothing is drawn in CI or logs
    assert not terminal.interactive()
