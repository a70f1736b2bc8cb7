"""Row rules for the World Bank's metadata companions of a bulk download (formats `wb_countries` and
`wb_indicators`): Metadata_Country_*.csv (each area's region, income group and special notes) and
Metadata_Indicator_*.csv (each indicator's definition and source). They describe the data; they are not
observations. Columns are renamed from the World Bank's headers (COUNTRY_COLUMNS, INDICATOR_COLUMNS)."""

from __future__ import annotations

import pandera.polars as pa
import polars as pl
from dwi.schemas import COMMON, rule

COUNTRY_COLUMNS = {
    "Country Code": "country_code",
    "TableName": "country_name",
    "Region": "region",
    "IncomeGroup": "income_group",
    "SpecialNotes": "special_notes",
}
INDICATOR_COLUMNS = {
    "INDICATOR_CODE": "indicator_code",
    "INDICATOR_NAME": "indicator_name",
    "SOURCE_NOTE": "source_note",
    "SOURCE_ORGANIZATION": "source_organization",
}
COUNTRY_KEY = ["country_code"]
INDICATOR_KEY = ["indicator_code"]


def country_schema(ref) -> pa.DataFrameSchema:
    """An area's row needs its code (aggregates have no region or income group: empty is allowed)."""
    return pa.DataFrameSchema(
        {"_row": pa.Column(pl.Int64), "country_code": pa.Column(pl.String, nullable=True)},
        checks=[rule("country_code:required", pl.col("country_code").is_not_null())],
        strict=False,
    )


def indicator_schema(ref) -> pa.DataFrameSchema:
    """An indicator's row needs its code."""
    return pa.DataFrameSchema(
        {"_row": pa.Column(pl.Int64), "indicator_code": pa.Column(pl.String, nullable=True)},
        checks=[rule("indicator_code:required", pl.col("indicator_code").is_not_null())],
        strict=False,
    )


MESSAGES = {**COMMON}
