"""Row rules for tidy observation files (format `observations`).

Applied to the harmonised frame (see dwi.harmonise): string columns as read, plus parsed `year`,
`value`, the resolved `region_code` and the registry's `expected_unit` and `kind` for the indicator.
"""

from __future__ import annotations

import datetime as dt

import pandera.polars as pa
import polars as pl
from dwi.schemas import COMMON, rule

KEY = ["indicator_code", "country", "region_code", "sex", "year", "period", "classif1", "classif2"]
# SDMX observation status codes (CL_OBS_STATUS; ILOSTAT's flags are among them), C (confidential), and
# dwi's own statuses for values a transcriber had to supply (docs/sources.md): `implied` = stated in words
# only ('remained at the same level'), not printed; `corrected` = a misprint in the source corrected (the
# year of '2001 -> 2011'). Both are kept but left out of statistics (changes, correlations) unless asked.
UNPRINTED_STATUS = ["implied", "corrected"]
OBS_STATUS = [
    *["A", "B", "C", "D", "E", "F", "G", "H", "I", "J", "K", "L", "M", "N", "O", "P", "Q", "R", "S", "U", "V", "W"],
    *UNPRINTED_STATUS,
]
PERIOD_PATTERN = r"^(Y|H[12]|Q[1-4]|M(0[1-9]|1[0-2]))$"
FIRST_YEAR = 1800  # any year a statistical source can hold (ILOSTAT and World Bank series reach back before 1991)


# The rules on a row's value, as SQL: polars runs them (pl.sql_expr) for the pandera schema, DuckDB runs the
# same text when dwi.bulk checks a big file inside the database. `kind` is the registry's kind of indicator.
# A spreadsheet cell whose formula has no usable value reads as one of these texts, then the formula
# (dwi.readers.xlsx): quarantined by its own rule, not as a number that is not one.
UNUSABLE_CELLS = {
    "formula_without_value": "formula without a saved value: ",
    "formula_error": "formula error ",
    "external_link": "external link: ",
}
VALUE_RULES = {
    "value:number": "value IS NOT NULL OR value_reported IS NULL OR "
    + " OR ".join(f"value_reported LIKE '{text}%'" for text in UNUSABLE_CELLS.values()),
    **{f"value:{rule}": f"value_reported NOT LIKE '{text}%'" for rule, text in UNUSABLE_CELLS.items()},
    "value:required": "value_reported IS NOT NULL",
    "value:non_negative": "kind NOT IN ('count', 'level', 'ratio') OR value >= 0",
    "value:whole_count": "kind <> 'count' OR value = ROUND(value, 0)",
    "value:share_range": "kind <> 'share' OR value BETWEEN 0 AND 100",
}


def rules(ref) -> dict[str, pl.Expr]:
    """The row rules, `<column>:<rule>` -> a row-wise expression that is false where the row breaks the rule
    (null = not its business). The pandera schema checks them; dwi.bulk evaluates the same expressions."""
    indicator_codes = ref.indicator_codes
    last_year = dt.date.today().year + 1
    return {
        "indicator_code:required": pl.col("indicator_code").is_not_null(),
        "indicator_code:known_indicator": pl.col("indicator_code").is_in(indicator_codes),
        "sex:known_sex": pl.col("sex").is_in(["T", "M", "F", "O"]),
        "period:known_period": pl.col("period").str.contains(PERIOD_PATTERN),
        "obs_status:known_status": pl.col("obs_status").is_in(OBS_STATUS),
        "region:known_region": pl.col("region_code").is_not_null() | pl.col("region").is_null(),
        "region:required": pl.col("region").is_not_null(),
        "year:integer": pl.col("year").is_not_null() | pl.col("year_reported").is_null(),
        "year:required": pl.col("year_reported").is_not_null(),
        "year:in_range": pl.col("year").is_between(FIRST_YEAR, last_year),
        **{name: pl.sql_expr(sql) for name, sql in VALUE_RULES.items()},
        "unit:required": pl.col("unit").is_not_null(),
        "unit:registry_unit": pl.col("unit") == pl.col("expected_unit"),
    }


def schema(ref) -> pa.DataFrameSchema:
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
        checks=[rule(name, expr) for name, expr in rules(ref).items()],
        strict=False,
    )


REQUIRED = ["indicator_code", "region", "sex", "year", "period", "value", "unit"]
OPTIONAL = ["obs_status", "source_ref", "note"]

MESSAGES = {
    **COMMON,
    "known_indicator": "an indicator code from the registry (dwi/reference/indicators.yaml)",
    "known_region": "a region name or code from the alias table (dwi/reference/region_aliases.csv)",
    "known_sex": "T, M, F or O (ILOSTAT's SEX_T, SEX_M, SEX_F, SEX_O)",
    "known_period": "Y, H1-H2, Q1-Q4 or M01-M12",
    "known_status": f"an SDMX observation status ({', '.join(OBS_STATUS)}; ILOSTAT's flags are among them) or nothing",
    "integer": "a whole year such as 2011",
    "in_range": f"a year from {FIRST_YEAR} to next year",
    "number": "a plain number with '.' as the decimal separator and no thousands separators",
    "formula_without_value": "a number, not a formula without a saved result (open the workbook in a spreadsheet "
    "program, let it calculate and save it)",
    "formula_error": "a number, not a formula whose result is an error",
    "external_link": "a number, not a formula that takes its value from another workbook",
    "non_negative": "a value >= 0",
    "whole_count": "a whole number (it is a count)",
    "share_range": "a percentage from 0 to 100",
    "registry_unit": "the registry's unit for this indicator",
}
