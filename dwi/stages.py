"""The stages of a run as plain functions: plan, read, harmonise, validate, load, build.

flows/pipeline.py wraps each in a Prefect task; `dwi validate` calls the first four directly.
"""

from __future__ import annotations

import datetime as dt
import importlib
from dataclasses import dataclass
from pathlib import Path

import duckdb

from dwi import build as build_mod
from dwi import bulk
from dwi import harmonise as harmonise_mod
from dwi import read as read_mod
from dwi import validate as validate_mod
from dwi.batch import Batch, issues
from dwi.load import load_batch
from dwi.manifest import Source, load_manifest, sha256
from dwi.reference import Reference, load_reference
from dwi.warehouse import fingerprint, read_state


@dataclass
class Plan:
    raw: Path
    warehouse: Path
    sources: list[Source]
    batches: list[Batch]
    fingerprint: str
    rebuild: bool  # derived objects must be rebuilt (code, SQL, reference or manifest changed)

    @property
    def changed(self) -> list[Batch]:
        return [b for b in self.batches if b.status != "unchanged"]

    @property
    def nothing_to_do(self) -> bool:
        return not self.changed and not self.rebuild


def plan(raw: Path, warehouse: Path) -> Plan:
    """Which sources changed since their last load (by content hash), and whether to rebuild."""
    sources = load_manifest(raw)
    loaded, old_fingerprint = read_state(warehouse)
    fp = fingerprint(raw)
    rebuild = fp != old_fingerprint
    batches = []
    for source in sources:
        batch = Batch(source, sha256(source.path))
        last = loaded.get(source.id)
        if not rebuild and last and last[0] == batch.sha256:
            batch.status, batch.previous = "unchanged", (last[1], last[2])
        batches.append(batch)
    return Plan(raw, warehouse, sources, batches, fp, rebuild)


def read(batch: Batch) -> Batch:
    """Parse the file into strings; structural problems reject it."""
    spec = importlib.import_module(f"schemas.{batch.source.format}")
    try:
        frame, notes = read_mod.read_csv(batch.source.path, batch.source.display, spec.REQUIRED, spec.OPTIONAL)
    except read_mod.Rejected as exc:
        batch.reject(str(exc), exc.check, exc.column)
        return batch
    batch.frame, batch.rows_in = frame, frame.height
    batch.add_issues(issues([{"source_id": batch.source.id, "file": batch.source.display, "check": "file:bom",
                              "message": f"{batch.source.display}: {note}", "severity": "info"} for note in notes]))
    return batch


def harmonise(batch: Batch, ref: Reference) -> Batch:
    if batch.status == "pending":
        batch.frame = getattr(harmonise_mod, batch.source.format)(batch.frame, ref)
    return batch


def validate(batch: Batch, ref: Reference) -> Batch:
    if batch.status == "pending":
        validate_mod.validate(batch, ref)
    return batch


def check(batches: list[Batch], ref: Reference | None = None) -> list[Batch]:
    """read -> harmonise -> validate for every changed batch (big files are left to `load`: dwi.bulk)."""
    ref = ref or load_reference()
    return [validate(harmonise(read(b), ref), ref) if b.status == "pending" and not bulk.streams(b) else b
            for b in batches]


def load(con: duckdb.DuckDBPyConnection, p: Plan, flow_run_id: str | None) -> None:
    """One transaction per source. A file that a concurrent run loaded meanwhile is not loaded twice."""
    done = dict(con.execute("SELECT source_id, arg_max(sha256, load_id) FROM _loads GROUP BY source_id").fetchall())
    for batch in p.batches:
        streamed = bulk.streams(batch)
        if batch.status not in ("checked", "rejected") and not streamed:
            continue
        if not p.rebuild and done.get(batch.source.id) == batch.sha256:
            batch.status = "unchanged"
            continue
        started = dt.datetime.now(dt.UTC)
        try:
            if streamed:
                bulk.load(con, batch, load_reference(), started, flow_run_id)
            else:
                load_batch(con, batch, started, flow_run_id)
        except duckdb.Error as exc:  # the source's transaction was rolled back; record why and go on
            batch.status, batch.message = "failed", f"{batch.source.display}: load failed: {str(exc).splitlines()[0]}"
            batch.frame, batch.rows_quarantined = None, batch.rows_in
            batch.issues = issues([{"source_id": batch.source.id, "file": batch.source.display, "check": "load",
                                    "message": batch.message, "severity": "error"}])
            load_batch(con, batch, started, flow_run_id)


def build(con: duckdb.DuckDBPyConnection, p: Plan, ref: Reference | None = None) -> None:
    build_mod.build(con, ref or load_reference(), p.sources, p.fingerprint)


def run(raw: Path, warehouse: Path, flow_run_id: str | None = None) -> Plan:
    """The whole job without Prefect (the flow in flows/pipeline.py runs the same stages as tasks)."""
    from dwi.warehouse import writer

    p = plan(raw, warehouse)
    if p.nothing_to_do:
        return p
    check(p.batches)
    with writer(warehouse) as con:
        load(con, p, flow_run_id)
        build(con, p)
    return p
