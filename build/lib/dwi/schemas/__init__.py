"""pandera schemas: one module per kind of row (observations, conventions, programme assessments), each the
one statement of its row rules. A module exposes `schema(ref) -> DataFrameSchema`, its REQUIRED/OPTIONAL
columns, its KEY (one row per key, checked over the whole file by dwi.check.engine) and MESSAGES, the
expectation each rule states when it fails.

Rules are row-wise checks named `<column>:<rule>` (see `rule`), so that a failure can be reported
against the right column with a readable expectation. These modules import nothing from dwi.
"""

from __future__ import annotations

import pandera.polars as pa
import polars as pl


def rule(name: str, expr: pl.Expr) -> pa.Check:
    """A frame-level, row-wise check named `<column>:<rule>`; nulls in the inputs are not its business."""
    return pa.Check(lambda data: data.lazyframe.select(expr.fill_null(True)), name=name)


# Expectations shared by every schema.
COMMON = {
    "required": "a value",
    "duplicate_key": "one row per key (no duplicates)",
}
