"""pandera schemas: one module per source format. Each exposes `schema(ref) -> DataFrameSchema` and
its REQUIRED/OPTIONAL columns.

Rules are row-wise checks named `<column>:<rule>` (see `rule`), so that a failure can be reported
against the right column with a readable expectation (dwi.validate.EXPECTED).
"""

from __future__ import annotations

import pandera.polars as pa
import polars as pl


def rule(name: str, expr: pl.Expr) -> pa.Check:
    """A frame-level, row-wise check named `<column>:<rule>`; nulls in the inputs are not its business."""
    return pa.Check(lambda data: data.lazyframe.select(expr.fill_null(True)), name=name)
