"""Row rules for tidy observation files (format `observations`).

Applied to the harmonised frame (see dwi.harmonise): string columns as read, plus parsed `year`,
`value`, the resolved `region_code` and the registry's `expected_unit` and `kind` for the indicator.
"""

from __future__ import annotations

import datetime as dt

import pandera.polars as pa
import polars as pl

from schemas import rule

KEY = ["indicator_code", "country", "region_code", "sex", "year", "period", "classif1", "classif2"]
OBS_STATUS = ["A", "B", "E", "F", "I", "P", "U"]
PERIOD_PATTERN = r"^(Y|H[12]|Q[1-4]|M(0[1-9]|1[0-2]))$"
FIRST_YEAR = 1991



def schema(ref) -> pa.DataFrameSchema:
    indicator_codes = ref.indicator_codes
    last_year = dt.date.today().year + 1
    value, kind = pl.col("value"), pl.col("kind")
    return pa.DataFrameSchema(
        {
            "_row": pa.Column(pl.Int64),
            "indicator_code": pa.Column(pl.String, nullable=True),
            "region": pa.Column(pl.String, nullable=True),
            "region_code": pa.Column(pl.String, nullable=True),
            "sex": pa.Column(pl.String),
            "year": pa.Column(pl.Int32, nullable=True),
            "period": pa.Column(pl.String),
            "value": pa.Column(pl.Float64, nullable=True),
            "unit": pa.Column(pl.String, nullable=True),
            "obs_status": pa.Column(pl.String, nullable=True),
        },
        checks=[
            rule("indicator_code:required", pl.col("indicator_code").is_not_null()),
            rule("indicator_code:known_indicator", pl.col("indicator_code").is_in(indicator_codes)),
            rule("sex:known_sex", pl.col("sex").is_in(["T", "M", "F"])),
            rule("period:known_period", pl.col("period").str.contains(PERIOD_PATTERN)),
            rule("obs_status:known_status", pl.col("obs_status").is_in(OBS_STATUS)),
            rule("region:known_region", pl.col("region_code").is_not_null() | pl.col("region").is_null()),
            rule("region:required", pl.col("region").is_not_null()),
            rule("year:integer", pl.col("year").is_not_null() | pl.col("year_reported").is_null()),
            rule("year:required", pl.col("year_reported").is_not_null()),
            rule("year:in_range", pl.col("year").is_between(FIRST_YEAR, last_year)),
            rule("value:number", value.is_not_null() | pl.col("value_reported").is_null()),
            rule("value:required", pl.col("value_reported").is_not_null()),
            rule("value:non_negative", ~kind.is_in(["count", "level", "ratio"]) | (value >= 0)),
            rule("value:whole_count", (kind != "count") | (value == value.round(0))),
            rule("value:share_range", (kind != "share") | value.is_between(0, 100)),
            rule("unit:required", pl.col("unit").is_not_null()),
            rule("unit:registry_unit", pl.col("unit") == pl.col("expected_unit")),
        ],
        unique=KEY,
        strict=False,
    )

REQUIRED = ["indicator_code", "region", "sex", "year", "period", "value", "unit"]
OPTIONAL = ["obs_status", "source_ref", "note"]
