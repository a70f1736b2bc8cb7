"""The fault corpus of issue 16: one small fixture (tests/reliability/fixtures/faults/) or one small setup per
case, each reproducing a failure that once lost data, crashed a run or wedged the warehouse, and asserting
the clear message and that nothing was lost."""

from __future__ import annotations

import gzip
import os
import re
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from dwi import formats, stages
from dwi.errors import EXIT_DAMAGED, DwiError, WarehouseDamaged
from dwi.readers.text import Rejected
from tests.conftest import make_raw

pytestmark = pytest.mark.reliability
FAULTS = Path(__file__).parent / "fixtures" / "faults"
DWI = str(Path(sys.executable).parent / "dwi")
GOOD = (
    "indicator_code,region,sex,year,period,value,unit,obs_status,source_ref,note\n"
    "EMP_TOTAL,Kazakhstan,T,2011,Y,8301600,persons,,corpus,\n"
    "UNEMP_RATE,Kazakhstan,T,2011,Y,5.4,percent,,corpus,\n"
)


def _observations(wh: Path, source: str) -> int:
    con = duckdb.connect(str(wh), read_only=True)
    try:
        return con.execute("SELECT count(*) FROM observations WHERE source_id = ?", [source]).fetchall()[0][0]
    finally:
        con.close()


# 1. A stray quote: rejected with the same message whatever the batch size (once: the rows before it loaded).
@pytest.mark.parametrize("chunk", ["512", "4096", str(64 << 20)])
def test_stray_quote_rejects_the_file_whatever_the_batch_size(chunk, monkeypatch):
    monkeypatch.setenv("DWI_CHUNK_BYTES", chunk)
    path = FAULTS / "stray_quote.csv"
    read = formats.get("observations").read(path, "stray_quote.csv", {})
    with pytest.raises(Rejected) as exc:
        for _ in read.batches:
            pass
    assert exc.value.check == "file:csv"
    assert exc.value.reason.startswith("not a readable comma-separated file: row 101: ")
    assert "unclosed quote" in exc.value.reason


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('EMP_TOTAL,Kaza"khstan,T,2011,Y,1,persons,,x,', "row 3: a quote inside a field"),
        ('EMP_TOTAL,Kazakhstan,T,2011,Y,"1,persons,,x,', "row 3: .*(never closed|unclosed quote)"),
    ],
)
@pytest.mark.parametrize("chunk", ["4096", str(64 << 20)])
def test_stray_quote_in_a_big_file_is_found_at_its_row(line, expected, chunk, monkeypatch, tmp_path):
    monkeypatch.setenv("DWI_CHUNK_BYTES", chunk)
    rows = [
        f"EMP_TOTAL,Kazakhstan,{s},{1826 + i},{p},{i},persons,,x,\n"
        for s in "TMF"
        for p in ("Y", "H1", "H2", "Q1")
        for i in range(190)
    ]
    path = tmp_path / "f.csv"
    path.write_text(GOOD.splitlines(True)[0] + rows[0] + line + "\n" + "".join(rows[1:]))
    with pytest.raises(Rejected, match=expected):
        for _ in formats.get("observations").read(path, "f.csv", {}).batches:
            pass


def test_stray_quote_new_vintage_keeps_the_old_rows(tmp_path, monkeypatch):
    monkeypatch.setenv("DWI_CHUNK_BYTES", "4096")
    raw = make_raw(tmp_path, {"obs.csv": GOOD})
    wh = tmp_path / "wh.duckdb"
    stages.run(raw, wh)
    (raw / "obs.csv").write_bytes((FAULTS / "stray_quote.csv").read_bytes())
    p = stages.run(raw, wh)
    (batch,) = p.batches
    assert batch.status == "rejected" and "row 101" in batch.message
    assert _observations(wh, "obs") == 2


# 2. A .wal left by a DuckDB process that stopped before its checkpoint.
def _crash_with_wal(wh: Path) -> None:
    code = (
        "import duckdb, os, sys; c = duckdb.connect(sys.argv[1]); c.execute(\"SET checkpoint_threshold='1GB'\"); "
        "c.execute('CREATE TABLE user_notes AS SELECT 42 AS x'); os._exit(9)"
    )
    subprocess.run([sys.executable, "-c", code, str(wh)], check=False)
    assert Path(f"{wh}.wal").exists()


def test_leftover_wal_is_applied_before_a_write(tmp_path):
    raw = make_raw(tmp_path, {"obs.csv": GOOD})
    wh = tmp_path / "wh.duckdb"
    stages.run(raw, wh)
    _crash_with_wal(wh)
    (raw / "obs.csv").write_text(GOOD + "EMP_TOTAL,Kazakhstan,T,2012,Y,8301700,persons,,corpus,\n")
    stages.run(raw, wh)
    assert not Path(f"{wh}.wal").exists()
    con = duckdb.connect(str(wh), read_only=True)
    try:
        assert con.execute("SELECT x FROM user_notes").fetchall() == [(42,)]  # the WAL's change was kept
        assert con.execute("SELECT count(*) FROM observations").fetchall()[0][0] == 3
    finally:
        con.close()
    stages.run(raw, wh)  # and the warehouse is not wedged


def test_wal_of_an_older_file_is_damaged_not_busy(tmp_path):
    raw = make_raw(tmp_path, {"obs.csv": GOOD})
    wh = tmp_path / "wh.duckdb"
    stages.run(raw, wh)
    old = wh.read_bytes()
    _crash_with_wal(wh)
    wal = Path(f"{wh}.wal").read_bytes()
    (raw / "obs.csv").write_text(GOOD + "EMP_TOTAL,Kazakhstan,T,2012,Y,8301700,persons,,corpus,\n")
    stages.run(raw, wh)
    Path(f"{wh}.wal").write_bytes(wal)  # a log of the file as it was before that write
    assert wh.read_bytes() != old
    with pytest.raises(WarehouseDamaged, match=r"move the log aside \(mv .*\.wal"):
        stages.run(raw, wh)
    out = subprocess.run([DWI, "sql", "select 1", "--warehouse", str(wh)], capture_output=True, text=True)
    assert out.returncode == EXIT_DAMAGED, out.stderr
    assert "write-ahead log" in out.stderr and "Traceback" not in out.stderr


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_damaged_warehouse_is_not_busy(damage, tmp_path):
    raw = make_raw(tmp_path, {"obs.csv": GOOD})
    wh = tmp_path / "wh.duckdb"
    stages.run(raw, wh)
    data = wh.read_bytes()
    wh.write_bytes(os.urandom(50_000) if damage == "garbage" else data[:5000])
    env = {**os.environ, "DWI_WAREHOUSE": str(wh)}
    for args in (["sql", "select 1"], ["ingest", str(raw / "obs.csv")]):
        out = subprocess.run([DWI, *args], capture_output=True, text=True, env=env)
        assert out.returncode == EXIT_DAMAGED, (args, out.stderr)
        assert "damaged or not a DuckDB file" in out.stderr and "Traceback" not in out.stderr


# 8. Files that crashed the process or ran it out of memory: under a 3 GiB address-space cap, each is
# rejected with one message and exit 1 (before: exit 134, an OOM kill).
CAP = 3 << 30


def _capped(args: list[str], **env) -> subprocess.CompletedProcess:
    import resource

    def cap():
        resource.setrlimit(resource.RLIMIT_AS, (CAP, CAP))

    return subprocess.run(
        [DWI, *args],
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=cap,
        env={**os.environ, **{k: str(v) for k, v in env.items()}},
    )


def _bomb(path: Path, head: bytes, filler: bytes, members: int) -> Path:
    """A gzip file of `head` then `members` x 64 MiB of `filler` (concatenated gzip members: tiny on disk)."""
    member = gzip.compress(filler * ((64 << 20) // len(filler)), 9)
    with open(path, "wb") as fh:
        fh.write(gzip.compress(head))
        for _ in range(members):
            fh.write(member)
    return path


def test_far_away_xlsx_cell_is_rejected_not_allocated():
    out = _capped(["validate", str(FAULTS / "far_cell.xlsx")])
    assert out.returncode == 1, out.stderr[-500:]
    assert "spans A1:XFD1048576, 17,179,869,184 cells" in out.stdout + out.stderr
    assert "DWI_MAX_SHEET_CELLS" in out.stdout + out.stderr


@pytest.mark.parametrize(
    ("head", "filler", "env", "expected"),
    [
        (b"", b"\0", {}, "the first line runs past"),  # 2 GiB without a newline
        (
            GOOD.encode(),
            b"\0",
            {"DWI_CHUNK_BYTES": 1 << 20},
            "row 4: a field runs past 65,536",
        ),  # a header, then 2 GiB of NULs
        (
            GOOD.encode(),
            GOOD.encode().split(b"\n", 1)[1],
            {"DWI_MAX_DECOMPRESSED_BYTES": 24 << 20, "DWI_CHUNK_BYTES": 4 << 20},
            "expands to more than 25,165,824 bytes",
        ),  # valid rows, more of them than the limit allows
    ],
    ids=["one-line", "nul-body", "rows"],
)
def test_gzip_bomb_is_stopped_in_bounded_memory(head, filler, env, expected, tmp_path):
    bomb = _bomb(tmp_path / "bomb.csv.gz", head, filler, 32 if filler == b"\0" else 1)
    assert bomb.stat().st_size < 8 << 20
    out = _capped(["validate", str(bomb)], **env)
    assert out.returncode == 1, out.stderr[-500:]
    assert expected in out.stdout + out.stderr and "Traceback" not in out.stderr


def test_billion_laughs_manifest_is_refused(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "obs.csv").write_text(GOOD)
    laughs = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    laughs += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 13)]
    (raw / "manifest.yaml").write_text(
        "\n".join(laughs) + "\nsources:\n  - {id: obs, path: obs.csv, format: observations, notes: *a12}\n"
    )
    out = _capped(["run", "--raw", str(raw), "--warehouse", str(tmp_path / "wh.duckdb"), "--no-exports"])
    assert out.returncode == 2, out.stderr[-500:]
    assert "YAML aliases" in out.stderr and "DWI_MAX_YAML_ALIASES" in out.stderr


def test_nested_manifest_value_is_refused_even_with_few_aliases(tmp_path):
    raw = make_raw(tmp_path, {"obs.csv": GOOD})
    (raw / "manifest.yaml").write_text(
        "x: &x [1, 2]\nsources:\n  - {id: obs, path: obs.csv, format: observations, title: *x}\n"
    )
    with pytest.raises(DwiError, match="title must be one value"):
        stages.plan(raw, tmp_path / "wh.duckdb")


def test_huge_regional_count_is_checked_not_a_crash(tmp_path):
    body = GOOD.splitlines(True)[0] + (
        "ENT_LARGE,Kazakhstan,T,2011,Y,100,enterprises,,x,\n"
        "ENT_LARGE,Akmolinskaya,T,2011,Y,1e19,enterprises,,x,\n"
        "ENT_LARGE,Almaty,T,2011,Y,20,enterprises,,x,\n"
    )
    raw = make_raw(tmp_path, {"obs.csv": body})
    p = stages.run(raw, tmp_path / "wh.duckdb")
    (batch,) = p.batches
    assert batch.rows_loaded == 3
    messages = batch.issues.filter(batch.issues["check"] == "regions_sum_to_total")["message"].to_list()
    assert len(messages) == 1 and "regional rows, 1e+19 (rule" in messages[0]


def test_one_source_that_crashes_the_checks_does_not_block_the_others(tmp_path, monkeypatch):
    raw = make_raw(tmp_path, {"good.csv": GOOD, "bad.csv": GOOD.replace("corpus", "other")})
    from dwi.check import engine

    real = engine.check_source

    def explode(batch, *args, **kwargs):
        if batch.source.id == "bad":
            raise ValueError("an unforeseen failure")
        return real(batch, *args, **kwargs)

    monkeypatch.setattr(engine, "check_source", explode)
    p = stages.run(raw, tmp_path / "wh.duckdb")
    status = {b.source.id: (b.status, b.message) for b in p.batches}
    assert status["good"] == ("loaded", "")
    assert status["bad"][0] == "rejected" and "ValueError: an unforeseen failure" in status["bad"][1]
    assert _observations(tmp_path / "wh.duckdb", "good") == 2


def test_million_column_header_is_one_short_message(tmp_path):
    path = tmp_path / "wide.csv"
    path.write_text(GOOD.splitlines(True)[0].rstrip("\n") + "".join(f",c{i}" for i in range(1_000_000)) + "\n")
    batch = stages.validate([path], tmp_path)[0]
    assert batch.status == "rejected" and "1,000,010 columns, more than 10,000" in batch.message
    assert len(batch.message) < 300


# 6. Paths the manifest names stay inside raw/, and errors quote no file content.
@pytest.mark.parametrize("layout", ["../../creds.yaml", "/etc/passwd", "hardlink.yaml", "symlink.yaml"])
def test_layout_paths_are_confined_to_raw(layout, tmp_path):
    base = tmp_path / "p"
    base.mkdir()
    raw = make_raw(base, {"t.xlsx": (FAULTS / "far_cell.xlsx").read_bytes()}, {"t.xlsx": "xlsx"})
    secret = tmp_path / "creds.yaml"
    secret.write_text("password: hunter2\n")
    os.link(secret, raw / "hardlink.yaml")
    (raw / "symlink.yaml").symlink_to(secret)
    text = (raw / "manifest.yaml").read_text().replace("format: xlsx", f"format: xlsx\n  layout: '{layout}'")
    (raw / "manifest.yaml").write_text(text)
    with pytest.raises(DwiError, match="leaves the source folder|hard links") as exc:
        stages.plan(raw, tmp_path / "wh.duckdb")
    assert "hunter2" not in str(exc.value)


def test_hard_linked_data_file_is_refused(tmp_path):
    raw = make_raw(tmp_path, {"obs.csv": GOOD})
    (tmp_path / "outside.csv").write_text(GOOD)
    (raw / "obs.csv").unlink()
    os.link(tmp_path / "outside.csv", raw / "obs.csv")
    with pytest.raises(DwiError, match="2 hard links"):
        stages.plan(raw, tmp_path / "wh.duckdb")


SNAPSHOT = "20240101T000000000000Z-0123456789ab.csv"


@pytest.mark.parametrize(
    ("escape", "why"),
    [
        ("snapshots-folder-symlink", "leaves the source folder"),
        ("source-folder-symlink", "leaves the source folder"),
        ("file-symlink", "leaves the source folder"),
        ("file-hardlink", "2 hard links"),
        ("sidecar-symlink", "leaves the source folder"),
        ("sidecar-hardlink", "2 hard links"),
    ],
)
@pytest.mark.parametrize("fallback", ["", ", path: fallback.csv"], ids=["no-path", "with-path"])
def test_snapshot_paths_are_confined_to_raw(escape, why, fallback, tmp_path, monkeypatch):
    """A URL source's snapshots (raw/snapshots/<id>/) are read and written only inside raw/: a folder or file
    there that links out of it (symlink or hard link) is refused, naming the manifest entry, before anything
    is read from it or downloaded into it (before: the outside file was loaded as the source's data)."""
    monkeypatch.setenv("DWI_FETCH_RETRIES", "0")
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "manifest.yaml").write_text(
        f"sources:\n  - {{id: web, url: 'http://127.0.0.1:9/obs.csv', format: observations{fallback}}}\n"
    )
    outside = tmp_path / "outside"
    (outside / "web").mkdir(parents=True)
    secret = outside / "web" / SNAPSHOT
    secret.write_text(GOOD.replace("corpus", "hunter2"))
    sidecar = secret.with_name(SNAPSHOT + ".json")
    sidecar.write_text('{"sha256": "x", "url": "hunter2"}')
    folder = raw / "snapshots" / "web"
    if escape == "snapshots-folder-symlink":
        (raw / "snapshots").symlink_to(outside)
    elif escape == "source-folder-symlink":
        (raw / "snapshots").mkdir()
        folder.symlink_to(outside / "web")
    else:
        folder.mkdir(parents=True)
        data_link, json_link = escape.startswith("file"), escape.startswith("sidecar")
        for own, target, is_link in ((SNAPSHOT, secret, data_link), (SNAPSHOT + ".json", sidecar, json_link)):
            if not is_link:
                (folder / own).write_bytes(target.read_bytes())
            elif escape.endswith("symlink"):
                (folder / own).symlink_to(target)
            else:
                os.link(target, folder / own)
    before = sorted(outside.rglob("*"))
    with pytest.raises(DwiError, match=why) as exc:
        stages.plan(raw, tmp_path / "wh.duckdb")
    assert re.search(r"manifest\.yaml, source (#1 \(web\): path 'snapshots/web'|'web', snapshot)", str(exc.value))
    assert exc.value.exit_code == 2
    assert "hunter2" not in str(exc.value)
    assert sorted(outside.rglob("*")) == before  # no download was written outside raw/
    assert not (tmp_path / "wh.duckdb").exists()


@pytest.mark.parametrize("path", ["../outside.csv", "/etc/passwd"])
def test_url_source_fallback_path_is_confined_to_raw(path, tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    (tmp_path / "outside.csv").write_text(GOOD)
    (raw / "manifest.yaml").write_text(
        f"sources:\n  - {{id: web, url: 'http://127.0.0.1:9/obs.csv', path: '{path}', format: observations}}\n"
    )
    with pytest.raises(DwiError, match=r"source #1 \(web\): path .* leaves the source folder"):
        stages.plan(raw, tmp_path / "wh.duckdb")


def test_yaml_errors_name_the_line_and_never_quote_it(tmp_path):
    raw = make_raw(tmp_path, {"t.xlsx": (FAULTS / "far_cell.xlsx").read_bytes()}, {"t.xlsx": "xlsx"})
    (raw / "t.layout.yaml").write_text("region_header: Region\npassword: hunter2: [\n")
    p = stages.run(raw, tmp_path / "wh.duckdb")
    (batch,) = p.batches
    assert batch.status == "rejected" and "not valid YAML: line 2" in batch.message
    assert "hunter2" not in batch.message
    (raw / "manifest.yaml").write_text("sources:\n  - {id: x, path: t.xlsx, format: xlsx}\n  token: s3cret: [\n")
    with pytest.raises(DwiError, match="not valid YAML: line 3") as exc:
        stages.plan(raw, tmp_path / "wh.duckdb")
    assert "s3cret" not in str(exc.value)


# 10. Two `dwi ingest` of one file at the same moment: one load, rows counted once.
@pytest.mark.parametrize("args", [["--source-id", "obs"], []], ids=["explicit-id", "id-from-content"])
def test_simultaneous_ingests_of_one_file_load_it_once(args, tmp_path):
    """Both processes check the file before either holds the writer lock; the second then waits for the lock
    and, once it has it, finds the content already loaded (before: it loaded it again, a second vintage)."""
    path = tmp_path / "obs.csv"
    path.write_text(GOOD)
    wh = tmp_path / "wh.duckdb"
    env = {**os.environ, "DWI_WAREHOUSE": str(wh), "DWI_LOCK_TIMEOUT": "120"}
    procs = [
        subprocess.Popen(
            [DWI, "ingest", str(path), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(2)
    ]
    results = [(p.wait(timeout=300), *p.communicate()) for p in procs]
    for code, _, err in results:
        assert code == 0, err
        assert "Traceback" not in err
    said = sorted("unchanged: already loaded" in " ".join(out.split()) for _, out, _ in results)
    assert said == [False, True], [out for _, out, _ in results]
    con = duckdb.connect(str(wh), read_only=True)
    try:
        loads = con.execute("SELECT count(*), count(DISTINCT source_id) FROM _loads").fetchall()[0]
        vintages = con.execute("SELECT count(DISTINCT load_id) FROM _observations").fetchall()[0][0]
        observations = con.execute("SELECT count(*) FROM observations").fetchall()[0][0]
    finally:
        con.close()
    assert (loads, vintages, observations) == ((1, 1), 1, 2)
