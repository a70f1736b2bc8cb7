"""Reference tables shipped with dwi: the indicator registry, the regions and their aliases."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import polars as pl

from dwi.config import REFERENCE_DIR, read_yaml

INDICATOR_FIELDS = {
    "code": pl.String,
    "name": pl.String,
    "unit": pl.String,
    "kind": pl.String,
    "element": pl.String,
    "definition": pl.String,
    "ilostat": pl.String,
    "sdg": pl.String,
    "numerator": pl.String,
    "denominator": pl.String,
    "additive": pl.Boolean,
    "partial": pl.Boolean,
    "derived": pl.Boolean,
    "method": pl.String,
    "notes": pl.String,
    "measure": pl.String,  # stock (as of a date) | flow (over a period) | NULL; the reference is in `notes`
}


def normalise(expr: pl.Expr) -> pl.Expr:
    """The form names are matched in: lower case, 'ё' as 'е', runs of spaces, hyphens and dots as one space."""
    return expr.str.to_lowercase().str.replace_all("ё", "е").str.replace_all(r"[\s\-\.]+", " ").str.strip_chars()


@dataclass(frozen=True)
class Reference:
    indicators: pl.DataFrame
    elements: list[str]
    regions: pl.DataFrame
    aliases: pl.DataFrame

    @property
    def indicator_codes(self) -> list[str]:
        return self.indicators["code"].to_list()


def read_indicators(path: Path) -> tuple[pl.DataFrame, list[str]]:
    doc = read_yaml(path)
    rows = [
        {
            k: (
                None
                if entry.get(k) is None
                else (bool(entry[k]) if INDICATOR_FIELDS[k] == pl.Boolean else str(entry[k]))
            )
            for k in INDICATOR_FIELDS
        }
        for entry in doc["indicators"]
    ]
    frame = pl.DataFrame(rows, schema=INDICATOR_FIELDS).with_columns(
        pl.col("additive", "partial", "derived").fill_null(False)
    )
    return frame, list(doc["elements"])


@cache
def load_reference(directory: Path = REFERENCE_DIR) -> Reference:
    indicators, elements = read_indicators(directory / "indicators.yaml")
    regions = pl.read_csv(directory / "regions.csv", infer_schema=False).with_columns(
        pl.col("valid_from", "valid_to").str.to_date(strict=True)
    )
    aliases = pl.read_csv(directory / "region_aliases.csv", infer_schema=False).with_columns(
        pl.col("valid_from", "valid_to").str.to_date(strict=True), normalise(pl.col("alias")).alias("alias_key")
    )
    return Reference(indicators, elements, regions, aliases)
