"""Row rules for tidy observation files (format `observations`).

Applied to the harmonised frame (see dwi.harmonise): string columns as read, plus parsed `year`,
`value`, the resolved `region_code` and the registry's `expected_unit` and `kind` for the indicator.
"""

from __future__ import annotations

import datetime as dt

import pandera.polars as pa
import polars as pl

KEY = ["indicator_code", "country", "region_code", "sex", "year", "period", "classif1", "classif2"]
OBS_STATUS = ["A", "B", "E", "F", "I", "P", "U"]
PERIOD_PATTERN = r"^(Y|H[12]|Q[1-4]|M(0[1-9]|1[0-2]))$"
FIRST_YEAR = 1991


def _rule(name: str, expr: pl.Expr) -> pa.Check:
    """A frame-level, row-wise check named `<column>:<rule>`; nulls in the inputs are not its business."""
    return pa.Check(lambda data: data.lazyframe.select(expr.fill_null(True)), name=name)


def schema(ref) -> pa.DataFrameSchema:
    indicator_codes = ref.indicator_codes
    last_year = dt.date.today().year + 1
    value, kind = pl.col("value"), pl.col("kind")
    return pa.DataFrameSchema(
        {
            "_row": pa.Column(pl.Int64),
            "indicator_code": pa.Column(pl.String, pa.Check.isin(indicator_codes, name="indicator_code:known_indicator")),
            "region": pa.Column(pl.String, nullable=True),
            "region_code": pa.Column(pl.String, nullable=True),
            "sex": pa.Column(pl.String, pa.Check.isin(["T", "M", "F"], name="sex:known_sex")),
            "year": pa.Column(pl.Int32, nullable=True),
            "period": pa.Column(pl.String, pa.Check.str_matches(PERIOD_PATTERN, name="period:known_period")),
            "value": pa.Column(pl.Float64, nullable=True),
            "unit": pa.Column(pl.String, nullable=True),
            "obs_status": pa.Column(pl.String, pa.Check.isin(OBS_STATUS, name="obs_status:known_status"), nullable=True),
        },
        checks=[
            _rule("region:known_region", pl.col("region_code").is_not_null() | pl.col("region").is_null()),
            _rule("region:required", pl.col("region").is_not_null()),
            _rule("year:integer", pl.col("year").is_not_null() | pl.col("year_reported").is_null()),
            _rule("year:required", pl.col("year_reported").is_not_null()),
            _rule("year:in_range", pl.col("year").is_between(FIRST_YEAR, last_year)),
            _rule("value:number", value.is_not_null() | pl.col("value_reported").is_null()),
            _rule("value:required", pl.col("value_reported").is_not_null()),
            _rule("value:non_negative", ~kind.is_in(["count", "level", "ratio"]) | (value >= 0)),
            _rule("value:whole_count", (kind != "count") | (value == value.round(0))),
            _rule("value:share_range", (kind != "share") | value.is_between(0, 100)),
            _rule("unit:required", pl.col("unit").is_not_null()),
            _rule("unit:registry_unit", pl.col("unit") == pl.col("expected_unit")),
        ],
        unique=KEY,
        strict=False,
    )

REQUIRED = ["indicator_code", "region", "sex", "year", "period", "value", "unit"]
OPTIONAL = ["obs_status", "source_ref", "note"]
