"""URL sources against a local HTTP server on 127.0.0.1: snapshots, conditional requests, vintages,
and failures (500, timeout, truncated body) that must not corrupt the warehouse or lose a vintage."""

from __future__ import annotations

import gzip
import hashlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import duckdb
import pytest
import yaml

from dwi import stages
from tests.conftest import FIXTURES, rows

FIX = FIXTURES / "readers" / "good"
V1, V2 = (FIX / "gdp_growth_v1.csv").read_bytes(), (FIX / "gdp_growth_v2.csv").read_bytes()
LAST_MODIFIED = "Tue, 01 Feb 2011 00:00:00 GMT"


class Server:
    """Serves `body` at /gdp_growth.csv in the current `mode`; records each request's conditional headers."""

    def __init__(self):
        self.body, self.mode, self.requests = V1, "ok", []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                server.requests.append((server.mode, self.headers.get("If-None-Match")))
                etag = '"' + hashlib.sha256(server.body).hexdigest()[:16] + '"'
                if server.mode == "500":
                    self.send_response(500)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if server.mode == "slow":
                    time.sleep(1.0)
                if server.mode == "bomb":  # 8 MiB of zeros sent as 8 KiB of gzip
                    body = gzip.compress(bytes(8 << 20))
                    self.send_response(200)
                    self.send_header("Content-Encoding", "gzip")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                if server.mode == "ok" and self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/csv")
                self.send_header("ETag", etag)
                self.send_header("Last-Modified", LAST_MODIFIED)
                extra = 100 if server.mode == "truncated" else 0
                self.send_header("Content-Length", str(len(server.body) + extra))
                self.end_headers()
                try:
                    self.wfile.write(server.body)
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    pass
                if extra:
                    self.close_connection = True

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/gdp_growth.csv"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server(monkeypatch):
    monkeypatch.setenv("DWI_FETCH_TIMEOUT", "0.3")
    monkeypatch.setenv("DWI_FETCH_RETRIES", "1")
    monkeypatch.setenv("DWI_FETCH_BACKOFF", "0.01")
    s = Server()
    yield s
    s.close()


@pytest.fixture
def raw(tmp_path, server) -> Path:
    raw = tmp_path / "raw"
    raw.mkdir()
    entry = {
        "id": "gdp_growth_web",
        "url": server.url,
        "format": "observations",
        "title": "GDP growth (test server)",
        "coverage": "complete",
    }
    (raw / "manifest.yaml").write_text(yaml.safe_dump({"sources": [entry]}), encoding="utf-8")
    return raw


def snapshots(raw: Path) -> list[Path]:
    return sorted(p for p in (raw / "snapshots" / "gdp_growth_web").iterdir())


def gdp_2009(wh: Path) -> list[tuple]:
    con = duckdb.connect(str(wh), read_only=True)
    try:
        return rows(con, "SELECT value, obs_status FROM observations WHERE year = 2009")
    finally:
        con.close()


def test_first_download_makes_a_snapshot_with_provenance(raw, server, tmp_path):
    wh = tmp_path / "wh.duckdb"
    p = stages.run(raw, wh)
    assert [f.status for f in p.fetched] == ["downloaded"]
    data, meta = snapshots(raw)
    assert data.read_bytes() == V1 and meta.name == data.name + ".json"
    assert data.name.endswith(f"-{hashlib.sha256(V1).hexdigest()[:12]}.csv")
    info = json.loads(meta.read_text())
    assert info["sha256"] == hashlib.sha256(V1).hexdigest() and info["url"] == server.url
    assert info["last_modified"] == LAST_MODIFIED and info["etag"] and info["retrieved"]
    assert not data.stat().st_mode & 0o222  # immutable: read-only
    assert gdp_2009(wh) == [(1.1, "P")]
    con = duckdb.connect(str(wh), read_only=True)
    path, notes = rows(con, "SELECT path, notes FROM sources")[0]
    assert path.startswith("raw/snapshots/gdp_growth_web/") and f"Fetched from {server.url}" in notes
    con.close()


def test_unchanged_content_is_a_304_and_touches_nothing(raw, server, tmp_path):
    wh = tmp_path / "wh.duckdb"
    stages.run(raw, wh)
    before = (wh.stat().st_mtime_ns, snapshots(raw))
    p = stages.run(raw, wh)
    assert [f.status for f in p.fetched] == ["not_modified"]
    assert server.requests[0][1] is None and server.requests[-1][1] is not None  # conditional (If-None-Match)
    assert p.nothing_to_do and (wh.stat().st_mtime_ns, snapshots(raw)) == before


def test_revised_content_is_a_new_vintage_and_shows_in_revisions(raw, server, tmp_path):
    """GDP growth 2009: 1.1 % (preliminary) then 1.2 % (revised)."""
    wh = tmp_path / "wh.duckdb"
    stages.run(raw, wh)
    server.body = V2
    p = stages.run(raw, wh)
    assert [f.status for f in p.fetched] == ["downloaded"] and len(snapshots(raw)) == 4
    assert gdp_2009(wh) == [(1.2, None)]
    con = duckdb.connect(str(wh), read_only=True)
    try:
        rev = rows(
            con,
            "SELECT indicator_code, region_code, country, year, period, old_value, new_value, "
            "old_load_id, new_load_id, old_loaded <= new_loaded FROM revisions",
        )
        assert rev == [("GDP_GROWTH", "KZ", "KAZ", 2009, "Y", 1.1, 1.2, 1, 2, True)]  # 2011 (7.5) did not change
        kept = rows(con, "SELECT load_id, value FROM _observations WHERE year = 2009 ORDER BY load_id")
        assert kept == [(1, 1.1), (2, 1.2)]  # the earlier vintage is kept
    finally:
        con.close()


@pytest.mark.parametrize("mode,words", [("500", "HTTP 500"), ("slow", "timed out"), ("truncated", "")])
def test_failures_keep_the_previous_vintage(raw, server, tmp_path, mode, words):
    wh = tmp_path / "wh.duckdb"
    stages.run(raw, wh)
    before = snapshots(raw)
    server.body, server.mode = V2, mode  # new content, but it never arrives intact
    p = stages.run(raw, wh)
    assert [f.status for f in p.fetched] == ["failed"]
    message = p.fetch_failures[0]
    assert "could not fetch" in message and server.url in message and "after 2 attempts" in message
    assert words in message and "kept the previous snapshot" in message
    if mode == "truncated":
        assert "truncated" in message or "transfer failed" in message
    assert snapshots(raw) == before  # no partial snapshot, no temporary file left behind
    assert gdp_2009(wh) == [(1.1, "P")]  # the warehouse still serves the previous vintage
    assert sum(1 for m, _ in server.requests if m == mode) == 2  # one retry


def test_a_download_bigger_than_the_limit_stops_and_leaves_nothing(raw, server, tmp_path, monkeypatch):
    """A gzip-encoded body that expands past DWI_MAX_DOWNLOAD_BYTES: stopped as it arrives, never retried,
    no partial file left, the previous vintage kept."""
    monkeypatch.setenv("DWI_MAX_DOWNLOAD_BYTES", str(1 << 20))
    wh = tmp_path / "wh.duckdb"
    stages.run(raw, wh)
    before = snapshots(raw)
    server.mode = "bomb"
    p = stages.run(raw, wh)
    assert [f.status for f in p.fetched] == ["failed"]
    assert "passed 1,048,576 bytes (DWI_MAX_DOWNLOAD_BYTES" in p.fetch_failures[0]
    assert snapshots(raw) == before  # no .part file
    assert sum(1 for m, _ in server.requests if m == "bomb") == 1
    assert gdp_2009(wh) == [(1.1, "P")]


def test_first_fetch_failing_rejects_the_source_with_a_clear_message(raw, server, tmp_path):
    server.mode = "500"
    wh = tmp_path / "wh.duckdb"
    p = stages.run(raw, wh)
    (batch,) = p.batches
    assert batch.status == "rejected" and "HTTP 500" in batch.message and "no earlier snapshot" in batch.message
    con = duckdb.connect(str(wh), read_only=True)
    try:
        assert rows(con, "SELECT status, rows_in FROM loads") == [("rejected", 0)]
        assert rows(con, "SELECT count(*) FROM observations") == [(0,)]
    finally:
        con.close()
    server.mode = "ok"  # the next run recovers
    stages.run(raw, wh)
    assert gdp_2009(wh) == [(1.1, "P")]


def test_ingest_of_a_revised_file_is_a_new_vintage(tmp_path):
    """The same through `dwi ingest`: load a fixture, then its revised version under the same source id."""
    from dwi.stages import ingest

    wh = tmp_path / "wh.duckdb"
    assert ingest(FIX / "gdp_growth_v1.csv", wh, "tidy", "gdp_growth").status == "loaded"
    assert ingest(FIX / "gdp_growth_v2.csv", wh, "tidy", "gdp_growth").status == "loaded"
    con = duckdb.connect(str(wh), read_only=True)
    try:
        got = rows(
            con,
            "SELECT source_id, year, old_value, new_value, old_obs_status, new_obs_status, "
            "old_load_id, new_load_id FROM revisions",
        )
        assert got == [("gdp_growth", 2009, 1.1, 1.2, "P", None, 1, 2)]
        assert rows(con, "SELECT value FROM observations WHERE year = 2009") == [(1.2,)]
    finally:
        con.close()


@pytest.mark.parametrize("source_id", ["..", "../../etc", "/etc/passwd", ".hidden", "a/b\\c"])
def test_snapshot_folder_cannot_escape(tmp_path, source_id):
    from dwi.sources.fetch import SNAPSHOTS, snapshot_dir

    folder = snapshot_dir(tmp_path, source_id).resolve()
    assert folder.parent == (tmp_path / SNAPSHOTS).resolve()
    assert not folder.name.startswith(".")
