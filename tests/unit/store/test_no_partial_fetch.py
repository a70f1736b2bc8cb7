"""DuckDB 2 keeps a result open until a fetch returns no rows: after `execute(...).fetchone()` the next
`con.sql(...)` on that connection fails with "unfinished result". The session warehouse of the tests is one
shared connection, so one such call in a test broke later tests (CI, 7 failures); in the package it would break
the next query of a run. Neither the package nor its tests fetch part of a result."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_no_fetchone_in_the_package_or_the_tests():
    offenders = []
    for folder in ("dwi", "flows", "schemas", "tests", "bench", "scripts"):
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Attribute) and node.attr == "fetchone":
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []
