"""A source on its way through the stages, and the issues found about it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from dwi.sources.manifest import Source

ISSUE_SCHEMA = {
    "source_id": pl.String,
    "file": pl.String,
    "row": pl.Int64,
    "column": pl.String,
    "check": pl.String,
    "value": pl.String,
    "message": pl.String,
    "severity": pl.String,
}


def issues(records: list[dict] | None = None) -> pl.DataFrame:
    """An issue frame from records with (some of) the ISSUE_SCHEMA keys."""
    rows = [{k: r.get(k) for k in ISSUE_SCHEMA} for r in (records or [])]
    return pl.DataFrame(rows, schema=ISSUE_SCHEMA)


@dataclass
class Batch:
    """One source through plan -> check -> load. After `check` its rows wait in Parquet files (`parts`, see
    dwi.check.engine): those that passed every row rule (`_ok`), minus the rows in `drop` (a key that occurs
    twice), or none of them when `hold_all` (a file that loads whole or not at all)."""

    source: Source
    sha256: str
    status: str = "pending"  # pending | unchanged | rejected | checked | loaded | failed
    parts: list[Path] = field(default_factory=list)  # staged rows, one Parquet file per batch of the file
    drop: pl.Series = field(default_factory=lambda: pl.Series("_i", [], pl.Int64))
    hold_all: bool = False
    indicators: pl.DataFrame | None = None  # indicators the file registered on the fly (dwi/readers)
    rows_in: int = 0
    rows_quarantined: int = 0
    issues: pl.DataFrame = field(default_factory=issues)
    message: str = ""
    previous: tuple[str, int] | None = None  # (status, rows_quarantined) of the last load, when unchanged
    outcome: str = ""  # what its load did to its source: new source, new vintage (n changed, ...), unchanged

    @property
    def rows_accepted(self) -> int:
        """Quarantined rows whose every error the manifest accepts (the source's `accepted_issues`)."""
        if not self.source.accepted or self.status in ("rejected", "failed", "unchanged"):
            return 0
        errors = self.issues.filter(pl.col("severity") == "error", pl.col("row").is_not_null())
        accepted = pl.Series([f"{r}|{c}|{k}" for r, c, k in self.source.accepted], dtype=pl.String)
        keys = pl.concat_str([pl.col("row"), pl.col("column").fill_null(""), pl.col("check")], separator="|")
        per_row = errors.group_by("row").agg(keys.is_in(accepted.implode()).all().alias("ok"))
        return per_row.filter("ok").height

    @property
    def has_problems(self) -> bool:
        """Rejected, failed or quarantined rows the manifest does not accept, now or (for an unchanged file,
        judged by its last load) at its last load."""
        if self.status == "unchanged" and self.previous:
            return self.previous[0] in ("rejected", "failed") or self.previous[1] > len(self.source.accepted)
        return self.status in ("rejected", "failed") or self.rows_quarantined > self.rows_accepted

    @property
    def rows_loaded(self) -> int:
        """Rows in minus rows quarantined."""
        return 0 if self.status in ("rejected", "failed", "unchanged") else self.rows_in - self.rows_quarantined

    def add_issues(self, more: pl.DataFrame) -> None:
        if more.height:
            self.issues = pl.concat([self.issues, more.select(list(ISSUE_SCHEMA))])

    def reject(self, message: str, check: str, column: str | None = None) -> None:
        self.status, self.message, self.parts = "rejected", message, []
        self.rows_quarantined = self.rows_in
        self.add_issues(
            issues(
                [
                    {
                        "source_id": self.source.id,
                        "file": self.source.display,
                        "column": column,
                        "check": check,
                        "message": message,
                        "severity": "error",
                    }
                ]
            )
        )
