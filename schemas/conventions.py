"""Row rules for the list of ratified ILO conventions (format `conventions`)."""

from __future__ import annotations

import datetime as dt

import pandera.polars as pa
import polars as pl
from dwi.schemas import COMMON, rule

REQUIRED = ["convention_no", "title", "ratification_date"]
OPTIONAL = ["note"]
KEY = ["convention_no"]
FIRST_DATE = dt.date(1919, 11, 28)  # the ILO adopted its first conventions on 28 November 1919


def schema(ref) -> pa.DataFrameSchema:
    return pa.DataFrameSchema(
        {
            "_row": pa.Column(pl.Int64),
            "convention_no": pa.Column(pl.Int32, nullable=True),
            "title": pa.Column(pl.String, nullable=True),
            "ratification_date": pa.Column(pl.Date, nullable=True),
        },
        checks=[
            rule("convention_no:integer", pl.col("convention_no").is_not_null()),
            rule("convention_no:in_range", pl.col("convention_no").is_between(1, 300)),
            rule("title:required", pl.col("title").is_not_null()),
            rule("ratification_date:date", pl.col("ratification_date").is_not_null()),
            rule(
                "ratification_date:date_range",
                pl.col("ratification_date").is_between(FIRST_DATE, pl.lit(dt.date.today())),
            ),
        ],
        strict=False,
    )


MESSAGES = {
    **COMMON,
    "integer": "a whole convention number such as 138",
    "in_range": "an ILO convention number from 1 to 300",
    "date": "a date written YYYY-MM-DD",
    "date_range": f"a ratification date from {FIRST_DATE} (the ILO's first conventions) to today",
}
