"""Faults during `dwi run`: SIGKILL mid-load, two writers, readers during a run, a full or read-only disk.

Every test drives the real `dwi run` command (a Prefect flow, against the session's Prefect server) on a
generated observations file large enough (~150,000 rows, about a second of loading) to be interrupted.
After each fault the warehouse must open, pass dwi/store/sql/tests/*.sql, and have `loads` agree with
`observations`.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import polars as pl
import pytest
from dwi.flows.pipeline import BUSY_RETRIES
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import TaskRunFilter, TaskRunFilterName
from prefect.client.schemas.sorting import TaskRunSort
from prefect.settings import PREFECT_API_URL, temporary_settings

from dwi import config, stages
from dwi.reference import load_reference
from dwi.store.query import run_query
from dwi.store.warehouse import writer_lock
from tests.prefect_server import prefect_env

pytestmark = [pytest.mark.prefect_server, pytest.mark.reliability]
DWI = str(Path(sys.executable).parent / "dwi")
ROWS = 150_000
KILLS = 8


def write_big(raw: Path, shift: int = 0, rows: int = ROWS) -> None:
    """A valid observations file: count indicators x regions x years x periods; values depend on `shift`."""
    ref = load_reference()
    grid = (
        ref.indicators.filter(pl.col("kind") == "count")
        .select("code", "unit")
        .join(ref.regions.filter(pl.col("code") != "KZ").select(pl.col("code").alias("region")), how="cross")
        .join(pl.DataFrame({"year": [str(y) for y in range(1991, 2026)]}), how="cross")
        .join(pl.DataFrame({"period": ["Y", "H1", "H2", "Q1", "Q2", "Q3", "Q4"]}), how="cross")
    ).head(rows)
    grid.select(
        pl.col("code").alias("indicator_code"),
        "region",
        pl.lit("T").alias("sex"),
        "year",
        "period",
        (pl.int_range(pl.len()) % 1000 + shift).cast(pl.String).alias("value"),
        "unit",
        pl.lit("").alias("obs_status"),
        pl.lit("generated").alias("source_ref"),
        pl.lit("").alias("note"),
    ).write_csv(raw / "big.csv")
    (raw / "manifest.yaml").write_text(
        "sources:\n  - {id: big, path: big.csv, format: observations, coverage: partial}\n"
    )


def expected_sum(shift: int, rows: int = ROWS) -> float:
    """Differs for every shift, so the sum tells one vintage from another."""
    return float(sum(i % 1000 + shift for i in range(rows)))


def dwi(args: list[str], api: str, home: Path, **env) -> subprocess.Popen:
    e = prefect_env(api, home)
    e.update({k: str(v) for k, v in env.items()})
    return subprocess.Popen(
        [DWI, *args], env=e, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )


def consistent(wh: Path) -> tuple[int, float]:
    """Open the warehouse, run the SQL tests (each must return no rows); return (observations, sum)."""
    con = duckdb.connect(str(wh), read_only=True)
    try:
        for test in sorted((config.SQL_DIR / "tests").glob("*.sql")):
            rows = con.execute(test.read_text()).fetchall()
            assert rows == [], f"{test.name}: {rows[:3]}"
        ((loaded,),) = con.execute(
            "SELECT sum(rows_loaded) FROM loads l WHERE load_id = (SELECT max(load_id) "
            "FROM loads WHERE source_id = l.source_id)"
        ).fetchall()
        n, total = con.execute("SELECT count(*), sum(value) FROM observations").fetchall()[0]
        assert n == loaded, "loads does not match observations"
        return n, total
    finally:
        con.close()


@pytest.fixture
def big(tmp_path) -> tuple[Path, Path]:
    raw = tmp_path / "raw"
    raw.mkdir()
    write_big(raw)
    return raw, tmp_path / "wh.duckdb"


def test_sigkill_during_loading_never_corrupts(big, prefect_api, client_home):
    raw, wh = big
    stages.run(raw, wh)  # a published warehouse to start from
    state = consistent(wh)
    rng = random.Random(7)
    kills = 0
    for attempt in range(1, KILLS + 1):
        write_big(raw, shift=attempt)  # a new vintage to load
        proc = dwi(["run", "--no-exports", "--raw", str(raw), "--warehouse", str(wh)], prefect_api, client_home)
        deadline = time.monotonic() + 60
        while not list(wh.parent.glob(f"{wh.name}.tmp-*")) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)  # the private copy appears when loading starts
        time.sleep(rng.uniform(0, 1.2))
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
            kills += proc.poll() is None
        proc.wait()
        proc.stdout.close()
        proc.stderr.close()
        now = consistent(wh)  # the old warehouse, or the new one if the kill came after the swap
        assert expected_sum(attempt) != state[1]
        assert now in (state, (ROWS, expected_sum(attempt))), now
        state = now
    print(f"sigkill: {kills} of {KILLS} kills landed while dwi run was writing")
    assert kills >= KILLS // 2, "too few kills landed while the run was loading"
    proc = dwi(["run", "--no-exports", "--raw", str(raw), "--warehouse", str(wh)], prefect_api, client_home)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert consistent(wh) == (ROWS, expected_sum(KILLS))
    assert not list(wh.parent.glob(f"{wh.name}.tmp-*")), "stale private copies were not removed"


def test_second_writer_gives_up_with_busy(tmp_path, prefect_api, client_home):
    raw, wh = tmp_path / "raw", tmp_path / "wh.duckdb"
    raw.mkdir()
    write_big(raw, rows=200)
    with writer_lock(wh, timeout=0):  # another run holds the warehouse
        proc = dwi(
            ["run", "--no-exports", "--raw", str(raw), "--warehouse", str(wh)],
            prefect_api,
            client_home,
            DWI_LOCK_TIMEOUT=0.5,
            DWI_BUSY_RETRY_DELAY=0,
        )
        out, err = proc.communicate(timeout=120)
    assert proc.returncode == 3, err
    assert f"error: warehouse {wh} is busy: another dwi run is writing it (waited 0.5 s)" in err
    assert "Traceback" not in err + out
    assert not wh.exists()
    with temporary_settings({PREFECT_API_URL: prefect_api}), get_client(sync_client=True) as client:
        runs = [
            t
            for t in client.read_task_runs(
                task_run_filter=TaskRunFilter(name=TaskRunFilterName(like_="load-and-build")),
                sort=TaskRunSort.EXPECTED_START_TIME_DESC,
                limit=50,
            )
            if t.name.startswith("load-and-build")
            and t.state
            and t.state.is_failed()
            and str(wh) in (t.state.message or "")
        ]
    assert [t.run_count for t in runs] == [BUSY_RETRIES + 1]  # busy is transient: retried, then given up


def test_two_runs_at_once_and_readers_see_old_or_new(big, prefect_api, client_home):
    raw, wh = big
    stages.run(raw, wh)
    old = consistent(wh)
    write_big(raw, shift=1)
    new = (ROWS, expected_sum(1))
    first = dwi(["run", "--no-exports", "--raw", str(raw), "--warehouse", str(wh)], prefect_api, client_home)
    second = dwi(
        ["run", "--no-exports", "--raw", str(raw), "--warehouse", str(wh)],
        prefect_api,
        client_home,
        DWI_LOCK_TIMEOUT=60,
    )
    seen = set()
    sql = "SELECT count(*) AS n, sum(value) AS total FROM observations"
    readers = []
    while first.poll() is None or second.poll() is None:
        seen.add(tuple(run_query(wh, sql).row(0)))  # the same code path as `dwi sql`
        if len(readers) < 3:
            readers.append(dwi(["sql", sql, "--format", "csv", "--warehouse", str(wh)], prefect_api, client_home))
        time.sleep(0.05)
    for proc in (first, second):
        out, err = proc.communicate()
        assert proc.returncode == 0, err  # the second waited for the first, then found nothing left to load
    for proc in readers:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        n, total = out.splitlines()[1].split(",")
        seen.add((int(n), float(total)))
    assert seen <= {old, new}, seen
    assert consistent(wh) == new
    con = duckdb.connect(str(wh), read_only=True)
    try:  # the new vintage was loaded once, not twice
        assert con.execute("SELECT count(*) FROM loads").fetchall() == [(2,)]
    finally:
        con.close()


@contextlib.contextmanager
def tmpfs(path: Path, size: str):
    path.mkdir()
    if subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True
    ).returncode:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=True)


def test_disk_full_gives_a_clear_error_and_keeps_the_warehouse(tmp_path, prefect_api, client_home):
    raw = tmp_path / "raw"
    raw.mkdir()
    write_big(raw, rows=200)
    with tmpfs(tmp_path / "disk", "6m") as disk:
        wh = disk / "wh.duckdb"
        stages.run(raw, wh)
        before = wh.read_bytes()
        write_big(raw)  # ~5 MB more than the disk holds next to the copy
        proc = dwi(["run", "--no-exports", "--raw", str(raw), "--warehouse", str(wh)], prefect_api, client_home)
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 4, err
        assert "cannot write the warehouse" in err and "nothing was changed" in err
        assert "Traceback" not in err + out
        assert wh.read_bytes() == before
        assert sorted(p.name for p in disk.iterdir()) == ["wh.duckdb", "wh.duckdb.lock"]
        assert consistent(wh)[0] == 200


def test_read_only_file_system_gives_a_clear_error(tmp_path, prefect_api, client_home):
    raw = tmp_path / "raw"
    raw.mkdir()
    write_big(raw, rows=200)
    with tmpfs(tmp_path / "disk", "8m") as disk:
        wh = disk / "wh.duckdb"
        stages.run(raw, wh)
        (disk / "wh.duckdb.lock").unlink()
        before = wh.read_bytes()
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        write_big(raw, shift=3)
        proc = dwi(["run", "--no-exports", "--raw", str(raw), "--warehouse", str(wh)], prefect_api, client_home)
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 4, err
        assert "read-only file system; nothing was changed" in err
        assert "Traceback" not in err + out
        assert wh.read_bytes() == before
        assert consistent(wh)[0] == 200


def test_read_only_directory_for_a_non_root_user(prefect_api):
    """chmod does not stop root, so the run is made as `nobody` (setpriv) against a root-owned 0555 folder."""
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        pytest.skip("needs root and setpriv to run as another user")
    base = Path(tempfile.mkdtemp(prefix="dwi-ro-", dir="/tmp"))
    try:
        raw, folder, home = base / "raw", base / "warehouse", base / "home"
        for d in (raw, folder, home):
            d.mkdir()
        write_big(raw, rows=200)
        wh = folder / "wh.duckdb"
        stages.run(raw, wh)
        (folder / "wh.duckdb.lock").unlink()
        before = wh.read_bytes()
        write_big(raw, shift=5)
        base.chmod(0o755)
        raw.chmod(0o755)
        home.chmod(0o777)
        folder.chmod(0o555)
        proc = subprocess.run(
            [
                "setpriv",
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                DWI,
                "run",
                "--no-exports",
                "--raw",
                str(raw),
                "--warehouse",
                str(wh),
            ],
            env=prefect_env(prefect_api, home),
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert proc.returncode == 4, proc.stderr
        assert f"cannot write the warehouse {wh}: permission denied; nothing was changed" in proc.stderr
        assert "Traceback" not in proc.stderr + proc.stdout
        assert wh.read_bytes() == before
        assert sorted(p.name for p in folder.iterdir()) == ["wh.duckdb"]
    finally:
        folder.chmod(0o755)
        shutil.rmtree(base)
