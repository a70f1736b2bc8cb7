"""Shared fixtures. Prefect keeps its state under the project's .prefect/test; telemetry is off."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import duckdb
import pytest

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("PREFECT_HOME", str(ROOT / ".prefect" / "test"))
Path(os.environ["PREFECT_HOME"]).mkdir(parents=True, exist_ok=True)
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")

# Runs in tests write their exports and report to a scratch folder, never into the repository.
os.environ.setdefault("DWI_EXPORTS", tempfile.mkdtemp(prefix="dwi-test-exports-"))

from tests.prefect_server import client_home, prefect_api  # noqa: E402, F401  (session fixtures: a real server)

RAW = ROOT / "raw"
FIXTURES = ROOT / "tests" / "fixtures"


@pytest.fixture(scope="session")
def warehouse(tmp_path_factory) -> Path:
    """The warehouse built from the embedded raw/ data, once per test session (no Prefect)."""
    from dwi import stages

    path = tmp_path_factory.mktemp("wh") / "decent_work.duckdb"
    stages.run(RAW, path)
    return path


@pytest.fixture(scope="session")
def db(warehouse):
    con = duckdb.connect(str(warehouse), read_only=True)
    yield con
    con.close()


def rows(con: duckdb.DuckDBPyConnection, sql: str, *params) -> list[tuple]:
    return con.execute(sql, list(params)).fetchall()


def make_raw(
    base: Path, files: dict[str, str | bytes], formats: dict[str, str] | None = None, extra: dict | None = None
) -> Path:
    """A source folder with the given files and a manifest listing each (format `observations` by default)."""
    import yaml

    raw = base / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    entries = []
    for name, content in files.items():
        target = raw / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content, encoding="utf-8")
        sid = Path(name).stem.split(".")[0]
        entries.append(
            {
                "id": sid,
                "path": name,
                "format": (formats or {}).get(name, "observations"),
                "title": f"test file {name}",
                **(extra or {}).get(name, {}),
            }
        )
    (raw / "manifest.yaml").write_text(yaml.safe_dump({"sources": entries}), encoding="utf-8")
    return raw


def copy_raw(base: Path) -> Path:
    """A private copy of the embedded raw/ folder, to modify in a test."""
    target = base / "raw"
    shutil.copytree(RAW, target)
    return target
