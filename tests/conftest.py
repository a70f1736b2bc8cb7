"""Shared fixtures: one warehouse built from the seed data (raw/) per test session, without Prefect."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from dwi import config, stages
from dwi.warehouse import connect_read_only


@pytest.fixture(scope="session")
def seed_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A warehouse built once from raw/ with dwi.stages.run (the whole job, in-process)."""
    path = tmp_path_factory.mktemp("seed") / "dwi.duckdb"
    stages.run(config.DEFAULT_RAW, path)
    return path


@pytest.fixture(scope="session")
def seed_con(seed_warehouse: Path) -> duckdb.DuckDBPyConnection:
    con = connect_read_only(seed_warehouse)
    yield con
    con.close()


def rows(con: duckdb.DuckDBPyConnection, sql: str, **params) -> list[dict]:
    """Query -> list of dicts (fully fetched)."""
    cur = con.execute(sql, params) if params else con.execute(sql)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
