"""What is derived from the loaded data: each builder reads the warehouse and returns the rows of one table;
dwi.store.build writes them (builders never write). `reads` names the views and derived tables a builder
needs, so that the build runs views and builders in an order where every input exists."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import duckdb
import polars as pl

from dwi.derive import correlations, indicators, profile, reconcile, scorecard
from dwi.reference import Reference


@dataclass(frozen=True)
class Builder:
    table: str
    compute: Callable[[duckdb.DuckDBPyConnection, Reference], pl.DataFrame]
    reads: tuple[str, ...]


BUILDERS = (
    Builder("_derived_values", indicators.compute, ("observations", "conventions")),
    Builder("_correlations", correlations.compute, ("_indicator_values",)),
    Builder("_reconciliation", reconcile.compute, ("_indicator_values", "observations", "conventions", "_dwcp_scores")),
    Builder("_dwcp_scores", scorecard.compute, ("stg_current_loads",)),
    Builder("_framework", profile.framework_table, ()),
    Builder("_profile_values", profile.compute, ("observations",)),
)
