"""`dwi ingest PATH`: load one file through the same read -> harmonise -> validate -> load -> build as
`dwi run` (same writer(), `loads`, `quality_issues`), recording it as a source of its own."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import polars as pl

from dwi import build as build_mod
from dwi import stages
from dwi.batch import Batch
from dwi.errors import DwiError
from dwi.manifest import FORMATS, META_FIELDS, Source, sha256
from dwi.readers.detect import detect_format
from dwi.reference import load_reference
from dwi.warehouse import read_state, writer

ALIASES = {"tidy": "observations"}


def source_id_for(path: Path) -> str:
    """A source id from a file name: 'EMP_TEMP_SEX_AGE_NB_A.csv.gz' -> 'emp_temp_sex_age_nb_a'."""
    return re.sub(r"[^a-z0-9_]+", "_", path.name.split(".")[0].lower()).strip("_") or "ingested"


def _current_sources(con) -> list[Source]:
    """The sources the warehouse was last built with (the manifest's), so that ingest keeps them."""
    tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    if "_sources" not in tables:
        return []
    rows = con.sql("SELECT * FROM _sources WHERE id NOT IN (SELECT id FROM _ingested_sources)").pl()
    return [
        Source(
            r["id"],
            Path(r["path"]),
            r["format"],
            {
                **{k: r.get("table_ref" if k == "table" else k) or "" for k in META_FIELDS},
                "_relpath": r["path"],
            },
        )
        for r in rows.iter_rows(named=True)
    ]


def ingest(
    path: Path,
    warehouse: Path,
    fmt: str | None = None,
    source_id: str | None = None,
    layout: str | None = None,
) -> Batch:
    """Check and load one file; returns its batch (status unchanged, loaded or rejected)."""
    if not path.is_file():
        raise DwiError(f"{path}: no such file")
    fmt = ALIASES.get(fmt, fmt) if fmt else detect_format(path)
    if fmt not in FORMATS:
        raise DwiError(
            f"--format must be one of ilostat, wdi, xlsx, tidy (or {', '.join(FORMATS[:3])}), not '{fmt}'"
        )
    sid = source_id or source_id_for(path)
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", sid):
        raise DwiError(f"--source-id '{sid}': use letters, digits, '_', '-' or '.'")
    meta = {
        "_relpath": str(path),
        "title": f"{path.name} (loaded with dwi ingest)",
        "notes": f"format {fmt}, detected from content" if not fmt else f"format {fmt}",
    }
    if layout:
        meta["layout"] = layout
    batch = Batch(Source(sid, path.resolve(), fmt, meta), sha256(path))
    loaded, fingerprint = read_state(warehouse)
    last = loaded.get(sid)
    if (last[0] if isinstance(last, tuple) else last) == batch.sha256:  # state: sha (or sha, status, ...)
        batch.status = "unchanged"
        return batch
    started = dt.datetime.now(dt.UTC)
    stages.check([batch])
    with writer(warehouse) as con:
        sources = [s for s in _current_sources(con) if s.id != sid]  # a new vintage of a listed source
        stages.load_one(con, batch, started, None)  # big files stream through dwi.bulk
        con.execute("DELETE FROM _ingested_sources WHERE id = ?", [sid])
        con.execute(
            "INSERT INTO _ingested_sources VALUES (?, ?, ?, ?, '', '', '', '', '', '', ?, now())",
            [sid, str(path), fmt, meta["title"], meta["notes"]],
        )
        build_mod.build(con, load_reference(), [*sources, batch.source], fingerprint or "")
    return batch


def summary(batch: Batch) -> pl.DataFrame:
    return pl.DataFrame(
        [
            {
                "source": batch.source.id,
                "format": batch.source.format,
                "status": batch.status,
                "rows_in": batch.rows_in,
                "loaded": batch.rows_loaded,
                "quarantined": batch.rows_quarantined,
            }
        ]
    )
