"""The bad-input corpus (tests/reliability/fixtures/bad_inputs/, one problem per file) through the real pipeline.

tests/reliability/fixtures/bad_inputs.csv states, for each file, the expected outcome: rejected (the whole file),
quarantined (some rows) or loaded with a warning/info issue; the exit code of `dwi run`; rows in, loaded
and quarantined; and the check, row and column the message must name.

Each case starts from a warehouse where the source was loaded from a good vintage (three valid rows),
then replaces the file with the bad one and runs `stages.run` (the flow's stages without Prefect):
* a rejected file leaves the warehouse FILE byte-for-byte unchanged (a run whose only change is a
  rejected file does not write the warehouse; it reports the rejection and exits 1);
* quarantined rows are accounted for in `loads`: rows_in = rows_loaded + rows_quarantined, and the
  loaded rows are in `observations`.
"""

from __future__ import annotations

import csv
import gzip
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from dwi import stages
from tests.conftest import RAW as DEFAULT_RAW

FIXTURES = Path(__file__).parent / "fixtures"
CORPUS = FIXTURES / "bad_inputs"
with open(FIXTURES / "bad_inputs.csv", encoding="utf-8", newline="") as fh:
    CASES = list(csv.DictReader(fh))
GOOD_ROWS = (
    "indicator_code,region,sex,year,period,value,unit,obs_status,source_ref,note\n"
    "EMP_TOTAL,Kazakhstan,T,2011,Y,8301600,persons,,corpus,\n"
    "UNEMP_RATE,Kazakhstan,T,2011,Y,5.4,percent,,corpus,\n"
    "ENT_LARGE,Akmolinskaya,T,2011,Y,60,enterprises,,corpus,\n"
)


def _suffix(name: str) -> str:
    return ".csv.gz" if name.endswith(".csv.gz") else Path(name).suffix


def _exit_code(p: stages.Plan) -> int:
    """What `dwi run` exits with for this plan (the CLI's rule)."""
    return 1 if any(b.status == "rejected" or b.rows_quarantined for b in p.batches) else 0


@pytest.fixture(scope="module")
def templates(tmp_path_factory) -> dict[str, Path]:
    """Per file suffix, a raw folder + warehouse where source `incoming` holds a good vintage."""
    made = {}
    for suffix in sorted({_suffix(c["file"]) for c in CASES}):
        base = tmp_path_factory.mktemp("template")
        raw = base / "raw"
        raw.mkdir()
        shutil.copy(DEFAULT_RAW / "review_2012" / "national_series.csv", raw / "national.csv")
        data = GOOD_ROWS.encode()
        (raw / f"incoming{suffix}").write_bytes(gzip.compress(data) if suffix == ".csv.gz" else data)
        (raw / "manifest.yaml").write_text(
            "sources:\n"
            "  - {id: national, path: national.csv, format: observations, coverage: complete}\n"
            f"  - {{id: incoming, path: incoming{suffix}, format: observations, coverage: complete}}\n"
        )
        stages.run(raw, base / "wh.duckdb")
        made[suffix] = base
    return made


def test_corpus_has_one_row_per_file():
    files = sorted(f.name for f in CORPUS.iterdir())
    assert len(files) >= 30
    assert sorted(c["file"] for c in CASES) == files
    kinds = {c["outcome"] for c in CASES}
    assert kinds == {"rejected", "quarantined", "loaded", "warning"}


@pytest.mark.parametrize("case", CASES, ids=[c["file"] for c in CASES])
def test_bad_input(case, templates, tmp_path):
    base = tmp_path / "run"
    shutil.copytree(templates[_suffix(case["file"])], base)
    raw, wh = base / "raw", base / "wh.duckdb"
    shutil.copy(CORPUS / case["file"], raw / f"incoming{_suffix(case['file'])}")
    before = wh.read_bytes()

    p = stages.run(raw, wh)

    batch = next(b for b in p.batches if b.source.id == "incoming")
    assert next(b for b in p.batches if b.source.id == "national").status == "unchanged"
    assert _exit_code(p) == int(case["exit_code"])
    assert (batch.rows_in, batch.rows_loaded, batch.rows_quarantined) == (
        int(case["rows_in"]),
        int(case["rows_loaded"]),
        int(case["rows_quarantined"]),
    )
    issue = batch.issues.filter(batch.issues["check"] == case["check"])
    assert issue.height >= 1, batch.issues
    first = issue.row(0, named=True)
    message = first["message"]
    assert message.startswith(f"raw/incoming{_suffix(case['file'])}")  # names the file
    assert case["message_has"] in message
    if case["column"]:
        assert first["column"] == case["column"]
        assert (case["column"] if case["outcome"] == "rejected" else f"column {case['column']}") in message
    if case["row"]:
        assert f"row {case['row']}" in message
    if case["outcome"] in ("quarantined", "warning", "loaded") and case["row"] and first["row"] is not None:
        assert first["row"] == int(case["row"])
    if case["outcome"] != "loaded":
        assert f"(rule {case['check']})" in message
    expected_severity = {"rejected": "error", "quarantined": "error", "warning": "warning", "loaded": "info"}
    assert first["severity"] == expected_severity[case["outcome"]]

    if case["outcome"] == "rejected":
        assert batch.status == "rejected"
        assert wh.read_bytes() == before, "a rejected file changed the warehouse file"
        return
    con = duckdb.connect(str(wh), read_only=True)
    try:
        load = con.execute(
            "SELECT load_id, status, rows_in, rows_loaded, rows_quarantined FROM loads "
            "WHERE source_id = 'incoming' ORDER BY load_id DESC LIMIT 1"
        ).fetchall()[0]
        load_id, status, rows_in, loaded, quarantined = load
        assert status == "loaded"
        assert rows_in == loaded + quarantined
        assert (rows_in, loaded, quarantined) == (
            int(case["rows_in"]),
            int(case["rows_loaded"]),
            int(case["rows_quarantined"]),
        )
        assert con.execute("SELECT count(*) FROM observations WHERE load_id = ?", [load_id]).fetchall()[0][0] == loaded
        stored = con.execute(
            'SELECT "row", "column", "check", severity FROM quality_issues WHERE load_id = ? AND "check" = ?',
            [load_id, case["check"]],
        ).fetchall()
        assert stored and stored[0][1] == (case["column"] or None)
        if case["row"]:
            assert stored[0][0] == int(case["row"])
        # the good rows of the same file are loaded as reported
        assert con.execute(
            "SELECT value FROM observations WHERE load_id = ? AND indicator_code = 'ENT_LARGE' "
            "AND region_code = 'KZ-11'",
            [load_id],
        ).fetchall() in ([(60.0,)], [])
    finally:
        con.close()


def test_validate_cli_reports_every_corpus_file_without_a_traceback():
    """`dwi validate` over the whole corpus: exit 1, one readable line per problem, no traceback."""
    files = [str(CORPUS / c["file"]) for c in CASES]
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "dwi"), "validate", *files],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "COLUMNS": "200"},
    )
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    for case in CASES:
        if case["outcome"] in ("rejected", "quarantined"):
            assert case["file"] in proc.stderr, case["file"]
    assert "cp1251_russian.csv: row 5: expected UTF-8 text, found byte 0xc0 (it looks like Windows-1251" in proc.stderr


@pytest.mark.prefect_server
def test_run_cli_exit_code_and_one_line_per_problem(tmp_path, prefect_api, client_home):
    """`dwi run` (the Prefect flow) on a raw folder with one good and one cp1251 file: exit 1, no traceback."""
    from tests.prefect_server import prefect_env

    raw = tmp_path / "raw"
    raw.mkdir()
    shutil.copy(DEFAULT_RAW / "review_2012" / "national_series.csv", raw / "national.csv")
    shutil.copy(CORPUS / "cp1251_russian.csv", raw / "incoming.csv")
    (raw / "manifest.yaml").write_text(
        "sources:\n"
        "  - {id: national, path: national.csv, format: observations, coverage: complete}\n"
        "  - {id: incoming, path: incoming.csv, format: observations, coverage: complete}\n"
    )
    env = {**prefect_env(prefect_api, client_home), "COLUMNS": "250"}
    proc = subprocess.run(
        [
            str(Path(sys.executable).parent / "dwi"),
            "run",
            "--no-exports",
            "--raw",
            str(raw),
            "--warehouse",
            str(tmp_path / "w.duckdb"),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
    )
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert "error: raw/incoming.csv: row 5: expected UTF-8 text, found byte 0xc0" in proc.stderr
    assert "(rule file:encoding)" in proc.stderr
    assert "national" in proc.stdout and "rejected" in proc.stdout
