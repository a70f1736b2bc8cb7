"""A source on its way through the stages, and the issues found about it."""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from dwi.manifest import Source

ISSUE_SCHEMA = {
    "source_id": pl.String, "file": pl.String, "row": pl.Int64, "column": pl.String, "check": pl.String,
    "value": pl.String, "message": pl.String, "severity": pl.String,
}


def issues(records: list[dict] | None = None) -> pl.DataFrame:
    """An issue frame from records with (some of) the ISSUE_SCHEMA keys."""
    rows = [{k: r.get(k) for k in ISSUE_SCHEMA} for r in (records or [])]
    return pl.DataFrame(rows, schema=ISSUE_SCHEMA)


@dataclass
class Batch:
    source: Source
    sha256: str
    status: str = "pending"  # pending | unchanged | rejected | checked | loaded | failed
    frame: pl.DataFrame | None = None  # rows as read, then harmonised, then only the valid ones
    indicators: pl.DataFrame | None = None  # indicators the file registered on the fly (dwi/readers)
    rows_in: int = 0
    rows_quarantined: int = 0
    issues: pl.DataFrame = field(default_factory=issues)
    message: str = ""
    previous: tuple[str, int] | None = None  # (status, rows_quarantined) of the last load, when unchanged

    @property
    def has_problems(self) -> bool:
        """Rejected, failed or quarantined rows, now or (for an unchanged file) at its last load."""
        if self.status == "unchanged" and self.previous:
            return self.previous[0] in ("rejected", "failed") or self.previous[1] > 0
        return self.status in ("rejected", "failed") or self.rows_quarantined > 0

    @property
    def rows_loaded(self) -> int:
        """Rows in minus rows quarantined (a streamed file keeps no frame: see dwi.bulk)."""
        return 0 if self.status in ("rejected", "failed", "unchanged") else self.rows_in - self.rows_quarantined

    def add_issues(self, more: pl.DataFrame) -> None:
        if more.height:
            self.issues = pl.concat([self.issues, more.select(list(ISSUE_SCHEMA))])

    def reject(self, message: str, check: str, column: str | None = None) -> None:
        self.status, self.message, self.frame = "rejected", message, None
        self.rows_quarantined = self.rows_in
        self.add_issues(issues([{"source_id": self.source.id, "file": self.source.display, "column": column,
                                 "check": check, "message": message, "severity": "error"}]))
