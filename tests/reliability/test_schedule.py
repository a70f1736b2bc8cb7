"""`dwi serve` against a real Prefect server: runs triggered through the API, and their final states."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import duckdb
import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
from prefect.deployments import run_deployment
from prefect.settings import PREFECT_API_URL, temporary_settings

from tests.conftest import RAW
from tests.prefect_server import VENV_BIN, prefect_env

pytestmark = pytest.mark.prefect_server
DEPLOYMENT = "dwi-run/dwi-test"
BAD_ROW = "ENT_MEDIUM,Atlantis,T,2011,Y,274,enterprises,,test,\n"


def _raw_copy(dest: Path) -> Path:
    shutil.copytree(RAW, dest)
    return dest


@pytest.fixture(scope="module")
def served(prefect_api, client_home, tmp_path_factory):
    """`dwi serve --cron ...` in a subprocess; yields (api_url, default raw, default warehouse)."""
    base = tmp_path_factory.mktemp("served")
    raw, wh = _raw_copy(base / "raw"), base / "wh.duckdb"
    log = open(base / "serve.log", "wb")
    proc = subprocess.Popen(
        [
            str(VENV_BIN / "dwi"),
            "serve",
            "--cron",
            "0 6 * * 1",
            "--name",
            "dwi-test",
            "--raw",
            str(raw),
            "--warehouse",
            str(wh),
        ],
        env=prefect_env(prefect_api, client_home),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        with temporary_settings({PREFECT_API_URL: prefect_api}):
            deadline = time.monotonic() + 90
            while True:
                try:
                    with get_client(sync_client=True) as client:
                        client.read_deployment_by_name(DEPLOYMENT)
                    break
                except Exception:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError((base / "serve.log").read_text()) from None
                    time.sleep(0.5)
            yield prefect_api, raw, wh
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _run(api: str, **parameters):
    with temporary_settings({PREFECT_API_URL: api}):
        run = run_deployment(DEPLOYMENT, parameters=parameters or None, timeout=180)
        return run, _logs(api, run.id)


def _logs(api: str, run_id, wait_for: str | None = None, timeout: float = 30) -> list[str]:
    """The run's log messages. Logs reach the server in batches after the run ends: with `wait_for`,
    poll (bounded) until a message containing it has arrived."""
    deadline = time.monotonic() + timeout
    with temporary_settings({PREFECT_API_URL: api}), get_client(sync_client=True) as client:
        while True:
            logs = client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run_id])), limit=200)
            messages = [entry.message for entry in logs]
            if wait_for is None or any(wait_for in m for m in messages) or time.monotonic() > deadline:
                return messages
            time.sleep(0.5)


def test_deployment_has_the_cron_schedule(served):
    api, _, _ = served
    with temporary_settings({PREFECT_API_URL: api}), get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name(DEPLOYMENT)
    assert [s.schedule.cron for s in deployment.schedules] == ["0 6 * * 1"]
    assert deployment.parameters["warehouse"].endswith("wh.duckdb")


def test_triggered_run_completes_and_fills_the_warehouse(served):
    api, _, wh = served
    run, _ = _run(api)
    assert run.state.type.value == "COMPLETED" and run.state.name == "Completed", run.state
    con = duckdb.connect(str(wh), read_only=True)
    try:
        # the seed's national series: employment 8,301,600 in 2011 (review section 2.1)
        assert con.execute(
            "SELECT value FROM observations WHERE indicator_code = 'EMP_TOTAL' AND year = 2011"
        ).fetchall() == [(8301600.0,)]
        assert con.execute("SELECT count(DISTINCT source_id) FROM loads").fetchall() == [(10,)]
        assert con.execute("SELECT count(*) FROM loads WHERE flow_run_id = ?", [str(run.id)]).fetchall()[0][0] == 10
    finally:
        con.close()


def test_quarantined_rows_end_in_partial_state_with_the_reason(served, tmp_path):
    api, _, _ = served
    raw = _raw_copy(tmp_path / "raw")
    with open(raw / "review_2012" / "table3_enterprises_osh.csv", "a", encoding="utf-8") as fh:
        fh.write(BAD_ROW)
    run, _ = _run(api, raw=str(raw), warehouse=str(tmp_path / "wh.duckdb"))
    assert run.state.type.value == "COMPLETED" and run.state.name == "Partial"
    assert "review2012_table3: 1 of 69 rows quarantined" in run.state.message
    assert "row 70, column region" in run.state.message and "known_region" in run.state.message
    assert any("Atlantis" in m for m in _logs(api, run.id, wait_for="Atlantis"))


def test_rejected_source_fails_the_run_with_the_reason(served, tmp_path):
    api, _, _ = served
    raw = _raw_copy(tmp_path / "raw")
    (raw / "review_2012" / "text_facts.csv").write_bytes("регион;значение\n".encode("cp1251") * 3)
    wh = tmp_path / "wh.duckdb"
    run, _ = _run(api, raw=str(raw), warehouse=str(wh))
    assert run.state.type.value == "FAILED"
    assert "review2012_text rejected: raw/review_2012/text_facts.csv: row 1: expected UTF-8" in run.state.message
    con = duckdb.connect(str(wh), read_only=True)
    try:  # the other sources loaded; the rejection is recorded
        assert con.execute(
            "SELECT status, rows_in, rows_loaded FROM loads WHERE source_id = 'review2012_text'"
        ).fetchall() == [("rejected", 0, 0)]
        assert con.execute("SELECT count(*) FROM loads WHERE status = 'loaded'").fetchall() == [(9,)]
    finally:
        con.close()


def test_serve_refuses_without_a_server_or_with_a_bad_cron(prefect_api, client_home):
    dwi = str(VENV_BIN / "dwi")
    alone = subprocess.run(
        [dwi, "serve"], env=prefect_env(None, client_home), capture_output=True, text=True, timeout=120
    )
    assert alone.returncode == 2 and "dwi serve needs a Prefect server" in alone.stderr
    bad = subprocess.run(
        [dwi, "serve", "--cron", "61 6 * * 1"],
        env=prefect_env(prefect_api, client_home),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2 and "--cron '61 6 * * 1' is not a valid cron schedule" in bad.stderr
    assert "Traceback" not in alone.stderr + bad.stderr
